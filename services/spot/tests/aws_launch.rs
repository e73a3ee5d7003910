//! Real AWS end to end: the `spot` binary on `cloud = aws`, moto's server as the customer's
//! account holding an EKS cluster (a VPC with a subnet per zone, a security group, the node
//! role's instance profile, on-demand nodes launched from the node group's template), and a
//! stand-in agent reporting those nodes. Adopting the cluster imports its node class; a plan moves
//! it to spot through the platform's own launch template, into the class's subnets, with the
//! platform's tags; the new instances join by provider id; the old ones are drained and
//! terminated in moto.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use spot_agent::session::{Agent, AgentSettings};
use spot_cloud::{CLUSTER_ID_TAG, MANAGED_TAG};
use spot_cloud_ec2::testing::{MotoServer, SeenInstance, X86_IMAGE};
use spot_proto::agent::v1::Snapshot;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::account_service_client::AccountServiceClient;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::node_class_service_client::NodeClassServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod};
use spot_proto::optimizer::v1 as optimizer;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::authed;
use tokio_util::sync::CancellationToken;

mod spot_on_aws;
use spot_on_aws::Spot;

/// The optimizer tests' stand-in cluster: a snapshot the agent reports, and Kubernetes carrying
/// out the agent's actions with kube-scheduler's stand-in binding pods.
#[path = "../../optimizer/tests/common/mod.rs"]
mod stand_in;
use stand_in::{Cluster, Kubernetes, launched_ids};

/// A node as the agent reports an EC2 instance: its provider id names the instance.
fn node_of(instance: &SeenInstance, name: &str) -> Node {
    let capacity_type = if instance.spot {
        CapacityType::Spot
    } else {
        CapacityType::OnDemand
    };
    Node {
        provider_id: format!("aws:///{}/{}", instance.zone, instance.id),
        ..stand_in::node(name, &instance.zone, &instance.id, capacity_type)
    }
}

async fn plan_finishes(
    mut watch: tonic::Streaming<optimizer::WatchPlanResponse>,
) -> optimizer::Plan {
    tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(update) = watch.next().await {
            let plan = update.unwrap().plan.unwrap();
            if !matches!(
                plan.state(),
                optimizer::PlanState::Applying | optimizer::PlanState::Recommended
            ) {
                return plan;
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("the plan finishes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_eks_cluster_moves_to_spot_through_its_node_class() {
    let moto = MotoServer::start();
    let shop = moto
        .seed_eks_cluster("shop", &["us-east-1a", "us-east-1b"], "m5.xlarge", 2)
        .await;
    let spot = Spot::start(&moto.url);
    let (channel, token) = spot.tenant("Acme").await;

    // Link the account, discover the cluster, adopt it: its node class comes from its nodes.
    let mut accounts = AccountServiceClient::new(channel.clone());
    let account = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: "arn:aws:iam::123456789012:role/SpotOptimizer".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    let discovered = accounts
        .discover_clusters(authed(
            pb::DiscoverClustersRequest {
                id: account.id.clone(),
                regions: vec!["us-east-1".into()],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let found = discovered.iter().find(|c| c.name == "shop").unwrap();
    assert_eq!(found.nodes, 4);
    let adopted = accounts
        .adopt_cluster(authed(
            pb::AdoptClusterRequest {
                discovered_cluster_id: found.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let cluster_id = adopted.cluster.unwrap().id;
    let imported = adopted
        .node_class
        .expect("a node class imported from the nodes");
    assert_eq!(imported.source, "imported");
    let mut subnets: Vec<String> = shop.subnets.values().cloned().collect();
    subnets.sort();
    assert_eq!(imported.subnets.unwrap().ids, subnets);
    assert_eq!(
        imported.security_groups.unwrap().ids,
        [shop.security_group.clone()]
    );
    assert_eq!(imported.instance_profile, shop.instance_profile_arn);
    let in_force = NodeClassServiceClient::new(channel.clone())
        .get_node_class(authed(
            pb::GetNodeClassRequest {
                cluster_id: cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!in_force.inherited);

    // The user applies plans: no autopilot beside them.
    let mut policies = PolicyServiceClient::new(channel.clone());
    let mut default = policies
        .get_policy(authed(policy::GetPolicyRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    default.consolidation = policy::ConsolidationMode::Off.into();
    policies
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(default),
            },
            &token,
        ))
        .await
        .unwrap();

    // The stand-in agent reports the four on-demand nodes and eight pods on them.
    let old = moto
        .peer()
        .instances_tagged("eks:cluster-name", "shop")
        .await;
    let nodes: Vec<Node> = old
        .iter()
        .enumerate()
        .map(|(n, instance)| node_of(instance, &format!("old-{n}")))
        .collect();
    let pods: Vec<Pod> = (0..8)
        .map(|n| stand_in::pod(&format!("web-{n}"), &nodes[n % 4].name))
        .collect();
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        ..Default::default()
    });
    let kubernetes = Kubernetes::new(source.clone());
    let stop = CancellationToken::new();
    let mut settings = AgentSettings::new(&format!("http://{}", spot.addr), &adopted.agent_key);
    settings.max_backoff = Duration::from_millis(300);
    let (_notices, interruptions) = tokio::sync::mpsc::channel(4);
    tokio::spawn(
        Agent::new(settings, kubernetes.clone(), source.clone()).run(interruptions, stop.clone()),
    );
    let mut clusters = ClusterServiceClient::new(channel.clone());
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let listed = clusters
                .list_nodes(authed(
                    pb::ListNodesRequest {
                        cluster_id: cluster_id.clone(),
                        page: None,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .nodes;
            if listed.len() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the agent's snapshot arrives");

    // New instances join as the kubelet registers them: a Ready node whose provider id names
    // the instance moto launched.
    let events = clusters
        .watch_cluster(authed(
            pb::WatchClusterRequest {
                cluster_id: cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let joiner = {
        let (source, account, cluster_id) = (source.clone(), moto.peer(), cluster_id.clone());
        let mut events = events;
        tokio::spawn(async move {
            let mut joined = 0;
            while let Some(Ok(event)) = events.next().await {
                let Some(ids) = launched_ids(&event.event.unwrap().message) else {
                    continue;
                };
                let launched = account.instances_tagged(CLUSTER_ID_TAG, &cluster_id).await;
                let nodes = launched
                    .iter()
                    .filter(|i| ids.contains(&i.id))
                    .map(|instance| {
                        joined += 1;
                        node_of(instance, &format!("new-{joined}"))
                    })
                    .collect();
                source.upsert_nodes(nodes);
            }
        })
    };

    let mut plans = OptimizerServiceClient::new(channel.clone());
    let plan = plans
        .recommend(authed(
            optimizer::RecommendRequest {
                cluster_id: cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert!(
        plan.steps
            .iter()
            .any(|s| s.kind() == optimizer::StepKind::Launch),
        "{plan:?}"
    );
    let watch = plans
        .watch_plan(authed(
            optimizer::WatchPlanRequest {
                plan_id: plan.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    plans
        .apply_plan(authed(
            optimizer::ApplyPlanRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap();
    let finished = plan_finishes(watch).await;
    assert_eq!(
        finished.state(),
        optimizer::PlanState::Succeeded,
        "{finished:#?}"
    );
    joiner.abort();
    stop.cancel();

    // In the account: spot instances from the class's image, in the class's subnet of their
    // zone, with the platform's tags; the template holds the groups, profile, metadata options
    // and a bootstrap naming the cluster's endpoint.
    let launched = moto
        .peer()
        .instances_tagged(CLUSTER_ID_TAG, &cluster_id)
        .await;
    assert!(!launched.is_empty());
    for instance in &launched {
        assert!(instance.spot, "{instance:?}");
        assert_eq!(instance.image_id, X86_IMAGE);
        assert_eq!(
            instance.subnet_id, shop.subnets[&instance.zone],
            "{instance:?}"
        );
        assert_eq!(
            instance.tags.get(MANAGED_TAG).map(String::as_str),
            Some("true")
        );
        assert_eq!(
            instance
                .tags
                .get("kubernetes.io/cluster/shop")
                .map(String::as_str),
            Some("owned")
        );
    }
    let templates = moto.peer().launch_templates("spot-optimizer-").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    let template = &templates[0];
    assert_eq!(template.security_group_ids, [shop.security_group.clone()]);
    assert_eq!(template.instance_profile_arn, shop.instance_profile_arn);
    assert_eq!(template.http_tokens, "required");
    assert_eq!(template.hop_limit, 1);
    assert!(
        template.user_data.contains("kind: NodeConfig"),
        "{}",
        template.user_data
    );
    assert!(template.user_data.contains("name: shop"));
    assert!(template.user_data.contains("apiServerEndpoint: https://"));

    // The old nodes were drained (their pods run on the new ones) and terminated.
    let drained: Vec<String> = finished
        .steps
        .iter()
        .filter(|s| s.kind() == optimizer::StepKind::Drain)
        .map(|s| s.node_name.clone())
        .collect();
    assert!(!drained.is_empty());
    let states: BTreeMap<String, String> = moto
        .peer()
        .instances_tagged("eks:cluster-name", "shop")
        .await
        .into_iter()
        .map(|i| (i.id, i.state))
        .collect();
    for (n, instance) in old.iter().enumerate() {
        if drained.contains(&format!("old-{n}")) {
            assert!(
                matches!(
                    states[&instance.id].as_str(),
                    "terminated" | "shutting-down"
                ),
                "{states:?}"
            );
        }
    }
    assert!(
        source.pending_pods().is_empty(),
        "{:?}",
        source.pending_pods()
    );
}
