//! `spot serve` in the all-in-one mode: one port with gRPC, grpc-web, health and reflection.

mod grpc_web;

use std::time::Duration;

use spot_testkit::{TestServer, authed, health_of, reflected_services};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::health_check_response::ServingStatus;

/// One service from each protobuf package of the platform.
const ONE_SERVICE_PER_PACKAGE: [&str; 7] = [
    "spot.auth.v1.AuthService",
    "spot.cluster.v1.ClusterService",
    "spot.agent.v1.AgentService",
    "spot.policy.v1.PolicyService",
    "spot.billing.v1.BillingService",
    "spot.risk.v1.RiskService",
    "spot.optimizer.v1.OptimizerService",
];

#[tokio::test]
async fn reflection_lists_a_service_of_every_package() {
    let test = TestServer::start(&[]).await;
    let services = reflected_services(test.channel.clone()).await;
    for service in ONE_SERVICE_PER_PACKAGE {
        assert!(
            services.iter().any(|s| s == service),
            "{service} missing from {services:?}"
        );
    }
    assert!(services.iter().any(|s| s == "grpc.health.v1.Health"));
    test.stop().await;
}

#[tokio::test]
async fn health_is_serving_overall_per_grpc_service_and_per_platform_service() {
    let test = TestServer::start(&[]).await;
    let mut names = vec![
        "",
        "auth",
        "cluster",
        "policy",
        "billing",
        "risk",
        "optimizer",
    ];
    names.extend(ONE_SERVICE_PER_PACKAGE);
    for name in names {
        assert_eq!(
            health_of(test.channel.clone(), name).await,
            ServingStatus::Serving,
            "health of `{name}`"
        );
    }
    test.stop().await;
}

#[tokio::test]
async fn system_health_reaches_every_service_through_its_grpc_client() {
    use spot_proto::auth::v1::GetSystemHealthRequest;
    use spot_proto::auth::v1::admin_service_client::AdminServiceClient;

    let test = TestServer::start(&[]).await;
    let token = test.admin_token().await;
    let health = AdminServiceClient::new(test.channel.clone())
        .get_system_health(authed(GetSystemHealthRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = health.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(
        names,
        ["auth", "cluster", "policy", "billing", "risk", "optimizer"]
    );
    assert!(health.services.iter().all(|s| s.serving), "{health:?}");
    test.stop().await;
}

/// A grpc-web call over HTTP/1.1, as a browser makes it, on the same port.
#[tokio::test]
async fn grpc_web_answers_on_the_same_port() {
    let test = TestServer::start(&[]).await;
    // HealthCheckRequest { service: "" } is an empty message.
    let response = grpc_web::call(test.addr(), "/grpc.health.v1.Health/Check", &[]).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_lowercase()
            .contains("content-type: application/grpc-web+proto"),
        "{text}"
    );
    // The data frame carries HealthCheckResponse { status: SERVING (1) } = field 1 varint 1.
    assert!(
        response
            .windows(7)
            .any(|w| w == [0, 0, 0, 0, 2, 0x08, 0x01]),
        "{text}"
    );
    assert!(text.contains("grpc-status:0"), "trailers frame: {text}");
    test.stop().await;
}

#[tokio::test]
async fn cors_preflight_allows_only_configured_origins() {
    let test = TestServer::start(&[("SPOT_CORS_ORIGINS", "https://app.example.com")]).await;
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let request = format!(
            "OPTIONS /spot.auth.v1.AuthService/Login HTTP/1.1\r\nHost: localhost\r\n\
             Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type,x-grpc-web\r\nConnection: close\r\n\r\n"
        );
        let mut stream = tokio::net::TcpStream::connect(test.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let response = response.to_lowercase();
        let echoed = response.contains(&format!("access-control-allow-origin: {origin}"));
        assert_eq!(echoed, allowed, "{origin}: {response}");
        if allowed {
            assert!(response.contains("access-control-allow-credentials: true"));
        }
    }

    // The call itself, as the browser then makes it: the origin echoed (never `*`), and the
    // grpc-web status headers exposed to the page's script.
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let response = grpc_web::call(
            test.addr(),
            "/grpc.health.v1.Health/Check",
            &[("Origin", origin)],
        )
        .await;
        let text = String::from_utf8_lossy(&response).to_lowercase();
        assert!(text.starts_with("http/1.1 200"), "{text}");
        assert!(!text.contains("access-control-allow-origin: *"), "{text}");
        let echoed = text.contains(&format!("access-control-allow-origin: {origin}"));
        assert_eq!(echoed, allowed, "{origin}: {text}");
        if allowed {
            assert!(
                text.contains("access-control-expose-headers:") && text.contains("grpc-status"),
                "{text}"
            );
        }
    }
    test.stop().await;
}

#[tokio::test]
async fn shutdown_reports_not_serving_and_ends_open_streams() {
    let test = TestServer::start(&[("SPOT_SHUTDOWN_GRACE_SECONDS", "2")]).await;
    let mut client = tonic_health::pb::health_client::HealthClient::new(test.channel.clone());
    let mut watch = client
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let addr = test.addr();
    let stopped = tokio::spawn(test.stop());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watcher hears of the shutdown");
    assert_eq!(next.unwrap().unwrap().status(), ServingStatus::NotServing);
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("stops within the grace period")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
