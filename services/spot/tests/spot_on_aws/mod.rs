//! `spot serve` on AWS as a child process (moto's server as the account), shared by the tests
//! that link accounts and launch nodes through it, and the nodes its instances become.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use spot_cloud_ec2::testing::SeenInstance;
use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Resources};
use spot_testkit::{channel_to, free_port, strong_password};

pub struct Spot {
    child: Child,
    pub addr: std::net::SocketAddr,
    /// The child's log lines, read as it writes them (verification mail is logged there).
    log: std::sync::Mutex<std::sync::mpsc::Receiver<String>>,
    _data: tempfile::TempDir,
}

impl Spot {
    /// `spot serve` on AWS, its platform credentials from the environment as in production.
    pub fn start(aws_endpoint: &str) -> Spot {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_spot"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SPOT_CLOUD", "aws")
            .env("SPOT_AWS_ENDPOINT_URL", aws_endpoint)
            .env(
                "SPOT_AWS_PRINCIPAL",
                "arn:aws:iam::111122223333:role/spot-control-plane",
            )
            // Any free port: two tests run at once, and the default (9090) may be taken.
            .env("SPOT_ADMIN_LISTEN", "127.0.0.1:0")
            .env("SPOT_ADMIN_EMAIL", "admin@example.com")
            .env("SPOT_ADMIN_PASSWORD", strong_password())
            .env("SPOT_LOG", "warn,spot::mail=info")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("{line}");
                let _ = lines.send(line);
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "spot never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Spot {
            child,
            log: std::sync::Mutex::new(log),
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            _data: data,
        }
    }

    pub async fn tenant(&self, name: &str) -> (tonic::transport::Channel, String) {
        let channel = channel_to(self.addr).await;
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        AuthServiceClient::new(channel.clone())
            .sign_up(auth::SignUpRequest {
                tenant_name: name.into(),
                email: email.clone(),
                password: strong_password(),
            })
            .await
            .unwrap();
        let token = {
            let log = self.log.lock().unwrap();
            loop {
                let line = log
                    .recv_timeout(Duration::from_secs(10))
                    .expect("the verification mail is logged");
                if let Some(token) = verification_token(&line, &email) {
                    break token;
                }
            }
        };
        let token = AuthServiceClient::new(channel.clone())
            .verify_email(auth::VerifyEmailRequest { token })
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap()
            .access_token;
        (channel, token)
    }
}

impl Drop for Spot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The embedded mailer logs the verification link: one line naming the address. The token, if
/// `line` is that line for `email`.
pub fn verification_token(line: &str, email: &str) -> Option<String> {
    if !line.contains(&format!("mail to {email}")) {
        return None;
    }
    let (_, token) = line.split_once("token=")?;
    Some(
        token
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// A Ready node as the agent reports an EC2 instance: its provider id names the instance, its
/// room is the catalog's for the type.
pub fn node_of(instance: &SeenInstance, name: &str) -> Node {
    let capacity_type = if instance.spot {
        CapacityType::Spot
    } else {
        CapacityType::OnDemand
    };
    let allocatable = spot_cloud::Catalog::embedded()
        .get(&instance.instance_type)
        .expect("a catalog type")
        .allocatable;
    Node {
        name: name.to_owned(),
        provider_id: format!("aws:///{}/{}", instance.zone, instance.id),
        instance_id: instance.id.clone(),
        instance_type: instance.instance_type.clone(),
        zone: instance.zone.clone(),
        capacity_type: capacity_type.into(),
        allocatable: Some(Resources {
            cpu_millis: allocatable.cpu_millis,
            memory_mib: allocatable.memory_mib,
            pods: allocatable.pods,
            gpus: allocatable.gpus,
            ..Default::default()
        }),
        ready: true,
        ..Default::default()
    }
}
