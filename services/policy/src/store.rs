//! Policies as stored: the version in force per (tenant, cluster) and every version ever saved.
//! A save writes the next version and moves the pointer in one transaction; two concurrent saves
//! of one policy never write the same version (the row lock orders them; the primary key of the
//! history refuses what slips through).

use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, TransactionTrait,
};
use spot_db::Database;
use spot_db::status as db_status;
use spot_proto::policy::v1 as pb;
use tonic::Status;

use crate::entity::{policies, policy_versions};

#[derive(Clone)]
pub struct PolicyStore {
    db: Database,
}

fn decode(data: &[u8]) -> Result<pb::Policy, Status> {
    pb::Policy::decode(data).map_err(|_| Status::internal("a stored policy is unreadable"))
}

fn save_error(error: sea_orm::DbErr) -> Status {
    match spot_db::DbError::from(error) {
        spot_db::DbError::AlreadyExists(_) => Status::aborted(
            "the policy was changed at the same time by someone else: read it again and retry",
        ),
        other => spot_error::ServiceError::into_status(other),
    }
}

impl PolicyStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The version in force, if the (tenant, cluster) has one; cluster "" is the tenant default.
    pub async fn current(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<Option<pb::Policy>, Status> {
        let row = policies::Entity::find_by_id((tenant_id.to_owned(), cluster_id.to_owned()))
            .one(self.db.connection())
            .await
            .map_err(db_status)?;
        row.map(|r| decode(&r.data)).transpose()
    }

    /// The cluster's own policy, else the tenant default, else none (the caller uses the built-in).
    pub async fn effective(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<Option<pb::Policy>, Status> {
        if !cluster_id.is_empty()
            && let Some(own) = self.current(tenant_id, cluster_id).await?
        {
            return Ok(Some(own));
        }
        self.current(tenant_id, "").await
    }

    /// Saves `policy` as the next version of (tenant, policy.cluster_id); returns it as stored.
    ///
    /// The transaction writes before it reads: the version bump takes the write lock first, so
    /// on SQLite it waits for other writers instead of failing on a stale read snapshot, and on
    /// PostgreSQL a concurrent save of the same policy waits for this one and takes the next
    /// version.
    pub async fn save(
        &self,
        tenant_id: &str,
        mut policy: pb::Policy,
    ) -> Result<pb::Policy, Status> {
        let now = chrono::Utc::now().timestamp_millis();
        let key = (tenant_id.to_owned(), policy.cluster_id.clone());
        let this = || {
            Condition::all()
                .add(policies::Column::TenantId.eq(key.0.as_str()))
                .add(policies::Column::ClusterId.eq(key.1.as_str()))
        };
        let txn = self.db.connection().begin().await.map_err(db_status)?;
        let bumped = policies::Entity::update_many()
            .col_expr(
                policies::Column::Version,
                Expr::col(policies::Column::Version).add(1),
            )
            .col_expr(policies::Column::UpdatedAt, Expr::value(now))
            .filter(this())
            .exec(&txn)
            .await
            .map_err(save_error)?;
        let version = if bumped.rows_affected == 0 {
            policies::ActiveModel {
                tenant_id: Set(key.0.clone()),
                cluster_id: Set(key.1.clone()),
                version: Set(1),
                data: Set(Vec::new()),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(save_error)?;
            1
        } else {
            policies::Entity::find()
                .filter(this())
                .one(&txn)
                .await
                .map_err(db_status)?
                .map_or(1, |row| row.version)
        };
        policy.version = u32::try_from(version).unwrap_or_default();
        policy.changed_at = Some(spot_proto::time::timestamp(now));
        let data = policy.encode_to_vec();
        policies::Entity::update_many()
            .col_expr(policies::Column::Data, Expr::value(data.clone()))
            .filter(this())
            .exec(&txn)
            .await
            .map_err(save_error)?;
        policy_versions::ActiveModel {
            tenant_id: Set(key.0.clone()),
            cluster_id: Set(key.1.clone()),
            version: Set(version),
            data: Set(data),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(save_error)?;
        txn.commit().await.map_err(save_error)?;
        Ok(policy)
    }

    pub async fn version(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        version: u32,
    ) -> Result<Option<pb::Policy>, Status> {
        let version = i32::try_from(version).unwrap_or(i32::MAX);
        let row = policy_versions::Entity::find_by_id((
            tenant_id.to_owned(),
            cluster_id.to_owned(),
            version,
        ))
        .one(self.db.connection())
        .await
        .map_err(db_status)?;
        row.map(|r| decode(&r.data)).transpose()
    }

    /// Newest first, versions below `before` when given.
    pub async fn versions(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        before: Option<u32>,
        limit: u64,
    ) -> Result<Vec<pb::Policy>, Status> {
        let mut query = policy_versions::Entity::find()
            .filter(policy_versions::Column::TenantId.eq(tenant_id))
            .filter(policy_versions::Column::ClusterId.eq(cluster_id))
            .order_by_desc(policy_versions::Column::Version)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(
                policy_versions::Column::Version.lt(i32::try_from(before).unwrap_or(i32::MAX)),
            );
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(|r| decode(&r.data)).collect()
    }

    /// The policies in force in the tenant that use the node template.
    pub async fn using_template(
        &self,
        tenant_id: &str,
        template_id: &str,
    ) -> Result<Vec<pb::Policy>, Status> {
        let rows = policies::Entity::find()
            .filter(policies::Column::TenantId.eq(tenant_id))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        let mut users = Vec::new();
        for row in rows {
            let policy = decode(&row.data)?;
            if policy.node_template_ids.iter().any(|id| id == template_id) {
                users.push(policy);
            }
        }
        Ok(users)
    }
}
