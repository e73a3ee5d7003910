//! AgentService/Session: one bidirectional stream per cluster. The agent says hello, then sends
//! heartbeats, snapshots, deltas, interruption notices, acknowledgements and results; the control
//! plane sends its config and the cluster's actions, and re-sends what was not acknowledged.

use spot_access::{ApiKeyScope, Caller, caller};
use spot_proto::agent::v1::agent_service_server::AgentService;
use spot_proto::agent::v1::{
    self as pb, AgentConfig, Notice, SessionRequest, SessionResponse, Welcome, session_request,
    session_response,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::ClusterApi;
use crate::entity::clusters;
use crate::events::kind;
use crate::hub::SessionCommand;
use crate::outbox::{self, Reported};
use crate::presence::{HEARTBEAT_INTERVAL, Presence, SILENCE_LIMIT};
use spot_kit::topics::CLUSTER_UPDATED;
use spot_proto::events::v1::ClusterUpdated;

/// How long a new stream may take to say hello.
const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Responses waiting for a slow agent before the session stops reading from the bus.
const OUTBOUND_QUEUE: usize = 16;

type Outbound = mpsc::Sender<Result<SessionResponse, Status>>;

fn agent_cluster(caller: &Caller) -> Result<(String, String), Status> {
    match caller {
        Caller::ApiKey {
            tenant_id,
            scope: ApiKeyScope::Agent { cluster_id },
            ..
        } => Ok((tenant_id.clone(), cluster_id.clone())),
        _ => Err(Status::permission_denied(
            "only a cluster's agent key may open an agent session",
        )),
    }
}

fn respond(message: session_response::Message) -> Result<SessionResponse, Status> {
    Ok(SessionResponse {
        message: Some(message),
    })
}

fn notice(code: tonic::Code, message: String, action_id: &str) -> Result<SessionResponse, Status> {
    respond(session_response::Message::Notice(Notice {
        code: format!("{code:?}"),
        message,
        action_id: action_id.to_owned(),
    }))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tonic::async_trait]
impl AgentService for ClusterApi {
    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<tonic::codegen::BoxStream<SessionResponse>>, Status> {
        let (tenant_id, cluster_id) = agent_cluster(caller(&request)?)?;
        let cluster = self.tenant_cluster(&tenant_id, &cluster_id).await?;
        let mut inbound = request.into_inner();
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Err(_) => {
                return Err(Status::deadline_exceeded(
                    "no `hello` within 10 s of opening the session",
                ));
            }
            Ok(message) => match message?.and_then(|m| m.message) {
                Some(session_request::Message::Hello(hello)) => hello,
                _ => {
                    return Err(Status::invalid_argument(
                        "the first message of a session must be `hello`",
                    ));
                }
            },
        };
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        let (outbound, responses) = mpsc::channel(OUTBOUND_QUEUE);
        let commands = self.hub.attach(&cluster_id, &session_id).await;
        let presence = Presence {
            session_id: session_id.clone(),
            replica_id: self.hub.replica_id().to_owned(),
            agent_version: hello.agent_version.clone(),
            kubernetes_version: hello.kubernetes_version.clone(),
            connected_at: now(),
            last_heartbeat_at: now(),
        };
        self.presence.put(&cluster_id, &presence).await;
        let _ = outbound
            .send(respond(session_response::Message::Welcome(Welcome {
                cluster_id: cluster_id.clone(),
                session_id: session_id.clone(),
            })))
            .await;
        let _ = outbound.send(configuration(cluster.dry_run)).await;
        let session = AgentSession {
            api: self.clone(),
            cluster,
            presence,
            outbound,
        };
        tokio::spawn(session.run(inbound, commands));
        Ok(Response::new(Box::pin(ReceiverStream::new(responses))))
    }
}

/// What the agent is told at the start of a session and whenever its cluster's settings change.
fn configuration(dry_run: bool) -> Result<SessionResponse, Status> {
    respond(session_response::Message::Config(AgentConfig {
        heartbeat_interval_seconds: HEARTBEAT_INTERVAL.as_secs() as u32,
        dry_run,
    }))
}

struct AgentSession {
    api: ClusterApi,
    cluster: clusters::Model,
    presence: Presence,
    outbound: Outbound,
}

/// Why a session ended, for the event log.
enum Ending {
    AgentClosed,
    Replaced,
    Silent,
    Broken(Status),
    ShuttingDown,
}

impl AgentSession {
    async fn run(
        mut self,
        mut inbound: Streaming<SessionRequest>,
        mut commands: mpsc::Receiver<SessionCommand>,
    ) {
        let cluster_id = self.cluster.id.clone();
        let api = self.api.clone();
        let _ = api
            .events
            .record(
                &cluster_id,
                kind::AGENT_CONNECTED,
                format!(
                    "agent {} connected (Kubernetes {})",
                    self.presence.agent_version, self.presence.kubernetes_version
                ),
            )
            .await;
        self.redeliver_open().await;
        let shutdown = api.ctx.shutdown.clone();
        let silence = tokio::time::sleep(SILENCE_LIMIT);
        tokio::pin!(silence);
        let ending = loop {
            tokio::select! {
                () = shutdown.cancelled() => break Ending::ShuttingDown,
                () = &mut silence => break Ending::Silent,
                command = commands.recv() => match command {
                    Some(SessionCommand::Deliver(id)) => self.deliver_by_id(&id).await,
                    Some(SessionCommand::Configure { dry_run }) => self.send(configuration(dry_run)).await,
                    Some(SessionCommand::Replaced) | None => break Ending::Replaced,
                },
                message = inbound.message() => match message {
                    Ok(Some(message)) => {
                        silence.as_mut().reset(Instant::now() + SILENCE_LIMIT);
                        self.handle(message).await;
                    }
                    Ok(None) => break Ending::AgentClosed,
                    Err(status) => break Ending::Broken(status),
                },
            }
        };
        self.finish(ending).await;
    }

    async fn finish(self, ending: Ending) {
        let cluster_id = &self.cluster.id;
        let session_id = &self.presence.session_id;
        let (event, message, status) = match ending {
            Ending::AgentClosed => (
                kind::AGENT_DISCONNECTED,
                "the agent closed its session".to_owned(),
                None,
            ),
            Ending::Replaced => (
                kind::AGENT_REPLACED,
                format!("session {session_id} was replaced by a newer agent session"),
                Some(Status::aborted(
                    "another agent connected for this cluster; the newer session wins and this one is closed",
                )),
            ),
            Ending::Silent => (
                kind::AGENT_DISCONNECTED,
                format!(
                    "no message from the agent for {} s",
                    SILENCE_LIMIT.as_secs()
                ),
                Some(Status::deadline_exceeded(format!(
                    "no heartbeat for {} s; reconnect",
                    SILENCE_LIMIT.as_secs()
                ))),
            ),
            Ending::Broken(status) => (
                kind::AGENT_DISCONNECTED,
                format!("the agent's stream broke: {}", status.message()),
                None,
            ),
            Ending::ShuttingDown => (
                kind::AGENT_DISCONNECTED,
                "this control-plane replica is shutting down".to_owned(),
                Some(Status::unavailable(
                    "the control plane is shutting down; reconnect",
                )),
            ),
        };
        if let Some(status) = status {
            let _ = self.outbound.send(Err(status)).await;
        }
        self.api.hub.detach(cluster_id, session_id);
        self.api.presence.clear(cluster_id, session_id).await;
        let _ = self.api.events.record(cluster_id, event, message).await;
    }

    async fn send(&self, response: Result<SessionResponse, Status>) {
        let _ = self.outbound.send(response).await;
    }

    /// After a (re)connect: everything still open, so nothing is lost; the agent dedupes by id.
    async fn redeliver_open(&self) {
        match self.api.outbox.open_for(&self.cluster.id).await {
            Ok(rows) => {
                for row in rows {
                    self.deliver(row).await;
                }
            }
            Err(status) => tracing::warn!(%status, "open actions not redelivered"),
        }
    }

    async fn deliver_by_id(&self, id: &str) {
        match self.api.outbox.get(id).await {
            Ok(Some(row))
                if row.cluster_id == self.cluster.id
                    && outbox::status::OPEN.contains(&row.status.as_str()) =>
            {
                self.deliver(row).await;
            }
            Ok(_) => {}
            Err(status) => tracing::warn!(%status, action = id, "action not delivered"),
        }
    }

    async fn deliver(&self, row: crate::entity::actions::Model) {
        let attempt = row.attempt + 1;
        match self.api.outbox.mark_sent(&row, attempt).await {
            Ok(true) => {
                let mut action = outbox::action_of(&row);
                action.attempt = u32::try_from(attempt).unwrap_or_default();
                self.send(respond(session_response::Message::Action(action)))
                    .await;
            }
            Ok(false) => {}
            Err(status) => tracing::warn!(%status, action = %row.id, "action not sent"),
        }
    }

    async fn handle(&mut self, request: SessionRequest) {
        use session_request::Message as M;
        let Some(message) = request.message else {
            self.send(notice(
                tonic::Code::InvalidArgument,
                "an empty message: set one of its fields".to_owned(),
                "",
            ))
            .await;
            return;
        };
        let outcome = match message {
            M::Hello(_) => Err(Status::invalid_argument(
                "`hello` is only the first message of a session",
            )
            .into()),
            M::Heartbeat(_) => {
                self.presence.last_heartbeat_at = now();
                self.api
                    .presence
                    .put(&self.cluster.id, &self.presence)
                    .await;
                Ok(())
            }
            M::Snapshot(snapshot) => self.snapshot(snapshot).await,
            M::Delta(delta) => self.delta(delta).await,
            M::Interruption(notice) => self.interruption(notice).await,
            M::Ack(ack) => self.acknowledge(ack).await,
            M::Result(result) => self.result(result).await,
        };
        if let Err(Refusal { status, action_id }) = outcome {
            self.send(notice(
                status.code(),
                status.message().to_owned(),
                &action_id,
            ))
            .await;
        }
    }

    async fn publish_updated(&self) {
        let updated = ClusterUpdated {
            cluster_id: self.cluster.id.clone(),
            tenant_id: self.cluster.tenant_id.clone(),
        };
        if let Err(error) = CLUSTER_UPDATED
            .publish(self.api.ctx.bus.as_ref(), &updated)
            .await
        {
            tracing::warn!(%error, "cluster update not published");
        }
    }

    async fn snapshot(&self, snapshot: pb::Snapshot) -> Result<(), Refusal> {
        let applied = self
            .api
            .inventory
            .replace(&self.cluster.id, &snapshot)
            .await?;
        self.api
            .events
            .record(
                &self.cluster.id,
                kind::SNAPSHOT,
                format!(
                    "snapshot: {} nodes, {} pods, {} PDBs",
                    applied.nodes, applied.pods, applied.pdbs
                ),
            )
            .await?;
        self.publish_updated().await;
        rejected(&applied.rejected)
    }

    async fn delta(&self, delta: pb::Delta) -> Result<(), Refusal> {
        let applied = self.api.inventory.patch(&self.cluster.id, &delta).await?;
        self.api
            .events
            .announce(
                &self.cluster.id,
                kind::DELTA,
                format!(
                    "delta: {} nodes and {} pods changed, {} nodes and {} pods removed",
                    applied.nodes,
                    applied.pods,
                    delta.removed_nodes.len(),
                    delta.removed_pods.len()
                ),
            )
            .await;
        self.publish_updated().await;
        rejected(&applied.rejected)
    }

    async fn interruption(&self, notice: pb::InterruptionNotice) -> Result<(), Refusal> {
        self.api.agent_interruption(&self.cluster, &notice).await?;
        Ok(())
    }

    async fn acknowledge(&self, ack: pb::ActionAck) -> Result<(), Refusal> {
        if self
            .api
            .outbox
            .acknowledge(&self.cluster.id, &ack.action_id)
            .await?
        {
            Ok(())
        } else {
            Err(unknown_action(&ack.action_id))
        }
    }

    async fn result(&self, result: pb::ActionResult) -> Result<(), Refusal> {
        let reported = self
            .api
            .outbox
            .report(
                &self.cluster.id,
                &result.action_id,
                result.outcome(),
                &result.message,
            )
            .await?;
        match reported {
            Reported::Recorded(row) => {
                let node = self
                    .api
                    .inventory
                    .node(&self.cluster.id, &row.node_name)
                    .await?;
                let message = if row.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", row.message)
                };
                self.api
                    .events
                    .record(
                        &self.cluster.id,
                        kind::ACTION,
                        format!(
                            "{} {}{message}",
                            outbox::describe(&row, node.as_ref()),
                            row.status
                        ),
                    )
                    .await?;
                Ok(())
            }
            // A result reported again after a reconnect: already recorded, nothing changes.
            Reported::Duplicate => Ok(()),
            Reported::Unknown => Err(unknown_action(&result.action_id)),
        }
    }
}

/// A message the session refused without ending the stream, told to the agent as a notice.
struct Refusal {
    status: Status,
    /// The action the refusal is about, if any.
    action_id: String,
}

impl From<Status> for Refusal {
    fn from(status: Status) -> Self {
        Self {
            status,
            action_id: String::new(),
        }
    }
}

fn unknown_action(id: &str) -> Refusal {
    Refusal {
        status: Status::not_found(format!("no action `{id}` for this cluster")),
        action_id: id.to_owned(),
    }
}

fn rejected(rejected: &[String]) -> Result<(), Refusal> {
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "left out {} invalid entries: {}",
            rejected.len(),
            rejected.join("; ")
        ))
        .into())
    }
}
