//! Plans as stored: the `Plan` message, its state and owner; every save is published so WatchPlan
//! on any replica sees it.

use prost::Message;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_bus::SharedBus;
use spot_db::Database;
use spot_kit::topics::OPTIMIZER_PLANS;
use spot_proto::optimizer::v1::{Plan, PlanState};
use tonic::Status;

use crate::entity::plans;

use spot_db::status as db_status;

#[derive(Clone)]
pub struct PlanStore {
    db: Database,
    bus: SharedBus,
}

fn decode(row: &plans::Model) -> Result<Plan, Status> {
    Plan::decode(row.data.as_slice()).map_err(|_| Status::internal("a stored plan is unreadable"))
}

impl PlanStore {
    pub fn new(db: Database, bus: SharedBus) -> Self {
        Self { db, bus }
    }

    pub async fn insert(&self, tenant_id: &str, plan: &Plan) -> Result<(), Status> {
        let now = chrono::Utc::now().timestamp_millis();
        plans::ActiveModel {
            id: Set(plan.id.clone()),
            tenant_id: Set(tenant_id.to_owned()),
            cluster_id: Set(plan.cluster_id.clone()),
            state: Set(plan.state().as_str_name().to_owned()),
            data: Set(plan.encode_to_vec()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        self.publish(plan).await;
        Ok(())
    }

    pub async fn save(&self, plan: &Plan) -> Result<(), Status> {
        plans::ActiveModel {
            id: Set(plan.id.clone()),
            state: Set(plan.state().as_str_name().to_owned()),
            data: Set(plan.encode_to_vec()),
            updated_at: Set(chrono::Utc::now().timestamp_millis()),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(db_status)?;
        self.publish(plan).await;
        Ok(())
    }

    /// The plan if it belongs to the tenant; another tenant's plan does not exist for them.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<Plan, Status> {
        let row = plans::Entity::find_by_id(id)
            .filter(plans::Column::TenantId.eq(tenant_id))
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("plan not found"))?;
        decode(&row)
    }

    /// The tenant's plans of the cluster that are applying now, however many newer plans exist.
    pub async fn applying(&self, tenant_id: &str, cluster_id: &str) -> Result<Vec<Plan>, Status> {
        let rows = plans::Entity::find()
            .filter(plans::Column::TenantId.eq(tenant_id))
            .filter(plans::Column::ClusterId.eq(cluster_id))
            .filter(plans::Column::State.eq(PlanState::Applying.as_str_name()))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        rows.iter().map(decode).collect()
    }

    /// Newest first.
    pub async fn list(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Plan>, Status> {
        let mut query = plans::Entity::find()
            .filter(plans::Column::TenantId.eq(tenant_id))
            .filter(plans::Column::ClusterId.eq(cluster_id))
            .order_by_desc(plans::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(plans::Column::Id.lt(before));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(decode).collect()
    }

    /// Whose plan it is.
    pub async fn tenant_of(&self, id: &str) -> Result<String, Status> {
        plans::Entity::find_by_id(id)
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .map(|row| row.tenant_id)
            .ok_or_else(|| Status::not_found("plan not found"))
    }

    async fn publish(&self, plan: &Plan) {
        if let Err(error) = self
            .bus
            .publish(OPTIMIZER_PLANS, &plan.encode_to_vec())
            .await
        {
            tracing::warn!(%error, plan = %plan.id, "a plan change was stored but not published");
        }
    }
}
