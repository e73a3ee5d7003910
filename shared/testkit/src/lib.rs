//! Real servers for tests, started in-process on a free loopback port, as a user would run them.
//!
//! The backend follows `TEST_BACKEND`: unset or `sqlite` runs the embedded default (SQLite file,
//! in-process bus); `postgres` runs on a scratch PostgreSQL database (`TEST_POSTGRES_URL`) and
//! Redis (`TEST_REDIS_URL`). `make test` runs the suite both ways.

use std::collections::BTreeMap;
use std::sync::Arc;

use spot_cloud::{SimulatedCloud, SimulationSettings};
use spot_config::{Config, ConfigLayer};
use spot_db::testing::PostgresScratch;
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_server::RunningServer;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;

mod shared_store;
mod tcp_proxy;

pub use shared_store::SharedStore;
pub use spot_db::testing::postgres_url;
pub use tcp_proxy::TcpProxy;

/// The Redis server tests use.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// True when this run uses PostgreSQL and Redis.
pub fn production_backends() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
}

pub struct TestServer {
    pub server: RunningServer,
    /// The simulated cloud the server runs on (the embedded default's world); tests may move its
    /// clock or look at its instances.
    pub cloud: Arc<SimulatedCloud>,
    /// A connected channel to the server, for generated clients.
    pub channel: Channel,
    /// The platform admin created at start (from SPOT_ADMIN_EMAIL / SPOT_ADMIN_PASSWORD).
    pub admin_email: String,
    pub admin_password: String,
    pub data_dir: std::path::PathBuf,
    /// The database the server runs on (SQLite in the data dir, or the scratch PostgreSQL database).
    pub database_url: String,
    /// The Redis namespace of the server's bus (unique per test server).
    pub bus_namespace: String,
    postgres: Option<PostgresScratch>,
    _data_dir: tempfile::TempDir,
}

/// A password that satisfies the policy, different on every call.
pub fn strong_password() -> String {
    format!("Test-{}-pw9", uuid::Uuid::new_v4().simple())
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .expect("token is a header value");
    request.metadata_mut().insert("authorization", value);
    request
}

/// The master key test servers seal their secrets with (base64 of 32 bytes).
pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A signed-up tenant owner.
pub struct TestUser {
    pub user: pb::User,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestServer {
    /// Starts a server; `env` adds or overrides `SPOT_` settings.
    pub async fn start(env: &[(&str, &str)]) -> TestServer {
        Self::start_with_cloud(
            env,
            Arc::new(SimulatedCloud::new(SimulationSettings::default())),
        )
        .await
    }

    /// Starts a server on the given simulated cloud: the next life of a server that stopped, or
    /// a second replica, sees the instances the first launched.
    pub async fn start_with_cloud(env: &[(&str, &str)], cloud: Arc<SimulatedCloud>) -> TestServer {
        // Server warnings and errors appear in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .try_init();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut vars: BTreeMap<String, String> = BTreeMap::from([
            ("SPOT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            // Many test servers run at once: each admin port on a free port of its own.
            ("SPOT_ADMIN_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            (
                "SPOT_DATA_DIR".to_owned(),
                data_dir.path().display().to_string(),
            ),
            ("SPOT_LOG".to_owned(), "warn".to_owned()),
            // Many test servers share one PostgreSQL (100 connections by default).
            ("SPOT_DATABASE_MAX_CONNECTIONS".to_owned(), "3".to_owned()),
            // Each server has its own Redis keys, so counters and flags never leak between tests.
            (
                "SPOT_BUS_NAMESPACE".to_owned(),
                format!("test-{}", uuid::Uuid::new_v4().simple()),
            ),
        ]);
        // One master key for every test server, so servers sharing a database (restarts,
        // replicas) open each other's sealed secrets, as a deployment's replicas do.
        vars.insert("SPOT_MASTER_KEY".to_owned(), TEST_MASTER_KEY.to_owned());
        let admin_email = format!("admin-{}@test.local", uuid::Uuid::new_v4().simple());
        let admin_password = strong_password();
        vars.insert("SPOT_ADMIN_EMAIL".to_owned(), admin_email.clone());
        vars.insert("SPOT_ADMIN_PASSWORD".to_owned(), admin_password.clone());
        let mut postgres = None;
        if production_backends() {
            let scratch = PostgresScratch::create().await;
            vars.insert("SPOT_DATABASE_URL".to_owned(), scratch.url.clone());
            vars.insert("SPOT_REDIS_URL".to_owned(), redis_url());
            postgres = Some(scratch);
        }
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::load(None, &vars, ConfigLayer::default()).expect("valid test config");
        let database_url = config.database_url.clone();
        let bus_namespace = config.bus_namespace.clone();
        let server = spot_server::start_in(config, cloud.clone())
            .await
            .expect("server starts");
        let channel = channel_to(server.local_addr).await;
        TestServer {
            server,
            cloud,
            channel,
            admin_email,
            admin_password,
            data_dir: data_dir.path().to_path_buf(),
            database_url,
            bus_namespace,
            postgres,
            _data_dir: data_dir,
        }
    }

    pub fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.channel.clone())
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        login_to(&self.channel, email, password).await
    }

    pub async fn admin_token(&self) -> String {
        self.login(&self.admin_email, &self.admin_password).await
    }

    /// Turns the platform-wide safe mode on or off, as the platform admin.
    pub async fn set_safe_mode(&self, on: bool) {
        let admin = self.admin_token().await;
        let request = pb::UpdateSystemConfigRequest {
            config: Some(pb::SystemConfig {
                safe_mode: on,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["safe_mode".to_owned()],
            }),
        };
        pb::admin_service_client::AdminServiceClient::new(self.channel.clone())
            .update_system_config(authed(request, &admin))
            .await
            .unwrap_or_else(|status| panic!("safe mode: {status}"));
    }

    /// Waits up to 20 s until the number of nodes the cluster service lists for the cluster is
    /// one `wanted` accepts (`expected` says which, for the failure).
    pub async fn wait_for_node_count(
        &self,
        token: &str,
        cluster_id: &str,
        wanted: impl Fn(usize) -> bool,
        expected: &str,
    ) {
        use spot_proto::cluster::v1::ListNodesRequest;
        use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
        let mut clusters = ClusterServiceClient::new(self.channel.clone());
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let listed = clusters
                .list_nodes(authed(
                    ListNodesRequest {
                        cluster_id: cluster_id.to_owned(),
                        page: None,
                    },
                    token,
                ))
                .await
                .unwrap_or_else(|status| panic!("list nodes: {status}"))
                .into_inner()
                .nodes
                .len();
            if wanted(listed) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {expected} nodes, the cluster has {listed}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Signs up a new tenant with its owner and verifies the owner's email, as a person
    /// following the link in the mail would: the owner is logged in.
    pub async fn sign_up(&self, tenant_name: &str) -> TestUser {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = strong_password();
        let mut mail = self.server.mailer.watch();
        self.auth()
            .sign_up(pb::SignUpRequest {
                tenant_name: tenant_name.to_owned(),
                email: email.clone(),
                password: password.clone(),
            })
            .await
            .unwrap_or_else(|status| panic!("sign-up: {status}"));
        let token = next_mail_to(&mut mail, &email)
            .await
            .token()
            .expect("the verification mail carries a token")
            .to_owned();
        let response = self
            .auth()
            .verify_email(pb::VerifyEmailRequest { token })
            .await
            .unwrap_or_else(|status| panic!("verify email: {status}"))
            .into_inner();
        let tokens = response.tokens.expect("tokens");
        TestUser {
            user: response.user.expect("user"),
            email,
            password,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }

    /// Watches the mail this server sends from now on (see [`next_mail_to`]).
    pub fn watch_mail(&self) -> tokio::sync::broadcast::Receiver<spot_kit::mail::Mail> {
        self.server.mailer.watch()
    }

    /// The server's active signing key as its database stores it: its id and the sealed key.
    pub async fn stored_signing_key(&self) -> (String, String) {
        use sea_orm::{ConnectionTrait, Statement};
        let db = spot_db::Database::connect(&self.database_url)
            .await
            .expect("the database opens");
        let backend = db.connection().get_database_backend();
        let row = db
            .connection()
            .query_one(Statement::from_string(
                backend,
                "SELECT key_id, private_key FROM signing_keys WHERE retired_at IS NULL",
            ))
            .await
            .expect("signing keys readable")
            .expect("an active signing key");
        (
            row.try_get("", "key_id").expect("key_id"),
            row.try_get("", "private_key").expect("private_key"),
        )
    }

    /// The server's active signing key (its id and PKCS#8 DER), opened with [`TEST_MASTER_KEY`]
    /// as only someone holding the database and the master key could: for tests that mint tokens.
    pub async fn signing_key(&self) -> (String, Vec<u8>) {
        use base64::Engine;
        use spot_kit::sealing::{KeyEncryptionKey, LocalKey};
        let (key_id, sealed) = self.stored_signing_key().await;
        let master_key: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(TEST_MASTER_KEY)
            .expect("base64")
            .try_into()
            .expect("32 bytes");
        let der = LocalKey::from_bytes(&master_key)
            .open(&sealed)
            .expect("sealed with the test master key");
        (key_id, der)
    }

    /// Waits up to 10 s for a notification of `kind` in the inbox of the user holding `token`.
    pub async fn notified(&self, token: &str, kind: &str) -> pb::Notification {
        let inbox =
            pb::notification_service_client::NotificationServiceClient::new(self.channel.clone());
        let wait = async {
            loop {
                let notifications = inbox
                    .clone()
                    .list_notifications(authed(pb::ListNotificationsRequest::default(), token))
                    .await
                    .unwrap_or_else(|status| panic!("list notifications: {status}"))
                    .into_inner()
                    .notifications;
                if let Some(found) = notifications.into_iter().find(|n| n.kind == kind) {
                    return found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("no `{kind}` notification"))
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr
    }

    /// Stops gracefully and removes the scratch database.
    pub async fn stop(self) {
        self.server.stop().await.expect("stops cleanly");
        if let Some(postgres) = self.postgres {
            postgres.drop_database().await;
        }
    }
}

/// The next mail to `to` among those watched (sent while the caller awaited its request, so it
/// is already there: the wait is a bound, not a delay).
pub async fn next_mail_to(
    mail: &mut tokio::sync::broadcast::Receiver<spot_kit::mail::Mail>,
    to: &str,
) -> spot_kit::mail::Mail {
    let wait = async {
        loop {
            match mail.recv().await {
                Ok(sent) if sent.to == to => return sent,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    panic!("the server stopped before mailing {to}")
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no mail to {to}"))
}

/// Logs in on any server and returns the access token.
pub async fn login_to(channel: &Channel, email: &str, password: &str) -> String {
    AuthServiceClient::new(channel.clone())
        .login(pb::LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("login of {email}: {status}"))
        .into_inner()
        .tokens
        .expect("tokens")
        .access_token
}

pub async fn channel_to(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connects")
}

pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 and up by default): a port picked here and bound
    // a moment later is never taken meanwhile by an outgoing connection or a bind to port 0,
    // which draw from that range (seen: a test server's port taken by another test's connection).
    for _ in 0..1_000 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}

/// The services a reflection client sees, as `grpcurl list` would print them, sorted.
pub async fn reflected_services(channel: Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a reply")
        .expect("not empty");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        other => panic!("unexpected reflection reply: {other:?}"),
    }
}

pub async fn health_of(channel: Channel, service: &str) -> ServingStatus {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    client
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap_or_else(|status| panic!("health of `{service}`: {status}"))
        .into_inner()
        .status()
}
