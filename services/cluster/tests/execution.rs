//! The execution router as the optimizer (an internal caller) uses it: EC2 launches and
//! terminations through the cloud (the simulated one here) and agent actions, with safe mode and
//! dry-run enforced, refusals visible and audited in the cluster's tenant.

mod common;

use common::*;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::auth::v1 as auth;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_testkit::{TestServer, authed};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";

type Router = ExecutionServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

fn router(test: &TestServer) -> Router {
    let credential = InternalCredential::new(SECRET.as_bytes(), "optimizer").unwrap();
    ExecutionServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    )
}

fn launch(cluster_id: &str, count: u32) -> pb::ExecuteStepRequest {
    pb::ExecuteStepRequest {
        cluster_id: cluster_id.to_owned(),
        plan_id: "plan-1".to_owned(),
        step: Some(pb::execute_step_request::Step::Launch(pb::LaunchCapacity {
            pools: vec![Pool {
                region: "us-east-1".into(),
                zone: "us-east-1a".into(),
                instance_type: "m5.large".into(),
            }],
            capacity_type: CapacityType::Spot.into(),
            count,
            ..Default::default()
        })),
    }
}

#[tokio::test]
async fn plan_steps_reach_the_cloud_and_the_agent_unless_refused() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let cluster_id = registered.cluster.id.clone();
    let mut router = router(&test);

    let launched = router
        .execute_step(launch(&cluster_id, 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(launched.outcome(), pb::ExecutionOutcome::Executed);
    assert_eq!(launched.instance_ids.len(), 2, "{launched:?}");
    let terminated = router
        .execute_step(pb::ExecuteStepRequest {
            cluster_id: cluster_id.clone(),
            plan_id: "plan-1".into(),
            step: Some(pb::execute_step_request::Step::Terminate(
                pb::TerminateInstances {
                    instance_ids: launched.instance_ids.clone(),
                },
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(terminated.outcome(), pb::ExecutionOutcome::Executed);

    let drain = router
        .execute_step(pb::ExecuteStepRequest {
            cluster_id: cluster_id.clone(),
            plan_id: "plan-1".into(),
            step: Some(pb::execute_step_request::Step::Action(Action {
                kind: ActionKind::Drain.into(),
                node_name: "n1".into(),
                ..Default::default()
            })),
        })
        .await
        .unwrap()
        .into_inner();
    let record = drain.action.unwrap();
    assert_eq!(
        record.status(),
        pb::ActionStatus::Pending,
        "stored, waiting for the agent"
    );
    assert_eq!(record.plan_id, "plan-1");

    // Dry-run: nothing leaves the platform; the refusal is an event and an audit record.
    ClusterServiceClient::new(test.channel.clone())
        .set_cluster_dry_run(authed(
            pb::SetClusterDryRunRequest {
                cluster_id: cluster_id.clone(),
                dry_run: true,
            },
            &owner,
        ))
        .await
        .unwrap();
    let refused = router
        .execute_step(launch(&cluster_id, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refused.outcome(), pb::ExecutionOutcome::Refused);
    assert!(refused.instance_ids.is_empty());
    assert!(refused.reason.contains("dry-run"), "{}", refused.reason);
    let audit = eventually("the refused launch in the tenant's audit trail", || {
        let request = authed(
            auth::ListAuditEventsRequest {
                action_prefix: "spot.cluster.v1.ExecutionService/".into(),
                ..Default::default()
            },
            &owner,
        );
        let mut client = spot_proto::auth::v1::audit_service_client::AuditServiceClient::new(
            test.channel.clone(),
        );
        async move {
            let events = client
                .list_audit_events(request)
                .await
                .ok()?
                .into_inner()
                .events;
            events.into_iter().find(|e| e.result.starts_with("refused"))
        }
    })
    .await;
    assert_eq!(audit.target, format!("cluster/{cluster_id}"));

    // Bad steps name the field; unknown clusters are NOT_FOUND.
    let zero = router
        .execute_step(launch(&cluster_id, 0))
        .await
        .unwrap_err();
    assert_eq!(zero.code(), tonic::Code::InvalidArgument);
    assert!(zero.message().contains("`launch.count`"), "{zero}");
    let empty = router
        .execute_step(pb::ExecuteStepRequest {
            cluster_id: cluster_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(empty.message().contains("`step`"), "{empty}");
    let unknown = router.execute_step(launch("nope", 1)).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    test.stop().await;
}

#[tokio::test]
async fn an_action_sent_again_with_its_id_is_stored_once() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let first_cluster = register(&test.channel, &owner, "shop").await.cluster.id;
    let other_cluster = register(&test.channel, &owner, "blog").await.cluster.id;
    let mut router = router(&test);
    let drain = |cluster_id: &str, id: &str| pb::ExecuteStepRequest {
        cluster_id: cluster_id.to_owned(),
        plan_id: "plan-1".into(),
        step: Some(pb::execute_step_request::Step::Action(Action {
            id: id.to_owned(),
            kind: ActionKind::Drain.into(),
            node_name: "n1".into(),
            ..Default::default()
        })),
    };
    let id = "01a2433a0d457655a19927b550249eaa";
    // A step retried after a crash sends its action again, with the id it chose the first time.
    let first = router
        .execute_step(drain(&first_cluster, id))
        .await
        .unwrap()
        .into_inner();
    let again = router
        .execute_step(drain(&first_cluster, id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.action.as_ref().unwrap().action.as_ref().unwrap().id,
        id
    );
    assert_eq!(first.action, again.action, "the stored action, as it was");
    let listed = ClusterServiceClient::new(test.channel.clone())
        .list_actions(authed(
            pb::ListActionsRequest {
                cluster_id: first_cluster.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(listed.len(), 1, "{listed:?}");
    // Another cluster cannot take the id, and an id must look like one.
    let taken = router
        .execute_step(drain(&other_cluster, id))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), tonic::Code::AlreadyExists, "{taken:?}");
    let odd = router
        .execute_step(drain(&first_cluster, "Not An Id!"))
        .await
        .unwrap_err();
    assert_eq!(odd.code(), tonic::Code::InvalidArgument, "{odd:?}");
    test.stop().await;
}
