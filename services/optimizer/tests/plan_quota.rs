//! The quota on stored plans (`limits.plans_per_cluster`), through the real server: a new plan
//! prunes the cluster's oldest, so recommending in a loop cannot grow the table without end.

mod common;

use common::register;
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_testkit::{TestServer, authed};

#[tokio::test]
async fn a_cluster_keeps_only_its_newest_plans() {
    let test = TestServer::start(&[("SPOT_LIMIT_PLANS_PER_CLUSTER", "3")]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let cluster_id = register(&test, &owner).await.cluster.unwrap().id;
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let mut made = Vec::new();
    for _ in 0..5 {
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
        made.push(plan.id);
    }
    let listed: Vec<String> = optimizer
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
        .plans
        .into_iter()
        .map(|plan| plan.id)
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    for newest in &made[2..] {
        assert!(listed.contains(newest), "{newest} kept: {listed:?}");
    }
    let pruned = optimizer
        .get_plan(authed(
            pb::GetPlanRequest {
                plan_id: made[0].clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(pruned.code(), tonic::Code::NotFound);
    test.stop().await;
}
