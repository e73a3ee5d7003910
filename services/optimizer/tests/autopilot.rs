//! The autopilot as a user watches it, through the real server, with Kubernetes' part played by
//! kube-scheduler's stand-in (least allocated node first, not the engine's packing):
//! - pods waiting for a node get a launch-only plan within seconds (not after the 30 s settle
//!   and the cool-down), whatever the consolidation mode and outside disruption windows, and pods
//!   no launch can help are named with why and not launched for;
//! - a plan that would leave running pods with no node (a template whose taint no pod tolerates)
//!   is never applied by the autopilot, and ApplyPlan refuses it, naming the pods, unless the
//!   caller accepts their loss.

mod common;

use std::time::Duration;

use chrono::Timelike;
use common::*;
use futures::StreamExt;
use spot_agent::session::ClusterSource;
use spot_proto::agent::v1::{ActionKind, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{
    CapacityType, NodeSelectorRequirement, Pool, Resources, Taint, TaintEffect,
};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::node_template_service_client::NodeTemplateServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::{TestServer, authed};

type Optimizer = OptimizerServiceClient<tonic::transport::Channel>;

async fn plans(optimizer: &mut Optimizer, owner: &str, cluster_id: &str) -> Vec<pb::Plan> {
    optimizer
        .list_plans(authed(
            pb::ListPlansRequest {
                cluster_id: cluster_id.to_owned(),
                page: None,
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .plans
}

/// The cluster's first provisioning plan with steps, once it finished; at most 20 s after
/// `reported`.
async fn finished_provisioning(
    optimizer: &mut Optimizer,
    owner: &str,
    cluster_id: &str,
    reported: tokio::time::Instant,
) -> pb::Plan {
    let deadline = reported + Duration::from_secs(20);
    loop {
        let done = plans(optimizer, owner, cluster_id)
            .await
            .into_iter()
            .find(|p| {
                // The autopilot stores its plan before it starts applying it: wait until it is
                // done, not just stored.
                p.kind() == pb::PlanKind::Provisioning
                    && !p.steps.is_empty()
                    && !matches!(
                        p.state(),
                        pb::PlanState::Recommended | pb::PlanState::Applying
                    )
            });
        if let Some(plan) = done {
            return plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no provisioning plan finished within 20 s of the report"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn waiting_pods_get_a_launch_only_plan_within_seconds_whatever_the_consolidation_mode() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    // Consolidation off, and the only disruption window is twelve hours away: neither holds
    // back capacity for pods that wait.
    let far_hour = (chrono::Utc::now().hour() + 12) % 24;
    PolicyServiceClient::new(test.channel.clone())
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(policy::Policy {
                    cluster_id: cluster_id.clone(),
                    spot_percent: 100,
                    max_interruption_bucket: 2,
                    consolidation: policy::ConsolidationMode::Off.into(),
                    disruption_budget: Some(policy::DisruptionBudget {
                        max_percent: 20,
                        windows: vec![format!("* {far_hour} * * *")],
                        time_zone: "UTC".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
            &owner,
        ))
        .await
        .unwrap();

    let mut router = router(&test);
    let instance = launch(
        &mut router,
        &cluster_id,
        "us-east-1a",
        CapacityType::OnDemand,
    )
    .await;
    // One m5.xlarge (3,920m) runs two 500m pods; a 3,000m pod cannot fit beside them, and a pod
    // selecting a label no node or pool has can never run.
    let mut big = pod("batch", "");
    big.requests = Some(Resources {
        cpu_millis: 3_000,
        memory_mib: 2_048,
        pods: 1,
        gpus: 0,
        ..Default::default()
    });
    let mut picky = pod("picky", "");
    picky.node_selector = [("example.com/team".to_owned(), "nobody".to_owned())].into();
    let source = Cluster::new(Snapshot {
        nodes: vec![node(
            "old-0",
            "us-east-1a",
            &instance,
            CapacityType::OnDemand,
        )],
        pods: vec![pod("web-0", "old-0"), pod("web-1", "old-0"), big, picky],
        pdbs: vec![],
    });
    let joiner = join_launched_nodes(
        &test,
        &owner,
        &cluster_id,
        source.clone(),
        "new",
        "us-east-1b",
    )
    .await;
    let kubernetes = Kubernetes::new(source.clone());
    let reported = tokio::time::Instant::now();
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        kubernetes.clone(),
        source.clone(),
    );

    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let plan = finished_provisioning(&mut optimizer, &owner, &cluster_id, reported).await;
    assert!(
        reported.elapsed() < Duration::from_secs(30),
        "provisioning does not wait for the 30 s settle"
    );
    assert_eq!(plan.state(), pb::PlanState::Succeeded, "{}", plan.reason);
    assert!(
        plan.steps
            .iter()
            .all(|s| matches!(s.kind(), pb::StepKind::Launch | pb::StepKind::WaitReady)),
        "nothing is drained to place a waiting pod: {:?}",
        plan.steps
    );
    // The pod capacity cannot help is named on the plan, with why.
    assert_eq!(plan.unplaced_pods.len(), 1, "{:?}", plan.unplaced_pods);
    assert_eq!(plan.unplaced_pods[0].name, "picky");
    assert!(
        plan.unplaced_pods[0].reason.contains("example.com/team"),
        "{}",
        plan.unplaced_pods[0].reason
    );
    // kube-scheduler's stand-in bound the waiting pod to the new node.
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while source.pending_pods() != ["shop/picky"] {
        assert!(
            tokio::time::Instant::now() < until,
            "{:?}",
            source.pending_pods()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // More reports while `picky` still waits: nothing more is launched for it.
    source.upsert_nodes(vec![node(
        "old-0",
        "us-east-1a",
        &instance,
        CapacityType::OnDemand,
    )]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let launching: Vec<pb::Plan> = plans(&mut optimizer, &owner, &cluster_id)
        .await
        .into_iter()
        .filter(|p| !p.steps.is_empty())
        .collect();
    assert_eq!(launching.len(), 1, "{launching:?}");
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn a_launch_for_waiting_pods_lands_in_a_fallback_pool_when_its_own_is_dry() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    // On-demand only, so the prices (and the engine's choice) are the catalog's.
    change_default_policy(&test, &owner, |p| p.spot_percent = 0).await;
    // A pod that runs on an m5.large or an m7i.large in us-east-1a: the cheaper m5.large is
    // planned, and it has no capacity right now.
    let mut waiting = pod("etl", "");
    waiting.node_selector = [(
        "topology.kubernetes.io/zone".to_owned(),
        "us-east-1a".to_owned(),
    )]
    .into();
    waiting.required_node_affinity = vec![NodeSelectorRequirement {
        key: "node.kubernetes.io/instance-type".into(),
        operator: "In".into(),
        values: vec!["m5.large".into(), "m7i.large".into()],
    }];
    let dry = Pool {
        region: "us-east-1".into(),
        zone: "us-east-1a".into(),
        instance_type: "m5.large".into(),
    };
    test.cloud.run_short(
        &spot_cloud::Pool {
            region: dry.region.clone(),
            zone: dry.zone.clone(),
            instance_type: dry.instance_type.clone(),
        },
        3_600,
    );
    let source = Cluster::new(Snapshot {
        nodes: vec![],
        pods: vec![waiting],
        pdbs: vec![],
    });
    let joiner = join_launched_nodes(
        &test,
        &owner,
        &cluster_id,
        source.clone(),
        "new",
        "us-east-1a",
    )
    .await;
    let reported = tokio::time::Instant::now();
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        Kubernetes::new(source.clone()),
        source.clone(),
    );

    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let plan = finished_provisioning(&mut optimizer, &owner, &cluster_id, reported).await;
    assert_eq!(plan.state(), pb::PlanState::Succeeded, "{plan:#?}");
    let launch = &plan.steps[0];
    assert_eq!(launch.pool.as_ref(), Some(&dry), "{plan:#?}");
    assert_eq!(
        launch
            .fallback_pools
            .iter()
            .map(|p| p.instance_type.as_str())
            .collect::<Vec<_>>(),
        ["m7i.large"],
        "the only other pool the pod may run on"
    );
    let launched: Vec<String> = test
        .cloud
        .all_instances()
        .into_iter()
        .filter(|i| launch.instance_ids.contains(&i.id))
        .map(|i| i.pool.instance_type)
        .collect();
    assert_eq!(launched, ["m7i.large"]);
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn a_plan_that_would_strand_running_pods_names_them_and_needs_their_loss_accepted() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let id = launch(&mut router, &cluster_id, zone, CapacityType::OnDemand).await;
        let name = format!("old-{i}");
        pods.push(pod(&format!("web-{i}"), &name));
        nodes.push(node(&name, zone, &id, CapacityType::OnDemand));
    }
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    let kubernetes = Kubernetes::new(source.clone());
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        kubernetes.clone(),
        source.clone(),
    );
    wait_for_nodes(&test, &owner, &cluster_id, 2).await;

    // Every new node would carry a taint no pod tolerates.
    let template = NodeTemplateServiceClient::new(test.channel.clone())
        .create_node_template(authed(
            policy::CreateNodeTemplateRequest {
                template: Some(policy::NodeTemplate {
                    name: "gpu-only".into(),
                    taints: vec![Taint {
                        key: "dedicated".into(),
                        value: "gpu".into(),
                        effect: TaintEffect::NoSchedule.into(),
                    }],
                    ..Default::default()
                }),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    PolicyServiceClient::new(test.channel.clone())
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(policy::Policy {
                    cluster_id: cluster_id.clone(),
                    spot_percent: 100,
                    max_interruption_bucket: 2,
                    consolidation_min_savings_percent: 5.0,
                    node_template_ids: vec![template.id.clone()],
                    ..Default::default()
                }),
            },
            &owner,
        ))
        .await
        .unwrap();

    // The policy change re-plans at once; the autopilot shows the plan and never applies it.
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let shown = loop {
        if let Some(plan) = plans(&mut optimizer, &owner, &cluster_id)
            .await
            .into_iter()
            .next()
        {
            break plan;
        }
        assert!(tokio::time::Instant::now() < deadline, "no re-plan");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown.kind(), pb::PlanKind::Consolidation);
    assert_eq!(shown.stranded_pods.len(), 2, "{}", shown.reason);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = plans(&mut optimizer, &owner, &cluster_id).await;
    assert!(
        still
            .iter()
            .all(|p| p.state() == pb::PlanState::Recommended),
        "{still:?}"
    );
    // Nothing moved: at most the node the cluster could do without is tainted to empty.
    let ran = kubernetes.ran.0.lock().unwrap().clone();
    assert!(ran.iter().all(|a| a.kind() == ActionKind::Taint), "{ran:?}");

    let plan = optimizer
        .recommend(authed(
            pb::RecommendRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let mut stranded: Vec<String> = plan
        .stranded_pods
        .iter()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    stranded.sort();
    assert_eq!(stranded, ["shop/web-0", "shop/web-1"], "{}", plan.reason);
    assert!(
        plan.stranded_pods
            .iter()
            .all(|p| p.reason.contains("dedicated=gpu")),
        "{:?}",
        plan.stranded_pods
    );
    assert!(
        plan.reason.contains("accepting their loss"),
        "{}",
        plan.reason
    );

    let apply = |accept: Vec<String>| pb::ApplyPlanRequest {
        plan_id: plan.id.clone(),
        accept_pod_loss: accept,
    };
    let refused = optimizer
        .apply_plan(authed(apply(Vec::new()), &owner))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("shop/web-0") && refused.message().contains("shop/web-1"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("dedicated=gpu"),
        "{}",
        refused.message()
    );
    // Accepting one of the two is not accepting the loss.
    let partly = optimizer
        .apply_plan(authed(apply(vec!["shop/web-0".into()]), &owner))
        .await
        .unwrap_err();
    assert_eq!(partly.code(), tonic::Code::FailedPrecondition);
    assert!(
        !partly.message().contains("shop/web-0 ("),
        "{}",
        partly.message()
    );

    let applying = optimizer
        .apply_plan(authed(apply(stranded.clone()), &owner))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(applying.state(), pb::PlanState::Applying);
    stop.cancel();
    test.stop().await;
}

/// Adds each instance the cluster service reports launching as a ready node of the pool and
/// capacity type the simulated cloud launched it in, and removes the nodes of the instances it
/// reports terminated (as the cloud controller deletes their Nodes).
fn join_launched_instances(
    mut events: tonic::Streaming<cluster::WatchClusterResponse>,
    source: std::sync::Arc<Cluster>,
    cloud: std::sync::Arc<spot_cloud::SimulatedCloud>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut joined = 0;
        while let Some(Ok(event)) = events.next().await {
            let message = event.event.unwrap().message;
            if let Some(ids) = message.strip_prefix("terminated ") {
                source.remove_instances(&ids.split(", ").collect::<Vec<_>>());
                continue;
            }
            let Some(ids) = launched_ids(&message) else {
                continue;
            };
            let instances = cloud.all_instances();
            let nodes = instances
                .iter()
                .filter(|i| ids.contains(&i.id))
                .map(|instance| {
                    joined += 1;
                    let capacity_type = match instance.capacity_type {
                        spot_cloud::CapacityType::Spot => CapacityType::Spot,
                        spot_cloud::CapacityType::OnDemand => CapacityType::OnDemand,
                    };
                    let mut joining = node(
                        &format!("new-{joined}"),
                        &instance.pool.zone,
                        &instance.id,
                        capacity_type,
                    );
                    joining.instance_type = instance.pool.instance_type.clone();
                    joining
                })
                .collect();
            source.upsert_nodes(nodes);
        }
    })
}

async fn autopilot_status(
    optimizer: &mut Optimizer,
    owner: &str,
    cluster_id: &str,
) -> pb::GetAutopilotStatusResponse {
    optimizer
        .get_autopilot_status(authed(
            pb::GetAutopilotStatusRequest {
                cluster_id: cluster_id.to_owned(),
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_cluster_out_of_its_policy_shows_why_and_gets_a_compliance_plan_whatever_it_costs() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let id = launch(&mut router, &cluster_id, zone, CapacityType::Spot).await;
        let name = format!("old-{i}");
        pods.push(pod(&format!("web-{i}"), &name));
        pods.push(pod(&format!("api-{i}"), &name));
        nodes.push(node(&name, zone, &id, CapacityType::Spot));
    }
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let events = ClusterServiceClient::new(test.channel.clone())
        .watch_cluster(authed(
            cluster::WatchClusterRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    let joiner = join_launched_instances(events, source.clone(), test.cloud.clone());

    // At most 30 % spot, consolidation off, and a minimum saving no plan meets: in dry-run first,
    // so the breach can be seen before anything moves (and before the agent reports).
    let set_policy = |dry_run: bool| {
        let mut policies = PolicyServiceClient::new(test.channel.clone());
        let request = authed(
            policy::UpdatePolicyRequest {
                policy: Some(policy::Policy {
                    cluster_id: cluster_id.clone(),
                    spot_percent: 30,
                    max_interruption_bucket: 4,
                    consolidation: policy::ConsolidationMode::Off.into(),
                    consolidation_min_savings_percent: 90.0,
                    dry_run,
                    ..Default::default()
                }),
            },
            &owner,
        );
        async move { policies.update_policy(request).await.unwrap() }
    };
    set_policy(true).await;
    let kubernetes = Kubernetes::new(source.clone());
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        kubernetes.clone(),
        source.clone(),
    );
    wait_for_nodes(&test, &owner, &cluster_id, 3).await;
    // A policy change re-plans the clusters the autopilot knows at once: now it knows this one.
    set_policy(true).await;
    let status = autopilot_status(&mut optimizer, &owner, &cluster_id).await;
    assert!(!status.compliant);
    assert_eq!(status.breaches.len(), 1, "{:?}", status.breaches);
    assert_eq!(status.breaches[0].rule(), pb::PolicyRule::SpotShare);
    assert!(
        status.breaches[0].detail.contains("3 of 3 nodes are spot"),
        "{}",
        status.breaches[0].detail
    );
    assert!(status.cannot_meet.is_empty(), "{}", status.cannot_meet);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let recommended = loop {
        if let Some(plan) = plans(&mut optimizer, &owner, &cluster_id)
            .await
            .into_iter()
            .find(|p| p.kind() == pb::PlanKind::Compliance)
        {
            break plan;
        }
        assert!(tokio::time::Instant::now() < deadline, "no compliance plan");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(recommended.state(), pb::PlanState::Recommended);
    assert!(
        recommended
            .reason
            .starts_with("brings the cluster back within its policy (3 of 3 nodes are spot"),
        "{}",
        recommended.reason
    );
    assert!(kubernetes.ran.0.lock().unwrap().is_empty());

    // Out of dry-run: applied at once, though consolidation is off and it saves nothing.
    set_policy(false).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let applied = loop {
        if let Some(plan) = plans(&mut optimizer, &owner, &cluster_id)
            .await
            .into_iter()
            .find(|p| {
                p.kind() == pb::PlanKind::Compliance && p.state() != pb::PlanState::Recommended
            })
            && plan.state() != pb::PlanState::Applying
        {
            break plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the compliance plan was not applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        applied.state(),
        pb::PlanState::Succeeded,
        "{}",
        applied.reason
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = autopilot_status(&mut optimizer, &owner, &cluster_id).await;
        if status.compliant {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still out of policy after the compliance plan: {:?}",
            status.breaches
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        source.pending_pods().is_empty(),
        "{:?}",
        source.pending_pods()
    );
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

/// Nodes the cluster could do without, where moving pods does not pay yet, are tainted
/// `PreferNoSchedule` so new pods land elsewhere and the node empties with nothing evicted; the
/// taint comes off when consolidation is turned off.
#[tokio::test]
async fn nodes_the_cluster_could_do_without_are_left_to_empty_with_nothing_evicted() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let mut nodes = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let id = launch(&mut router, &cluster_id, zone, CapacityType::Spot).await;
        nodes.push(node(&format!("old-{i}"), zone, &id, CapacityType::Spot));
    }
    // Two pods on old-0 and old-1, one on old-2: old-2's pod and then old-0's fit on old-1.
    let pods = vec![
        pod("web-0", "old-0"),
        pod("api-0", "old-0"),
        pod("web-1", "old-1"),
        pod("api-1", "old-1"),
        pod("web-2", "old-2"),
    ];
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    // Re-packing on, but with a minimum saving no move meets: nothing may be drained.
    let set_policy = |consolidation: policy::ConsolidationMode| {
        let mut policies = PolicyServiceClient::new(test.channel.clone());
        let request = authed(
            policy::UpdatePolicyRequest {
                policy: Some(policy::Policy {
                    cluster_id: cluster_id.clone(),
                    spot_percent: 100,
                    max_interruption_bucket: 4,
                    consolidation: consolidation.into(),
                    consolidation_min_savings_percent: 90.0,
                    ..Default::default()
                }),
            },
            &owner,
        );
        async move { policies.update_policy(request).await.unwrap() }
    };
    set_policy(policy::ConsolidationMode::WhenUnderutilized).await;
    let kubernetes = Kubernetes::new(source.clone());
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        kubernetes.clone(),
        source.clone(),
    );
    wait_for_nodes(&test, &owner, &cluster_id, 3).await;
    let tainted = || {
        let mut names: Vec<String> = source
            .snapshot()
            .nodes
            .iter()
            .filter(|n| {
                n.taints.iter().any(|t| {
                    t.key == spot_engine::EMPTYING_TAINT_KEY
                        && t.effect() == TaintEffect::PreferNoSchedule
                })
            })
            .map(|n| n.name.clone())
            .collect();
        names.sort();
        names
    };
    // In safe mode nothing is sent (the router would refuse each taint at every re-plan).
    test.set_safe_mode(true).await;
    set_policy(policy::ConsolidationMode::WhenUnderutilized).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = ClusterServiceClient::new(test.channel.clone())
        .list_actions(authed(
            cluster::ListActionsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert!(
        stored.is_empty(),
        "nothing stored, not even refused: {stored:?}"
    );
    assert!(tainted().is_empty(), "{:?}", tainted());
    test.set_safe_mode(false).await;
    // A policy change re-plans the clusters the autopilot knows at once: now it knows this one.
    set_policy(policy::ConsolidationMode::WhenUnderutilized).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tainted() != ["old-0", "old-2"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not left to empty: {:?}",
            tainted()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ran = kubernetes.ran.0.lock().unwrap().clone();
    assert!(
        ran.iter().all(|a| a.kind() == ActionKind::Taint),
        "only taints change: {ran:?}"
    );
    assert!(source.pending_pods().is_empty());

    set_policy(policy::ConsolidationMode::Off).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !tainted().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still tainted with consolidation off: {:?}",
            tainted()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    test.stop().await;
}
