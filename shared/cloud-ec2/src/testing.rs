//! For tests: moto's EC2/STS server as a real wire peer, and EKS-tagged nodes seeded into it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use spot_cloud::{CapacityType, CloudProvider, LaunchRequest, Pool};

use crate::Ec2Provider;

/// moto's server on a free loopback port (`scripts/moto_server.py`), stopped on drop.
pub struct MotoServer {
    child: Child,
    pub url: String,
}

impl MotoServer {
    pub fn start() -> MotoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/moto_server.py");
        let mut child = Command::new("python3")
            .args([script, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // moto prints its own banner first; wait for our "ready".
        let stdout = child.stdout.take().expect("stdout is piped");
        let ready = BufReader::new(stdout)
            .lines()
            .take(10)
            .any(|line| line.is_ok_and(|l| l.trim() == "ready"));
        assert!(
            ready,
            "moto's server did not start: pip install 'moto[server]'"
        );
        MotoServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The platform's configuration against moto, with test credentials (moto accepts any).
    pub async fn platform(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::for_tests())
            .load()
            .await
    }

    /// Launches `count` nodes of a cluster tagged as EKS tags them.
    pub async fn seed_nodes(
        &self,
        cluster: &str,
        pool: Pool,
        capacity_type: CapacityType,
        count: u32,
    ) {
        let platform = self.platform().await;
        let images = aws_sdk_ec2::Client::new(&platform)
            .describe_images()
            .send()
            .await
            .expect("moto lists images");
        let image = images.images()[0]
            .image_id()
            .expect("an image id")
            .to_owned();
        let cloud = Ec2Provider::from_config(platform);
        let launched = cloud
            .launch(LaunchRequest {
                region: pool.region.clone(),
                pools: vec![pool],
                capacity_type,
                count,
                tags: BTreeMap::from([
                    (
                        format!("kubernetes.io/cluster/{cluster}"),
                        "owned".to_owned(),
                    ),
                    ("eks:cluster-name".to_owned(), cluster.to_owned()),
                ]),
                launch_template_id: None,
                image_id: Some(image),
                client_token: None,
            })
            .await
            .expect("moto launches");
        assert_eq!(launched.instances.len(), count as usize);
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
