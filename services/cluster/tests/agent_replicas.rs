//! Two cluster-service replicas on one PostgreSQL and one Redis: an agent holds its stream on one,
//! users talk to the other, and actions, status and take-overs cross between them on the bus.
//! Runs with TEST_BACKEND=postgres (the replicas need a shared database and bus).

mod common;

use common::*;
use spot_proto::agent::v1::ActionKind;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_testkit::{TestServer, authed};

#[tokio::test]
async fn an_action_submitted_on_one_replica_reaches_the_agent_on_the_other() {
    if !spot_testkit::production_backends() {
        eprintln!("two replicas need PostgreSQL and Redis: run with TEST_BACKEND=postgres");
        return;
    }
    let scratch = spot_db::testing::PostgresScratch::create().await;
    let namespace = format!("replicas-{}", uuid::Uuid::new_v4().simple());
    let secret = format!("secret-{}", uuid::Uuid::new_v4().simple());
    let env = [
        ("SPOT_DATABASE_URL", scratch.url.as_str()),
        ("SPOT_BUS_NAMESPACE", namespace.as_str()),
        ("SPOT_INTERNAL_SECRET", secret.as_str()),
    ];
    let a = TestServer::start(&env).await;
    let b = TestServer::start(&env).await;
    let owner = a.sign_up("Acme").await;
    let registered = register(&a.channel, &owner.access_token, "shop").await;
    let cluster_id = registered.cluster.id.clone();

    let executor = FakeExecutor::new();
    let agent = start_agent(
        a.addr(),
        &registered.agent_key,
        executor.clone(),
        FakeSource::new(),
    );
    // Replica B sees the agent connected (presence is on Redis) and its snapshot (PostgreSQL).
    let mut b_clusters = ClusterServiceClient::new(b.channel.clone());
    eventually("replica B to see the agent", || {
        let mut clusters = b_clusters.clone();
        let request = authed(
            pb::GetAgentStatusRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner.access_token,
        );
        async move {
            clusters
                .get_agent_status(request)
                .await
                .ok()?
                .into_inner()
                .connected
                .then_some(())
        }
    })
    .await;

    let cordon = submit(
        &b.channel,
        &owner.access_token,
        &cluster_id,
        ActionKind::Cordon,
        "n2",
    )
    .await;
    let id = cordon.action.unwrap().id;
    action_reaches(
        &b.channel,
        &owner.access_token,
        &cluster_id,
        &id,
        pb::ActionStatus::Succeeded,
    )
    .await;
    let ran = executor.ran();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].node_name, "n2");
    let nodes = b_clusters
        .list_nodes(authed(
            pb::ListNodesRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    assert_eq!(nodes.len(), 2);

    // A second agent on replica B takes over; the first (on A) stops getting actions.
    let newer = FakeExecutor::new();
    let newer_agent = start_agent(
        b.addr(),
        &registered.agent_key,
        newer.clone(),
        FakeSource::new(),
    );
    eventually("the newer agent to hold the session", || {
        let mut clusters = b_clusters.clone();
        let cluster_id = cluster_id.clone();
        let token = owner.access_token.clone();
        let newer = newer.clone();
        async move {
            let cordon = clusters
                .submit_action(authed(
                    pb::SubmitActionRequest {
                        cluster_id,
                        kind: ActionKind::Uncordon.into(),
                        node_name: "n2".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .ok()?;
            drop(cordon);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            (!newer.ran().is_empty()).then_some(())
        }
    })
    .await;
    let before = executor.ran().len();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    submit(
        &a.channel,
        &owner.access_token,
        &cluster_id,
        ActionKind::Cordon,
        "n1",
    )
    .await;
    eventually("the newer agent to run the cordon", || {
        let newer = newer.clone();
        async move {
            newer
                .ran()
                .iter()
                .any(|a| a.node_name == "n1")
                .then_some(())
        }
    })
    .await;
    assert!(
        executor
            .ran()
            .iter()
            .skip(before)
            .all(|a| a.node_name != "n1"),
        "the replaced agent got nothing new"
    );
    b_clusters = ClusterServiceClient::new(b.channel.clone());
    drop(b_clusters);

    agent.cancel();
    newer_agent.cancel();
    a.stop().await;
    b.stop().await;
    scratch.drop_database().await;
}
