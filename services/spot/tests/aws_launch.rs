//! Real AWS end to end: the `spot` binary on `cloud = aws`, moto's server as the customer's
//! account holding an EKS cluster (a VPC with a subnet per zone, a security group, the node
//! role's instance profile, on-demand nodes launched from the node group's template), and a
//! stand-in agent reporting those nodes. Adopting the cluster imports its node class; a plan moves
//! it to spot through the platform's own launch template, into the class's subnets, with the
//! platform's tags; the new instances join by provider id; the old ones are drained and
//! terminated in moto. An interruption's replacement and a hibernation sleep and wake take the
//! same path. A cluster that could not launch again is never put to sleep.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use spot_agent::session::{Agent, AgentSettings};
use spot_cloud::{CLUSTER_ID_TAG, MANAGED_TAG};
use spot_cloud_ec2::testing::{
    AL2023_IMAGE_NAME, MotoPeer, MotoServer, SeededCluster, SeenInstance,
};
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::account_service_client::AccountServiceClient;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::node_class_service_client::NodeClassServiceClient;
use spot_proto::common::v1::{Node, Pod};
use spot_proto::optimizer::v1 as optimizer;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::hibernation_service_client::HibernationServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::authed;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

mod spot_on_aws;
use spot_on_aws::{Spot, node_of};

/// The optimizer tests' stand-in cluster: a snapshot the agent reports, and Kubernetes carrying
/// out the agent's actions with kube-scheduler's stand-in binding pods.
#[path = "../../optimizer/tests/common/mod.rs"]
mod stand_in;
use stand_in::{Cluster, Kubernetes, launched_ids};

/// A tenant that linked moto's account and adopted its cluster `shop`.
struct Adopted {
    channel: Channel,
    token: String,
    cluster_id: String,
    agent_key: String,
    node_class: pb::NodeClass,
}

/// The node class in force for the adopted cluster.
async fn class_in_force(adopted: &Adopted) -> pb::GetNodeClassResponse {
    NodeClassServiceClient::new(adopted.channel.clone())
        .get_node_class(authed(
            pb::GetNodeClassRequest {
                cluster_id: adopted.cluster_id.clone(),
            },
            &adopted.token,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Saves `class` over version `expected_version` of the adopted cluster's class.
async fn update_class(
    adopted: &Adopted,
    class: pb::NodeClass,
    expected_version: i32,
) -> Result<pb::UpdateNodeClassResponse, tonic::Status> {
    NodeClassServiceClient::new(adopted.channel.clone())
        .update_node_class(authed(
            pb::UpdateNodeClassRequest {
                node_class: Some(class),
                expected_version,
            },
            &adopted.token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn adopt(spot: &Spot) -> Adopted {
    let (channel, token) = spot.tenant("Acme").await;
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
    Adopted {
        channel,
        token,
        cluster_id: adopted.cluster.unwrap().id,
        agent_key: adopted.agent_key,
        node_class: adopted
            .node_class
            .expect("a node class imported from the nodes"),
    }
}

/// The cluster as the stand-in agent reports it, Kubernetes carrying out its actions.
struct StandIn {
    source: std::sync::Arc<Cluster>,
    kubernetes: std::sync::Arc<Kubernetes>,
    notices: mpsc::Sender<InterruptionNotice>,
    stop: CancellationToken,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The agent reports the cluster's four on-demand nodes with eight pods on them. As in a real
/// cluster, an instance the platform launches joins as a Ready node whose provider id names it,
/// and a terminated instance's node leaves.
async fn stand_in(spot: &Spot, moto: &MotoPeer, adopted: &Adopted) -> StandIn {
    let old = moto.instances_tagged("eks:cluster-name", "shop").await;
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
    let (notices, interruptions) = mpsc::channel(4);
    tokio::spawn(
        Agent::new(settings, kubernetes.clone(), source.clone()).run(interruptions, stop.clone()),
    );
    let mut clusters = ClusterServiceClient::new(adopted.channel.clone());
    let mut events = clusters
        .watch_cluster(authed(
            pb::WatchClusterRequest {
                cluster_id: adopted.cluster_id.clone(),
            },
            &adopted.token,
        ))
        .await
        .unwrap()
        .into_inner();
    {
        let (source, moto, cluster_id) = (source.clone(), moto.clone(), adopted.cluster_id.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut joined = 0;
            loop {
                let event = tokio::select! {
                    _ = stop.cancelled() => return,
                    event = events.next() => event,
                };
                let Some(Ok(event)) = event else { return };
                let message = event.event.unwrap().message;
                if let Some(ids) = message.strip_prefix("terminated ") {
                    let ids: Vec<&str> = ids.split(", ").collect();
                    source.remove_instances(&ids);
                    continue;
                }
                let Some(ids) = launched_ids(&message) else {
                    continue;
                };
                let nodes = moto
                    .instances_tagged(CLUSTER_ID_TAG, &cluster_id)
                    .await
                    .iter()
                    .filter(|i| ids.contains(&i.id))
                    .map(|instance| {
                        joined += 1;
                        node_of(instance, &format!("new-{joined}"))
                    })
                    .collect();
                source.upsert_nodes(nodes);
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let listed = clusters
                .list_nodes(authed(
                    pb::ListNodesRequest {
                        cluster_id: adopted.cluster_id.clone(),
                        page: None,
                    },
                    &adopted.token,
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
    StandIn {
        source,
        kubernetes,
        notices,
        stop,
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

/// Waits for the cluster's newest hibernation run of `kind` to end; returns it.
async fn hibernation_run(adopted: &Adopted, kind: &str) -> policy::HibernationRun {
    let mut hibernation = HibernationServiceClient::new(adopted.channel.clone());
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let runs = hibernation
                .list_hibernation_runs(authed(
                    policy::ListHibernationRunsRequest {
                        cluster_id: adopted.cluster_id.clone(),
                        page: None,
                    },
                    &adopted.token,
                ))
                .await
                .unwrap()
                .into_inner()
                .runs;
            if let Some(run) = runs.into_iter().find(|r| r.kind == kind)
                && run.status() != policy::HibernationRunStatus::Running
            {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("a {kind} run ends"))
}

async fn sleep_for(adopted: &Adopted, seconds: i64) {
    HibernationServiceClient::new(adopted.channel.clone())
        .create_override(authed(
            policy::CreateOverrideRequest {
                cluster_id: adopted.cluster_id.clone(),
                kind: policy::OverrideKind::SleepUntil.into(),
                wake_hours: 0,
                sleep_until: Some(spot_proto::time::timestamp(
                    chrono::Utc::now().timestamp_millis() + seconds * 1_000,
                )),
            },
            &adopted.token,
        ))
        .await
        .unwrap();
}

fn running(instances: &[SeenInstance]) -> Vec<&SeenInstance> {
    instances
        .iter()
        .filter(|i| matches!(i.state.as_str(), "pending" | "running"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_eks_cluster_moves_to_spot_through_its_node_class() {
    let moto = MotoServer::start();
    let shop: SeededCluster = moto
        .seed_eks_cluster(
            "shop",
            &["us-east-1a", "us-east-1b"],
            "m5.xlarge",
            2,
            AL2023_IMAGE_NAME,
        )
        .await;
    let account = moto.peer();
    let spot = Spot::start(&moto.url);
    let adopted = adopt(&spot).await;
    let imported = &adopted.node_class;
    assert_eq!(imported.source, "imported");
    let mut subnets: Vec<String> = shop.subnets.values().cloned().collect();
    subnets.sort();
    assert_eq!(imported.subnets.as_ref().unwrap().ids, subnets);
    assert_eq!(
        imported.security_groups.as_ref().unwrap().ids,
        std::slice::from_ref(&shop.security_group)
    );
    assert_eq!(imported.instance_profile, shop.instance_profile_arn);
    let in_force = class_in_force(&adopted).await;
    assert!(!in_force.inherited);
    let old = account.instances_tagged("eks:cluster-name", "shop").await;
    let cluster = stand_in(&spot, &account, &adopted).await;

    // Recommend and apply: spot nodes from the node class, the old ones drained and terminated.
    let mut plans = OptimizerServiceClient::new(adopted.channel.clone());
    let plan = plans
        .recommend(authed(
            optimizer::RecommendRequest {
                cluster_id: adopted.cluster_id.clone(),
            },
            &adopted.token,
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
    // moto prices every spot pool at $0.00001: not believed, and the plan says so.
    assert!(
        plan.reason
            .contains("so it used the advisor's estimates for them"),
        "{}",
        plan.reason
    );
    let watch = plans
        .watch_plan(authed(
            optimizer::WatchPlanRequest {
                plan_id: plan.id.clone(),
            },
            &adopted.token,
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
            &adopted.token,
        ))
        .await
        .unwrap();
    let finished = plan_finishes(watch).await;
    assert_eq!(
        finished.state(),
        optimizer::PlanState::Succeeded,
        "{finished:#?}"
    );

    // In the account: spot instances from the class's image, in the class's subnet of their
    // zone, with the platform's tags; the template holds the groups, profile, metadata options
    // and a bootstrap naming the cluster's endpoint.
    let launched = account
        .instances_tagged(CLUSTER_ID_TAG, &adopted.cluster_id)
        .await;
    assert!(!launched.is_empty());
    for instance in &launched {
        assert!(instance.spot, "{instance:?}");
        assert_eq!(instance.image_id, shop.image_id);
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
    let templates = account.launch_templates("spot-optimizer-").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    let template = &templates[0];
    assert_eq!(
        template.security_group_ids,
        std::slice::from_ref(&shop.security_group)
    );
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
    let states: BTreeMap<String, String> = account
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
        cluster.source.pending_pods().is_empty(),
        "{:?}",
        cluster.source.pending_pods()
    );

    // A spot interruption: the replacement comes the same way, from the same template.
    let doomed = launched[0].clone();
    let doomed_node = cluster
        .source
        .snapshot
        .lock()
        .unwrap()
        .nodes
        .iter()
        .find(|n| n.instance_id == doomed.id)
        .map(|n| n.name.clone())
        .expect("the launched instance joined");
    cluster
        .notices
        .send(InterruptionNotice {
            event_id: format!("{}:spot-interruption:1", doomed.id),
            kind: InterruptionKind::SpotInterruption.into(),
            instance_id: doomed.id.clone(),
            node_name: doomed_node,
            pool: Some(spot_proto::common::v1::Pool {
                region: "us-east-1".into(),
                zone: doomed.zone.clone(),
                instance_type: doomed.instance_type.clone(),
            }),
            action_at: Some(spot_proto::time::timestamp(
                chrono::Utc::now().timestamp_millis() + 120_000,
            )),
        })
        .await
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let listed = plans
                .list_plans(authed(
                    optimizer::ListPlansRequest {
                        cluster_id: adopted.cluster_id.clone(),
                        page: None,
                    },
                    &adopted.token,
                ))
                .await
                .unwrap()
                .into_inner()
                .plans;
            if let Some(plan) = listed.into_iter().find(|p| {
                p.strategy == "interruption-response"
                    && !matches!(
                        p.state(),
                        optimizer::PlanState::Applying | optimizer::PlanState::Recommended
                    )
            }) {
                return plan;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let response = match response {
        Ok(plan) => plan,
        Err(_) => {
            let listed = plans
                .list_plans(authed(
                    optimizer::ListPlansRequest {
                        cluster_id: adopted.cluster_id.clone(),
                        page: None,
                    },
                    &adopted.token,
                ))
                .await
                .unwrap()
                .into_inner()
                .plans;
            let events = ClusterServiceClient::new(adopted.channel.clone())
                .list_cluster_events(authed(
                    pb::ListClusterEventsRequest {
                        cluster_id: adopted.cluster_id.clone(),
                        ..Default::default()
                    },
                    &adopted.token,
                ))
                .await
                .unwrap()
                .into_inner()
                .events;
            panic!(
                "the interruption is not handled: {:#?} {:#?}",
                listed
                    .iter()
                    .map(|p| (&p.strategy, p.kind(), p.state(), &p.reason))
                    .collect::<Vec<_>>(),
                events.iter().map(|e| &e.message).collect::<Vec<_>>()
            );
        }
    };
    assert_eq!(
        response.state(),
        optimizer::PlanState::Succeeded,
        "{response:#?}"
    );
    let after = account
        .instances_tagged(CLUSTER_ID_TAG, &adopted.cluster_id)
        .await;
    assert!(after.len() > launched.len(), "a replacement was launched");
    assert!(
        after
            .iter()
            .all(|i| i.image_id == shop.image_id && i.subnet_id == shop.subnets[&i.zone])
    );
    assert_eq!(account.launch_templates("spot-optimizer-").await.len(), 1);

    // Hibernation: a sleep terminates every node, the wake launches them again the same way.
    let awake = running(&after).len();
    sleep_for(&adopted, 15).await;
    let slept = hibernation_run(&adopted, "hibernate").await;
    assert_eq!(
        slept.status(),
        policy::HibernationRunStatus::Succeeded,
        "{slept:#?}"
    );
    let asleep = account
        .instances_tagged(CLUSTER_ID_TAG, &adopted.cluster_id)
        .await;
    assert!(running(&asleep).is_empty(), "{asleep:?}");
    let woke = hibernation_run(&adopted, "wake").await;
    assert_eq!(
        woke.status(),
        policy::HibernationRunStatus::Succeeded,
        "{woke:#?}"
    );
    let woken = account
        .instances_tagged(CLUSTER_ID_TAG, &adopted.cluster_id)
        .await;
    let woken = running(&woken);
    assert!(!woken.is_empty() && woken.len() <= awake, "{woken:?}");
    assert!(
        woken
            .iter()
            .all(|i| i.image_id == shop.image_id && i.subnet_id == shop.subnets[&i.zone])
    );
    assert!(
        cluster.source.pending_pods().is_empty(),
        "{:?}",
        cluster.source.pending_pods()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_could_not_wake_is_never_put_to_sleep() {
    let moto = MotoServer::start();
    let shop = moto
        .seed_eks_cluster(
            "shop",
            &["us-east-1a", "us-east-1b"],
            "m5.xlarge",
            2,
            AL2023_IMAGE_NAME,
        )
        .await;
    let elsewhere = moto
        .seed_eks_cluster("other", &["us-east-1c"], "m5.large", 1, AL2023_IMAGE_NAME)
        .await;
    let account = moto.peer();
    let spot = Spot::start(&moto.url);
    let adopted = adopt(&spot).await;

    // A subnet of another VPC is refused, naming the field; the imported class stays in force.
    let mut foreign = adopted.node_class.clone();
    foreign.subnets = Some(pb::ResourceSelector {
        ids: elsewhere.subnets.values().cloned().collect(),
        ..Default::default()
    });
    let refused = update_class(&adopted, foreign, 1).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("invalid `node_class.subnets`")
            && refused.message().contains(&shop.vpc_id),
        "{}",
        refused.message()
    );
    let kept = class_in_force(&adopted).await.node_class.unwrap();
    assert_eq!(kept.version, 1);
    assert_eq!(kept.subnets, adopted.node_class.subnets);

    // A class with no subnet in us-east-1b is valid, but nodes there could not come back.
    let mut one_zone = adopted.node_class.clone();
    one_zone.subnets = Some(pb::ResourceSelector {
        ids: vec![shop.subnets["us-east-1a"].clone()],
        ..Default::default()
    });
    let saved = update_class(&adopted, one_zone, 1).await.unwrap();
    assert_eq!(saved.node_class.unwrap().version, 2);
    assert_eq!(
        saved
            .resolved
            .unwrap()
            .subnets_by_zone
            .keys()
            .collect::<Vec<_>>(),
        ["us-east-1a"]
    );
    let cluster = stand_in(&spot, &account, &adopted).await;

    sleep_for(&adopted, 3_600).await;
    let refused = hibernation_run(&adopted, "hibernate").await;
    assert_eq!(
        refused.status(),
        policy::HibernationRunStatus::Refused,
        "{refused:#?}"
    );
    assert!(
        refused.reason.contains("no subnet in us-east-1b"),
        "{}",
        refused.reason
    );
    let nodes = account.instances_tagged("eks:cluster-name", "shop").await;
    assert_eq!(running(&nodes).len(), 4, "nothing was terminated");
    let ran = cluster.kubernetes.ran.0.lock().unwrap().clone();
    assert!(
        ran.iter()
            .all(|a| a.kind() != spot_proto::agent::v1::ActionKind::Drain),
        "nothing was drained: {ran:?}"
    );
    // Under a policy that admits Graviton nodes only, a class with x86 images only could launch
    // nothing the policy allows: refused at the images, the class in force kept.
    let mut policies = PolicyServiceClient::new(adopted.channel.clone());
    let mut graviton = policies
        .get_policy(authed(
            policy::GetPolicyRequest {
                cluster_id: adopted.cluster_id.clone(),
            },
            &adopted.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    graviton.cluster_id = adopted.cluster_id.clone();
    graviton.architectures = vec![spot_proto::common::v1::Architecture::Arm64.into()];
    policies
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(graviton),
            },
            &adopted.token,
        ))
        .await
        .unwrap();
    let mut x86_only = adopted.node_class.clone();
    x86_only.ami_ids = BTreeMap::from([("amd64".to_owned(), shop.image_id.clone())])
        .into_iter()
        .collect();
    x86_only.root_volume_gib = 40;
    let refused = update_class(&adopted, x86_only, 2).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("invalid `node_class.ami_ids`")
            && refused.message().contains("admits only arm64"),
        "{}",
        refused.message()
    );
    let kept = class_in_force(&adopted).await.node_class.unwrap();
    assert_eq!(kept.version, 2);
    assert_ne!(kept.root_volume_gib, 40);
}
