//! UserService: the users of the caller's tenant. Another tenant's users are NOT_FOUND.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use spot_access::{AuditNote, Role, caller, hash_secret};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::user_service_server::UserService;
use tonic::{Request, Response, Status};

use crate::account_actions::AccountAction;
use crate::entity::{tenants, users};
use crate::error::{AuthError, AuthResult};
use crate::signing::now_millis;
use crate::verification::EmailState;
use crate::{AuthApi, convert, page, passwords, tenant_of, validate};

/// A user of the tenant; anyone else's is NOT_FOUND, so ids of other tenants leak nothing.
async fn tenant_user(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> AuthResult<users::Model> {
    users::Entity::find_by_id(user_id)
        .filter(users::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(AuthError::NotFound("user"))
}

async fn owners(db: &impl ConnectionTrait, tenant_id: &str) -> AuthResult<u64> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tenant_id))
        .filter(users::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await?)
}

/// Serialises changes to a tenant's owners: a no-op write to the tenant row takes its write lock
/// (PostgreSQL) or the database's (SQLite) until the transaction ends, so two concurrent
/// demotions or removals cannot both count two owners and leave none.
async fn lock_tenant(txn: &DatabaseTransaction, tenant_id: &str) -> AuthResult<()> {
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::Name,
            Expr::col(tenants::Column::Name).into(),
        )
        .filter(tenants::Column::Id.eq(tenant_id))
        .exec(txn)
        .await?;
    Ok(())
}

fn keeps_an_owner(owners: u64) -> AuthResult<()> {
    if owners <= 1 {
        return Err(AuthError::FailedPrecondition(
            "a tenant keeps at least one owner".into(),
        ));
    }
    Ok(())
}

/// Only an owner may grant or take away the owner role.
fn check_role_change(actor: Role, from: Option<Role>, to: Role) -> AuthResult<()> {
    if (to == Role::Owner || from == Some(Role::Owner)) && actor != Role::Owner {
        return Err(AuthError::PermissionDenied(
            "only an owner may grant or change the owner role",
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl UserService for AuthApi {
    async fn invite_user(
        &self,
        request: Request<pb::InviteUserRequest>,
    ) -> Result<Response<pb::InviteUserResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?;
        let request = request.into_inner();
        let email = validate::email(&request.email, "email")?;
        let role = Role::from_proto(request.role, "role").map_err(AuthError::from)?;
        check_role_change(caller.role().unwrap_or(Role::Viewer), None, role)?;
        let invite_token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let user = self
            .create_user(
                self.ctx.db.connection(),
                tenant_id,
                &email,
                None,
                role,
                false,
                EmailState::Invited,
            )
            .await?;
        let mut row: users::ActiveModel = user.into();
        row.invite_token_hash = Set(Some(hash_secret(&invite_token)));
        let user = row
            .update(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        Ok(
            AuditNote::target(format!("user/{}", user.id)).attach(Response::new(
                pb::InviteUserResponse {
                    user: Some(convert::user(&user)),
                    invite_token,
                },
            )),
        )
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let tenant_id = tenant_of(caller(&request)?)?.to_owned();
        let page_request = request.into_inner().page;
        let size = page::size(page_request.as_ref());
        let mut query = users::Entity::find()
            .filter(users::Column::TenantId.eq(&tenant_id))
            .order_by_asc(users::Column::CreatedAt)
            .order_by_asc(users::Column::Id);
        if let Some(cursor) = page::cursor(page_request.as_ref())? {
            query = query.filter(page::after(
                users::Column::CreatedAt,
                users::Column::Id,
                cursor,
                true,
            ));
        }
        let rows = query
            .limit(size + 1)
            .all(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        let (rows, page) = page::split(rows, size, |row| (row.created_at, &row.id));
        Ok(Response::new(pb::ListUsersResponse {
            users: rows.iter().map(convert::user).collect(),
            page: Some(page),
        }))
    }

    async fn change_user_role(
        &self,
        request: Request<pb::ChangeUserRoleRequest>,
    ) -> Result<Response<pb::ChangeUserRoleResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?;
        let request = request.into_inner();
        let role = Role::from_proto(request.role, "role").map_err(AuthError::from)?;
        let txn = self
            .ctx
            .db
            .connection()
            .begin()
            .await
            .map_err(AuthError::from)?;
        lock_tenant(&txn, tenant_id).await?;
        let user = tenant_user(&txn, tenant_id, &request.user_id).await?;
        if caller.user_id() == Some(user.id.as_str()) {
            return Err(
                AuthError::FailedPrecondition("you cannot change your own role".into()).into(),
            );
        }
        let current: Role = user.role.parse().map_err(AuthError::Internal)?;
        check_role_change(caller.role().unwrap_or(Role::Viewer), Some(current), role)?;
        if current == Role::Owner && role != Role::Owner {
            keeps_an_owner(owners(&txn, tenant_id).await?)?;
        }
        let mut row: users::ActiveModel = user.into();
        row.role = Set(role.as_str().to_owned());
        let user = row.update(&txn).await.map_err(AuthError::from)?;
        txn.commit().await.map_err(AuthError::from)?;
        // The role is in the user's access tokens: they sign in again to act with the new one.
        if current != role {
            self.sessions.revoke_user(&user.id).await?;
        }
        Ok(
            AuditNote::target(format!("user/{}", user.id)).attach(Response::new(
                pb::ChangeUserRoleResponse {
                    user: Some(convert::user(&user)),
                },
            )),
        )
    }

    async fn remove_user(
        &self,
        request: Request<pb::RemoveUserRequest>,
    ) -> Result<Response<pb::RemoveUserResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?;
        let txn = self
            .ctx
            .db
            .connection()
            .begin()
            .await
            .map_err(AuthError::from)?;
        lock_tenant(&txn, tenant_id).await?;
        let user = tenant_user(&txn, tenant_id, &request.into_inner().user_id).await?;
        if caller.user_id() == Some(user.id.as_str()) {
            return Err(AuthError::FailedPrecondition("you cannot remove yourself".into()).into());
        }
        if user.role == Role::Owner.as_str() {
            check_role_change(
                caller.role().unwrap_or(Role::Viewer),
                Some(Role::Owner),
                Role::Viewer,
            )?;
            keeps_an_owner(owners(&txn, tenant_id).await?)?;
        }
        let user_id = user.id.clone();
        // Found before the row goes, since its refresh tokens go with it.
        let sessions = self.sessions.live_sessions(&txn, &user_id).await?;
        users::Entity::delete_by_id(&user_id)
            .exec(&txn)
            .await
            .map_err(AuthError::from)?;
        txn.commit().await.map_err(AuthError::from)?;
        self.sessions.revoke_sessions(&sessions).await?;
        Ok(AuditNote::target(format!("user/{user_id}"))
            .attach(Response::new(pb::RemoveUserResponse {})))
    }

    async fn accept_invite(
        &self,
        request: Request<pb::AcceptInviteRequest>,
    ) -> Result<Response<pb::AcceptInviteResponse>, Status> {
        let address = spot_access::client_address(&request);
        let request = request.into_inner();
        if request.invite_token.is_empty() {
            return Err(AuthError::invalid("invite_token", "is required").into());
        }
        passwords::check_policy(&request.password, "password")?;
        self.account_actions
            .admit(AccountAction::AcceptInvite, address)
            .await?;
        let user = users::Entity::find()
            .filter(users::Column::InviteTokenHash.eq(hash_secret(&request.invite_token)))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::Unauthenticated("invite token is not valid"))?;
        // The user row is created by the invitation, so its age is the invitation's.
        let ttl_millis = self.ctx.config.invite_ttl_seconds.saturating_mul(1000) as i64;
        if now_millis() - user.created_at > ttl_millis {
            return Err(AuthError::Unauthenticated(
                "invite token expired; ask an admin to invite you again",
            )
            .into());
        }
        let password = request.password;
        let hash = self
            .hashing
            .run(move |memory| passwords::hash_in(&password, memory))
            .await??;
        let mut row: users::ActiveModel = user.into();
        row.password_hash = Set(Some(hash));
        row.invite_token_hash = Set(None);
        // The inviting admin vouched for the address, and the token reached its reader.
        row.email_verified_at = Set(Some(now_millis()));
        let user = row
            .update(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        let tokens = self.sessions.start(&user).await?;
        let note = AuditNote::target(format!("user/{}", user.id)).in_tenant(user.tenant_id.clone());
        Ok(note.attach(Response::new(pb::AcceptInviteResponse {
            user: Some(convert::user(&user)),
            tokens: Some(tokens),
        })))
    }
}
