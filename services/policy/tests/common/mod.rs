//! Fixtures for the policy service's end-to-end tests: clients, a registered cluster, a policy.

#![allow(dead_code)]

use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::node_template_service_client::NodeTemplateServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::{TestServer, authed};
use tonic::transport::Channel;

pub fn policies(test: &TestServer) -> PolicyServiceClient<Channel> {
    PolicyServiceClient::new(test.channel.clone())
}

pub fn templates(test: &TestServer) -> NodeTemplateServiceClient<Channel> {
    NodeTemplateServiceClient::new(test.channel.clone())
}

/// Registers a cluster in us-east-1; its id.
pub async fn cluster(test: &TestServer, token: &str, name: &str) -> String {
    ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: name.into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cluster
        .unwrap()
        .id
}

/// A valid policy for the cluster ("" for the tenant default).
pub fn policy(cluster_id: &str) -> pb::Policy {
    pb::Policy {
        cluster_id: cluster_id.to_owned(),
        spot_percent: 80,
        on_demand_base: 1,
        max_interruption_bucket: 2,
        min_pools: 3,
        consolidation: pb::ConsolidationMode::WhenUnderutilized.into(),
        consolidation_min_savings_percent: 5.0,
        disruption_budget: Some(pb::DisruptionBudget {
            max_nodes: 2,
            max_percent: 10,
            windows: vec!["* 1-5 * * MON-FRI".into()],
            time_zone: "Europe/Berlin".into(),
        }),
        ..Default::default()
    }
}

pub async fn get(test: &TestServer, token: &str, cluster_id: &str) -> pb::Policy {
    policies(test)
        .get_policy(authed(
            pb::GetPolicyRequest {
                cluster_id: cluster_id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap()
}

pub async fn update(
    test: &TestServer,
    token: &str,
    policy: pb::Policy,
) -> Result<pb::Policy, tonic::Status> {
    policies(test)
        .update_policy(authed(
            pb::UpdatePolicyRequest {
                policy: Some(policy),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().policy.unwrap())
}
