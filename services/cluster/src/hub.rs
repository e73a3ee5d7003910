//! The agent hub of one replica: which clusters' agents hold their stream here. Actions and
//! session take-overs travel over the bus, so an agent may be connected to any replica: every
//! replica hears every new action and delivers the ones for the agents it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use spot_bus::{CancellationToken, SharedBus, Topic};
use spot_proto::cluster::v1::{ActionStatus, Cluster};
use spot_proto::events::v1::AgentSessionOpened;
use tokio::sync::mpsc;

use spot_kit::topics::CLUSTER_ACTIONS;

use crate::outbox::Outbox;

/// A new session for a cluster; older sessions elsewhere end.
pub const SESSIONS_TOPIC: Topic<AgentSessionOpened> = Topic::new("agent.sessions");
/// A cluster whose agent settings changed (dry-run), as stored now. The replica holding its
/// agent's stream sends the agent its new configuration.
pub const AGENT_CONFIG_TOPIC: Topic<Cluster> = Topic::new("agent.config");
/// How often each replica looks for actions that were never sent or need sending again.
const SWEEP_INTERVAL: Duration = Duration::from_secs(2);
/// Commands waiting for a session; beyond this the sweep catches up.
const SESSION_QUEUE: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// Send this action (by id) if it is still open.
    Deliver(String),
    /// A newer session for the same cluster started; this one must end.
    Replaced,
    /// The cluster's agent settings changed: send the agent its configuration again.
    Configure { dry_run: bool },
}

struct LiveSession {
    session_id: String,
    commands: mpsc::Sender<SessionCommand>,
}

#[derive(Clone)]
pub struct AgentHub {
    replica_id: String,
    bus: SharedBus,
    sessions: Arc<Mutex<HashMap<String, LiveSession>>>,
}

impl AgentHub {
    pub fn new(bus: SharedBus) -> Self {
        Self {
            replica_id: uuid::Uuid::new_v4().simple().to_string(),
            bus,
            sessions: Arc::default(),
        }
    }

    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveSession>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new session here and tells every replica, so an older one ends wherever it is.
    pub async fn attach(
        &self,
        cluster_id: &str,
        session_id: &str,
    ) -> mpsc::Receiver<SessionCommand> {
        let (commands, receiver) = mpsc::channel(SESSION_QUEUE);
        let previous = self.sessions().insert(
            cluster_id.to_owned(),
            LiveSession {
                session_id: session_id.to_owned(),
                commands,
            },
        );
        if let Some(previous) = previous {
            let _ = previous.commands.try_send(SessionCommand::Replaced);
        }
        let opened = AgentSessionOpened {
            cluster_id: cluster_id.to_owned(),
            session_id: session_id.to_owned(),
        };
        if let Err(error) = SESSIONS_TOPIC.publish(self.bus.as_ref(), &opened).await {
            tracing::warn!(%error, cluster_id, "a new agent session was not announced");
        }
        receiver
    }

    /// Forgets the session if it is still the cluster's current one here.
    pub fn detach(&self, cluster_id: &str, session_id: &str) {
        let mut sessions = self.sessions();
        if sessions
            .get(cluster_id)
            .is_some_and(|s| s.session_id == session_id)
        {
            sessions.remove(cluster_id);
        }
    }

    /// Tells whichever replica holds the cluster's agent that its settings changed.
    pub async fn reconfigure(&self, cluster: &Cluster) {
        if let Err(error) = AGENT_CONFIG_TOPIC.publish(self.bus.as_ref(), cluster).await {
            tracing::warn!(%error, cluster_id = %cluster.id, "the agent was not told its new settings; it gets them when it reconnects");
        }
    }

    fn send(&self, cluster_id: &str, command: SessionCommand) {
        if let Some(session) = self.sessions().get(cluster_id)
            && session.commands.try_send(command).is_err()
        {
            tracing::debug!(cluster_id, "session queue full; the sweep will deliver");
        }
    }

    fn replaced_elsewhere(&self, cluster_id: &str, session_id: &str) {
        let mut sessions = self.sessions();
        if sessions
            .get(cluster_id)
            .is_some_and(|s| s.session_id != session_id)
            && let Some(old) = sessions.remove(cluster_id)
        {
            let _ = old.commands.try_send(SessionCommand::Replaced);
        }
    }

    /// Listens for new actions and sessions on the bus and sweeps for due actions, until shutdown.
    pub async fn run(self, outbox: Outbox, shutdown: CancellationToken) {
        let subscriptions = async {
            let bus = self.bus.as_ref();
            let actions = CLUSTER_ACTIONS.subscribe(bus).await?;
            let sessions = SESSIONS_TOPIC.subscribe(bus).await?;
            let configs = AGENT_CONFIG_TOPIC.subscribe(bus).await?;
            Ok::<_, spot_bus::BusError>((actions, sessions, configs))
        };
        let (mut actions, mut sessions, mut configs) = match subscriptions.await {
            Ok(subscriptions) => subscriptions,
            Err(error) => {
                tracing::error!(%error, "the agent hub cannot listen on the bus; only the sweep delivers actions");
                (
                    futures::stream::pending().boxed(),
                    futures::stream::pending().boxed(),
                    futures::stream::pending().boxed(),
                )
            }
        };
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(record) = actions.next() => {
                    if record.status() == ActionStatus::Pending
                        && let Some(action) = record.action
                    {
                        self.send(&record.cluster_id, SessionCommand::Deliver(action.id));
                    }
                }
                Some(opened) = sessions.next() => {
                    self.replaced_elsewhere(&opened.cluster_id, &opened.session_id);
                }
                Some(cluster) = configs.next() => {
                    self.send(&cluster.id, SessionCommand::Configure { dry_run: cluster.dry_run });
                }
                _ = sweep.tick() => self.sweep(&outbox).await,
            }
        }
    }

    async fn sweep(&self, outbox: &Outbox) {
        match outbox.due().await {
            Ok(due) => {
                for row in due {
                    self.send(&row.cluster_id, SessionCommand::Deliver(row.id));
                }
            }
            Err(status) => tracing::warn!(%status, "cannot read due actions"),
        }
        if let Err(status) = outbox.expire_overdue().await {
            tracing::warn!(%status, "cannot expire overdue actions");
        }
    }
}
