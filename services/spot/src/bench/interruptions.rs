//! `spot bench interruptions`: a few hundred spot interruption notices at once, one per cluster,
//! each sent on its cluster's agent stream as the agent's IMDS watcher sends it, against a
//! `spot serve` child (the embedded default, or PostgreSQL and Redis when given). Each notice is
//! timed to the launch of its replacement (the cluster event that reports it) and to the drain of
//! the noticed node arriving on the agent's stream. Replacements join Ready the moment they are
//! launched, so the figures are the control plane's own, not EC2's boot time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_proto::agent::v1::{
    ActionKind, Delta, Heartbeat, InterruptionKind, InterruptionNotice, Snapshot, session_request,
    session_response,
};
use spot_proto::auth::v1::LoginRequest;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Pool, Resources};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::agents::{
    authed, connect, open_session, register_clusters, report_done, request, start_child,
};

pub struct Settings {
    pub notices: usize,
    /// `postgres://...` for the child's database; None for its embedded SQLite.
    pub database_url: Option<String>,
    /// `redis://...` for the child's bus; None for the in-process bus.
    pub redis_url: Option<String>,
}

/// Agents say they are alive this often (the server ends a silent session after 35 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How long the bench waits for every drain after the notices.
const WAIT_FOR_DRAINS: Duration = Duration::from_secs(60);
/// Clusters per HTTP/2 connection: each holds two streams (its agent's session and its owner's
/// watch), and a connection carries a bounded number of streams at once.
const CLUSTERS_PER_CONNECTION: usize = 50;
/// Where the noticed nodes run: the simulated cloud runs short of a pool now and then (as EC2
/// does), so a launch tries the next.
const POOLS: [(&str, &str); 6] = [
    ("us-east-1a", "m5.xlarge"),
    ("us-east-1b", "m5.xlarge"),
    ("us-east-1c", "m5.xlarge"),
    ("us-east-1a", "m5a.xlarge"),
    ("us-east-1b", "m5a.xlarge"),
    ("us-east-1c", "m5a.xlarge"),
];
const NOTICED_NODE: &str = "spot-0";

/// When each step of one cluster's answer to its notice was seen.
#[derive(Default, Clone, Copy)]
struct Seen {
    notice: Option<Instant>,
    launch: Option<Instant>,
    drain: Option<Instant>,
}

type Timeline = Arc<Mutex<Vec<Seen>>>;

fn record(timeline: &Timeline, index: usize, step: impl FnOnce(&mut Seen)) {
    let mut seen = timeline
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    step(&mut seen[index]);
}

/// What the bench asks an agent stream to send.
enum Send {
    /// The launched instances joined the cluster, Ready.
    Join(Vec<String>),
    /// AWS's two-minute warning for the noticed node.
    Notice,
}

pub async fn run(settings: Settings) -> Result<serde_json::Value, String> {
    let notices = settings.notices.max(1);
    let secret = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let mut env = vec![
        ("SPOT_LIMIT_CLUSTERS_PER_TENANT", notices.to_string()),
        // One WatchCluster stream per cluster, as each cluster's owner would watch it.
        (
            "SPOT_LIMIT_CONCURRENT_STREAMS_PER_TENANT",
            notices.to_string(),
        ),
        ("SPOT_INTERNAL_SECRET", secret.clone()),
    ];
    if let Some(url) = &settings.database_url {
        env.push(("SPOT_DATABASE_URL", url.clone()));
        // PostgreSQL wants the key every replica seals secrets with; a fresh one will do.
        let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|id| id.into_bytes())
            .collect();
        env.push((
            "SPOT_MASTER_KEY",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key),
        ));
    }
    if let Some(url) = &settings.redis_url {
        env.push(("SPOT_REDIS_URL", url.clone()));
        // Keys of its own: an earlier run's leases and counters must not hold this one back.
        env.push((
            "SPOT_BUS_NAMESPACE",
            format!("bench-{}", uuid::Uuid::new_v4().simple()),
        ));
    }
    let child = start_child(&env).await?;
    let channel = connect(&child.url).await?;
    let token = AuthServiceClient::new(channel.clone())
        .login(LoginRequest {
            email: child.admin_email.clone(),
            password: child.admin_password.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| format!("login: {}", s.message()))?
        .into_inner()
        .tokens
        .ok_or("login gave no tokens")?
        .access_token;
    // Only the interruption responses move nodes.
    consolidation_off(&channel, &token).await?;
    let clusters = register_clusters(&channel, &token, notices).await?;
    let instances = launch_noticed_nodes(&channel, &secret, &clusters).await?;

    let timeline: Timeline = Arc::new(Mutex::new(vec![Seen::default(); clusters.len()]));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut senders = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..clusters.len().div_ceil(CLUSTERS_PER_CONNECTION) {
        connections.push(connect(&child.url).await?);
    }
    for (index, ((cluster_id, key), instance)) in clusters.iter().zip(&instances).enumerate() {
        let channel = &connections[index / CLUSTERS_PER_CONNECTION];
        let (send, sends) = mpsc::channel(4);
        senders.push(send.clone());
        tokio::spawn(agent_stream(
            channel.clone(),
            key.clone(),
            instance.clone(),
            sends,
            Recorder {
                index,
                timeline: timeline.clone(),
                errors: errors.clone(),
            },
            stop.clone(),
        ));
        tokio::spawn(join_launches(
            channel.clone(),
            token.clone(),
            cluster_id.clone(),
            send,
            Recorder {
                index,
                timeline: timeline.clone(),
                errors: errors.clone(),
            },
            stop.clone(),
        ));
    }
    wait_for_nodes(&channel, &token, &clusters).await?;

    let started = Instant::now();
    for send in &senders {
        let _ = send.send(Send::Notice).await;
    }
    while started.elapsed() < WAIT_FOR_DRAINS {
        let drained = timeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|s| s.drain.is_some())
            .count();
        if drained == clusters.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    // Where the first few answers that did not drain in time stand.
    let undrained: Vec<String> = {
        let seen = timeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clusters
            .iter()
            .zip(seen.iter())
            .filter(|(_, s)| s.drain.is_none())
            .map(|((cluster_id, _), _)| cluster_id.clone())
            .take(3)
            .collect()
    };
    for cluster_id in undrained {
        let stand = where_the_answer_stands(&channel, &token, &cluster_id).await;
        errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!("not drained in time: {stand}"));
    }
    let seen = timeline
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let since_notice = |at: fn(&Seen) -> Option<Instant>| -> Vec<f64> {
        let mut ms: Vec<f64> = seen
            .iter()
            .filter_map(|s| Some(at(s)?.duration_since(s.notice?).as_secs_f64() * 1_000.0))
            .collect();
        ms.sort_by(f64::total_cmp);
        ms
    };
    let drains = since_notice(|s| s.drain);
    let launches = since_notice(|s| s.launch);
    let undrained = clusters.len() - drains.len();
    let mut samples = errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let error_count = samples.len() + undrained;
    samples.truncate(5);
    drop(child);
    Ok(serde_json::json!({
        "bench": "interruptions",
        "backend": if settings.database_url.is_some() || settings.redis_url.is_some() {
            "postgres+redis"
        } else {
            "embedded"
        },
        "notices": seen.iter().filter(|s| s.notice.is_some()).count(),
        "replacements_launched": launches.len(),
        "drained": drains.len(),
        // From the notice sent on the agent's stream to the drain of its node arriving there.
        "p50_ms": percentile(&drains, 0.50),
        "p99_ms": percentile(&drains, 0.99),
        "max_ms": drains.last().copied(),
        // From the notice to the cluster event reporting the replacement's launch.
        "launch_p50_ms": percentile(&launches, 0.50),
        "launch_p99_ms": percentile(&launches, 0.99),
        "errors": error_count,
        "error_samples": samples,
    }))
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some((sorted[index] * 10.0).round() / 10.0)
}

/// One cluster's place in the timeline, and where its errors go.
struct Recorder {
    index: usize,
    timeline: Timeline,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn saw(&self, step: impl FnOnce(&mut Seen)) {
        record(&self.timeline, self.index, step);
    }

    fn seen(&self) -> Seen {
        self.timeline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)[self.index]
    }

    fn error(&self, message: String) {
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message);
    }
}

async fn consolidation_off(channel: &Channel, token: &str) -> Result<(), String> {
    let mut policies = PolicyServiceClient::new(channel.clone());
    let mut default = policies
        .get_policy(authed(policy::GetPolicyRequest::default(), token)?)
        .await
        .map_err(|s| format!("get policy: {}", s.message()))?
        .into_inner()
        .policy
        .ok_or("no default policy")?;
    default.consolidation = policy::ConsolidationMode::Off.into();
    policies
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(default),
            },
            token,
        )?)
        .await
        .map_err(|s| format!("update policy: {}", s.message()))?;
    Ok(())
}

/// One spot node per cluster in the simulated cloud (as the optimizer launches them): each
/// one's instance id and pool, in the clusters' order.
async fn launch_noticed_nodes(
    channel: &Channel,
    secret: &str,
    clusters: &[(String, String)],
) -> Result<Vec<(String, Pool)>, String> {
    let credential = InternalCredential::new(secret.as_bytes(), "optimizer")
        .map_err(|e| format!("internal credential: {e}"))?;
    let router = ExecutionServiceClient::with_interceptor(
        channel.clone(),
        OutgoingInterceptor::new(credential),
    );
    let launched: Vec<Result<(String, Pool), String>> = futures::stream::iter(clusters)
        .map(|(cluster_id, _)| {
            let mut router = router.clone();
            async move {
                let mut last = String::new();
                for (zone, instance_type) in POOLS {
                    let pool = Pool {
                        region: "us-east-1".to_owned(),
                        zone: zone.to_owned(),
                        instance_type: instance_type.to_owned(),
                    };
                    let launched = router
                        .execute_step(cluster::ExecuteStepRequest {
                            cluster_id: cluster_id.clone(),
                            plan_id: String::new(),
                            step: Some(cluster::execute_step_request::Step::Launch(
                                cluster::LaunchCapacity {
                                    pools: vec![pool.clone()],
                                    capacity_type: CapacityType::Spot.into(),
                                    count: 1,
                                    ..Default::default()
                                },
                            )),
                        })
                        .await;
                    match launched.map(|r| r.into_inner().instance_ids.pop()) {
                        Ok(Some(id)) => return Ok((id, pool)),
                        Ok(None) => last = "a launch gave no instance".to_owned(),
                        Err(status) => last = format!("launch: {}", status.message()),
                    }
                }
                Err(last)
            }
        })
        .buffered(16)
        .collect()
        .await;
    launched.into_iter().collect()
}

fn spot_node(name: &str, instance_id: &str, pool: &Pool) -> Node {
    Node {
        name: name.to_owned(),
        provider_id: format!("aws:///{}/{instance_id}", pool.zone),
        instance_id: instance_id.to_owned(),
        instance_type: pool.instance_type.clone(),
        zone: pool.zone.clone(),
        capacity_type: CapacityType::Spot.into(),
        allocatable: Some(Resources {
            cpu_millis: 3_920,
            memory_mib: 14_000,
            pods: 58,
            ..Default::default()
        }),
        ready: true,
        created_at: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis() - 86_400_000,
        )),
        ..Default::default()
    }
}

fn snapshot(instance_id: &str, pool: &Pool) -> Snapshot {
    Snapshot {
        nodes: vec![spot_node(NOTICED_NODE, instance_id, pool)],
        pods: (0..3)
            .map(|i| Pod {
                namespace: "shop".to_owned(),
                name: format!("web-{i}"),
                uid: format!("web-{i}"),
                node_name: NOTICED_NODE.to_owned(),
                owner_kind: "ReplicaSet".to_owned(),
                phase: PodPhase::Running.into(),
                requests: Some(Resources {
                    cpu_millis: 500,
                    memory_mib: 1_024,
                    pods: 1,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        pdbs: vec![],
    }
}

/// The cluster's agent: reports its one spot node, answers every action as done, sends the
/// notice and the joined replacements when told, and records when the drain arrives.
async fn agent_stream(
    channel: Channel,
    key: String,
    (instance_id, pool): (String, Pool),
    mut sends: mpsc::Receiver<Send>,
    recorder: Recorder,
    stop: tokio_util::sync::CancellationToken,
) {
    let (outbound, mut inbound) = match open_session(channel, &key).await {
        Ok(session) => session,
        Err(message) => return recorder.error(message),
    };
    let _ = outbound
        .send(request(session_request::Message::Snapshot(snapshot(
            &instance_id,
            &pool,
        ))))
        .await;
    let mut joined = 0;
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = heartbeat.tick() => {
                let _ = outbound.send(request(session_request::Message::Heartbeat(Heartbeat { at: None }))).await;
            }
            send = sends.recv() => match send {
                Some(Send::Notice) => {
                    recorder.saw(|s| s.notice = Some(Instant::now()));
                    let notice = InterruptionNotice {
                        event_id: format!("{instance_id}:spot-interruption:1"),
                        kind: InterruptionKind::SpotInterruption.into(),
                        instance_id: instance_id.clone(),
                        node_name: NOTICED_NODE.to_owned(),
                        pool: Some(pool.clone()),
                        action_at: Some(spot_proto::time::timestamp(
                            chrono::Utc::now().timestamp_millis() + 120_000,
                        )),
                    };
                    let _ = outbound.send(request(session_request::Message::Interruption(notice))).await;
                }
                Some(Send::Join(ids)) => {
                    let upserted_nodes = ids
                        .iter()
                        .map(|id| {
                            joined += 1;
                            // Where it runs does not matter to the bench, only that it joins.
                            spot_node(&format!("replacement-{joined}"), id, &pool)
                        })
                        .collect();
                    let delta = Delta { upserted_nodes, ..Default::default() };
                    let _ = outbound.send(request(session_request::Message::Delta(delta))).await;
                }
                None => return,
            },
            message = inbound.message() => match message {
                Ok(Some(response)) => {
                    let action = match response.message {
                        Some(session_response::Message::Action(action)) => action,
                        Some(session_response::Message::Notice(notice)) => {
                            recorder.error(format!("refused: {} {}", notice.code, notice.message));
                            continue;
                        }
                        _ => continue,
                    };
                    if action.kind() == ActionKind::Drain && action.node_name == NOTICED_NODE {
                        recorder.saw(|s| {
                            s.drain.get_or_insert(Instant::now());
                        });
                    }
                    report_done(&outbound, action.id).await;
                }
                Ok(None) | Err(_) if stop.is_cancelled() => return,
                Ok(None) => return recorder.error("the server closed a stream".to_owned()),
                Err(status) => return recorder.error(format!("stream: {}", status.message())),
            },
        }
    }
}

/// Watches the cluster's events as its owner would; each launch reported is timed (the first
/// one) and its instances join the cluster at once.
async fn join_launches(
    channel: Channel,
    token: String,
    cluster_id: String,
    agent: mpsc::Sender<Send>,
    recorder: Recorder,
    stop: tokio_util::sync::CancellationToken,
) {
    let watch = match authed(
        cluster::WatchClusterRequest {
            cluster_id: cluster_id.clone(),
        },
        &token,
    ) {
        Ok(request) => request,
        Err(message) => return recorder.error(message),
    };
    let mut events = match ClusterServiceClient::new(channel)
        .watch_cluster(watch)
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return recorder.error(format!("watch: {}", status.message())),
    };
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            event = events.next() => event,
        };
        let Some(Ok(response)) = event else {
            if !stop.is_cancelled() {
                recorder.error(format!("the watch of {cluster_id} ended"));
            }
            return;
        };
        let message = response.event.map(|e| e.message).unwrap_or_default();
        let noticed = recorder.seen().notice.is_some();
        if let Some(ids) = launched_ids(&message).filter(|_| noticed) {
            recorder.saw(|s| {
                s.launch.get_or_insert(Instant::now());
            });
            let _ = agent.send(Send::Join(ids)).await;
        }
    }
}

/// The instance ids of a cluster event reporting a launch ("launched 2 of 2 instances: i-1, i-2").
fn launched_ids(message: &str) -> Option<Vec<String>> {
    let (_, ids) = message.strip_prefix("launched ")?.split_once(": ")?;
    Some(ids.split(", ").map(str::to_owned).collect())
}

/// Waits until every cluster lists its node (its agent's snapshot is stored).
async fn wait_for_nodes(
    channel: &Channel,
    token: &str,
    clusters: &[(String, String)],
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let listed: Vec<Result<(), String>> = futures::stream::iter(clusters)
        .map(|(cluster_id, _)| {
            let mut client = ClusterServiceClient::new(channel.clone());
            async move {
                loop {
                    let listed = client
                        .list_nodes(authed(
                            cluster::ListNodesRequest {
                                cluster_id: cluster_id.clone(),
                                page: None,
                            },
                            token,
                        )?)
                        .await
                        .map(|r| !r.into_inner().nodes.is_empty())
                        .unwrap_or(false);
                    if listed {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err("the agents' snapshots were not stored within 120 s".to_owned());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    listed.into_iter().collect()
}

/// The cluster's interruption response as its owner sees it: its state and steps.
async fn where_the_answer_stands(channel: &Channel, token: &str, cluster_id: &str) -> String {
    let Ok(request) = authed(
        pb::ListPlansRequest {
            cluster_id: cluster_id.to_owned(),
            page: None,
        },
        token,
    ) else {
        return "unknown".to_owned();
    };
    match OptimizerServiceClient::new(channel.clone())
        .list_plans(request)
        .await
    {
        Ok(plans) => plans
            .into_inner()
            .plans
            .iter()
            .map(|plan| {
                let steps: Vec<String> = plan
                    .steps
                    .iter()
                    .map(|s| format!("{}={}", s.kind().as_str_name(), s.status().as_str_name()))
                    .collect();
                format!(
                    "{} {}: {}",
                    plan.strategy,
                    plan.state().as_str_name(),
                    steps.join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(status) => format!("plans unknown: {}", status.message()),
    }
}
