//! The optimizer plans under each cluster's policy, fetched from the policy service: a spot share
//! of 0 keeps every new node on-demand, a denied family is never launched, a policy in dry-run
//! gets recommendations that cannot be applied, and a change of the policy or of a node template
//! it uses is planned for at once.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use spot_proto::agent::v1::{InterruptionNotice, Snapshot};
use spot_proto::common::v1::CapacityType;
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::node_template_service_client::NodeTemplateServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::{TestServer, authed};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

fn launches(plan: &pb::Plan) -> Vec<(String, CapacityType)> {
    plan.steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch)
        .map(|s| {
            (
                s.pool.as_ref().unwrap().instance_type.clone(),
                s.capacity_type(),
            )
        })
        .collect()
}

fn family(instance_type: &str) -> String {
    instance_type
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Three on-demand m5.xlarge nodes with two pods each, reported by a running agent.
/// Keep the notice sender: the agent runs while it is alive.
async fn reported_cluster(
    test: &TestServer,
    owner: &str,
) -> (String, CancellationToken, mpsc::Sender<InterruptionNotice>) {
    let registered = register(test, owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(test);
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (i, zone) in ZONES.iter().enumerate() {
        let id = launch(&mut router, &cluster_id, zone, CapacityType::OnDemand).await;
        let name = format!("old-{i}");
        pods.push(pod(&format!("web-{i}"), &name));
        pods.push(pod(&format!("api-{i}"), &name));
        nodes.push(node(&name, zone, &id, CapacityType::OnDemand));
    }
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    let (notices, stop) = start_agent(
        test,
        &registered.agent_key,
        Arc::new(Recorder::default()),
        source,
    );
    wait_for_nodes(test, owner, &cluster_id, 3).await;
    (cluster_id, stop, notices)
}

#[tokio::test]
async fn recommendations_follow_the_clusters_policy() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let (cluster_id, stop, _notices) = reported_cluster(&test, &owner).await;
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let policies = PolicyServiceClient::new(test.channel.clone());
    let recommend = |mut optimizer: OptimizerServiceClient<_>| {
        let request = authed(
            pb::RecommendRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        );
        async move {
            optimizer
                .recommend(request)
                .await
                .unwrap()
                .into_inner()
                .plan
                .unwrap()
        }
    };
    let set_policy = |p: policy::Policy| {
        let request = authed(policy::UpdatePolicyRequest { policy: Some(p) }, &owner);
        let mut policies = policies.clone();
        async move { policies.update_policy(request).await.unwrap() }
    };
    let base = policy::Policy {
        cluster_id: cluster_id.clone(),
        spot_percent: 100,
        max_interruption_bucket: 2,
        min_pools: 3,
        consolidation_min_savings_percent: 5.0,
        ..Default::default()
    };

    // The built-in policy: spot.
    let built_in = recommend(optimizer.clone()).await;
    let spot: BTreeSet<String> = launches(&built_in)
        .into_iter()
        .filter(|(_, c)| *c == CapacityType::Spot)
        .map(|(t, _)| family(&t))
        .collect();
    assert!(!spot.is_empty(), "{}", built_in.reason);

    // No spot at all.
    set_policy(policy::Policy {
        spot_percent: 0,
        ..base.clone()
    })
    .await;
    let on_demand = recommend(optimizer.clone()).await;
    assert!(
        launches(&on_demand)
            .iter()
            .all(|(_, c)| *c == CapacityType::OnDemand),
        "{:?}",
        on_demand.steps
    );

    // The families the built-in plan chose are denied: none of them is launched.
    set_policy(policy::Policy {
        denied_families: spot.iter().cloned().collect(),
        ..base.clone()
    })
    .await;
    let denied = recommend(optimizer.clone()).await;
    assert!(!launches(&denied).is_empty(), "{}", denied.reason);
    assert!(
        launches(&denied)
            .iter()
            .all(|(t, _)| !spot.contains(&family(t))),
        "denied {spot:?}, launched {:?}",
        launches(&denied)
    );

    // Dry-run: recommended, never applied.
    set_policy(policy::Policy {
        dry_run: true,
        ..base
    })
    .await;
    let dry = recommend(optimizer.clone()).await;
    assert!(!dry.steps.is_empty(), "{}", dry.reason);
    assert!(dry.reason.contains("dry-run"), "{}", dry.reason);
    let refused = optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: dry.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("dry-run"),
        "{}",
        refused.message()
    );
    stop.cancel();
    test.stop().await;
}

/// Waits up to 15 s until the cluster has `count` plans; its plans, newest first.
async fn plans_at_least(
    optimizer: &mut OptimizerServiceClient<tonic::transport::Channel>,
    owner: &str,
    cluster_id: &str,
    count: usize,
    why: &str,
) -> Vec<pb::Plan> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
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
        if plans.len() >= count {
            return plans;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_policy_change_re_plans_at_once_and_a_dry_run_policy_only_recommends() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let (cluster_id, stop, _notices) = reported_cluster(&test, &owner).await;
    let mut templates = NodeTemplateServiceClient::new(test.channel.clone());
    let mut template = templates
        .create_node_template(authed(
            policy::CreateNodeTemplateRequest {
                template: Some(policy::NodeTemplate {
                    name: "general".into(),
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
                    dry_run: true,
                    node_template_ids: vec![template.id.clone()],
                    ..Default::default()
                }),
            },
            &owner,
        ))
        .await
        .unwrap();
    // The autopilot's own re-plan after a snapshot waits 30 s; a policy change does not.
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let plans = plans_at_least(
        &mut optimizer,
        &owner,
        &cluster_id,
        1,
        "the policy change was not planned for",
    )
    .await;
    let plan = &plans[0];
    assert_eq!(plan.state(), pb::PlanState::Recommended, "{}", plan.reason);
    assert!(plan.reason.contains("dry-run"), "{}", plan.reason);
    assert!(!plan.steps.is_empty());

    // Changing a template the policy uses changes the policy in effect: re-planned at once too.
    template.labels = [("team".to_owned(), "checkout".to_owned())].into();
    templates
        .update_node_template(authed(
            policy::UpdateNodeTemplateRequest {
                template: Some(template),
            },
            &owner,
        ))
        .await
        .unwrap();
    plans_at_least(
        &mut optimizer,
        &owner,
        &cluster_id,
        2,
        "the template change was not planned for",
    )
    .await;
    stop.cancel();
    test.stop().await;
}
