//! `spot serve --services ...`: services split over processes reach each other by their URLs,
//! against PostgreSQL and Redis as in production.

use spot_proto::auth::v1::admin_service_client::AdminServiceClient;
mod grpc_web;

use spot_proto::auth::v1::{GetSystemHealthRequest, ListTenantsRequest};
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::{ListClustersRequest, RegisterClusterRequest};
use spot_testkit::{TestServer, authed, free_port, redis_url, reflected_services, strong_password};

#[tokio::test]
async fn two_processes_split_the_services_and_call_each_other_over_grpc() {
    let postgres = spot_db::testing::PostgresScratch::create().await;
    let auth_port = free_port();
    let auth_url = format!("http://127.0.0.1:{auth_port}");
    let others_port = free_port();
    let others_url = format!("http://127.0.0.1:{others_port}");
    let redis = redis_url();
    // Both processes share one bus, as replicas of one deployment do.
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let shared = [
        ("SPOT_DATABASE_URL", postgres.url.as_str()),
        ("SPOT_REDIS_URL", redis.as_str()),
        (
            "SPOT_INTERNAL_SECRET",
            "a-test-secret-of-at-least-32-characters",
        ),
        ("SPOT_BUS_NAMESPACE", namespace.as_str()),
        ("SPOT_MASTER_KEY", spot_testkit::TEST_MASTER_KEY),
    ];

    let others_listen = format!("127.0.0.1:{others_port}");
    let mut others_env = vec![
        ("SPOT_SERVICES", "cluster,policy,billing,risk,optimizer"),
        ("SPOT_AUTH_URL", auth_url.as_str()),
        ("SPOT_LISTEN", others_listen.as_str()),
    ];
    others_env.extend(shared);
    let others = TestServer::start(&others_env).await;

    let auth_listen = format!("127.0.0.1:{auth_port}");
    let mut auth_env = vec![
        ("SPOT_SERVICES", "auth"),
        ("SPOT_LISTEN", auth_listen.as_str()),
        ("SPOT_CLUSTER_URL", others_url.as_str()),
        ("SPOT_POLICY_URL", others_url.as_str()),
        ("SPOT_BILLING_URL", others_url.as_str()),
        ("SPOT_RISK_URL", others_url.as_str()),
        ("SPOT_OPTIMIZER_URL", others_url.as_str()),
    ];
    auth_env.extend(shared);
    let auth = TestServer::start(&auth_env).await;

    // Each process offers only what it runs.
    let auth_services = reflected_services(auth.channel.clone()).await;
    assert!(auth_services.contains(&"spot.auth.v1.AuthService".to_owned()));
    assert!(!auth_services.contains(&"spot.cluster.v1.ClusterService".to_owned()));
    let other_services = reflected_services(others.channel.clone()).await;
    assert!(other_services.contains(&"spot.risk.v1.RiskService".to_owned()));
    assert!(!other_services.contains(&"spot.auth.v1.AuthService".to_owned()));

    // The auth process asks every service, five of them in the other process, for its health.
    let token = auth.admin_token().await;
    let health = AdminServiceClient::new(auth.channel.clone())
        .get_system_health(authed(GetSystemHealthRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.services.len(), 6);
    assert!(health.services.iter().all(|s| s.serving), "{health:?}");

    // The edge of either process forwards a call for a service the other runs: a browser needs
    // only one address.
    let owner = auth.sign_up("Forwarded Co").await;
    let clusters = ClusterServiceClient::new(auth.channel.clone())
        .list_clusters(authed(ListClustersRequest::default(), &owner.access_token))
        .await
        .expect("the auth process forwards ClusterService calls to the cluster process")
        .into_inner();
    assert!(clusters.clusters.is_empty());
    ClusterServiceClient::new(auth.channel.clone())
        .register_cluster(authed(
            RegisterClusterRequest {
                name: "shop".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            &owner.access_token,
        ))
        .await
        .expect("a forwarded write");
    // As a browser calls it: grpc-web over HTTP/1.1 to the auth process, for the cluster service.
    let bearer = format!("Bearer {}", owner.access_token);
    let reply = grpc_web::call(
        auth.addr(),
        "/spot.cluster.v1.ClusterService/ListClusters",
        &[("Authorization", &bearer)],
    )
    .await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("grpc-status:0"), "{reply}");
    assert!(reply.contains("shop"), "the cluster comes back: {reply}");
    // The admin's tenant list counts clusters across the processes (auth asks the cluster one).
    let tenants = |auth: &TestServer| {
        let token = token.clone();
        let channel = auth.channel.clone();
        async move {
            AdminServiceClient::new(channel)
                .list_tenants(authed(ListTenantsRequest { page: None }, &token))
                .await
                .unwrap()
                .into_inner()
                .tenants
                .into_iter()
                .map(|t| (t.name, t.clusters))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        tenants(&auth).await,
        [("Platform".to_owned(), 0), ("Forwarded Co".to_owned(), 1)]
    );

    // When the other process stops, the auth process says so instead of failing.
    others.stop().await;
    let health = AdminServiceClient::new(auth.channel.clone())
        .get_system_health(authed(GetSystemHealthRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let down: Vec<&str> = health
        .services
        .iter()
        .filter(|s| !s.serving)
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(down, ["cluster", "policy", "billing", "risk", "optimizer"]);
    assert_eq!(
        tenants(&auth).await,
        [("Platform".to_owned(), -1), ("Forwarded Co".to_owned(), -1)],
        "unknown, not zero"
    );

    auth.stop().await;
    let tables = postgres_tables(&postgres.url).await;
    assert!(tables.contains(&"system_config".to_owned()), "{tables:?}");
    postgres.drop_database().await;
}

async fn postgres_tables(url: &str) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = spot_db::Database::connect(url).await.unwrap();
    let rows = db
        .connection()
        .query_all(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "tablename").unwrap())
        .collect()
}

/// The process a client reaches forwards its auth calls to the auth process: the client's address
/// (resolved from the trusted proxy in front) travels signed, so one client's failed logins lock
/// that client, not every client of the forwarding process.
#[tokio::test]
async fn the_client_address_survives_the_forwarding_between_processes() {
    use spot_proto::auth::v1 as pb;
    use spot_proto::auth::v1::auth_service_client::AuthServiceClient;

    let postgres = spot_db::testing::PostgresScratch::create().await;
    let auth_port = free_port();
    let auth_url = format!("http://127.0.0.1:{auth_port}");
    let redis = redis_url();
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let shared = [
        ("SPOT_DATABASE_URL", postgres.url.as_str()),
        ("SPOT_REDIS_URL", redis.as_str()),
        (
            "SPOT_INTERNAL_SECRET",
            "a-test-secret-of-at-least-32-characters",
        ),
        ("SPOT_BUS_NAMESPACE", namespace.as_str()),
    ];
    let others_port = free_port();
    let others_url = format!("http://127.0.0.1:{others_port}");
    // The test's connections come from 127.0.0.1, which plays the load balancer in front of the
    // other process (and only of that one).
    let others_listen = format!("127.0.0.1:{others_port}");
    let mut others_env = vec![
        ("SPOT_SERVICES", "cluster,policy,billing,risk,optimizer"),
        ("SPOT_AUTH_URL", auth_url.as_str()),
        ("SPOT_LISTEN", others_listen.as_str()),
        ("SPOT_TRUSTED_PROXIES", "127.0.0.1/32"),
    ];
    others_env.extend(shared);
    let others = TestServer::start(&others_env).await;

    let auth_listen = format!("127.0.0.1:{auth_port}");
    let mut auth_env = vec![
        ("SPOT_SERVICES", "auth"),
        ("SPOT_LISTEN", auth_listen.as_str()),
        ("SPOT_CLUSTER_URL", others_url.as_str()),
        ("SPOT_POLICY_URL", others_url.as_str()),
        ("SPOT_BILLING_URL", others_url.as_str()),
        ("SPOT_RISK_URL", others_url.as_str()),
        ("SPOT_OPTIMIZER_URL", others_url.as_str()),
    ];
    auth_env.extend(shared);
    let auth = TestServer::start(&auth_env).await;
    let owner = auth.sign_up("Forwarded Co").await;
    let login = |forwarded_for: &'static str, email: String, password: String| {
        let channel = others.channel.clone();
        async move {
            let mut request = tonic::Request::new(pb::LoginRequest {
                email,
                password,
                ..Default::default()
            });
            request
                .metadata_mut()
                .insert("x-forwarded-for", forwarded_for.parse().unwrap());
            AuthServiceClient::new(channel)
                .login(request)
                .await
                .map(drop)
        }
    };
    for n in 0..20 {
        let guess = login(
            "198.51.100.1",
            format!("guess-{n}@nowhere.example"),
            strong_password(),
        )
        .await
        .unwrap_err();
        assert_eq!(guess.code(), tonic::Code::Unauthenticated, "{guess:?}");
    }
    let attacker = login("198.51.100.1", owner.email.clone(), owner.password.clone())
        .await
        .unwrap_err();
    assert_eq!(
        attacker.code(),
        tonic::Code::ResourceExhausted,
        "{attacker:?}"
    );
    login("203.0.113.50", owner.email.clone(), owner.password.clone())
        .await
        .expect("another client of the same forwarding process is not locked");
    // Forged by a client, the signed header is not believed (it is replaced at the edge).
    let mut forged = tonic::Request::new(pb::LoginRequest {
        email: owner.email.clone(),
        password: owner.password.clone(),
        ..Default::default()
    });
    forged
        .metadata_mut()
        .insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
    forged.metadata_mut().insert(
        spot_access::FORWARDED_ADDRESS_HEADER,
        "not-a-signature".parse().unwrap(),
    );
    let refused = AuthServiceClient::new(others.channel.clone())
        .login(forged)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);

    others.stop().await;
    auth.stop().await;
    postgres.drop_database().await;
}
