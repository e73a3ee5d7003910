//! How the cluster service reaches a linked account's cloud: through the customer's role on AWS,
//! or, in the embedded default, the simulated cloud.

use std::sync::Arc;

use spot_cloud::{CloudProvider, RoleArn, SimulatedCloud};
use spot_cloud_ec2::{Ec2Provider, Ec2Settings};

#[derive(Clone)]
pub enum CloudConnector {
    /// Every account sees the one simulated world (it has no IAM: any well-formed role works).
    Simulated(Arc<SimulatedCloud>),
    /// Real AWS (or a wire peer at `settings.endpoint_url`).
    Aws(Ec2Settings),
}

impl CloudConnector {
    pub async fn connect(&self, role_arn: &RoleArn, external_id: &str) -> Arc<dyn CloudProvider> {
        match self {
            Self::Simulated(cloud) => cloud.clone(),
            Self::Aws(settings) => {
                let platform = Ec2Provider::platform_config(settings).await;
                Arc::new(Ec2Provider::assume_role(&platform, role_arn, external_id).await)
            }
        }
    }
}
