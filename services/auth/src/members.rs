//! Memberships: which tenants an account belongs to, with which role. A tenant's "users" are its
//! members; an account acts in one tenant at a time (the tenant of its session).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use spot_access::{AuditNote, Role};

use crate::entity::{memberships, tenants, users};
use crate::error::{AuthError, AuthResult};
use crate::signing::now_millis;

/// An account as a member of one tenant.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub user: users::Model,
    pub membership: memberships::Model,
}

impl Member {
    pub fn tenant_id(&self) -> &str {
        &self.membership.tenant_id
    }

    pub fn role(&self) -> AuthResult<Role> {
        self.membership.role.parse().map_err(AuthError::Internal)
    }

    pub fn has_joined(&self) -> bool {
        self.membership.joined_at.is_some()
    }

    /// The audit target of a call that signs the member in, in the member's tenant.
    pub fn audit_note(&self) -> AuditNote {
        AuditNote::target(format!("user/{}", self.user.id)).in_tenant(self.tenant_id().to_owned())
    }
}

/// Whether a new membership is in force at once (a tenant's first owner) or waits for its
/// invitation to be accepted.
pub(crate) enum Joining {
    Now,
    Invited { token_hash: String },
}

pub(crate) async fn add(
    db: &impl ConnectionTrait,
    user_id: &str,
    tenant_id: &str,
    role: Role,
    joining: Joining,
) -> AuthResult<memberships::Model> {
    let now = now_millis();
    let (invite_token_hash, joined_at) = match joining {
        Joining::Now => (None, Some(now)),
        Joining::Invited { token_hash } => (Some(token_hash), None),
    };
    memberships::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        user_id: Set(user_id.to_owned()),
        tenant_id: Set(tenant_id.to_owned()),
        role: Set(role.as_str().to_owned()),
        invite_token_hash: Set(invite_token_hash),
        created_at: Set(now),
        joined_at: Set(joined_at),
    }
    .insert(db)
    .await
    .map_err(|e| match AuthError::from(e) {
        AuthError::AlreadyExists(_) => {
            AuthError::AlreadyExists("this email is already a member of the tenant, or invited")
        }
        other => other,
    })
}

/// The account's membership of the tenant, joined or invited; anyone else's is NOT_FOUND, so
/// ids of other tenants' users leak nothing.
pub(crate) async fn of_tenant(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> AuthResult<Member> {
    let membership = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    Ok(Member { user, membership })
}

/// The tenant an account acts in when it names none: the one it joined first.
pub(crate) async fn first_joined(
    db: &impl ConnectionTrait,
    user: users::Model,
) -> AuthResult<Option<Member>> {
    let membership = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(&user.id))
        .filter(memberships::Column::JoinedAt.is_not_null())
        .order_by_asc(memberships::Column::JoinedAt)
        .order_by_asc(memberships::Column::Id)
        .one(db)
        .await?;
    Ok(membership.map(|membership| Member { user, membership }))
}

/// Every tenant the account has joined, with the tenant's name, first joined first.
pub(crate) async fn joined(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> AuthResult<Vec<(memberships::Model, tenants::Model)>> {
    let rows = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .filter(memberships::Column::JoinedAt.is_not_null())
        .order_by_asc(memberships::Column::JoinedAt)
        .order_by_asc(memberships::Column::Id)
        .all(db)
        .await?;
    let tenants = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(rows.iter().map(|m| m.tenant_id.clone())))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|membership| {
            let tenant = tenants
                .iter()
                .find(|t| t.id == membership.tenant_id)?
                .clone();
            Some((membership, tenant))
        })
        .collect())
}

/// Owners who have joined: an invitation not accepted yet keeps no tenant owned.
pub(crate) async fn owners(db: &impl ConnectionTrait, tenant_id: &str) -> AuthResult<u64> {
    Ok(memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(tenant_id))
        .filter(memberships::Column::Role.eq(Role::Owner.as_str()))
        .filter(memberships::Column::JoinedAt.is_not_null())
        .count(db)
        .await?)
}

/// How many tenants the account belongs to, joined or invited.
pub(crate) async fn count_of_user(db: &impl ConnectionTrait, user_id: &str) -> AuthResult<u64> {
    Ok(memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id))
        .count(db)
        .await?)
}
