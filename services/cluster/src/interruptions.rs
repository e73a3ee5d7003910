//! Spot interruption warnings and rebalance recommendations about a cluster's nodes, whether the
//! agent saw them (instance metadata) or AWS sent them through EventBridge: each is recorded as a
//! cluster event and forwarded on the bus (`INTERRUPTIONS`) to the risk intake and the optimizer,
//! once per event id.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use spot_kit::topics::INTERRUPTIONS;
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice};
use spot_proto::cluster::v1 as pb;
use spot_proto::common::v1::Pool;
use tonic::{Request, Response, Status};

use crate::ClusterApi;
use crate::common::db_status;
use crate::entity::clusters;
use crate::events::kind;

/// How long an event id is remembered, so a repeated delivery is forwarded once.
const REMEMBER_EVENTS: Duration = Duration::from_secs(24 * 3_600);

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

impl ClusterApi {
    /// Records the notice on the cluster and forwards it; false when its event id was seen before
    /// (nothing is done again).
    pub(crate) async fn forward_interruption(
        &self,
        cluster: &clusters::Model,
        notice: &InterruptionNotice,
    ) -> Result<bool, Status> {
        if notice.event_id.is_empty() || notice.event_id.len() > 256 {
            return Err(Status::invalid_argument(
                "invalid `interruption.event_id`: 1 to 256 characters",
            ));
        }
        let kind_name = kind_name(notice)?;
        let first = self
            .ctx
            .bus
            .set_if_absent(
                &format!("cluster.interruption.{}.{}", cluster.id, notice.event_id),
                b"1",
                REMEMBER_EVENTS,
            )
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        if !first {
            return Ok(false);
        }
        let pool = notice.pool.clone().unwrap_or_default();
        self.events
            .record(
                &cluster.id,
                kind::INTERRUPTION,
                format!(
                    "{kind_name} for node {} ({} in {})",
                    notice.node_name, pool.instance_type, pool.zone
                ),
            )
            .await?;
        let forwarded = serde_json::json!({
            "event_id": notice.event_id,
            "kind": notice.kind().as_str_name(),
            "tenant_id": cluster.tenant_id,
            "cluster_id": cluster.id,
            "instance_id": notice.instance_id,
            "node_name": notice.node_name,
            "region": if pool.region.is_empty() { cluster.region.clone() } else { pool.region },
            "zone": pool.zone,
            "instance_type": pool.instance_type,
            "action_at_millis": notice.action_at.as_ref().map(spot_proto::time::millis),
        });
        if let Err(error) = self
            .ctx
            .bus
            .publish(INTERRUPTIONS, forwarded.to_string().as_bytes())
            .await
        {
            tracing::warn!(%error, "interruption not forwarded to risk");
        }
        Ok(true)
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
        let mut notice = request
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
            let Some(node) = nodes
                .into_iter()
                .find(|node| node.instance_id == notice.instance_id)
            else {
                continue;
            };
            let pool = Pool {
                region: cluster.region.clone(),
                zone: node.zone.clone(),
                instance_type: node.instance_type.clone(),
            };
            notice.node_name = node.name.clone();
            notice.pool = Some(pool.clone());
            let accepted = self.forward_interruption(&cluster, &notice).await?;
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
