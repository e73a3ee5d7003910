//! Plans on the durable step runner: a plan whose control plane stops mid-run is resumed by the
//! next one on the same database and finishes, with no instance launched twice and no agent
//! action stored or run twice; a launch repeated with its client token launches once; and waiting
//! for new nodes ends on the cluster's update, not on the poll.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::StreamExt;
use sea_orm::ConnectionTrait;
use spot_agent::executor::{Executor, Outcome};
use spot_cloud::{LAUNCH_TOKEN_TAG, SimulatedCloud, SimulationSettings};
use spot_kit::steps::{RunStore, StepStatus};
use spot_proto::agent::v1::{Action, ActionKind, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, PageRequest, Pool};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_testkit::{SharedStore, TestServer, authed};
use tokio::sync::Semaphore;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// Carries actions out on the cluster, but holds every drain until the test lets it go; counts
/// what it was asked to run.
struct GatedKubernetes {
    kubernetes: Arc<Kubernetes>,
    gate: Arc<Semaphore>,
    started: Mutex<Vec<Action>>,
}

#[async_trait::async_trait]
impl Executor for GatedKubernetes {
    async fn execute(&self, action: Action) -> Outcome {
        self.started.lock().unwrap().push(action.clone());
        if action.kind() == ActionKind::Drain {
            self.gate.acquire().await.unwrap().forget();
        }
        self.kubernetes.execute(action).await
    }
}

/// Carries actions out on the cluster after a delay.
struct Slow {
    kubernetes: Arc<Kubernetes>,
    delay: Duration,
}

#[async_trait::async_trait]
impl Executor for Slow {
    async fn execute(&self, action: Action) -> Outcome {
        tokio::time::sleep(self.delay).await;
        self.kubernetes.execute(action).await
    }
}

/// Three on-demand nodes with two pods each, really running in the simulated cloud.
async fn on_demand_cluster(router: &mut Router, cluster_id: &str) -> Arc<Cluster> {
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (i, zone) in ZONES.iter().enumerate() {
        let id = launch(router, cluster_id, zone, CapacityType::OnDemand).await;
        let name = format!("old-{i}");
        pods.push(pod(&format!("web-{i}"), &name));
        pods.push(pod(&format!("api-{i}"), &name));
        nodes.push(node(&name, zone, &id, CapacityType::OnDemand));
    }
    Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    })
}

/// Joins every instance the cluster service reports launching as a ready spot node, after
/// `delay` (a node takes a while to boot and register).
fn join_launched(
    mut events: tonic::Streaming<cluster::WatchClusterResponse>,
    source: Arc<Cluster>,
    delay: Duration,
    joined_at: Arc<Mutex<Option<tokio::time::Instant>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut joined = 0;
        while let Some(Ok(event)) = events.next().await {
            let Some(ids) = launched_ids(&event.event.unwrap().message) else {
                continue;
            };
            let source = source.clone();
            let joined_at = joined_at.clone();
            let first = joined;
            joined += ids.len();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let nodes = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        node(
                            &format!("new-{}", first + i + 1),
                            "us-east-1a",
                            id,
                            CapacityType::Spot,
                        )
                    })
                    .collect();
                *joined_at.lock().unwrap() = Some(tokio::time::Instant::now());
                source.upsert_nodes(nodes);
            });
        }
    })
}

async fn apply(test: &TestServer, token: &str, plan_id: &str) {
    OptimizerServiceClient::new(test.channel.clone())
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: plan_id.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap();
}

async fn get_plan(test: &TestServer, token: &str, plan_id: &str) -> pb::Plan {
    OptimizerServiceClient::new(test.channel.clone())
        .get_plan(authed(
            pb::GetPlanRequest {
                plan_id: plan_id.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
}

/// Polls the plan until `done` holds, for at most `within`.
async fn plan_until(
    test: &TestServer,
    token: &str,
    plan_id: &str,
    within: Duration,
    done: impl Fn(&pb::Plan) -> bool,
) -> pb::Plan {
    tokio::time::timeout(within, async {
        loop {
            let plan = get_plan(test, token, plan_id).await;
            if done(&plan) {
                return plan;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("plan {plan_id} did not get there in {within:?}"))
}

fn is_final(plan: &pb::Plan) -> bool {
    !matches!(
        plan.state(),
        pb::PlanState::Applying | pb::PlanState::Recommended
    )
}

async fn stored_actions(
    test: &TestServer,
    token: &str,
    cluster_id: &str,
) -> Vec<cluster::ActionRecord> {
    ClusterServiceClient::new(test.channel.clone())
        .list_actions(authed(
            cluster::ListActionsRequest {
                cluster_id: cluster_id.to_owned(),
                page: Some(PageRequest {
                    page_size: 500,
                    page_token: String::new(),
                }),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .actions
}

/// How many instances each launch token launched, in the whole simulated cloud.
fn launches_per_token(cloud: &SimulatedCloud) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for instance in cloud.all_instances() {
        if let Some(token) = instance.tags.get(LAUNCH_TOKEN_TAG) {
            *counts.entry(token.clone()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_plan_resumes_after_its_runner_stops_mid_run_and_no_step_runs_twice() {
    // Both lives of the control plane share one database, one bus namespace (on Redis), one
    // address for the agent to reconnect to, and one cloud.
    let store = SharedStore::new("resume").await;
    let [listen, database, namespace] = store.env();
    let env = [
        ("SPOT_INTERNAL_SECRET", SECRET),
        listen,
        database,
        namespace,
    ];
    let cloud = Arc::new(SimulatedCloud::new(SimulationSettings {
        shortage_probability: 0.0,
        ..Default::default()
    }));

    let first = TestServer::start_with_cloud(&env, cloud.clone()).await;
    let owner = first.sign_up("Acme").await;
    let token = owner.access_token.clone();
    let registered = register(&first, &token).await;
    let cluster_id = registered.cluster.unwrap().id;
    let source = on_demand_cluster(&mut router(&first), &cluster_id).await;
    let gate = Arc::new(Semaphore::new(0));
    let kubernetes = Kubernetes::new(source.clone());
    let agent = Arc::new(GatedKubernetes {
        kubernetes: kubernetes.clone(),
        gate: gate.clone(),
        started: Mutex::default(),
    });
    let (_notices, stop_agent) =
        start_agent(&first, &registered.agent_key, agent.clone(), source.clone());
    wait_for_nodes(&first, &token, &cluster_id, 3).await;
    consolidation_off(&first, &token).await;

    let plan = recommend(&first, &token, &cluster_id).await;
    let events = ClusterServiceClient::new(first.channel.clone())
        .watch_cluster(authed(
            cluster::WatchClusterRequest {
                cluster_id: cluster_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let joiner = join_launched(events, source.clone(), Duration::ZERO, Arc::default());
    apply(&first, &token, &plan.id).await;

    // The runner reaches the first drain, which the agent holds; then the control plane stops
    // (its runner leaves the run as it is, as a crash would).
    let drain_at = plan
        .steps
        .iter()
        .position(|s| s.kind() == pb::StepKind::Drain)
        .expect("the plan drains the old nodes");
    plan_until(&first, &token, &plan.id, Duration::from_secs(30), |p| {
        p.steps[drain_at].status() == pb::StepStatus::Running
    })
    .await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !agent
            .started
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.kind() == ActionKind::Drain)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the agent got the drain");
    joiner.abort();
    first.stop().await;

    // The dead holder's lease would lapse within 30 s; the test moves the clock past it.
    let db = spot_db::Database::connect(&store.database_url)
        .await
        .unwrap();
    let runs = RunStore::new(db.clone());
    let stopped = runs
        .get(&plan.id)
        .await
        .unwrap()
        .expect("the run is stored");
    assert_eq!(stopped.steps[drain_at].status, StepStatus::Running);
    let (holder, _) = runs.lease(&plan.id).await.unwrap().unwrap();
    let dead_holder = holder.expect("the stopped runner still holds the run");
    db.connection()
        .execute_unprepared("UPDATE step_runs SET lease_expires_at = 0")
        .await
        .unwrap();
    // The drain goes on in the cluster meanwhile; its result reaches the next control plane.
    gate.add_permits(1_000);

    let second = TestServer::start_with_cloud(&env, cloud.clone()).await;
    let token = second.login(&owner.email, &owner.password).await;
    let finished = plan_until(&second, &token, &plan.id, Duration::from_secs(60), is_final).await;
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
            .all(|s| s.status() == pb::StepStatus::Succeeded),
        "{:?}",
        finished.steps
    );
    let resumed = runs.get(&plan.id).await.unwrap().unwrap();
    let (holder, _) = runs.lease(&plan.id).await.unwrap().unwrap();
    assert!(holder.is_none(), "a finished run holds no lease");
    assert_ne!(Some(dead_holder), holder);
    assert_eq!(
        resumed.steps[drain_at].attempts, 2,
        "the drain was taken up again, not the plan from the start"
    );
    assert!(
        resumed.steps[..drain_at].iter().all(|s| s.attempts == 1),
        "steps done before the stop are not run again"
    );

    // No instance launched twice: each launch step's token launched exactly its count.
    let per_token = launches_per_token(&cloud);
    for (index, step) in plan.steps.iter().enumerate() {
        if step.kind() == pb::StepKind::Launch {
            let token = format!("{}-{index}", plan.id);
            assert_eq!(
                per_token.get(&token).copied(),
                Some(step.count as usize),
                "launch step {index}: {per_token:?}"
            );
        }
    }
    assert_eq!(
        per_token.values().sum::<usize>(),
        finished
            .steps
            .iter()
            .map(|s| s.instance_ids.len())
            .sum::<usize>()
    );
    // No action stored or run twice: one per cordon and drain step.
    let stored = stored_actions(&second, &token, &cluster_id).await;
    let mut per_action: BTreeMap<(i32, String), usize> = BTreeMap::new();
    for record in &stored {
        let action = record.action.as_ref().unwrap();
        *per_action
            .entry((action.kind, action.node_name.clone()))
            .or_default() += 1;
    }
    assert!(per_action.values().all(|n| *n == 1), "{per_action:?}");
    let moving = plan
        .steps
        .iter()
        .filter(|s| matches!(s.kind(), pb::StepKind::Cordon | pb::StepKind::Drain))
        .count();
    assert_eq!(stored.len(), moving, "{stored:?}");
    let ran = kubernetes.ran.0.lock().unwrap().clone();
    let mut per_run: BTreeMap<(i32, String), usize> = BTreeMap::new();
    for action in &ran {
        *per_run
            .entry((action.kind, action.node_name.clone()))
            .or_default() += 1;
    }
    assert!(per_run.values().all(|n| *n == 1), "{per_run:?}");
    assert_eq!(ran.len(), moving);

    stop_agent.cancel();
    second.stop().await;
    store.remove().await;
}

#[tokio::test]
async fn a_launch_repeated_with_its_client_token_launches_once() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let cluster_id = register(&test, &owner).await.cluster.unwrap().id;
    let mut router = router(&test);
    let request = cluster::ExecuteStepRequest {
        cluster_id: cluster_id.clone(),
        plan_id: "p".into(),
        step: Some(cluster::execute_step_request::Step::Launch(
            cluster::LaunchCapacity {
                pools: vec![Pool {
                    region: "us-east-1".into(),
                    zone: "us-east-1a".into(),
                    instance_type: "m5.xlarge".into(),
                }],
                capacity_type: CapacityType::Spot.into(),
                count: 2,
                client_token: "p-0".into(),
            },
        )),
    };
    let first = router
        .execute_step(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = router.execute_step(request).await.unwrap().into_inner();
    assert_eq!(first.instance_ids.len(), 2);
    assert_eq!(first.instance_ids, again.instance_ids);
    assert_eq!(launches_per_token(&test.cloud).get("p-0"), Some(&2));
    test.stop().await;
}

#[tokio::test]
async fn waiting_for_new_nodes_ends_on_the_cluster_update_not_the_poll() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let source = on_demand_cluster(&mut router(&test), &cluster_id).await;
    let kubernetes = Kubernetes::new(source.clone());
    let (_notices, stop) = start_agent(&test, &registered.agent_key, kubernetes, source.clone());
    wait_for_nodes(&test, &owner, &cluster_id, 3).await;
    consolidation_off(&test, &owner).await;

    let plan = recommend(&test, &owner, &cluster_id).await;
    let wait_at = plan
        .steps
        .iter()
        .position(|s| s.kind() == pb::StepKind::WaitReady)
        .expect("the plan waits for its new nodes");
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
    // The nodes join a moment after their launch, so the runner's first look misses them.
    let joined_at = Arc::new(Mutex::new(None));
    let joiner = join_launched(
        events,
        source.clone(),
        Duration::from_millis(500),
        joined_at.clone(),
    );
    apply(&test, &owner, &plan.id).await;
    plan_until(&test, &owner, &plan.id, Duration::from_secs(20), |p| {
        p.steps[wait_at].status() == pb::StepStatus::Running
    })
    .await;
    let ready = plan_until(&test, &owner, &plan.id, Duration::from_secs(20), |p| {
        p.steps[wait_at].status() != pb::StepStatus::Running
    })
    .await;
    let waited = joined_at
        .lock()
        .unwrap()
        .expect("the nodes joined")
        .elapsed();
    assert_eq!(
        ready.steps[wait_at].status(),
        pb::StepStatus::Succeeded,
        "{}",
        ready.reason
    );
    // The fallback poll is 30 s away: only the update can have ended the wait this soon.
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let finished = plan_until(&test, &owner, &plan.id, Duration::from_secs(30), is_final).await;
    assert_eq!(
        finished.state(),
        pb::PlanState::Succeeded,
        "{}",
        finished.reason
    );
    joiner.abort();
    stop.cancel();
    test.stop().await;
}

/// Adds every instance launched for the cluster (and still running) to the agent's view as a
/// ready spot node, as often as the cloud is looked at: across every life of the control plane.
fn join_from_cloud(
    cloud: Arc<SimulatedCloud>,
    cluster_id: String,
    source: Arc<Cluster>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut joined = std::collections::BTreeSet::new();
        loop {
            let fresh: Vec<String> = cloud
                .all_instances()
                .into_iter()
                .filter(|i| {
                    i.tags.contains_key(LAUNCH_TOKEN_TAG)
                        && i.tags.get(spot_cloud::CLUSTER_ID_TAG) == Some(&cluster_id)
                        && i.state != spot_cloud::InstanceState::Terminated
                        && !joined.contains(&i.id)
                })
                .map(|i| i.id)
                .collect();
            let nodes: Vec<_> = fresh
                .into_iter()
                .map(|id| {
                    joined.insert(id.clone());
                    node(
                        &format!("new-{}", joined.len()),
                        "us-east-1a",
                        &id,
                        CapacityType::Spot,
                    )
                })
                .collect();
            if !nodes.is_empty() {
                source.upsert_nodes(nodes);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// xorshift64*: a seeded sequence, so a failing seed replays.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    }
}

/// One tenant's cluster in the fault test: its agent's view, what its agent ran, its plan.
struct Tenant {
    token: String,
    cluster_id: String,
    kubernetes: Arc<Kubernetes>,
    plan: pb::Plan,
    joiner: tokio::task::JoinHandle<()>,
    stop_agent: tokio_util::sync::CancellationToken,
}

/// How many tenants' plans apply at once in the fault test.
const TENANTS: usize = 4;
/// The most stops in one fault test: enough for every kind of step to be cut, few enough to
/// finish in well under a minute.
const MAX_STOPS: usize = 40;

/// The control plane is stopped again and again at seeded random moments while several tenants'
/// plans apply (each time its runner leaves the runs as a crash would, and the next life takes
/// them over): every plan still finishes, with each launch launching its count once and each
/// agent action stored and run once. `SPOT_FAULT_SEED` picks another sequence.
#[tokio::test]
async fn plans_survive_their_control_plane_stopping_at_seeded_random_points() {
    let seed: u64 = std::env::var("SPOT_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(18);
    let mut random = Seeded(seed.max(1));
    let store = SharedStore::new("faults").await;
    let [listen, database, namespace] = store.env();
    let env = [
        ("SPOT_INTERNAL_SECRET", SECRET),
        listen,
        database,
        namespace,
    ];
    let cloud = Arc::new(SimulatedCloud::new(SimulationSettings {
        shortage_probability: 0.0,
        ..Default::default()
    }));
    let db = spot_db::Database::connect(&store.database_url)
        .await
        .unwrap();

    let first = TestServer::start_with_cloud(&env, cloud.clone()).await;
    let mut tenants = Vec::new();
    for index in 0..TENANTS {
        let owner = first.sign_up(&format!("Tenant {index}")).await;
        let token = owner.access_token.clone();
        let registered = register(&first, &token).await;
        let cluster_id = registered.cluster.unwrap().id;
        let source = on_demand_cluster(&mut router(&first), &cluster_id).await;
        let kubernetes = Kubernetes::new(source.clone());
        // Each action takes a moment, as on a real cluster: stops land while runs wait on them.
        let agent = Arc::new(Slow {
            kubernetes: kubernetes.clone(),
            delay: Duration::from_millis(400),
        });
        let (_notices, stop_agent) =
            start_agent(&first, &registered.agent_key, agent, source.clone());
        wait_for_nodes(&first, &token, &cluster_id, 3).await;
        consolidation_off(&first, &token).await;
        let joiner = join_from_cloud(cloud.clone(), cluster_id.clone(), source.clone());
        let plan = recommend(&first, &token, &cluster_id).await;
        tenants.push(Tenant {
            token,
            cluster_id,
            kubernetes,
            plan,
            joiner,
            stop_agent,
        });
    }
    for tenant in &tenants {
        apply(&first, &tenant.token, &tenant.plan.id).await;
    }

    let mut stops = 0;
    let mut life = first;
    loop {
        tokio::time::sleep(Duration::from_millis(5 + random.below(200))).await;
        let mut all_final = true;
        for tenant in &tenants {
            all_final &= is_final(&get_plan(&life, &tenant.token, &tenant.plan.id).await);
        }
        if all_final || stops == MAX_STOPS {
            break;
        }
        life.stop().await;
        stops += 1;
        // The stopped runner's leases lapse (moved past instead of waited for).
        db.connection()
            .execute_unprepared("UPDATE step_runs SET lease_expires_at = 0 WHERE state = 'running'")
            .await
            .unwrap();
        life = TestServer::start_with_cloud(&env, cloud.clone()).await;
    }

    let runs = RunStore::new(db.clone());
    let per_token = launches_per_token(&cloud);
    let (mut steps, mut retried, mut launched, mut stored_count, mut ran_count) = (0, 0, 0, 0, 0);
    let (mut launched_twice, mut stored_twice, mut ran_twice) = (0, 0, 0);
    for tenant in &tenants {
        let token = &tenant.token;
        let plan = &tenant.plan;
        let finished = plan_until(&life, token, &plan.id, Duration::from_secs(60), is_final).await;
        assert_eq!(
            finished.state(),
            pb::PlanState::Succeeded,
            "seed {seed}: {}",
            finished.reason
        );
        let run = runs.get(&plan.id).await.unwrap().unwrap();
        steps += run.steps.len();
        retried += run.steps.iter().filter(|s| s.attempts > 1).count();
        for (index, step) in plan.steps.iter().enumerate() {
            if step.kind() == pb::StepKind::Launch {
                let count = per_token
                    .get(&format!("{}-{index}", plan.id))
                    .copied()
                    .unwrap_or(0);
                launched += count;
                if count > step.count as usize {
                    launched_twice += 1;
                }
            }
        }
        let stored = stored_actions(&life, token, &tenant.cluster_id).await;
        stored_count += stored.len();
        let mut per_action: BTreeMap<(i32, String), usize> = BTreeMap::new();
        for record in &stored {
            let action = record.action.as_ref().unwrap();
            *per_action
                .entry((action.kind, action.node_name.clone()))
                .or_default() += 1;
        }
        stored_twice += per_action.values().filter(|n| **n > 1).count();
        let ran = tenant.kubernetes.ran.0.lock().unwrap().clone();
        ran_count += ran.len();
        let mut per_run: BTreeMap<(i32, String), usize> = BTreeMap::new();
        for action in &ran {
            *per_run
                .entry((action.kind, action.node_name.clone()))
                .or_default() += 1;
        }
        ran_twice += per_run.values().filter(|n| **n > 1).count();
    }
    println!(
        "seed {seed}: {stops} stops, {TENANTS} plans, {steps} steps ({retried} taken up again \
         after a stop), {launched} instances launched, {stored_count} actions stored, \
         {ran_count} run by agents; duplicates: {launched_twice} launches, {stored_twice} stored \
         actions, {ran_twice} agent runs"
    );
    assert_eq!(launched_twice, 0, "seed {seed}: {per_token:?}");
    assert_eq!(stored_twice, 0, "seed {seed}");
    assert_eq!(ran_twice, 0, "seed {seed}");
    assert!(stops > 0, "seed {seed}: the plans finished before any stop");

    for tenant in tenants {
        tenant.joiner.abort();
        tenant.stop_agent.cancel();
    }
    life.stop().await;
    store.remove().await;
}
