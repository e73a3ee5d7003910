//! The agent's one bidirectional stream to the control plane. It says hello, sends a full
//! snapshot, then heartbeats, deltas, interruption notices (again until acted on: notices.rs),
//! acknowledgements and results; it runs each action once (the ledger dedupes redeliveries) and
//! reconnects with jittered backoff.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use spot_proto::agent::v1::agent_service_client::AgentServiceClient;
use spot_proto::agent::v1::{
    Action, ActionAck, ActionResult, Delta, Heartbeat, Hello, InterruptionNotice, SessionRequest,
    Snapshot, session_request, session_response,
};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Endpoint;

use crate::executor::Executor;
use crate::ledger::{Ledger, Seen};
use crate::notices::{PendingNotices, RESEND_EVERY};

/// Where the agent's picture of the cluster comes from (the kube watchers, or a test's fake).
pub trait ClusterSource: Send + Sync + 'static {
    fn snapshot(&self) -> Snapshot;
    /// Changes after this call. A lagging receiver gets a fresh snapshot instead.
    fn subscribe(&self) -> broadcast::Receiver<Delta>;
}

#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The cluster service's gRPC URL, e.g. https://spot.example.com:443.
    pub control_plane: String,
    /// The cluster's agent API key.
    pub api_key: String,
    pub agent_version: String,
    pub kubernetes_version: String,
    /// Upper bound of the jittered reconnect delay.
    pub max_backoff: Duration,
    /// How long to stay away after a newer agent took the cluster's session over.
    pub replaced_backoff: Duration,
}

impl AgentSettings {
    pub fn new(control_plane: &str, api_key: &str) -> Self {
        Self {
            control_plane: control_plane.to_owned(),
            api_key: api_key.to_owned(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            kubernetes_version: String::new(),
            max_backoff: Duration::from_secs(30),
            replaced_backoff: Duration::from_secs(300),
        }
    }
}

/// Heartbeats until the control plane says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
/// A session that lived this long resets the backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);
const OUTBOUND_QUEUE: usize = 64;
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

pub struct Agent {
    settings: AgentSettings,
    executor: Arc<dyn Executor>,
    source: Arc<dyn ClusterSource>,
    ledger: Arc<Mutex<Ledger>>,
    /// Interruption notices sent until the control plane acts on their node.
    notices: Mutex<PendingNotices>,
    /// As the control plane last said; true until it says.
    dry_run: watch::Sender<bool>,
}

/// How a session ended.
#[derive(Debug)]
enum Ended {
    Shutdown,
    /// A newer agent holds the cluster's session.
    Replaced(String),
    Failed(String),
}

type Outbound = mpsc::Sender<SessionRequest>;

fn request(message: session_request::Message) -> SessionRequest {
    SessionRequest {
        message: Some(message),
    }
}

impl Agent {
    pub fn new(
        settings: AgentSettings,
        executor: Arc<dyn Executor>,
        source: Arc<dyn ClusterSource>,
    ) -> Self {
        Self {
            settings,
            executor,
            source,
            ledger: Arc::default(),
            notices: Mutex::default(),
            dry_run: watch::Sender::new(true),
        }
    }

    /// Whether the cluster is in dry-run, as the control plane last said (true until it says):
    /// what the agent does on its own must not write then.
    pub fn dry_run(&self) -> watch::Receiver<bool> {
        self.dry_run.subscribe()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notices(&self) -> std::sync::MutexGuard<'_, PendingNotices> {
        self.notices.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends the notices due now (all of them on a new session).
    async fn send_notices(&self, outbound: &Outbound) {
        let due = self.notices().due(Instant::now());
        for notice in due {
            let _ = outbound
                .send(request(session_request::Message::Interruption(notice)))
                .await;
        }
    }

    /// Holds a session open, reconnecting after every failure, until `shutdown`.
    pub async fn run(
        self,
        mut interruptions: mpsc::Receiver<InterruptionNotice>,
        shutdown: CancellationToken,
    ) {
        let (results_tx, mut results) = mpsc::channel::<ActionResult>(1_024);
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let ended = self
                .session(&results_tx, &mut results, &mut interruptions, &shutdown)
                .await;
            let delay = match ended {
                Ended::Shutdown => return,
                Ended::Replaced(why) => {
                    tracing::warn!(%why, "another agent took over this cluster's session");
                    self.settings.replaced_backoff
                }
                Ended::Failed(why) => {
                    if started.elapsed() >= HEALTHY_SESSION {
                        failures = 0;
                    }
                    failures = failures.saturating_add(1);
                    let delay = jittered(failures, self.settings.max_backoff);
                    tracing::warn!(%why, retry_in_ms = delay.as_millis() as u64, "session ended");
                    delay
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn session(
        &self,
        results_tx: &mpsc::Sender<ActionResult>,
        results: &mut mpsc::Receiver<ActionResult>,
        interruptions: &mut mpsc::Receiver<InterruptionNotice>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let endpoint = match Endpoint::from_shared(self.settings.control_plane.clone()) {
            Ok(endpoint) => endpoint
                .connect_timeout(Duration::from_secs(10))
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true),
            Err(error) => return Ended::Failed(format!("invalid control-plane URL: {error}")),
        };
        let channel = match endpoint.connect().await {
            Ok(channel) => channel,
            Err(error) => return Ended::Failed(format!("cannot connect: {error}")),
        };
        let mut client = AgentServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (outbound, outbound_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let hello = Hello {
            agent_version: self.settings.agent_version.clone(),
            kubernetes_version: self.settings.kubernetes_version.clone(),
            resume_after_action_id: self.ledger().last_finished().unwrap_or_default().to_owned(),
        };
        let _ = outbound
            .send(request(session_request::Message::Hello(hello)))
            .await;
        let mut call = tonic::Request::new(ReceiverStream::new(outbound_rx));
        match format!("Bearer {}", self.settings.api_key).parse() {
            Ok(value) => {
                call.metadata_mut().insert("authorization", value);
            }
            Err(_) => return Ended::Failed("the API key is not a valid header value".to_owned()),
        }
        let mut inbound = match client.session(call).await {
            Ok(response) => response.into_inner(),
            Err(status) => return ended_by(status),
        };
        let mut deltas = self.source.subscribe();
        let _ = outbound
            .send(request(session_request::Message::Snapshot(
                self.source.snapshot(),
            )))
            .await;
        // Notices nobody acted on yet may have been lost with the last session.
        self.notices().session_started();
        self.send_notices(&outbound).await;
        let mut heartbeat = tokio::time::interval(DEFAULT_HEARTBEAT);
        heartbeat.tick().await;
        let mut resend = tokio::time::interval(RESEND_EVERY);
        resend.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ended::Shutdown,
                message = inbound.message() => match message {
                    Ok(Some(response)) => match response.message {
                        Some(session_response::Message::Config(config)) => {
                            self.dry_run.send_replace(config.dry_run);
                            let seconds = u64::from(config.heartbeat_interval_seconds.max(1));
                            heartbeat = tokio::time::interval(Duration::from_secs(seconds));
                            heartbeat.tick().await;
                        }
                        Some(session_response::Message::Action(action)) => {
                            self.notices().answered(&action.node_name);
                            self.on_action(action, &outbound, results_tx).await;
                        }
                        Some(session_response::Message::Notice(notice)) => {
                            tracing::warn!(code = %notice.code, message = %notice.message, action = %notice.action_id, "the control plane refused a message");
                        }
                        Some(session_response::Message::Welcome(welcome)) => {
                            tracing::info!(cluster = %welcome.cluster_id, session = %welcome.session_id, "session open");
                        }
                        None => {}
                    },
                    Ok(None) => return Ended::Failed("the control plane closed the session".to_owned()),
                    Err(status) => return ended_by(status),
                },
                _ = heartbeat.tick() => {
                    let at = Some(spot_proto::time::timestamp(chrono::Utc::now().timestamp_millis()));
                    let _ = outbound.send(request(session_request::Message::Heartbeat(Heartbeat { at }))).await;
                }
                delta = deltas.recv() => match delta {
                    Ok(delta) => {
                        let _ = outbound.send(request(session_request::Message::Delta(delta))).await;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let snapshot = self.source.snapshot();
                        let _ = outbound.send(request(session_request::Message::Snapshot(snapshot))).await;
                    }
                    Err(broadcast::error::RecvError::Closed) => deltas = self.source.subscribe(),
                },
                Some(result) = results.recv() => {
                    let _ = outbound.send(request(session_request::Message::Result(result))).await;
                }
                Some(notice) = interruptions.recv() => {
                    self.notices().add(notice, Instant::now());
                    self.send_notices(&outbound).await;
                }
                _ = resend.tick() => self.send_notices(&outbound).await,
            }
        }
    }

    async fn on_action(
        &self,
        action: Action,
        outbound: &Outbound,
        results_tx: &mpsc::Sender<ActionResult>,
    ) {
        let id = action.id.clone();
        let seen = self.ledger().arrive(&id);
        let ack = request(session_request::Message::Ack(ActionAck {
            action_id: id.clone(),
        }));
        let _ = outbound.send(ack).await;
        match seen {
            Seen::Running => {}
            Seen::Finished(result) => {
                let _ = outbound
                    .send(request(session_request::Message::Result(result)))
                    .await;
            }
            Seen::New => {
                let executor = self.executor.clone();
                let ledger = self.ledger.clone();
                let results_tx = results_tx.clone();
                tokio::spawn(async move {
                    let outcome = executor.execute(action).await;
                    let result = ActionResult {
                        action_id: id,
                        outcome: outcome.outcome.into(),
                        message: outcome.message,
                    };
                    ledger
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .finish(result.clone());
                    let _ = results_tx.send(result).await;
                });
            }
        }
    }
}

fn ended_by(status: tonic::Status) -> Ended {
    if status.code() == tonic::Code::Aborted {
        Ended::Replaced(status.message().to_owned())
    } else {
        Ended::Failed(format!("{:?}: {}", status.code(), status.message()))
    }
}

/// Full jitter: a random delay up to min(cap, 500 ms x 2^failures).
fn jittered(failures: u32, cap: Duration) -> Duration {
    let ceiling = Duration::from_millis(500)
        .saturating_mul(1 << failures.min(16))
        .min(cap);
    let millis = rand::rng().random_range(0..=ceiling.as_millis() as u64);
    Duration::from_millis(millis.max(50))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let cap = Duration::from_secs(30);
        for failures in 1..40 {
            let delay = jittered(failures, cap);
            assert!(delay <= cap);
            assert!(delay >= Duration::from_millis(50));
        }
        let early: Vec<_> = (0..50).map(|_| jittered(1, cap)).collect();
        assert!(early.iter().all(|d| *d <= Duration::from_secs(1)));
        assert!(early.iter().any(|d| *d != early[0]), "jittered");
    }
}
