//! Whether a cluster's agent is connected, kept as a bus key that each heartbeat renews: it
//! disappears by itself when the agent (or the replica holding its stream) goes away.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use spot_bus::SharedBus;

/// How often the agent is told to send a heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Without a message for this long, the session is closed and the agent counts as disconnected.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(35);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Presence {
    pub session_id: String,
    pub replica_id: String,
    pub agent_version: String,
    pub kubernetes_version: String,
    pub connected_at: i64,
    pub last_heartbeat_at: i64,
}

fn key(cluster_id: &str) -> String {
    format!("agent.presence.{cluster_id}")
}

#[derive(Clone)]
pub struct PresenceBoard {
    bus: SharedBus,
}

impl PresenceBoard {
    pub fn new(bus: SharedBus) -> Self {
        Self { bus }
    }

    pub async fn put(&self, cluster_id: &str, presence: &Presence) {
        let value = serde_json::to_vec(presence).unwrap_or_default();
        if let Err(error) = self.bus.set(&key(cluster_id), &value, SILENCE_LIMIT).await {
            tracing::warn!(%error, cluster_id, "agent presence not recorded");
        }
    }

    pub async fn get(&self, cluster_id: &str) -> Option<Presence> {
        let value = self.bus.get(&key(cluster_id)).await.ok()??;
        serde_json::from_slice(&value).ok()
    }

    /// Forgets the presence if it is still this session's (a newer session keeps its own).
    pub async fn clear(&self, cluster_id: &str, session_id: &str) {
        if self
            .get(cluster_id)
            .await
            .is_some_and(|p| p.session_id == session_id)
        {
            let _ = self.bus.delete(&key(cluster_id)).await;
        }
    }
}
