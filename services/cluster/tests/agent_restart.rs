//! The control plane stops in the middle of a drain and comes back: the drain completes exactly
//! once, and its result is recorded once.

mod common;

use std::sync::Arc;

use common::*;
use spot_proto::agent::v1::ActionKind;
use spot_proto::cluster::v1 as pb;
use spot_testkit::{SharedStore, TestServer};
use tokio::sync::Semaphore;

#[tokio::test]
async fn a_drain_interrupted_by_a_control_plane_restart_completes_exactly_once() {
    // Both lives of the control plane share one database (and, on Redis, one namespace).
    let store = SharedStore::new("restart").await;
    let env = store.env();

    let first = TestServer::start(&env).await;
    let owner = first.sign_up("Acme").await;
    let registered = register(&first.channel, &owner.access_token, "shop").await;
    let cluster_id = registered.cluster.id.clone();
    let gate = Arc::new(Semaphore::new(0));
    let executor = FakeExecutor::holding(gate.clone());
    let agent = start_agent(
        first.addr(),
        &registered.agent_key,
        executor.clone(),
        FakeSource::new(),
    );

    let drain = submit(
        &first.channel,
        &owner.access_token,
        &cluster_id,
        ActionKind::Drain,
        "n1",
    )
    .await;
    let id = drain.action.unwrap().id;
    action_reaches(
        &first.channel,
        &owner.access_token,
        &cluster_id,
        &id,
        pb::ActionStatus::Acknowledged,
    )
    .await;
    assert_eq!(executor.ran().len(), 1, "the drain is running");

    // The control plane goes away mid-drain; the drain finishes while nobody listens.
    first.stop().await;
    gate.add_permits(1);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let second = TestServer::start(&env).await;
    let token = second.login(&owner.email, &owner.password).await;
    let done = action_reaches(
        &second.channel,
        &token,
        &cluster_id,
        &id,
        pb::ActionStatus::Succeeded,
    )
    .await;
    assert_eq!(done.message, "n1 done");
    // Give redelivery a chance to do harm, then check it did none.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(executor.ran().len(), 1, "the drain ran exactly once");
    let events = spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient::new(
        second.channel.clone(),
    )
    .list_cluster_events(spot_testkit::authed(
        pb::ListClusterEventsRequest {
            cluster_id: cluster_id.clone(),
            page: None,
        },
        &token,
    ))
    .await
    .unwrap()
    .into_inner()
    .events;
    assert_eq!(
        events.iter().filter(|e| e.kind == "action").count(),
        1,
        "the result was recorded once: {events:?}"
    );
    agent.cancel();
    second.stop().await;
    store.remove().await;
}
