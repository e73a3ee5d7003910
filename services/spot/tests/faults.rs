//! The durable step runner under real faults. Two `spot serve` replicas share PostgreSQL and
//! Redis; moto's server is the customer's AWS account, holding three EKS clusters; a stand-in
//! agent per cluster reaches whichever replica is up through a TCP proxy, as through a load
//! balancer. While each cluster moves to spot, has a spot node interrupted, and sleeps and wakes,
//! a seeded chaos loop SIGKILLs a replica at random moments ([`KILLS`] times, restarting it each
//! time), and cuts PostgreSQL and Redis off for a few seconds each. Afterwards:
//! - every run (plans, interruption responses, sleeps, wakes) reached a final state;
//! - no launch step launched twice: the instances its client token tags are the ones it
//!   recorded, no more;
//! - no agent action ran twice (the stand-in Kubernetes counts them by id);
//! - no node's instance was terminated while a pod still ran on it (its drain ended first);
//! - every cluster converged: awake, and every pod runs.
//!
//! It runs alone (`make fault-tests`, after the other tests): its kills are timed for a machine
//! that is not also running the rest of the suite. `SPOT_FAULTS_SEED=<n>` replays another
//! schedule of kills.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spot_cloud::{CLUSTER_ID_TAG, LAUNCH_TOKEN_TAG};
use spot_cloud_ec2::testing::{AL2023_IMAGE_NAME, MotoPeer, MotoServer, SeenInstance};
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::account_service_client::AccountServiceClient;
use spot_proto::common::v1::{CapacityType, Node, PageRequest, Pool};
use spot_proto::optimizer::v1 as optimizer;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::hibernation_service_client::HibernationServiceClient;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_testkit::{TcpProxy, authed, channel_to, free_port, redis_url, strong_password};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The stand-in cluster the optimizer's tests use: a snapshot the agent reports, and Kubernetes
/// carrying out the agent's actions with kube-scheduler's stand-in binding pods.
#[path = "../../optimizer/tests/common/mod.rs"]
mod stand_in;
use stand_in::{Cluster, Kubernetes};

mod spot_on_aws;
use spot_on_aws::{node_of, verification_token};

const KILLS: usize = 50;
const CLUSTERS: [&str; 3] = ["shop-a", "shop-b", "shop-c"];
const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];
/// How long each cluster sleeps in a round.
const SLEEP_MILLIS: i64 = 10_000;
/// How long a lease lasts here: a killed replica's runs and jobs are taken over this long after.
const LEASE_SECONDS: &str = "3";

/// One `spot serve` process, killed and started again on the same port.
struct Replica {
    port: u16,
    env: Vec<(String, String)>,
    data: tempfile::TempDir,
    log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    fn new(env: Vec<(String, String)>, logs: &std::path::Path, n: usize) -> Replica {
        Replica {
            port: free_port(),
            env,
            data: tempfile::tempdir().unwrap(),
            log: logs.join(format!("replica-{n}.log")),
            child: None,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    fn start(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_spot"))
            .args(["serve", "--listen", &self.addr().to_string(), "--data-dir"])
            .arg(self.data.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Waits until it listens. One that exited (it cannot reach the database while that is cut
    /// off, and says so) is started again, as its supervisor (Kubernetes, systemd) would.
    async fn wait_up(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(self.addr()).await.is_err() {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().is_ok_and(|status| status.is_some())
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.start();
            }
            if tokio::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "replica on {} never listened; the end of its log:\n{}",
                    self.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no lease handed back.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A call to retry while replicas die and the database or bus is cut off.
fn transient(status: &tonic::Status) -> bool {
    use tonic::Code::*;
    matches!(
        status.code(),
        Unavailable | Unknown | Internal | Cancelled | DeadlineExceeded | Aborted
    )
}

async fn retry<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status) if !transient(&status) => panic!("{what}: {status}"),
            Err(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{what}: still failing after 90 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The tenant's way in: a channel to whichever replica is up, and its access token.
#[derive(Clone)]
struct User {
    channel: Channel,
    token: String,
}

/// Signs a tenant up; the verification link is in whichever replica's log sent the mail.
async fn sign_up(channel: &Channel, logs: &[PathBuf]) -> User {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let password = strong_password();
    AuthServiceClient::new(channel.clone())
        .sign_up(auth::SignUpRequest {
            tenant_name: "Acme".into(),
            email: email.clone(),
            password,
        })
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let token = loop {
        let token = logs
            .iter()
            .filter_map(|log| std::fs::read_to_string(log).ok())
            .find_map(|text| {
                text.lines()
                    .find_map(|line| verification_token(line, &email))
            });
        if let Some(token) = token {
            break token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the verification mail is logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let token = AuthServiceClient::new(channel.clone())
        .verify_email(auth::VerifyEmailRequest { token })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    User {
        channel: channel.clone(),
        token,
    }
}

/// One adopted cluster, its stand-in agent, and what the stand-in saw go wrong.
struct UnderTest {
    name: &'static str,
    id: String,
    source: Arc<Cluster>,
    kubernetes: Arc<Kubernetes>,
    notices: mpsc::Sender<InterruptionNotice>,
    /// Nodes whose instance was terminated while a pod still ran on them.
    undrained: Arc<Mutex<Vec<String>>>,
}

/// A node as the agent reports an EC2 instance, named after it.
fn node_named_after(instance: &SeenInstance) -> Node {
    node_of(instance, &format!("node-{}", instance.id))
}

/// The cluster's instances as Kubernetes sees them: a launched instance joins as a Ready node,
/// a terminated one's node leaves (checking its pods were drained first). Polls the account,
/// as nodes join whatever the control plane does.
fn follow_instances(
    moto: MotoPeer,
    name: &'static str,
    cluster_id: String,
    source: Arc<Cluster>,
    undrained: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            let mut instances = moto.instances_tagged("eks:cluster-name", name).await;
            instances.extend(moto.instances_tagged(CLUSTER_ID_TAG, &cluster_id).await);
            let live: Vec<&SeenInstance> = instances
                .iter()
                .filter(|i| matches!(i.state.as_str(), "pending" | "running"))
                .collect();
            let snapshot = source.snapshot.lock().unwrap().clone();
            let known: BTreeSet<&str> = snapshot
                .nodes
                .iter()
                .map(|n| n.instance_id.as_str())
                .collect();
            let joining: Vec<Node> = live
                .iter()
                .filter(|i| !known.contains(i.id.as_str()))
                .map(|i| node_named_after(i))
                .collect();
            if !joining.is_empty() {
                source.upsert_nodes(joining);
            }
            let live_ids: BTreeSet<&str> = live.iter().map(|i| i.id.as_str()).collect();
            let gone: Vec<&Node> = snapshot
                .nodes
                .iter()
                .filter(|n| !live_ids.contains(n.instance_id.as_str()))
                .collect();
            for node in &gone {
                let stranded: Vec<&str> = snapshot
                    .pods
                    .iter()
                    .filter(|p| p.node_name == node.name)
                    .map(|p| p.name.as_str())
                    .collect();
                if !stranded.is_empty() {
                    undrained
                        .lock()
                        .unwrap()
                        .push(format!("{}: {stranded:?}", node.name));
                }
            }
            if !gone.is_empty() {
                let ids: Vec<&str> = gone.iter().map(|n| n.instance_id.as_str()).collect();
                source.remove_instances(&ids);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Links moto's account and adopts each seeded cluster; consolidation off, so only the plans
/// the drivers apply (and the autopilot's provisioning and interruption responses) run.
async fn adopt_all(
    user: &User,
    moto: &MotoPeer,
    api: std::net::SocketAddr,
    stop: &CancellationToken,
) -> Vec<Arc<UnderTest>> {
    let mut accounts = AccountServiceClient::new(user.channel.clone());
    let account = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: "arn:aws:iam::123456789012:role/SpotOptimizer".into(),
            },
            &user.token,
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
            &user.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let mut policies = PolicyServiceClient::new(user.channel.clone());
    let mut default = policies
        .get_policy(authed(policy::GetPolicyRequest::default(), &user.token))
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
            &user.token,
        ))
        .await
        .unwrap();
    let mut adopted = Vec::new();
    for name in CLUSTERS {
        let found = discovered.iter().find(|c| c.name == name).unwrap();
        let response = accounts
            .adopt_cluster(authed(
                pb::AdoptClusterRequest {
                    discovered_cluster_id: found.id.clone(),
                },
                &user.token,
            ))
            .await
            .unwrap()
            .into_inner();
        let id = response.cluster.unwrap().id;
        let seeded = moto.instances_tagged("eks:cluster-name", name).await;
        let nodes: Vec<Node> = seeded.iter().map(node_named_after).collect();
        let pods = (0..8)
            .map(|n| stand_in::pod(&format!("web-{n}"), &nodes[n % nodes.len()].name))
            .collect();
        let source = Cluster::new(Snapshot {
            nodes,
            pods,
            ..Default::default()
        });
        let kubernetes = Kubernetes::new(source.clone());
        let mut settings =
            spot_agent::session::AgentSettings::new(&format!("http://{api}"), &response.agent_key);
        settings.max_backoff = Duration::from_millis(300);
        let (notices, interruptions) = mpsc::channel(4);
        tokio::spawn(
            spot_agent::session::Agent::new(settings, kubernetes.clone(), source.clone())
                .run(interruptions, stop.clone()),
        );
        let undrained = Arc::new(Mutex::new(Vec::new()));
        follow_instances(
            moto.clone(),
            name,
            id.clone(),
            source.clone(),
            undrained.clone(),
            stop.clone(),
        );
        adopted.push(Arc::new(UnderTest {
            name,
            id,
            source,
            kubernetes,
            notices,
            undrained,
        }));
    }
    adopted
}

async fn plans_of(user: &User, cluster_id: &str) -> Vec<optimizer::Plan> {
    retry("ListPlans", || {
        let mut client = OptimizerServiceClient::new(user.channel.clone());
        let request = authed(
            optimizer::ListPlansRequest {
                cluster_id: cluster_id.to_owned(),
                page: Some(PageRequest {
                    page_size: 500,
                    ..Default::default()
                }),
            },
            &user.token,
        );
        async move {
            client
                .list_plans(request)
                .await
                .map(|r| r.into_inner().plans)
        }
    })
    .await
}

async fn hibernation_runs_of(user: &User, cluster_id: &str) -> Vec<policy::HibernationRun> {
    retry("ListHibernationRuns", || {
        let mut client = HibernationServiceClient::new(user.channel.clone());
        let request = authed(
            policy::ListHibernationRunsRequest {
                cluster_id: cluster_id.to_owned(),
                page: Some(PageRequest {
                    page_size: 500,
                    ..Default::default()
                }),
            },
            &user.token,
        );
        async move {
            client
                .list_hibernation_runs(request)
                .await
                .map(|r| r.into_inner().runs)
        }
    })
    .await
}

fn plan_final(plan: &optimizer::Plan) -> bool {
    !matches!(
        plan.state(),
        optimizer::PlanState::Applying | optimizer::PlanState::Recommended
    )
}

/// Waits (at most `seconds`) until `done` holds of the cluster's plans.
async fn until_plans(
    user: &User,
    cluster: &UnderTest,
    seconds: u64,
    what: &str,
    done: impl Fn(&[optimizer::Plan]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let plans = plans_of(user, &cluster.id).await;
        if done(&plans) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: {what} within {seconds} s; its plans: {:#?}",
            cluster.name,
            plans
                .iter()
                .map(|p| (
                    p.kind(),
                    p.state(),
                    &p.reason,
                    p.steps
                        .iter()
                        .map(|s| format!(
                            "{:?} {} {:?}: {}",
                            s.kind(),
                            s.node_name,
                            s.status(),
                            s.explanation
                        ))
                        .collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// ApplyPlan, as a client does it while replicas die: a call cut off may have been applied all
/// the same, and the plan's state says whether to call again.
async fn apply(user: &User, cluster: &UnderTest, plan_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut client = OptimizerServiceClient::new(user.channel.clone());
        let applied = client
            .apply_plan(authed(
                optimizer::ApplyPlanRequest {
                    plan_id: plan_id.to_owned(),
                    ..Default::default()
                },
                &user.token,
            ))
            .await;
        match applied {
            Ok(_) => return,
            Err(status) if !transient(&status) => panic!("{}: ApplyPlan: {status}", cluster.name),
            Err(_) => {
                let still_recommended = plans_of(user, &cluster.id)
                    .await
                    .iter()
                    .any(|p| p.id == plan_id && p.state() == optimizer::PlanState::Recommended);
                if !still_recommended {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{}: ApplyPlan still failing after 90 s",
                    cluster.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// What one driver did, for the closing figures.
#[derive(Default, Debug)]
struct Driven {
    plans_applied: usize,
    interruptions: usize,
    sleeps: usize,
}

/// Over and over until `stop`: recommend and apply a plan, interrupt a spot node, sleep the
/// cluster for a few seconds (it wakes by itself). `cycles` counts the rounds finished.
async fn drive(
    user: User,
    cluster: Arc<UnderTest>,
    seed: u64,
    cycles: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> Driven {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut driven = Driven::default();
    while !stop.is_cancelled() {
        // A plan, applied by the user.
        let plan = retry("Recommend", || {
            let mut client = OptimizerServiceClient::new(user.channel.clone());
            let request = authed(
                optimizer::RecommendRequest {
                    cluster_id: cluster.id.clone(),
                },
                &user.token,
            );
            async move { client.recommend(request).await.map(|r| r.into_inner().plan) }
        })
        .await
        .unwrap_or_default();
        if !plan.steps.is_empty() {
            apply(&user, &cluster, &plan.id).await;
            driven.plans_applied += 1;
            until_plans(&user, &cluster, 120, "the applied plan finishes", |plans| {
                plans.iter().all(|p| p.id != plan.id || plan_final(p))
            })
            .await;
        }
        if stop.is_cancelled() {
            break;
        }

        // A spot node's two-minute warning: the autopilot's interruption response. A node with
        // pods (an empty one, say one left to empty, needs no answer: nothing runs on it).
        let spot_nodes: Vec<Node> = {
            let snapshot = cluster.source.snapshot.lock().unwrap();
            snapshot
                .nodes
                .iter()
                .filter(|n| n.capacity_type() == CapacityType::Spot && !n.cordoned)
                .filter(|n| snapshot.pods.iter().any(|p| p.node_name == n.name))
                .cloned()
                .collect()
        };
        if !spot_nodes.is_empty() {
            let node = &spot_nodes[rng.random_range(0..spot_nodes.len())];
            let zone = node.zone.clone();
            let responses_before = plans_of(&user, &cluster.id)
                .await
                .iter()
                .filter(|p| p.kind() == optimizer::PlanKind::InterruptionResponse)
                .count();
            cluster
                .notices
                .send(InterruptionNotice {
                    event_id: format!("{}:spot-interruption", node.instance_id),
                    kind: InterruptionKind::SpotInterruption.into(),
                    instance_id: node.instance_id.clone(),
                    node_name: node.name.clone(),
                    pool: Some(Pool {
                        region: "us-east-1".into(),
                        zone,
                        instance_type: node.instance_type.clone(),
                    }),
                    action_at: Some(spot_proto::time::timestamp(
                        chrono::Utc::now().timestamp_millis() + 120_000,
                    )),
                })
                .await
                .unwrap();
            driven.interruptions += 1;
            until_plans(
                &user,
                &cluster,
                120,
                "the interruption is answered",
                |plans| {
                    let responses: Vec<_> = plans
                        .iter()
                        .filter(|p| p.kind() == optimizer::PlanKind::InterruptionResponse)
                        .collect();
                    responses.len() > responses_before && responses.iter().all(|p| plan_final(p))
                },
            )
            .await;
        }
        if stop.is_cancelled() {
            break;
        }

        // Asleep for a few seconds, then awake again. The scheduler is level-triggered: a window
        // that passed while no replica led it is skipped (the cluster simply stays awake).
        let runs_before = hibernation_runs_of(&user, &cluster.id).await.len();
        let until = chrono::Utc::now().timestamp_millis() + SLEEP_MILLIS;
        retry("CreateOverride", || {
            let mut client = HibernationServiceClient::new(user.channel.clone());
            let request = authed(
                policy::CreateOverrideRequest {
                    cluster_id: cluster.id.clone(),
                    kind: policy::OverrideKind::SleepUntil.into(),
                    wake_hours: 0,
                    sleep_until: Some(spot_proto::time::timestamp(until)),
                },
                &user.token,
            );
            async move { client.create_override(request).await.map(|_| ()) }
        })
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        let slept = loop {
            let runs = hibernation_runs_of(&user, &cluster.id).await;
            let new: Vec<_> = runs
                .iter()
                .take(runs.len().saturating_sub(runs_before))
                .collect();
            let running = new
                .iter()
                .any(|r| r.status() == policy::HibernationRunStatus::Running);
            let window_over = chrono::Utc::now().timestamp_millis() > until + 5_000;
            let awake = new.first().is_none_or(|newest| newest.kind == "wake")
                && cluster.source.pending_pods().is_empty();
            if window_over && !running && awake {
                break !new.is_empty();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: slept and woke within 180 s: {new:#?}",
                cluster.name
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        if !slept {
            continue;
        }
        driven.sleeps += 1;
        cycles.fetch_add(1, Ordering::SeqCst);
    }
    driven
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs alone, on an idle machine: make fault-tests"]
async fn runs_survive_replicas_killed_at_random_and_the_database_and_bus_cut_off() {
    let seed: u64 = std::env::var("SPOT_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let moto = MotoServer::start();
    for name in CLUSTERS {
        moto.seed_eks_cluster(name, &ZONES, "m5.large", 2, AL2023_IMAGE_NAME)
            .await;
    }
    let account = moto.peer();
    let postgres = spot_db::testing::PostgresScratch::create().await;
    let postgres_addr = postgres_addr(&postgres.url);
    let database = TcpProxy::start(vec![postgres_addr]).await;
    let redis = redis_url();
    let bus = TcpProxy::start(vec![redis_addr(&redis)]).await;
    let logs = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("SPOT_DATABASE_URL", database.url_through(&postgres.url)),
        ("SPOT_REDIS_URL", bus.url_through(&redis)),
        ("SPOT_DATABASE_MAX_CONNECTIONS", "5".into()),
        (
            "SPOT_BUS_NAMESPACE",
            format!("faults-{}", uuid::Uuid::new_v4().simple()),
        ),
        (
            "SPOT_INTERNAL_SECRET",
            "a-test-secret-of-at-least-32-characters".into(),
        ),
        ("SPOT_MASTER_KEY", spot_testkit::TEST_MASTER_KEY.into()),
        ("SPOT_LIMIT_LEASE_SECONDS", LEASE_SECONDS.into()),
        ("SPOT_CLOUD", "aws".into()),
        ("SPOT_AWS_ENDPOINT_URL", moto.url.clone()),
        (
            "SPOT_AWS_PRINCIPAL",
            "arn:aws:iam::111122223333:role/spot-control-plane".into(),
        ),
        ("SPOT_ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("SPOT_ADMIN_EMAIL", "admin@example.com".into()),
        ("SPOT_ADMIN_PASSWORD", strong_password()),
        ("SPOT_LOG", "warn,spot::mail=info".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut replicas = [
        Replica::new(env.clone(), logs.path(), 0),
        Replica::new(env, logs.path(), 1),
    ];
    // One replica migrates while the other waits for it.
    for replica in &mut replicas {
        replica.start();
    }
    for replica in &mut replicas {
        replica.wait_up().await;
    }
    let log_files: Vec<PathBuf> = replicas.iter().map(|r| r.log.clone()).collect();
    let api = TcpProxy::start(replicas.iter().map(Replica::addr).collect()).await;
    let user = sign_up(&channel_to(api.addr).await, &log_files).await;
    let stop_agents = CancellationToken::new();
    let clusters = adopt_all(&user, &account, api.addr, &stop_agents).await;

    let stop_drivers = CancellationToken::new();
    let cycles: Vec<Arc<AtomicUsize>> = clusters.iter().map(|_| Arc::default()).collect();
    let drivers: Vec<_> = clusters
        .iter()
        .enumerate()
        .map(|(n, cluster)| {
            tokio::spawn(drive(
                user.clone(),
                cluster.clone(),
                seed * 10 + n as u64,
                cycles[n].clone(),
                stop_drivers.clone(),
            ))
        })
        .collect();

    // The chaos: a replica SIGKILLed at a random moment, started again after a random pause;
    // the database and the bus each cut off once, for a few seconds. It goes on past KILLS
    // until every cluster went through a whole round (a plan, an interruption, a sleep and a
    // wake) under it.
    let mut rng = StdRng::seed_from_u64(seed);
    let started = tokio::time::Instant::now();
    let mut kills = 0;
    while kills < KILLS || cycles.iter().any(|c| c.load(Ordering::SeqCst) == 0) {
        kills += 1;
        let kill = kills;
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the clusters' rounds did not finish within 300 s of chaos ({kills} kills)"
        );
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..2_500))).await;
        let victim = rng.random_range(0..replicas.len());
        replicas[victim].kill();
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..1_000))).await;
        replicas[victim].start();
        replicas[victim].wait_up().await;
        if kill == KILLS / 3 {
            database.cut(Duration::from_secs(3));
        }
        if kill == 2 * KILLS / 3 {
            bus.cut(Duration::from_secs(3));
        }
    }
    let chaos_seconds = started.elapsed().as_secs();
    stop_drivers.cancel();
    let mut driven = Vec::new();
    for driver in drivers {
        driven.push(driver.await.expect("a driver panicked"));
    }

    // Every cluster converges: no plan or hibernation run left running, awake, every pod running.
    for cluster in &clusters {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let plans = plans_of(&user, &cluster.id).await;
            let runs = hibernation_runs_of(&user, &cluster.id).await;
            let settled = plans
                .iter()
                .all(|p| p.state() != optimizer::PlanState::Applying)
                && runs
                    .iter()
                    .all(|r| r.status() != policy::HibernationRunStatus::Running)
                && runs.first().is_none_or(|r| r.kind == "wake")
                && cluster.source.pending_pods().is_empty();
            if settled {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not converge: pending {:?}, plans {:#?}, runs {:#?}",
                cluster.name,
                cluster.source.pending_pods(),
                plans.iter().filter(|p| !plan_final(p)).collect::<Vec<_>>(),
                runs.iter().take(2).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let mut figures: BTreeMap<&str, usize> = BTreeMap::new();
    for cluster in &clusters {
        let plans = plans_of(&user, &cluster.id).await;
        let runs = hibernation_runs_of(&user, &cluster.id).await;
        // The steps each launch token belongs to, and what they recorded launching.
        let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for plan in &plans {
            for (index, step) in plan.steps.iter().enumerate() {
                if step.kind() == optimizer::StepKind::Launch {
                    recorded.insert(
                        format!("{}-{index}", plan.id),
                        step.instance_ids.iter().cloned().collect(),
                    );
                }
            }
            *figures
                .entry(match plan.state() {
                    optimizer::PlanState::Succeeded => "plans succeeded",
                    optimizer::PlanState::Failed => "plans failed",
                    optimizer::PlanState::Refused => "plans refused",
                    _ => "plans recommended",
                })
                .or_default() += 1;
        }
        for run in &runs {
            for (index, step) in run.steps.iter().enumerate() {
                if step.kind == "launch" {
                    recorded.insert(
                        format!("{}-{index}", run.id),
                        step.instance_ids.iter().cloned().collect(),
                    );
                }
            }
            *figures.entry("hibernation runs").or_default() += 1;
        }
        // No launch step launched twice: its token tags exactly what it recorded.
        let mut by_token: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for instance in account.instances_tagged(CLUSTER_ID_TAG, &cluster.id).await {
            let token = instance
                .tags
                .get(LAUNCH_TOKEN_TAG)
                .cloned()
                .expect("every launched instance carries its step's token");
            by_token.entry(token).or_default().insert(instance.id);
        }
        for (token, instances) in &by_token {
            assert_eq!(
                Some(instances),
                recorded.get(token),
                "{}: launch step {token} launched more than it recorded",
                cluster.name
            );
            *figures.entry("launch steps").or_default() += 1;
            *figures.entry("instances launched").or_default() += instances.len();
        }
        // No agent action ran twice.
        let ran = cluster.kubernetes.ran.0.lock().unwrap();
        let ids: BTreeSet<&str> = ran.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            ran.len(),
            "{}: an action ran twice",
            cluster.name
        );
        *figures.entry("agent actions").or_default() += ran.len();
        // No node terminated under its pods.
        assert_eq!(
            *cluster.undrained.lock().unwrap(),
            Vec::<String>::new(),
            "{}: nodes terminated before their drain ended",
            cluster.name
        );
    }
    eprintln!(
        "faults (seed {seed}): {kills} kills in {chaos_seconds} s, the database and the bus cut off once each; {driven:?}; {figures:?}"
    );
    stop_agents.cancel();
}

fn postgres_addr(url: &str) -> std::net::SocketAddr {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://")
        .split('/')
        .next()
        .unwrap();
    resolve(host_port, 5432)
}

fn redis_addr(url: &str) -> std::net::SocketAddr {
    let host_port = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap();
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, hp)| hp);
    resolve(host_port, 6379)
}

fn resolve(host_port: &str, default_port: u16) -> std::net::SocketAddr {
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    use std::net::ToSocketAddrs;
    with_port
        .replace("localhost", "127.0.0.1")
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
}
