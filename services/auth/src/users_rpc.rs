//! UserService: the users of the caller's tenant. Another tenant's users are NOT_FOUND.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use spot_access::{AuditNote, Role, caller, hash_secret};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::user_service_server::UserService;
use tonic::{Request, Response, Status};

use crate::account_actions::AccountAction;
use crate::entity::{memberships, tenants, users};
use crate::error::{AuthError, AuthResult};
use crate::members::{self, Joining, Member};
use crate::signing::now_millis;
use crate::verification::{self, EmailState};
use crate::{AuthApi, convert, page, passwords, tenant_of, validate};

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
        let (invite_token, token_hash) = verification::new_token();
        let db = self.ctx.db.connection();
        let txn = db.begin().await.map_err(AuthError::from)?;
        // An address with an account is invited as that account: it keeps its password and
        // gains this tenant. The answer is the same as for a new address.
        let account = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&txn)
            .await
            .map_err(AuthError::from)?;
        let has_account = account.as_ref().is_some_and(|a| a.password_hash.is_some());
        let user = match account {
            Some(account) => account,
            None => {
                self.create_account(
                    &txn,
                    (tenant_id, role),
                    &email,
                    None,
                    false,
                    EmailState::Invited,
                )
                .await?
            }
        };
        let membership = members::add(
            &txn,
            &user.id,
            tenant_id,
            role,
            Joining::Invited { token_hash },
        )
        .await?;
        txn.commit().await.map_err(AuthError::from)?;
        let tenant = tenants::Entity::find_by_id(tenant_id)
            .one(db)
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::NotFound("tenant"))?;
        self.send_invitation(&email, &tenant.name, &invite_token, has_account);
        let member = Member { user, membership };
        let mut invited = convert::user(&member);
        // Whether the account administers the platform is not the inviting tenant's to know
        // (and would tell a registered address from a new one).
        invited.platform_admin = false;
        Ok(
            AuditNote::target(format!("user/{}", member.user.id)).attach(Response::new(
                pb::InviteUserResponse {
                    user: Some(invited),
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
        let mut query = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(&tenant_id))
            .order_by_asc(memberships::Column::CreatedAt)
            .order_by_asc(memberships::Column::Id);
        if let Some(cursor) = page::cursor(page_request.as_ref())? {
            query = query.filter(page::after(
                memberships::Column::CreatedAt,
                memberships::Column::Id,
                cursor,
                true,
            ));
        }
        let db = self.ctx.db.connection();
        let rows = query
            .limit(size + 1)
            .all(db)
            .await
            .map_err(AuthError::from)?;
        let (rows, page) = page::split(rows, size, |row| (row.created_at, &row.id));
        let accounts = users::Entity::find()
            .filter(users::Column::Id.is_in(rows.iter().map(|row| row.user_id.clone())))
            .all(db)
            .await
            .map_err(AuthError::from)?;
        let users = rows
            .into_iter()
            .filter_map(|membership| {
                let user = accounts
                    .iter()
                    .find(|a| a.id == membership.user_id)?
                    .clone();
                Some(convert::user(&Member { user, membership }))
            })
            .collect();
        Ok(Response::new(pb::ListUsersResponse {
            users,
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
        let member = members::of_tenant(&txn, tenant_id, &request.user_id).await?;
        if caller.user_id() == Some(member.user.id.as_str()) {
            return Err(
                AuthError::FailedPrecondition("you cannot change your own role".into()).into(),
            );
        }
        let current = member.role()?;
        check_role_change(caller.role().unwrap_or(Role::Viewer), Some(current), role)?;
        if current == Role::Owner && role != Role::Owner && member.has_joined() {
            keeps_an_owner(members::owners(&txn, tenant_id).await?)?;
        }
        let Member { user, membership } = member;
        let mut row: memberships::ActiveModel = membership.into();
        row.role = Set(role.as_str().to_owned());
        let membership = row.update(&txn).await.map_err(AuthError::from)?;
        txn.commit().await.map_err(AuthError::from)?;
        // The role is in the member's access tokens for this tenant: they sign in again to act
        // with the new one. Their sessions in other tenants are not this tenant's to end.
        if current != role {
            self.sessions.revoke(&user.id, Some(tenant_id)).await?;
        }
        let member = Member { user, membership };
        Ok(
            AuditNote::target(format!("user/{}", member.user.id)).attach(Response::new(
                pb::ChangeUserRoleResponse {
                    user: Some(convert::user(&member)),
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
        let member = members::of_tenant(&txn, tenant_id, &request.into_inner().user_id).await?;
        if caller.user_id() == Some(member.user.id.as_str()) {
            return Err(AuthError::FailedPrecondition("you cannot remove yourself".into()).into());
        }
        if member.role()? == Role::Owner {
            check_role_change(
                caller.role().unwrap_or(Role::Viewer),
                Some(Role::Owner),
                Role::Viewer,
            )?;
            if member.has_joined() {
                keeps_an_owner(members::owners(&txn, tenant_id).await?)?;
            }
        }
        let user_id = member.user.id.clone();
        // Found before the rows go, since the refresh tokens may go with the account. (Its
        // refresh tokens for this tenant stop working with the membership.)
        let sessions = self
            .sessions
            .live_sessions(&txn, &user_id, Some(tenant_id))
            .await?;
        memberships::Entity::delete_by_id(&member.membership.id)
            .exec(&txn)
            .await
            .map_err(AuthError::from)?;
        // An account in no tenant any more goes with its last membership.
        if members::count_of_user(&txn, &user_id).await? == 0 {
            users::Entity::delete_by_id(&user_id)
                .exec(&txn)
                .await
                .map_err(AuthError::from)?;
        }
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
        if request.password.len() > passwords::MAX_LENGTH * 4 {
            return Err(AuthError::invalid("password", "is too long").into());
        }
        self.account_actions
            .admit(AccountAction::AcceptInvite, address)
            .await?;
        let db = self.ctx.db.connection();
        let token_hash = hash_secret(&request.invite_token);
        let membership = memberships::Entity::find()
            .filter(memberships::Column::InviteTokenHash.eq(&token_hash))
            .one(db)
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::Unauthenticated("invite token is not valid"))?;
        let ttl_millis = self.ctx.config.invite_ttl_seconds.saturating_mul(1000) as i64;
        if now_millis() - membership.created_at > ttl_millis {
            return Err(AuthError::Unauthenticated(
                "invite token expired; ask an admin to invite you again",
            )
            .into());
        }
        let user = users::Entity::find_by_id(&membership.user_id)
            .one(db)
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::Unauthenticated("invite token is not valid"))?;
        let password = request.password;
        let mut row: users::ActiveModel = user.clone().into();
        match user.password_hash.clone() {
            // An existing account proves itself with its password, counted like a login.
            Some(stored) => {
                let attempt = self.throttle.admit(&user.email, address).await?;
                let matches = self
                    .hashing
                    .run(move |memory| passwords::verify_in(&password, &stored, memory))
                    .await?;
                if !matches {
                    return Err(AuthError::BadCredentials.into());
                }
                self.throttle.succeeded(attempt).await?;
            }
            None => {
                passwords::check_policy(&password, "password")?;
                let hash = self
                    .hashing
                    .run(move |memory| passwords::hash_in(&password, memory))
                    .await??;
                row.password_hash = Set(Some(hash));
            }
        }
        // The inviting admin vouched for the address, and the token reached its reader.
        if user.email_verified_at.is_none() {
            row.email_verified_at = Set(Some(now_millis()));
            row.verification_token_hash = Set(None);
        }
        let txn = db.begin().await.map_err(AuthError::from)?;
        let user = row.update(&txn).await.map_err(AuthError::from)?;
        // Spent in one statement: of two concurrent acceptances one joins.
        let joined_at = now_millis();
        let joined = memberships::Entity::update_many()
            .col_expr(memberships::Column::JoinedAt, Expr::value(joined_at))
            .col_expr(
                memberships::Column::InviteTokenHash,
                Expr::value(Option::<String>::None),
            )
            .filter(memberships::Column::Id.eq(&membership.id))
            .filter(memberships::Column::InviteTokenHash.eq(&token_hash))
            .exec(&txn)
            .await
            .map_err(AuthError::from)?;
        if joined.rows_affected != 1 {
            return Err(AuthError::Unauthenticated("invite token is not valid").into());
        }
        txn.commit().await.map_err(AuthError::from)?;
        let member = Member {
            user,
            membership: memberships::Model {
                joined_at: Some(joined_at),
                invite_token_hash: None,
                ..membership
            },
        };
        let tokens = self.sessions.start(&member).await?;
        let note = member.audit_note();
        Ok(note.attach(Response::new(pb::AcceptInviteResponse {
            user: Some(convert::user(&member)),
            tokens: Some(tokens),
        })))
    }
}
