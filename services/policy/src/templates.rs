//! Node templates as stored: the `NodeTemplate` message, its tenant and its name (unique per tenant).

use prost::Message;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_db::Database;
use spot_db::status as db_status;
use spot_proto::policy::v1::NodeTemplate;
use tonic::Status;

use crate::entity::node_templates;

#[derive(Clone)]
pub struct TemplateStore {
    db: Database,
}

fn decode(row: &node_templates::Model) -> Result<NodeTemplate, Status> {
    NodeTemplate::decode(row.data.as_slice())
        .map_err(|_| Status::internal("a stored node template is unreadable"))
}

fn write_error(name: &str) -> impl Fn(sea_orm::DbErr) -> Status + '_ {
    move |error| match spot_db::DbError::from(error) {
        spot_db::DbError::AlreadyExists(_) => Status::already_exists(format!(
            "invalid `template.name`: a node template named `{name}` already exists"
        )),
        other => spot_error::ServiceError::into_status(other),
    }
}

impl TemplateStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a new template under a fresh id; returns it.
    pub async fn create(
        &self,
        tenant_id: &str,
        mut template: NodeTemplate,
    ) -> Result<NodeTemplate, Status> {
        let now = chrono::Utc::now().timestamp_millis();
        template.id = uuid::Uuid::now_v7().simple().to_string();
        node_templates::ActiveModel {
            id: Set(template.id.clone()),
            tenant_id: Set(tenant_id.to_owned()),
            name: Set(template.name.clone()),
            data: Set(template.encode_to_vec()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.connection())
        .await
        .map_err(write_error(&template.name))?;
        Ok(template)
    }

    async fn row(&self, tenant_id: &str, id: &str) -> Result<node_templates::Model, Status> {
        node_templates::Entity::find_by_id(id)
            .filter(node_templates::Column::TenantId.eq(tenant_id))
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found(format!("node template `{id}` not found")))
    }

    /// The template if it belongs to the tenant; another tenant's does not exist for them.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<NodeTemplate, Status> {
        decode(&self.row(tenant_id, id).await?)
    }

    pub async fn update(
        &self,
        tenant_id: &str,
        template: NodeTemplate,
    ) -> Result<NodeTemplate, Status> {
        self.row(tenant_id, &template.id).await?;
        node_templates::ActiveModel {
            id: Set(template.id.clone()),
            name: Set(template.name.clone()),
            data: Set(template.encode_to_vec()),
            updated_at: Set(chrono::Utc::now().timestamp_millis()),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(write_error(&template.name))?;
        Ok(template)
    }

    pub async fn delete(&self, tenant_id: &str, id: &str) -> Result<(), Status> {
        self.row(tenant_id, id).await?;
        node_templates::Entity::delete_by_id(id)
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(())
    }

    /// Oldest first, after `after` when given.
    pub async fn list(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<NodeTemplate>, Status> {
        let mut query = node_templates::Entity::find()
            .filter(node_templates::Column::TenantId.eq(tenant_id))
            .order_by_asc(node_templates::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(node_templates::Column::Id.gt(after));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(decode).collect()
    }

    /// The tenant's templates among `ids` (one another tenant owns, or none does, is left out).
    pub async fn existing(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<NodeTemplate>, Status> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = node_templates::Entity::find()
            .filter(node_templates::Column::TenantId.eq(tenant_id))
            .filter(node_templates::Column::Id.is_in(ids.iter().cloned()))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        rows.iter().map(decode).collect()
    }
}
