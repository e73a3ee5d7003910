//! A hibernation run on the durable step runner: its control plane stops while a drain is under
//! way, and the next one (on the same database) takes the same run up where it stopped and puts
//! the cluster to sleep, with every node cordoned, drained and terminated exactly once.

mod hibernation_fixtures;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hibernation_fixtures::*;
use sea_orm::ConnectionTrait;
use spot_agent::executor::{Executor, Outcome};
use spot_cloud::{SimulatedCloud, SimulationSettings};
use spot_kit::steps::{RunStore, StepStatus};
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::common::v1::CapacityType;
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::hibernation_service_client::HibernationServiceClient;
use spot_testkit::{SharedStore, TestServer, authed};
use tokio::sync::Semaphore;

/// Runs every action, but holds drains until the test lets them go; remembers what it ran.
struct GatedRecorder {
    gate: Arc<Semaphore>,
    ran: Mutex<Vec<Action>>,
}

#[async_trait::async_trait]
impl Executor for GatedRecorder {
    async fn execute(&self, action: Action) -> Outcome {
        if action.kind() == ActionKind::Drain {
            self.gate.acquire().await.unwrap().forget();
        }
        self.ran.lock().unwrap().push(action);
        Outcome::succeeded("done")
    }
}

async fn runs(test: &TestServer, token: &str, cluster_id: &str) -> Vec<pb::HibernationRun> {
    HibernationServiceClient::new(test.channel.clone())
        .list_hibernation_runs(authed(
            pb::ListHibernationRunsRequest {
                cluster_id: cluster_id.into(),
                page: None,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .runs
}

async fn runs_until(
    test: &TestServer,
    token: &str,
    cluster_id: &str,
    done: impl Fn(&[pb::HibernationRun]) -> bool,
) -> Vec<pb::HibernationRun> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let runs = runs(test, token, cluster_id).await;
            if done(&runs) {
                return runs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the hibernation runs got there")
}

#[tokio::test]
async fn a_hibernation_resumes_on_the_next_control_plane_and_runs_each_step_once() {
    let store = SharedStore::new("hibernation-resume").await;
    let [listen, database, namespace] = store.env();
    let env = [
        ("SPOT_INTERNAL_SECRET", SECRET),
        listen,
        database,
        namespace,
    ];
    let cloud = Arc::new(SimulatedCloud::new(SimulationSettings::default()));
    let first = TestServer::start_with_cloud(&env, cloud.clone()).await;
    let owner = first.sign_up("Acme").await;
    let token = owner.access_token.clone();
    let layout = [
        ("spot-a1", "us-east-1a", CapacityType::Spot),
        ("od-b1", "us-east-1b", CapacityType::OnDemand),
    ];
    let pods = vec![
        pod("shop", "web-0", "spot-a1"),
        pod("shop", "db-0", "od-b1"),
    ];
    let gate = Arc::new(Semaphore::new(0));
    let executor = Arc::new(GatedRecorder {
        gate: gate.clone(),
        ran: Mutex::default(),
    });
    let RunningCluster {
        cluster_id,
        stop,
        follower,
        ..
    } = running_cluster(&first, &token, &layout, pods, executor.clone()).await;
    HibernationServiceClient::new(first.channel.clone())
        .create_override(authed(
            pb::CreateOverrideRequest {
                cluster_id: cluster_id.clone(),
                kind: pb::OverrideKind::SleepUntil.into(),
                wake_hours: 0,
                sleep_until: Some(spot_proto::time::timestamp(
                    (chrono::Utc::now() + chrono::Duration::hours(8)).timestamp_millis(),
                )),
            },
            &token,
        ))
        .await
        .unwrap();

    // The run reaches its first drain, which the agent holds; the control plane stops.
    let started = runs_until(&first, &token, &cluster_id, |runs| {
        runs.iter().any(|r| {
            r.steps
                .iter()
                .any(|s| s.kind == "drain" && s.status() == pb::HibernationStepStatus::Running)
        })
    })
    .await;
    let run_id = started[0].id.clone();
    follower.abort();
    first.stop().await;
    // The stopped runner's lease lapses (moved past instead of waited for); the drain goes on.
    let db = spot_db::Database::connect(&store.database_url)
        .await
        .unwrap();
    db.connection()
        .execute_unprepared("UPDATE step_runs SET lease_expires_at = 0")
        .await
        .unwrap();
    gate.add_permits(1_000);

    let second = TestServer::start_with_cloud(&env, cloud.clone()).await;
    let token = second.login(&owner.email, &owner.password).await;
    let finished = runs_until(&second, &token, &cluster_id, |runs| {
        runs.iter()
            .any(|r| r.id == run_id && r.status() != pb::HibernationRunStatus::Running)
    })
    .await;
    let run = finished.iter().find(|r| r.id == run_id).unwrap();
    assert_eq!(run.status(), pb::HibernationRunStatus::Succeeded, "{run:?}");
    assert_eq!(
        finished.iter().filter(|r| r.kind == "hibernate").count(),
        1,
        "the same run went on; no second one started: {finished:?}"
    );
    let stored = RunStore::new(db).get(&run_id).await.unwrap().unwrap();
    assert!(
        stored
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Succeeded),
        "{stored:?}"
    );
    assert!(stored.steps.iter().any(|s| s.attempts == 2), "{stored:?}");
    let ran = executor.ran.lock().unwrap().clone();
    let mut per_action: BTreeMap<(i32, String), usize> = BTreeMap::new();
    for action in &ran {
        *per_action
            .entry((action.kind, action.node_name.clone()))
            .or_default() += 1;
    }
    assert!(per_action.values().all(|n| *n == 1), "{per_action:?}");
    assert_eq!(ran.len(), 4, "cordon and drain of each node: {ran:?}");
    // Both nodes are gone from the cloud: terminated once each, by the resumed run.
    let running = capacity(&second, &cluster_id).await;
    assert_eq!(running.values().sum::<usize>(), 0, "{running:?}");

    stop.cancel();
    second.stop().await;
    store.remove().await;
}
