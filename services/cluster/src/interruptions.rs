//! Spot interruption warnings and rebalance recommendations about a cluster's nodes, whether the
//! agent saw them (instance metadata) or AWS sent them through EventBridge: each is recorded as a
//! cluster event and forwarded on the bus (`INTERRUPTIONS`) to the risk intake and the optimizer.
//! A repeat of an event id is forwarded again (a replica may have died with the first) but not
//! recorded or counted again.
//!
//! A notice steers every tenant's capacity away from its pool, so it is believed only about the
//! reporter's own spot node, with that node's pool (never the pool the notice names), and a tenant
//! may send at most `limits.interruption_notices_per_tenant_per_minute` new ones a minute (1,000
//! by default: a bulk reclaim of a large fleet fits, a flood of invented events does not), however
//! many agent sessions or EventBridge relays it uses.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use spot_kit::topics::INTERRUPTIONS;
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice};
use spot_proto::cluster::v1 as pb;
use spot_proto::common::v1::{CapacityType, Node, Pool};
use spot_proto::events::v1::InterruptionReported;
use tonic::{Request, Response, Status};

use crate::ClusterApi;
use crate::common::db_status;
use crate::entity::clusters;
use crate::events::kind;

/// How long an event id is remembered, so a repeated delivery is recorded and counted once.
const REMEMBER_EVENTS: Duration = Duration::from_secs(24 * 3_600);
/// A repeated notice is forwarded again at most this often.
const REFORWARD_EVERY: Duration = Duration::from_secs(5);

/// The notice's kind as people read it; an unspecified kind is refused.
pub fn kind_name(notice: &InterruptionNotice) -> Result<&'static str, Status> {
    match notice.kind() {
        InterruptionKind::SpotInterruption => Ok("spot interruption warning"),
        InterruptionKind::RebalanceRecommendation => Ok("rebalance recommendation"),
        InterruptionKind::Unspecified => Err(Status::invalid_argument(
            "invalid `interruption.kind`: must be a spot interruption or a rebalance recommendation",
        )),
    }
}

/// The node of the cluster a notice is about (by instance id, else by node name). AWS warns only
/// about spot instances, so a notice about an unknown or on-demand node, or one naming a pool the
/// node is not in, is refused with why.
pub fn reported_node(nodes: Vec<Node>, notice: &InterruptionNotice) -> Result<Node, Status> {
    let node = nodes
        .into_iter()
        .find(|node| {
            if notice.instance_id.is_empty() {
                !notice.node_name.is_empty() && node.name == notice.node_name
            } else {
                node.instance_id == notice.instance_id
            }
        })
        .ok_or_else(|| {
            Status::not_found(format!(
                "no node `{}` (instance `{}`) in this cluster: a notice counts only for the cluster's own nodes",
                notice.node_name, notice.instance_id
            ))
        })?;
    if node.capacity_type() != CapacityType::Spot {
        return Err(Status::failed_precondition(format!(
            "node `{}` is not a spot node: AWS sends interruption notices only for spot instances",
            node.name
        )));
    }
    if let Some(pool) = &notice.pool {
        let names_other_pool = (!pool.zone.is_empty() && pool.zone != node.zone)
            || (!pool.instance_type.is_empty() && pool.instance_type != node.instance_type);
        if names_other_pool {
            return Err(Status::invalid_argument(format!(
                "invalid `interruption.pool`: node `{}` is a {} in {}, not a {} in {}",
                node.name, node.instance_type, node.zone, pool.instance_type, pool.zone
            )));
        }
    }
    Ok(node)
}

impl ClusterApi {
    /// Counts one notice against the tenant's allowance (a minute's window from its first notice,
    /// on the bus, so every replica and every session of the tenant share it);
    /// RESOURCE_EXHAUSTED when spent.
    pub(crate) async fn admit_notice(
        &self,
        tenant_id: &str,
        notice: &InterruptionNotice,
    ) -> Result<(), Status> {
        let sent = self
            .ctx
            .bus
            .increment(
                &format!("cluster.notices.{tenant_id}"),
                Duration::from_secs(60),
            )
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let allowed = self
            .ctx
            .config
            .limits
            .interruption_notices_per_tenant_per_minute;
        if sent > allowed {
            return Err(Status::resource_exhausted(format!(
                "more than {allowed} interruption notices from your clusters in a minute (limits.interruption_notices_per_tenant_per_minute): notice `{}` dropped",
                notice.event_id
            )));
        }
        Ok(())
    }

    /// An agent's notice about its own cluster: checked against the cluster's nodes, then
    /// forwarded.
    pub(crate) async fn agent_interruption(
        &self,
        cluster: &clusters::Model,
        notice: &InterruptionNotice,
    ) -> Result<bool, Status> {
        let node = reported_node(self.inventory.nodes(&cluster.id, None, None).await?, notice)?;
        self.forward_interruption(cluster, &node, notice).await
    }

    /// Records the notice about `node` (checked by [`reported_node`]) on the cluster and forwards
    /// it with the node's pool; false when its event id was seen before (nothing is done again).
    async fn forward_interruption(
        &self,
        cluster: &clusters::Model,
        node: &Node,
        notice: &InterruptionNotice,
    ) -> Result<bool, Status> {
        if notice.event_id.is_empty() || notice.event_id.len() > 256 {
            return Err(Status::invalid_argument(
                "invalid `interruption.event_id`: 1 to 256 characters",
            ));
        }
        let kind_name = kind_name(notice)?;
        let seen = format!("cluster.interruption.{}.{}", cluster.id, notice.event_id);
        let first = self
            .ctx
            .bus
            .set_if_absent(&seen, b"1", REMEMBER_EVENTS)
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        if !first {
            // A repeat (the agent sends a notice again until its node is acted on) is forwarded
            // again, at most every few seconds, neither recorded nor counted again: the first
            // may have been lost with a replica, and the optimizer answers a node once.
            let resent = format!("{seen}.resent");
            let forward_again = self
                .ctx
                .bus
                .set_if_absent(&resent, b"1", REFORWARD_EVERY)
                .await
                .map_err(spot_error::ServiceError::into_status)?;
            if forward_again {
                self.publish_interruption(cluster, node, notice).await;
            }
            return Ok(false);
        }
        // Only new notices about real spot nodes count against the allowance: a repeat (the agent
        // and an EventBridge relay, a retry) or a refused one never crowds out a real warning. One
        // refused for the allowance is forgotten, so its retry is still new.
        if let Err(refused) = self.admit_notice(&cluster.tenant_id, notice).await {
            if let Err(error) = self.ctx.bus.delete(&seen).await {
                tracing::warn!(%error, "a refused notice stays remembered");
            }
            return Err(refused);
        }
        self.events
            .record(
                &cluster.id,
                kind::INTERRUPTION,
                format!(
                    "{kind_name} for node {} ({} in {})",
                    node.name, node.instance_type, node.zone
                ),
            )
            .await?;
        self.publish_interruption(cluster, node, notice).await;
        Ok(true)
    }

    /// Tells the risk intake and the optimizer (both dedupe by event id and node).
    async fn publish_interruption(
        &self,
        cluster: &clusters::Model,
        node: &Node,
        notice: &InterruptionNotice,
    ) {
        let forwarded = InterruptionReported {
            event_id: notice.event_id.clone(),
            kind: notice.kind,
            tenant_id: cluster.tenant_id.clone(),
            cluster_id: cluster.id.clone(),
            instance_id: node.instance_id.clone(),
            node_name: node.name.clone(),
            pool: Some(Pool {
                region: cluster.region.clone(),
                zone: node.zone.clone(),
                instance_type: node.instance_type.clone(),
            }),
            action_at_millis: notice
                .action_at
                .as_ref()
                .map_or(0, spot_proto::time::millis),
        };
        if let Err(error) = INTERRUPTIONS
            .publish(self.ctx.bus.as_ref(), &forwarded)
            .await
        {
            tracing::warn!(%error, "interruption not forwarded to risk");
        }
    }

    /// ForwardCloudNotice (internal): a notice AWS sent about an instance, given by id. The
    /// instance must be a node of one of the tenant's clusters in that region (and, when the
    /// cluster names its AWS account, that account); anything else is NOT_FOUND, so a notice can
    /// never reach another tenant's cluster.
    pub(crate) async fn cloud_notice(
        &self,
        request: Request<pb::ForwardCloudNoticeRequest>,
    ) -> Result<Response<pb::ForwardCloudNoticeResponse>, Status> {
        let request = request.into_inner();
        let notice = request
            .notice
            .ok_or_else(|| Status::invalid_argument("invalid `notice`: required"))?;
        if notice.instance_id.is_empty() {
            return Err(Status::invalid_argument(
                "invalid `notice.instance_id`: required",
            ));
        }
        let candidates = clusters::Entity::find()
            .filter(clusters::Column::TenantId.eq(&request.tenant_id))
            .filter(clusters::Column::Region.eq(&request.region))
            .all(self.ctx.db.connection())
            .await
            .map_err(db_status)?;
        for cluster in candidates {
            let account_matches = cluster
                .aws_account_id
                .as_deref()
                .is_none_or(|account| account.is_empty() || account == request.aws_account_id);
            if !account_matches {
                continue;
            }
            let nodes = self.inventory.nodes(&cluster.id, None, None).await?;
            if !nodes
                .iter()
                .any(|node| node.instance_id == notice.instance_id)
            {
                continue;
            }
            let node = reported_node(nodes, &notice)?;
            let pool = Pool {
                region: cluster.region.clone(),
                zone: node.zone.clone(),
                instance_type: node.instance_type.clone(),
            };
            let accepted = self.forward_interruption(&cluster, &node, &notice).await?;
            return Ok(Response::new(pb::ForwardCloudNoticeResponse {
                accepted,
                cluster_id: cluster.id,
                node_name: node.name,
                pool: Some(pool),
            }));
        }
        Err(Status::not_found(format!(
            "instance `{}` is not a node of any of your clusters in {}",
            notice.instance_id, request.region
        )))
    }
}
