//! The cluster event log: what happened to a cluster (agent connected, snapshot, interruption,
//! action refused...), stored for ListClusterEvents and published for WatchCluster on every replica.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_bus::{SharedBus, Topic};
use spot_db::Database;
use spot_proto::cluster::v1::ClusterEvent;
use tonic::Status;

use crate::common::{db_status, timestamp};
use crate::entity::cluster_events;

/// Every cluster event, stored or not.
pub const CLUSTER_EVENTS_TOPIC: Topic<ClusterEvent> = Topic::new("cluster.events");

pub mod kind {
    pub const AGENT_CONNECTED: &str = "agent_connected";
    pub const AGENT_DISCONNECTED: &str = "agent_disconnected";
    pub const AGENT_REPLACED: &str = "agent_replaced";
    pub const SNAPSHOT: &str = "snapshot";
    pub const DELTA: &str = "delta";
    pub const INTERRUPTION: &str = "interruption";
    pub const ACTION: &str = "action";
    pub const REFUSED: &str = "refused";
    pub const CLOUD: &str = "cloud";
    pub const CONFIG: &str = "config";
}

#[derive(Clone)]
pub struct ClusterEvents {
    db: Database,
    bus: SharedBus,
}

impl ClusterEvents {
    pub fn new(db: Database, bus: SharedBus) -> Self {
        Self { db, bus }
    }

    /// Stores the event, then publishes it.
    pub async fn record(
        &self,
        cluster_id: &str,
        kind: &str,
        message: String,
    ) -> Result<(), Status> {
        let row = cluster_events::ActiveModel {
            id: Set(uuid::Uuid::now_v7().simple().to_string()),
            cluster_id: Set(cluster_id.to_owned()),
            kind: Set(kind.to_owned()),
            message: Set(message),
            at: Set(chrono::Utc::now().timestamp_millis()),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        self.publish(to_proto(&row)).await;
        Ok(())
    }

    /// Publishes without storing: frequent, low-value events such as deltas.
    pub async fn announce(&self, cluster_id: &str, kind: &str, message: String) {
        self.publish(ClusterEvent {
            id: String::new(),
            cluster_id: cluster_id.to_owned(),
            kind: kind.to_owned(),
            message,
            at: Some(timestamp(chrono::Utc::now().timestamp_millis())),
        })
        .await;
    }

    async fn publish(&self, event: ClusterEvent) {
        if let Err(error) = CLUSTER_EVENTS_TOPIC
            .publish(self.bus.as_ref(), &event)
            .await
        {
            tracing::warn!(%error, "a cluster event was stored but not published");
        }
    }

    /// The newest events first, `limit` of them, before the `before` id (exclusive) when given.
    pub async fn list(
        &self,
        cluster_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ClusterEvent>, Status> {
        let mut query = cluster_events::Entity::find()
            .filter(cluster_events::Column::ClusterId.eq(cluster_id))
            .order_by_desc(cluster_events::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(cluster_events::Column::Id.lt(before));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        Ok(rows.iter().map(to_proto).collect())
    }
}

fn to_proto(row: &cluster_events::Model) -> ClusterEvent {
    ClusterEvent {
        id: row.id.clone(),
        cluster_id: row.cluster_id.clone(),
        kind: row.kind.clone(),
        message: row.message.clone(),
        at: Some(timestamp(row.at)),
    }
}
