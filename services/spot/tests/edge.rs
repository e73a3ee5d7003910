//! The edge's plain HTTP beside gRPC on one port: the web app with its single-page fallback and
//! cache headers, /healthz and /readyz; /metrics only on the admin port.

use std::time::Duration;

use spot_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A GET over HTTP/1.1, as a browser or a probe makes it; the whole response as text.
async fn get(test: &TestServer, path: &str) -> String {
    get_from(test.addr(), path).await
}

async fn get_from(addr: std::net::SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).to_lowercase()
}

fn web_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>spot web app</html>").unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("assets/app-1f2e3d.js"), "export {}").unwrap();
    dir
}

#[tokio::test]
async fn the_web_app_is_served_with_a_fallback_and_cache_headers_beside_grpc() {
    let web = web_app();
    let dir = web.path().display().to_string();
    let test = TestServer::start(&[("SPOT_WEB_DIR", dir.as_str())]).await;

    let index = get(&test, "/").await;
    assert!(index.starts_with("http/1.1 200"), "{index}");
    assert!(index.contains("cache-control: no-cache"), "{index}");
    assert!(index.contains("<html>spot web app</html>"));
    // What a security scanner expects of a page: no framing, no foreign scripts, no sniffing.
    for header in [
        "content-security-policy: default-src 'self'; script-src 'self';",
        "frame-ancestors 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "strict-transport-security: max-age=31536000",
    ] {
        assert!(index.contains(header), "{header} in {index}");
    }

    let route = get(&test, "/clusters/c-123").await;
    assert!(route.starts_with("http/1.1 200"), "{route}");
    assert!(route.contains("<html>spot web app</html>"), "{route}");

    let asset = get(&test, "/assets/app-1f2e3d.js").await;
    assert!(
        asset.contains("cache-control: public, max-age=31536000, immutable"),
        "{asset}"
    );
    assert!(asset.contains("content-type: text/javascript"), "{asset}");
    assert!(
        get(&test, "/assets/missing.js")
            .await
            .starts_with("http/1.1 404")
    );
    assert!(
        get(&test, "/../../etc/passwd")
            .await
            .starts_with("http/1.1 404")
    );

    // gRPC on the same port is untouched.
    spot_testkit::reflected_services(test.channel.clone()).await;
    test.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_without_credentials() {
    let test = TestServer::start(&[]).await;
    assert!(get(&test, "/healthz").await.starts_with("http/1.1 200"));
    let ready = get(&test, "/readyz").await;
    assert!(ready.starts_with("http/1.1 200"), "{ready}");

    // A gRPC call (a failed login) is counted with its method and status.
    let refused = test
        .auth()
        .login(spot_proto::auth::v1::LoginRequest {
            email: "nobody@example.com".into(),
            password: "Wrong-password-123".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
    // Not on the public port: only on the admin address.
    let public = get(&test, "/metrics").await;
    assert!(public.starts_with("http/1.1 404"), "{public}");
    let admin = test.server.admin_addr.expect("an admin port");
    assert!(admin.ip().is_loopback());
    let metrics = get_from(admin, "/metrics").await;
    assert!(metrics.starts_with("http/1.1 200"), "{metrics}");
    assert!(
        metrics.contains(r#"spot_grpc_calls_total{method="spot.auth.v1.authservice/login",code="unauthenticated"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("spot_grpc_call_seconds_bucket"),
        "{metrics}"
    );

    // Without a web app, other paths are a plain 404 that says why.
    let missing = get(&test, "/dashboard").await;
    assert!(missing.starts_with("http/1.1 404"), "{missing}");
    assert!(missing.contains("spot_web_dir"), "{missing}");
    test.stop().await;
}
