//! The first end-to-end loop: an agent reports an all-on-demand cluster, the optimizer recommends
//! spot capacity with savings and readable steps, and applying the plan launches new nodes on the
//! (simulated) cloud, waits for them to join, cordons and drains the old ones on the agent's
//! stream and terminates them, in that order. The tenant's node template narrows the instance
//! types and labels and taints the new nodes before any pod moves to them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use spot_proto::agent::v1::{ActionKind, InterruptionNotice, Snapshot};
use spot_proto::common::v1::{
    CapacityType, HostPort, Node, NodeSelectorRequirement, Pod, PodAffinityTerm, PodPhase, Pool,
    PreferredNodeAffinity, Resources, Taint, TaintEffect, Toleration,
};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::node_template_service_client::NodeTemplateServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::{TestServer, authed};
use tokio_util::sync::CancellationToken;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

#[tokio::test]
async fn a_recommendation_moves_an_on_demand_cluster_to_spot_in_a_safe_order() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;

    // Three on-demand nodes that really exist in the simulated cloud, two pods on each. The pods
    // tolerate the batch template's taint (below), so they may move to its nodes.
    let mut router = router(&test);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    let batch = |mut pod: Pod| {
        pod.tolerations = vec![Toleration {
            key: "dedicated".into(),
            operator: "Equal".into(),
            value: "batch".into(),
            effect: TaintEffect::NoSchedule.into(),
        }];
        pod
    };
    for (i, zone) in ZONES.iter().enumerate() {
        let id = launch(&mut router, &cluster_id, zone, CapacityType::OnDemand).await;
        let name = format!("old-{i}");
        pods.push(batch(pod(&format!("web-{i}"), &name)));
        pods.push(batch(pod(&format!("api-{i}"), &name)));
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
    wait_for_nodes(&test, &owner, &cluster_id, 3).await;

    // The tenant's default policy names a node template: new nodes get its labels and taints.
    let template = NodeTemplateServiceClient::new(test.channel.clone())
        .create_node_template(authed(
            policy::CreateNodeTemplateRequest {
                template: Some(policy::NodeTemplate {
                    name: "batch".into(),
                    requirements: vec![NodeSelectorRequirement {
                        key: "karpenter.k8s.aws/instance-family".into(),
                        operator: "In".into(),
                        values: vec!["m5".into(), "c5".into()],
                    }],
                    labels: [("team".to_owned(), "checkout".to_owned())].into(),
                    taints: vec![Taint {
                        key: "dedicated".into(),
                        value: "batch".into(),
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
    let mut policies = PolicyServiceClient::new(test.channel.clone());
    let mut default = policies
        .get_policy(authed(policy::GetPolicyRequest::default(), &owner))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    default.node_template_ids = vec![template.id.clone()];
    // The user applies the plan here; the autopilot must not run its own beside it.
    default.consolidation = policy::ConsolidationMode::Off.into();
    policies
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(default),
            },
            &owner,
        ))
        .await
        .unwrap();

    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
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
    assert_eq!(plan.state(), pb::PlanState::Recommended);
    // The template's requirement narrows the pools to its families.
    for step in plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch)
    {
        let launched = &step.pool.as_ref().unwrap().instance_type;
        assert!(
            launched.starts_with("m5.") || launched.starts_with("c5."),
            "{launched} is outside the template's families"
        );
    }
    assert!(plan.unplaced_pods.is_empty(), "{:?}", plan.unplaced_pods);
    assert!(plan.savings_usd_per_month > 0.0, "{}", plan.reason);
    assert!(plan.target_usd_per_hour < plan.current_usd_per_hour);
    assert!(
        plan.steps.iter().all(|s| !s.explanation.is_empty()),
        "every step explains itself"
    );
    let first_drain = plan
        .steps
        .iter()
        .position(|s| s.kind() == pb::StepKind::Drain)
        .expect("old nodes are drained");
    let last_launch = plan
        .steps
        .iter()
        .rposition(|s| s.kind() == pb::StepKind::Launch)
        .expect("new capacity");
    let ready = plan
        .steps
        .iter()
        .position(|s| s.kind() == pb::StepKind::WaitReady)
        .expect("waits for it");
    assert!(
        last_launch < ready && ready < first_drain,
        "capacity first: {:?}",
        plan.steps
    );
    assert!(
        plan.steps
            .iter()
            .any(|s| s.kind() == pb::StepKind::Launch && s.capacity_type() == CapacityType::Spot)
    );

    // Apply: as new instances launch, they join the cluster (the agent reports them).
    let mut watch = optimizer
        .watch_plan(authed(
            pb::WatchPlanRequest {
                plan_id: plan.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    let joiner = join_launched_nodes(
        &test,
        &owner,
        &cluster_id,
        source.clone(),
        "new",
        "us-east-1a",
    )
    .await;
    let applying = optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(applying.state(), pb::PlanState::Applying);
    let finished = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(update) = watch.next().await {
            let plan = update.unwrap().plan.unwrap();
            if !matches!(
                plan.state(),
                pb::PlanState::Applying | pb::PlanState::Recommended
            ) {
                return plan;
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("the plan finishes");
    assert_eq!(
        finished.state(),
        pb::PlanState::Succeeded,
        "{}",
        finished.reason
    );
    assert!(
        finished
            .steps
            .iter()
            .all(|s| s.status() == pb::StepStatus::Succeeded)
    );
    // Each launch names the instances it launched, as many as it asked for.
    for step in &finished.steps {
        let expected = if step.kind() == pb::StepKind::Launch {
            step.count as usize
        } else {
            0
        };
        assert_eq!(step.instance_ids.len(), expected, "{step:?}");
    }
    // kube-scheduler (least allocated first, not the engine's packing) found every evicted pod
    // a node: the plan strands nothing.
    assert!(
        source.pending_pods().is_empty(),
        "{:?}",
        source.pending_pods()
    );
    let ran = kubernetes.ran.0.lock().unwrap().clone();
    let drained: Vec<_> = ran
        .iter()
        .filter(|a| a.kind() == ActionKind::Drain)
        .map(|a| a.node_name.as_str())
        .collect();
    assert!(
        !drained.is_empty() && drained.iter().all(|n| n.starts_with("old-")),
        "{drained:?}"
    );
    assert!(ran.iter().any(|a| a.kind() == ActionKind::Cordon));
    // Every new node got the template's label and taint, before the first drain.
    let first_drain_at = ran
        .iter()
        .position(|a| a.kind() == ActionKind::Drain)
        .unwrap();
    let new_nodes: Vec<&str> = ran
        .iter()
        .filter(|a| a.node_name.starts_with("new-"))
        .map(|a| a.node_name.as_str())
        .collect();
    assert!(!new_nodes.is_empty(), "{ran:?}");
    for node in new_nodes {
        let set_up = |kind: ActionKind| {
            ran[..first_drain_at]
                .iter()
                .find(|a| a.kind() == kind && a.node_name == node)
                .unwrap_or_else(|| panic!("no {kind:?} of {node} before the drain: {ran:?}"))
        };
        assert_eq!(
            set_up(ActionKind::Label)
                .labels
                .get("team")
                .map(String::as_str),
            Some("checkout")
        );
        assert_eq!(set_up(ActionKind::Taint).taints[0].key, "dedicated");
    }

    // A finished plan cannot be applied again; the plan list has it.
    let again = optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    let listed = optimizer
        .list_plans(authed(
            pb::ListPlansRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert_eq!(listed[0].id, plan.id);
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn in_safe_mode_an_applied_plan_is_refused_and_says_why() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let source = Cluster::new(Snapshot {
        nodes: vec![
            node("old-0", "us-east-1a", "i-0", CapacityType::OnDemand),
            node("old-1", "us-east-1b", "i-1", CapacityType::OnDemand),
        ],
        pods: vec![pod("web-0", "old-0"), pod("web-1", "old-1")],
        pdbs: vec![],
    });
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        Arc::new(Recorder::default()),
        source,
    );
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let plan = loop {
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
        if !plan.steps.is_empty() {
            break plan;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    test.set_safe_mode(true).await;
    optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let current = optimizer
            .get_plan(authed(
                pb::GetPlanRequest {
                    plan_id: plan.id.clone(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        if current.state() != pb::PlanState::Applying {
            break current;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused.state(), pb::PlanState::Refused);
    assert!(refused.reason.contains("safe mode"), "{}", refused.reason);
    // The tenant's users are told, in their inbox.
    let told = test.notified(&owner, "plan_refused").await.body;
    assert!(
        told.contains(&plan.id) && told.contains("safe mode"),
        "{told}"
    );
    assert_eq!(refused.steps[0].status(), pb::StepStatus::Failed);
    assert!(
        refused.steps[1..]
            .iter()
            .all(|s| s.status() == pb::StepStatus::Skipped)
    );
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn the_dashboard_shows_what_the_cluster_costs_from_its_agents_report() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let source = Cluster::new(Snapshot {
        nodes: vec![
            node("a", "us-east-1a", "i-a", CapacityType::OnDemand),
            node("b", "us-east-1b", "i-b", CapacityType::Spot),
        ],
        pods: vec![pod("web-0", "a"), pod("web-1", "b")],
        pdbs: vec![],
    });
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        Arc::new(Recorder::default()),
        source,
    );
    let mut dashboard =
        spot_proto::optimizer::v1::dashboard_service_client::DashboardServiceClient::new(
            test.channel.clone(),
        );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let kpis = loop {
        let kpis = dashboard
            .get_kpis(authed(
                pb::GetKpisRequest {
                    cluster_id: cluster_id.clone(),
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .kpis
            .unwrap();
        if kpis.nodes == 2 {
            break kpis;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cost sample: {kpis:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let catalog = spot_cloud::Catalog::embedded();
    let on_demand = catalog.on_demand_price("m5.xlarge").unwrap().unwrap();
    let spot = catalog
        .estimated_spot_price("us-east-1", "m5.xlarge")
        .unwrap()
        .unwrap();
    assert!(
        (kpis.hourly_cost_usd - (on_demand + spot)).abs() < 1e-9,
        "{kpis:?}"
    );
    assert!((kpis.on_demand_hourly_cost_usd - 2.0 * on_demand).abs() < 1e-9);
    assert_eq!(kpis.spot_share_percent, 50.0);
    // 2 x 500m requested of 2 x 3,920m allocatable.
    assert!((kpis.cpu_allocation_percent - 1_000.0 / 7_840.0 * 100.0).abs() < 1e-9);
    let tenant_wide = dashboard
        .get_kpis(authed(pb::GetKpisRequest::default(), &owner))
        .await
        .unwrap()
        .into_inner()
        .kpis
        .unwrap();
    assert_eq!(tenant_wide.nodes, 2);
    let series = dashboard
        .get_cost_series(authed(
            pb::GetCostSeriesRequest {
                cluster_id: cluster_id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .points;
    assert_eq!(series.len(), 1);
    assert!(series[0].cost_usd_per_hour < series[0].on_demand_usd_per_hour);
    let report = OptimizerServiceClient::new(test.channel.clone())
        .get_savings_report(authed(
            pb::GetSavingsReportRequest {
                cluster_id: cluster_id.clone(),
                since: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        report.savings_usd >= 0.0 && report.actual_usd <= report.on_demand_equivalent_usd,
        "{report:?}"
    );
    // Another tenant cannot read this cluster's figures.
    let other = test.sign_up("Other").await.access_token;
    let denied = dashboard
        .get_kpis(authed(
            pb::GetKpisRequest {
                cluster_id: cluster_id.clone(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::NotFound);
    let empty = dashboard
        .get_kpis(authed(pb::GetKpisRequest::default(), &other))
        .await
        .unwrap()
        .into_inner()
        .kpis
        .unwrap();
    assert_eq!(empty.nodes, 0);
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn an_interruption_notice_brings_replacement_capacity_before_the_drain() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let doomed = launch(&mut router, &cluster_id, "us-east-1a", CapacityType::Spot).await;
    // Its pool mate gets no notice: AWS sends one per instance it takes back.
    let mate = launch(&mut router, &cluster_id, "us-east-1a", CapacityType::Spot).await;
    let safe = launch(&mut router, &cluster_id, "us-east-1b", CapacityType::Spot).await;
    let source = Cluster::new(Snapshot {
        nodes: vec![
            node("spot-a", "us-east-1a", &doomed, CapacityType::Spot),
            node("spot-a2", "us-east-1a", &mate, CapacityType::Spot),
            node("spot-b", "us-east-1b", &safe, CapacityType::Spot),
        ],
        pods: vec![
            pod("web-0", "spot-a"),
            Pod {
                owner_kind: String::new(),
                ..pod("web-1", "spot-a")
            },
            pod("web-2", "spot-b"),
            pod("web-3", "spot-a2"),
        ],
        pdbs: vec![],
    });
    let joiner = join_launched_nodes(
        &test,
        &owner,
        &cluster_id,
        source.clone(),
        "replacement",
        "us-east-1c",
    )
    .await;
    let kubernetes = Kubernetes::new(source.clone());
    let (notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        kubernetes.clone(),
        source.clone(),
    );

    // The agent's IMDS watcher on spot-a hears the two-minute warning.
    let warned = tokio::time::Instant::now();
    notices
        .send(two_minute_warning(&doomed, 120_000))
        .await
        .unwrap();
    let plan = finished_interruption_response(&test, &owner, &cluster_id, 30).await;
    let handled_in = warned.elapsed();
    assert_eq!(plan.state(), pb::PlanState::Succeeded, "{}", plan.reason);
    assert!(
        test.notified(&owner, "interruption_handled")
            .await
            .body
            .contains(&plan.id)
    );
    let drain = plan
        .steps
        .iter()
        .find(|s| s.kind() == pb::StepKind::Drain)
        .unwrap();
    assert!(
        drain
            .explanation
            .contains("it goes regardless, so: pod shop/web-1 has no controller to recreate it"),
        "what cannot be saved is said: {}",
        drain.explanation
    );
    assert!(
        handled_in < Duration::from_secs(60),
        "well inside the 120 s notice: {handled_in:?}"
    );
    let kinds: Vec<_> = plan.steps.iter().map(|s| s.kind()).collect();
    let launch_at = kinds
        .iter()
        .position(|k| *k == pb::StepKind::Launch)
        .expect("replacement capacity");
    let drain_at = kinds
        .iter()
        .position(|k| *k == pb::StepKind::Drain)
        .expect("the drain");
    assert!(launch_at < drain_at, "replacement first: {kinds:?}");
    let launched_pool = plan.steps[launch_at].pool.clone().unwrap();
    assert!(
        !(launched_pool.zone == "us-east-1a" && launched_pool.instance_type == "m5.xlarge"),
        "never back into the interrupted pool"
    );
    assert!(
        source.pending_pods().is_empty(),
        "{:?}",
        source.pending_pods()
    );
    let drained: Vec<_> = kubernetes
        .ran
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.kind() == ActionKind::Drain)
        .map(|a| a.node_name.clone())
        .collect();
    assert_eq!(drained, ["spot-a"], "only the noticed node moves");
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

/// A replacement slow to boot (or never joining) does not hold the drain past the notice's
/// deadline: the pods are evicted while they can still stop gracefully, and wait for the
/// replacement as pending pods, rather than being killed with the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_node_is_drained_in_time_even_when_its_replacement_is_not_ready() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    // No replacement ever joins.
    let (_, doomed, kubernetes, notices, stop) = one_spot_node(&test, &owner).await;
    // AWS takes the node 62 s from now: the drain must start within 2 s, 60 s ahead.
    let warned = tokio::time::Instant::now();
    notices
        .send(two_minute_warning(&doomed, 62_000))
        .await
        .unwrap();
    while !drained_by_agent(&kubernetes, "spot-a") {
        assert!(
            warned.elapsed() < Duration::from_secs(20),
            "the drain waited for a replacement that never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        warned.elapsed() >= Duration::from_millis(1_500),
        "it waited for the replacement until the go-ahead time: {:?}",
        warned.elapsed()
    );
    stop.cancel();
    test.stop().await;
}

/// No capacity anywhere for a replacement (a bulk reclaim empties pools): the interrupted node is
/// drained all the same, at once, so its pods stop gracefully and wait for capacity as pending
/// pods rather than die with the node; the plan says the launch failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_node_is_drained_even_when_no_replacement_can_be_launched() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let (cluster_id, doomed, kubernetes, notices, stop) = one_spot_node(&test, &owner).await;
    for instance_type in spot_cloud::Catalog::embedded().types() {
        for zone in ZONES {
            test.cloud.run_short(
                &spot_cloud::Pool {
                    region: "us-east-1".into(),
                    zone: zone.into(),
                    instance_type: instance_type.name.clone(),
                },
                3_600,
            );
        }
    }
    notices
        .send(two_minute_warning(&doomed, 120_000))
        .await
        .unwrap();
    let plan = finished_interruption_response(&test, &owner, &cluster_id, 20).await;
    assert_eq!(plan.state(), pb::PlanState::Failed, "{plan:#?}");
    let status = |kind: pb::StepKind| {
        plan.steps
            .iter()
            .find(|s| s.kind() == kind)
            .map(|s| s.status())
    };
    assert_eq!(status(pb::StepKind::Launch), Some(pb::StepStatus::Failed));
    assert_eq!(status(pb::StepKind::Drain), Some(pb::StepStatus::Succeeded));
    assert!(
        drained_by_agent(&kubernetes, "spot-a"),
        "the node was drained"
    );
    stop.cancel();
    test.stop().await;
}

/// Karpenter's and cluster-autoscaler's opt-outs hold here too: a plan never drains a node that
/// asks not to be disrupted, runs a pod that asks so, a pod nothing would recreate, or a pod
/// whose data lives on the node. It plans the rest and says
/// which nodes it leaves alone and why.
#[tokio::test]
async fn a_recommendation_leaves_alone_the_nodes_whose_pods_must_not_move() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let long_ago = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis() - 86_400_000,
    ));
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for name in ["annotated", "guarded", "bare", "scratch", "new", "free"] {
        let id = launch(
            &mut router,
            &cluster_id,
            "us-east-1a",
            CapacityType::OnDemand,
        )
        .await;
        let mut node = node(name, "us-east-1a", &id, CapacityType::OnDemand);
        node.created_at = long_ago;
        nodes.push(node);
        pods.push(pod(&format!("{name}-0"), name));
    }
    nodes[0].do_not_disrupt = true;
    pods[1].do_not_disrupt = true;
    pods[2].owner_kind = String::new();
    pods[3].local_data = true;
    nodes[4].created_at = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis(),
    ));
    // A bare pod its owner declared safe to evict does not hold its node.
    let mut evictable = pod("evictable-0", "free");
    evictable.owner_kind = String::new();
    evictable.safe_to_evict = true;
    pods.push(evictable);
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        nodes,
        pods,
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    // A node that just joined settles before the autopilot moves it; a user who asks for a
    // recommendation gets it planned.
    assert_eq!(drained(&plan), ["free", "new"], "{}", plan.reason);
    for why in [
        "annotated (the node asks not to be disrupted)",
        "guarded (pod shop/guarded-0 asks not to be disrupted)",
        "bare (pod shop/bare-0 has no controller to recreate it)",
        "scratch (pod shop/scratch-0 keeps data on the node)",
    ] {
        assert!(plan.reason.contains(why), "{why}: {}", plan.reason);
    }
    // The nodes it leaves alone still count in what the cluster costs.
    assert!(
        plan.current_usd_per_hour > plan.target_usd_per_hour
            && plan.target_usd_per_hour > 0.19 * 4.0,
        "{plan:?}"
    );

    // The policy accepts losing bare pods in `shop` (say, CI runners): that node may move too.
    change_default_policy(&test, &owner, |p| {
        p.bare_pods_evictable_in = vec!["shop".into()];
    })
    .await;
    let plan = recommend(&test, &owner, &cluster_id).await;
    assert_eq!(drained(&plan), ["bare", "free", "new"], "{}", plan.reason);
    stop.cancel();
}

/// How many nodes the cluster has once the plan is carried out.
fn nodes_after(plan: &pb::Plan, existing: usize) -> usize {
    let launched: u32 = plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch)
        .map(|s| s.count)
        .sum();
    existing + launched as usize - drained(plan).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_binding_the_same_host_port_are_planned_onto_separate_nodes() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let long_ago = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis() - 86_400_000,
    ));
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for i in 0..4 {
        let id = launch(
            &mut router,
            &cluster_id,
            "us-east-1a",
            CapacityType::OnDemand,
        )
        .await;
        let name = format!("n{i}");
        let mut node = node(&name, "us-east-1a", &id, CapacityType::OnDemand);
        node.created_at = long_ago;
        nodes.push(node);
        // A small ingress controller binding port 80 on each node.
        let mut ingress = pod(&format!("ingress-{i}"), &name);
        ingress.requests = Some(Resources {
            cpu_millis: 100,
            memory_mib: 128,
            pods: 1,
            gpus: 0,
            ..Default::default()
        });
        ingress.host_ports = vec![HostPort {
            protocol: "TCP".into(),
            port: 80,
        }];
        pods.push(ingress);
    }
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        nodes,
        pods,
    )
    .await;

    // The four would fit on one small node, but no two of them share one.
    let plan = recommend(&test, &owner, &cluster_id).await;
    assert!(!plan.steps.is_empty(), "{}", plan.reason);
    assert!(nodes_after(&plan, 4) >= 4, "{plan:#?}");
    assert!(plan.unplaced_pods.is_empty(), "{plan:#?}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_a_zonal_volume_is_planned_only_into_its_zone() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    // Without its volume the pod would move to us-east-1a, where spot is cheapest.
    let zone = "us-east-1c".to_owned();
    let id = launch(&mut router, &cluster_id, &zone, CapacityType::OnDemand).await;
    let mut node = node("db-node", &zone, &id, CapacityType::OnDemand);
    node.created_at = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis() - 86_400_000,
    ));
    let mut database = pod("db-0", "db-node");
    database.owner_kind = "StatefulSet".into();
    database.volume_zones = vec![zone.clone()];
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        vec![node],
        vec![database],
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    let zones: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch)
        .filter_map(|s| s.pool.as_ref().map(|p| p.zone.as_str()))
        .collect();
    assert!(!zones.is_empty(), "{}", plan.reason);
    assert!(
        zones.iter().all(|z| *z == zone),
        "{zones:?}: {}",
        plan.reason
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_meets_cheap_preferences_names_the_others_and_replays_from_its_exported_problem() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let zone = "us-east-1c";
    let id = launch(&mut router, &cluster_id, zone, CapacityType::OnDemand).await;
    let mut node = node("web-node", zone, &id, CapacityType::OnDemand);
    node.created_at = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis() - 86_400_000,
    ));
    // Two replicas that would rather not share a node (two small nodes cost about what one
    // twice their size does) and would rather run on-demand (several times the spot price).
    let replica = |name: &str| {
        let mut web = pod(name, "web-node");
        web.labels = [("app".to_owned(), "web".to_owned())].into();
        web.pod_affinity = vec![PodAffinityTerm {
            label_selector: [("app".to_owned(), "web".to_owned())].into(),
            topology_key: "kubernetes.io/hostname".into(),
            anti: true,
            weight: 60,
        }];
        web.preferred_node_affinity = vec![PreferredNodeAffinity {
            weight: 30,
            requirements: vec![NodeSelectorRequirement {
                key: "karpenter.sh/capacity-type".into(),
                operator: "In".into(),
                values: vec!["on-demand".into()],
            }],
        }];
        web
    };
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        vec![node],
        vec![replica("web-0"), replica("web-1")],
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    let launches: Vec<(String, u32)> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch)
        .map(|s| (s.capacity_type().as_str_name().to_owned(), s.count.max(1)))
        .collect();
    assert_eq!(
        launches.iter().map(|(_, count)| count).sum::<u32>(),
        2,
        "a node for each replica: {}",
        plan.reason
    );
    assert!(
        launches
            .iter()
            .all(|(capacity, _)| capacity.ends_with("SPOT")),
        "{launches:?}"
    );
    let mut unmet: Vec<(String, String)> = plan
        .unmet_preferences
        .iter()
        .map(|p| (p.name.clone(), p.reason.clone()))
        .collect();
    unmet.sort();
    let why = "its preferred node affinity karpenter.sh/capacity-type In on-demand (weight 30) is not met";
    assert_eq!(
        unmet,
        vec![
            ("web-0".to_owned(), why.to_owned()),
            ("web-1".to_owned(), why.to_owned()),
        ],
        "{}",
        plan.reason
    );

    // An auditor exports the problem the plan was computed from and replays its packing, as
    // `spot solve --input` does.
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let exported = optimizer
        .get_plan(authed(
            pb::GetPlanRequest {
                plan_id: plan.id.clone(),
                include_problem: true,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exported.plan.unwrap().id, plan.id);
    let problem: spot_engine::Problem = serde_json::from_str(&exported.problem_json).unwrap();
    assert_eq!(problem.pods.len(), 2);
    assert!(problem.pods.iter().all(|p| p.preferences.len() == 2));
    let replayed = spot_engine::solve(&problem);
    assert!(spot_engine::validate(&problem, &replayed).is_empty());
    assert_eq!(replayed.nodes.len(), 2);
    assert_eq!(replayed.unmet_preferences.len(), 2);
    assert!(
        (replayed.cost_per_hour - plan.target_usd_per_hour).abs() < 1e-6,
        "replayed ${}/h, planned ${}/h",
        replayed.cost_per_hour,
        plan.target_usd_per_hour
    );
    // Without asking, and for another tenant, there is no problem to read.
    let plain = optimizer
        .get_plan(authed(
            pb::GetPlanRequest {
                plan_id: plan.id.clone(),
                include_problem: false,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(plain.problem_json.is_empty());
    let stranger = test.sign_up("Other").await.access_token;
    let refused = optimizer
        .get_plan(authed(
            pb::GetPlanRequest {
                plan_id: plan.id.clone(),
                include_problem: true,
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_pod_whose_volume_is_where_no_pool_is_offered_is_told_so() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let zone = "us-east-1a";
    let id = launch(&mut router, &cluster_id, zone, CapacityType::OnDemand).await;
    let mut cache = pod("cache-0", "");
    cache.owner_kind = "StatefulSet".into();
    cache.phase = PodPhase::Pending.into();
    // The cluster runs in us-east-1a to c; the claim was made in us-east-1f.
    cache.volume_zones = vec!["us-east-1f".into()];
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        vec![node("web-node", zone, &id, CapacityType::OnDemand)],
        vec![pod("web-0", "web-node"), cache],
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    let unplaced = plan
        .unplaced_pods
        .iter()
        .find(|p| p.name == "cache-0")
        .unwrap_or_else(|| panic!("cache-0 is not reported: {plan:#?}"));
    assert!(
        unplaced.reason.contains("its volume is in us-east-1f"),
        "{}",
        unplaced.reason
    );
    assert!(
        plan.steps
            .iter()
            .filter_map(|s| s.pool.as_ref())
            .all(|pool| pool.zone != "us-east-1f"),
        "{plan:#?}"
    );
    assert!(plan.stranded_pods.is_empty(), "{plan:#?}");
    stop.cancel();
}

/// A pod that requests an extended resource (an ENI for pods, a device plugin's) could only go to
/// another node that offers it, and no node the platform launches is known to: its node stays,
/// and a waiting one is told why rather than launched for. An expendable pod (priority below
/// -10, an overprovisioning placeholder) gets no node of its own and holds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_needing_what_no_new_node_offers_stay_and_expendable_pods_hold_no_node() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let long_ago = Some(spot_proto::time::timestamp(
        chrono::Utc::now().timestamp_millis() - 86_400_000,
    ));
    let mut nodes = Vec::new();
    for name in ["trunk", "web", "placeholder"] {
        let id = launch(
            &mut router,
            &cluster_id,
            "us-east-1a",
            CapacityType::OnDemand,
        )
        .await;
        let mut node = node(name, "us-east-1a", &id, CapacityType::OnDemand);
        node.created_at = long_ago;
        nodes.push(node);
    }
    nodes[0]
        .extended_allocatable
        .insert("vpc.amazonaws.com/pod-eni".into(), 9);
    let mut branch = pod("branch-0", "trunk");
    branch
        .extended_requests
        .insert("vpc.amazonaws.com/pod-eni".into(), 1);
    let mut fpga = pod("fpga-0", "");
    fpga.phase = PodPhase::Pending.into();
    fpga.extended_requests.insert("example.com/fpga".into(), 1);
    let mut held = pod("pause-0", "placeholder");
    held.priority = -100;
    let mut waiting = pod("pause-1", "");
    waiting.phase = PodPhase::Pending.into();
    waiting.priority = -100;
    // Larger than any node's room: if it counted, only a launch would place it.
    waiting.requests = Some(Resources {
        cpu_millis: 8_000,
        memory_mib: 30_000,
        pods: 1,
        ..Default::default()
    });
    let pods = vec![branch, pod("web-0", "web"), fpga, held, waiting];
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        nodes,
        pods,
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    // Nothing is launched for the waiting pods: one needs what no launch brings, one is expendable.
    assert_eq!(plan.kind(), pb::PlanKind::Consolidation, "{plan:#?}");
    let retired: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Terminate)
        .map(|s| s.node_name.as_str())
        .collect();
    assert!(retired.contains(&"placeholder"), "{plan:#?}");
    assert!(!retired.contains(&"trunk"), "{plan:#?}");
    assert!(
        plan.reason.contains(
            "trunk (pod shop/branch-0 requests vpc.amazonaws.com/pod-eni, which no node the platform launches is known to offer)"
        ),
        "{}",
        plan.reason
    );
    let unplaced: Vec<(&str, &str)> = plan
        .unplaced_pods
        .iter()
        .map(|p| (p.name.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        unplaced,
        [(
            "fpga-0",
            "it requests example.com/fpga, which no instance type the platform launches is known to offer: only a node that already offers it can run the pod"
        )],
        "{plan:#?}"
    );
    stop.cancel();
}

/// Pods that write to local disk are packed by `ephemeral-storage` as kube-scheduler fits them:
/// two pods of 10 GiB never share a node whose 20 GiB root volume leaves pods 17 GiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_pods_get_nodes_whose_disks_hold_their_ephemeral_storage() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(&test);
    let id = launch(
        &mut router,
        &cluster_id,
        "us-east-1a",
        CapacityType::OnDemand,
    )
    .await;
    let mut full = node("full", "us-east-1a", &id, CapacityType::OnDemand);
    full.allocatable.as_mut().unwrap().ephemeral_storage_mib = 17_408;
    let mut pods = vec![pod("web-0", "full")];
    pods[0].requests.as_mut().unwrap().ephemeral_storage_mib = 17_000;
    for i in 0..3 {
        let mut etl = pod(&format!("etl-{i}"), "");
        etl.phase = PodPhase::Pending.into();
        etl.requests.as_mut().unwrap().ephemeral_storage_mib = 10_240;
        pods.push(etl);
    }
    let (_notices, stop) = reported_without_consolidation(
        &test,
        &owner,
        &registered.agent_key,
        &cluster_id,
        vec![full],
        pods,
    )
    .await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    assert_eq!(plan.kind(), pb::PlanKind::Provisioning, "{plan:#?}");
    assert_eq!(nodes_after(&plan, 1), 4, "{plan:#?}");
    assert!(plan.unplaced_pods.is_empty(), "{plan:#?}");
    stop.cancel();
}

/// A cluster with one spot node, spot-a (an m5.xlarge in us-east-1a running shop/web-0), its
/// agent connected and consolidation off: the cluster's id, the node's instance id, the stand-in
/// Kubernetes, the agent's notice sender and its stop token.
async fn one_spot_node(
    test: &TestServer,
    owner: &str,
) -> (
    String,
    String,
    Arc<Kubernetes>,
    tokio::sync::mpsc::Sender<InterruptionNotice>,
    CancellationToken,
) {
    let registered = register(test, owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let doomed = launch(
        &mut router(test),
        &cluster_id,
        "us-east-1a",
        CapacityType::Spot,
    )
    .await;
    let source = Cluster::new(Snapshot {
        nodes: vec![node("spot-a", "us-east-1a", &doomed, CapacityType::Spot)],
        pods: vec![pod("web-0", "spot-a")],
        pdbs: vec![],
    });
    let kubernetes = Kubernetes::new(source.clone());
    let (notices, stop) = start_agent(test, &registered.agent_key, kubernetes.clone(), source);
    wait_for_nodes(test, owner, &cluster_id, 1).await;
    consolidation_off(test, owner).await;
    (cluster_id, doomed, kubernetes, notices, stop)
}

/// Whether the agent was asked to drain `node`.
fn drained_by_agent(kubernetes: &Kubernetes, node: &str) -> bool {
    kubernetes
        .ran
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|a| a.kind() == ActionKind::Drain && a.node_name == node)
}

/// AWS's warning for spot-a (instance `doomed`, an m5.xlarge in us-east-1a): the node goes
/// `in_ms` from now.
fn two_minute_warning(doomed: &str, in_ms: i64) -> InterruptionNotice {
    InterruptionNotice {
        event_id: format!("{doomed}:spot-interruption:1"),
        kind: spot_proto::agent::v1::InterruptionKind::SpotInterruption.into(),
        instance_id: doomed.to_owned(),
        node_name: "spot-a".into(),
        pool: Some(Pool {
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            instance_type: "m5.xlarge".into(),
        }),
        action_at: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis() + in_ms,
        )),
    }
}

/// The cluster's interruption response once it finished, as its owner lists it; waits at most
/// `seconds`.
async fn finished_interruption_response(
    test: &TestServer,
    owner: &str,
    cluster_id: &str,
    seconds: u64,
) -> pb::Plan {
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let plans = optimizer
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
            .plans;
        if let Some(plan) = plans.into_iter().find(|p| {
            p.kind() == pb::PlanKind::InterruptionResponse
                && !matches!(
                    p.state(),
                    pb::PlanState::Applying | pb::PlanState::Recommended
                )
        }) {
            return plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no interruption response finished within {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cluster's agent reports `nodes` and `pods` (a stand-in Kubernetes carries out its
/// actions); returns once the platform lists the nodes, with consolidation off so that only the
/// recommendation a test asks for plans anything. Keep the notice sender and the stop token.
async fn reported_without_consolidation(
    test: &TestServer,
    owner: &str,
    agent_key: &str,
    cluster_id: &str,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
) -> (
    tokio::sync::mpsc::Sender<InterruptionNotice>,
    CancellationToken,
) {
    let count = nodes.len();
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    let agent = start_agent(test, agent_key, Kubernetes::new(source.clone()), source);
    wait_for_nodes(test, owner, cluster_id, count).await;
    consolidation_off(test, owner).await;
    agent
}
