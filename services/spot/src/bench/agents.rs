//! `spot bench agents`: N agent streams against one server. Each stream says hello, sends a
//! snapshot, then heartbeats; meanwhile actions are submitted at a fixed rate to random clusters
//! and timed from the submit call to their arrival on the agent's stream. The server's resident
//! memory is read before and after the streams open (Linux /proc), so the figure per stream is
//! the server's, not this client's.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use spot_proto::agent::v1::agent_service_client::AgentServiceClient;
use spot_proto::agent::v1::{
    ActionAck, ActionOutcome, ActionResult, Heartbeat, Hello, SessionRequest, Snapshot,
    session_request, session_response,
};
use spot_proto::auth::v1::LoginRequest;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::{RegisterClusterRequest, SubmitActionRequest};
use spot_proto::common::v1::{Node, Pod, Resources};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

pub struct Settings {
    pub streams: usize,
    pub seconds: u64,
    pub target: Option<String>,
    pub pid: Option<u32>,
    pub streams_per_connection: usize,
    pub actions_per_second: u32,
    pub connect_rate: u32,
}

const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Counters {
    heartbeats: AtomicU64,
    errors: AtomicU64,
    open: AtomicU64,
    /// The first few distinct error messages, to say what went wrong.
    samples: Mutex<Vec<String>>,
}

impl Counters {
    fn error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if samples.len() < 5 && !samples.contains(&message) {
            samples.push(message);
        }
    }
}

/// When each submitted action was sent, by id; the agent side records the delivery time.
type Timings = Arc<Mutex<HashMap<String, Instant>>>;

pub(super) fn authed<T>(message: T, token: &str) -> Result<tonic::Request<T>, String> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| "a token is not a valid header".to_owned())?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A `spot serve` child with its own embedded database, killed when dropped.
pub(super) struct ChildServer {
    pub child: tokio::process::Child,
    pub url: String,
    /// The child's platform admin, who owns its "Platform" tenant.
    pub admin_email: String,
    pub admin_password: String,
    _data_dir: std::path::PathBuf,
}

/// Starts `spot serve` on a free port with `env` added; returns once it accepts connections.
pub(super) async fn start_child(env: &[(&str, String)]) -> Result<ChildServer, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let data_dir =
        std::env::temp_dir().join(format!("spot-bench-{}", uuid::Uuid::new_v4().simple()));
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let admin_email = "bench-admin@spot.local".to_owned();
    let admin_password = format!("Bench-{}-pass!", uuid::Uuid::new_v4().simple());
    let child = tokio::process::Command::new(exe)
        .arg("serve")
        .env("SPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("SPOT_DATA_DIR", &data_dir)
        .env("SPOT_LOG", "error")
        .env("SPOT_ADMIN_EMAIL", &admin_email)
        .env("SPOT_ADMIN_PASSWORD", &admin_password)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("BENCH_CHILD_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `spot serve`: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Endpoint::from_shared(url.clone())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return Err("`spot serve` did not start within 60 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(ChildServer {
        child,
        url,
        admin_email,
        admin_password,
        _data_dir: data_dir,
    })
}

pub(super) async fn connect(url: &str) -> Result<Channel, String> {
    Endpoint::from_shared(url.to_owned())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

pub async fn run(settings: Settings) -> Result<serde_json::Value, String> {
    let child = match &settings.target {
        Some(_) => None,
        // One cluster per stream, all in one tenant.
        None => Some(
            start_child(&[(
                "SPOT_LIMIT_CLUSTERS_PER_TENANT",
                settings.streams.max(1).to_string(),
            )])
            .await?,
        ),
    };
    let url = match (&settings.target, &child) {
        (Some(url), _) => url.clone(),
        (None, Some(child)) => child.url.clone(),
        (None, None) => return Err("no server".to_owned()),
    };
    let pid = settings
        .pid
        .or_else(|| child.as_ref().and_then(|c| c.child.id()));
    let channel = connect(&url).await?;

    // Sign-up needs a verified email, which a remote server mails: log in instead, as the
    // child's platform admin or as the account given for the target.
    let (email, password) = match &child {
        Some(child) => (child.admin_email.clone(), child.admin_password.clone()),
        None => (
            std::env::var("SPOT_BENCH_EMAIL")
                .map_err(|_| "with --target, set SPOT_BENCH_EMAIL and SPOT_BENCH_PASSWORD")?,
            std::env::var("SPOT_BENCH_PASSWORD")
                .map_err(|_| "with --target, set SPOT_BENCH_EMAIL and SPOT_BENCH_PASSWORD")?,
        ),
    };
    let tokens = AuthServiceClient::new(channel.clone())
        .login(LoginRequest {
            email,
            password,
            ..Default::default()
        })
        .await
        .map_err(|s| format!("login: {}", s.message()))?
        .into_inner()
        .tokens
        .ok_or("login gave no tokens")?;
    let token = tokens.access_token;

    // One cluster (and agent key) per stream.
    let clusters = register_clusters(&channel, &token, settings.streams).await?;
    let rss_before = pid.and_then(rss_bytes);

    let counters = Arc::new(Counters::default());
    let timings: Timings = Arc::default();
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut connections = Vec::new();
    for _ in 0..settings.streams.div_ceil(settings.streams_per_connection) {
        connections.push(connect(&url).await?);
    }
    for (index, (_, key)) in clusters.iter().enumerate() {
        let channel = connections[index / settings.streams_per_connection].clone();
        tokio::spawn(agent_stream(
            channel,
            key.clone(),
            counters.clone(),
            timings.clone(),
            latencies.clone(),
            stop.clone(),
        ));
        if index % 50 == 49 {
            tokio::time::sleep(Duration::from_secs_f64(
                50.0 / f64::from(settings.connect_rate),
            ))
            .await;
        }
    }
    let opening = Instant::now();
    while (counters.open.load(Ordering::Relaxed) as usize)
        + (counters.errors.load(Ordering::Relaxed) as usize)
        < settings.streams
        && opening.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the snapshots land (the last streams' nodes are stored), then measure the server with
    // every stream open and idle.
    let settle_ms = settle(&channel, &token, &clusters).await?;
    let rss_after = pid.and_then(rss_bytes);
    let heartbeats_at_start = counters.heartbeats.load(Ordering::Relaxed);
    let started = Instant::now();

    let mut clusters_client = ClusterServiceClient::new(channel.clone());
    let interval = Duration::from_secs_f64(1.0 / f64::from(settings.actions_per_second.max(1)));
    let mut ticker = tokio::time::interval(interval);
    let mut sent = 0_u64;
    while started.elapsed() < Duration::from_secs(settings.seconds) {
        ticker.tick().await;
        let (cluster_id, _) = &clusters[rand::random_range(0..clusters.len())];
        let submitted_at = Instant::now();
        match clusters_client
            .submit_action(authed(
                SubmitActionRequest {
                    cluster_id: cluster_id.clone(),
                    kind: spot_proto::agent::v1::ActionKind::Cordon.into(),
                    node_name: "bench-node".to_owned(),
                    ..Default::default()
                },
                &token,
            )?)
            .await
        {
            Ok(response) => {
                if let Some(action) = response.into_inner().action.and_then(|a| a.action) {
                    timings
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(action.id, submitted_at);
                    sent += 1;
                }
            }
            Err(status) => {
                counters.error(format!("submit: {:?}: {}", status.code(), status.message()))
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heartbeats = counters.heartbeats.load(Ordering::Relaxed) - heartbeats_at_start;
    stop.cancel();

    let mut latencies = latencies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| -> Option<f64> {
        if latencies.is_empty() {
            return None;
        }
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        Some((latencies[index] * 100.0).round() / 100.0)
    };
    let lost = sent.saturating_sub(latencies.len() as u64);
    let rss_per_stream = match (rss_before, rss_after) {
        (Some(before), Some(after)) => {
            Some(after.saturating_sub(before) / settings.streams.max(1) as u64)
        }
        _ => None,
    };
    drop(child);
    Ok(serde_json::json!({
        "streams": counters.open.load(Ordering::Relaxed),
        "rss_bytes_per_stream": rss_per_stream,
        "server_rss_bytes_before": rss_before,
        "server_rss_bytes_after": rss_after,
        "heartbeats_per_sec": (heartbeats as f64 / elapsed).round(),
        "settle_ms": settle_ms,
        "actions_sent": sent,
        "actions_delivered": latencies.len(),
        "action_p50_ms": percentile(0.50),
        "action_p99_ms": percentile(0.99),
        "errors": counters.errors.load(Ordering::Relaxed) + lost,
        "error_samples": counters.samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
    }))
}

/// Waits until the last clusters' snapshots are stored; how long it took after the streams opened.
async fn settle(
    channel: &Channel,
    token: &str,
    clusters: &[(String, String)],
) -> Result<u64, String> {
    let started = Instant::now();
    let mut client = ClusterServiceClient::new(channel.clone());
    for (cluster_id, _) in clusters.iter().rev().take(20) {
        loop {
            let nodes = client
                .list_nodes(authed(
                    spot_proto::cluster::v1::ListNodesRequest {
                        cluster_id: cluster_id.clone(),
                        page: None,
                    },
                    token,
                )?)
                .await
                .map(|r| r.into_inner().nodes.len())
                .unwrap_or(0);
            if nodes > 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                return Err("snapshots were not stored within 300 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(started.elapsed().as_millis() as u64)
}

pub(super) async fn register_clusters(
    channel: &Channel,
    token: &str,
    count: usize,
) -> Result<Vec<(String, String)>, String> {
    let names: Vec<usize> = (0..count).collect();
    let results: Vec<Result<(String, String), String>> = futures::stream::iter(names)
        .map(|i| {
            let mut client = ClusterServiceClient::new(channel.clone());
            let token = token.to_owned();
            async move {
                let response = client
                    .register_cluster(authed(
                        RegisterClusterRequest {
                            name: format!("bench-{i}"),
                            region: "us-east-1".to_owned(),
                            aws_account_id: String::new(),
                        },
                        &token,
                    )?)
                    .await
                    .map_err(|s| format!("register cluster {i}: {}", s.message()))?
                    .into_inner();
                let cluster = response.cluster.ok_or("no cluster")?;
                Ok((cluster.id, response.agent_key))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

pub(super) fn request(message: session_request::Message) -> SessionRequest {
    SessionRequest {
        message: Some(message),
    }
}

/// An agent session as the agent opens it (hello first); the sender and the server's stream.
pub(super) async fn open_session(
    channel: Channel,
    key: &str,
) -> Result<
    (
        mpsc::Sender<SessionRequest>,
        tonic::Streaming<spot_proto::agent::v1::SessionResponse>,
    ),
    String,
> {
    let (outbound, receiver) = mpsc::channel(16);
    let _ = outbound
        .send(request(session_request::Message::Hello(Hello {
            agent_version: "bench".to_owned(),
            kubernetes_version: "v1.32.0".to_owned(),
            resume_after_action_id: String::new(),
        })))
        .await;
    let call = authed(ReceiverStream::new(receiver), key)?;
    let inbound = AgentServiceClient::new(channel)
        .session(call)
        .await
        .map_err(|status| format!("open: {:?}: {}", status.code(), status.message()))?
        .into_inner();
    Ok((outbound, inbound))
}

/// Acknowledges the action and reports it done, as an agent that carried it out does.
pub(super) async fn report_done(outbound: &mpsc::Sender<SessionRequest>, action_id: String) {
    let _ = outbound
        .send(request(session_request::Message::Ack(ActionAck {
            action_id: action_id.clone(),
        })))
        .await;
    let _ = outbound
        .send(request(session_request::Message::Result(ActionResult {
            action_id,
            outcome: ActionOutcome::Succeeded.into(),
            message: String::new(),
        })))
        .await;
}

fn small_snapshot() -> Snapshot {
    Snapshot {
        nodes: vec![Node {
            name: "bench-node".to_owned(),
            instance_type: "m5.large".to_owned(),
            zone: "us-east-1a".to_owned(),
            allocatable: Some(Resources {
                cpu_millis: 1_900,
                memory_mib: 7_000,
                pods: 29,
                ..Default::default()
            }),
            ready: true,
            ..Default::default()
        }],
        pods: (0..2)
            .map(|i| Pod {
                namespace: "default".to_owned(),
                name: format!("web-{i}"),
                node_name: "bench-node".to_owned(),
                requests: Some(Resources {
                    cpu_millis: 250,
                    memory_mib: 256,
                    pods: 1,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        pdbs: vec![],
    }
}

async fn agent_stream(
    channel: Channel,
    key: String,
    counters: Arc<Counters>,
    timings: Timings,
    latencies: Arc<Mutex<Vec<f64>>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let (outbound, mut inbound) = match open_session(channel, &key).await {
        Ok(session) => session,
        Err(message) => return counters.error(message),
    };
    let _ = outbound
        .send(request(
            session_request::Message::Snapshot(small_snapshot()),
        ))
        .await;
    counters.open.fetch_add(1, Ordering::Relaxed);
    // Spread heartbeats over the second instead of sending them all at once.
    let offset = Duration::from_millis(rand::random_range(0..1_000));
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + offset, HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = heartbeat.tick() => {
                if outbound.send(request(session_request::Message::Heartbeat(Heartbeat { at: None }))).await.is_ok() {
                    counters.heartbeats.fetch_add(1, Ordering::Relaxed);
                }
            }
            message = inbound.message() => match message {
                Ok(Some(response)) => {
                    if let Some(session_response::Message::Action(action)) = response.message {
                        let submitted = timings
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&action.id);
                        if let Some(submitted) = submitted {
                            latencies
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push(submitted.elapsed().as_secs_f64() * 1_000.0);
                        }
                        report_done(&outbound, action.id).await;
                    }
                }
                Ok(None) | Err(_) if stop.is_cancelled() => return,
                Ok(None) => {
                    counters.open.fetch_sub(1, Ordering::Relaxed);
                    return counters.error("the server closed a stream".to_owned());
                }
                Err(status) => {
                    counters.open.fetch_sub(1, Ordering::Relaxed);
                    return counters.error(format!("stream: {:?}: {}", status.code(), status.message()));
                }
            },
        }
    }
}
