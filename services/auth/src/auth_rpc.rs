//! AuthService: sign-up, login, refresh, logout, me, change password, JWKS, API key verification.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use spot_access::{AuditNote, Caller, Role, caller, client_address, hash_secret};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::auth_service_server::AuthService;
use tonic::{Request, Response, Status};

use crate::account_actions::AccountAction;
use crate::entity::{api_keys, tenants, users};
use crate::error::{AuthError, AuthResult};
use crate::members::{self, Joining, Member};
use crate::signing::now_millis;
use crate::verification::{self, EmailState};
use crate::{AuthApi, convert, passwords, tenant_of, validate};

impl AuthApi {
    /// Creates an account; `AlreadyExists` when the email is taken. Its tenant and role go in
    /// a membership (`members::add`), the first of them also on the row (see `users::Model`).
    pub(crate) async fn create_account(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        first_membership: (&str, Role),
        email: &str,
        password_hash: Option<String>,
        platform_admin: bool,
        email_state: EmailState,
    ) -> AuthResult<users::Model> {
        let now = now_millis();
        let (verified_at, token_hash, sent_at) = match email_state {
            EmailState::Verified => (Some(now), None, None),
            EmailState::Unverified { token_hash } => (None, Some(token_hash), Some(now)),
            EmailState::Invited => (None, None, None),
        };
        let (tenant_id, role) = first_membership;
        let user = users::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            first_tenant_id: Set(tenant_id.to_owned()),
            first_role: Set(role.as_str().to_owned()),
            email: Set(email.to_owned()),
            password_hash: Set(password_hash),
            platform_admin: Set(platform_admin),
            created_at: Set(now),
            email_verified_at: Set(verified_at),
            verification_token_hash: Set(token_hash),
            verification_sent_at: Set(sent_at),
        };
        user.insert(db).await.map_err(|e| match AuthError::from(e) {
            AuthError::AlreadyExists(_) => {
                AuthError::AlreadyExists("this email cannot be used for a new account")
            }
            other => other,
        })
    }

    /// A tenant and its first owner (a new account), in one transaction.
    pub(crate) async fn create_tenant_with_owner(
        &self,
        tenant_name: &str,
        email: &str,
        password_hash: String,
        platform_admin: bool,
        email_state: EmailState,
    ) -> AuthResult<Member> {
        let txn = self.ctx.db.connection().begin().await?;
        let tenant = tenants::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            name: Set(tenant_name.to_owned()),
            created_at: Set(now_millis()),
        }
        .insert(&txn)
        .await?;
        let user = self
            .create_account(
                &txn,
                (&tenant.id, Role::Owner),
                email,
                Some(password_hash),
                platform_admin,
                email_state,
            )
            .await?;
        let membership =
            members::add(&txn, &user.id, &tenant.id, Role::Owner, Joining::Now).await?;
        txn.commit().await?;
        Ok(Member { user, membership })
    }

    /// The tenant a signed-in account acts in after proving itself: the one it asked for, or
    /// the one it joined first.
    async fn member_to_sign_in(&self, user: users::Model, tenant_id: &str) -> AuthResult<Member> {
        let db = self.ctx.db.connection();
        if tenant_id.is_empty() {
            return members::first_joined(db, user)
                .await?
                .ok_or(AuthError::FailedPrecondition(
                    "this account belongs to no tenant any more; ask an admin to invite you".into(),
                ));
        }
        members::of_tenant(db, tenant_id, &user.id)
            .await
            .ok()
            .filter(Member::has_joined)
            .ok_or(AuthError::NotFound("tenant"))
    }

    async fn user_of(&self, caller: &Caller) -> AuthResult<users::Model> {
        let user_id = caller.user_id().ok_or(AuthError::PermissionDenied(
            "this call is for signed-in users",
        ))?;
        users::Entity::find_by_id(user_id)
            .one(self.ctx.db.connection())
            .await?
            .ok_or(AuthError::Unauthenticated("the account no longer exists"))
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let address = client_address(&request);
        let request = request.into_inner();
        let tenant_name = validate::name(&request.tenant_name, "tenant_name")?;
        let email = validate::email(&request.email, "email")?;
        passwords::check_policy(&request.password, "password")?;
        self.account_actions
            .admit(AccountAction::SignUp, address)
            .await?;
        // Hashed whether or not the email is registered, so both answers cost the same.
        let password = request.password;
        let hash = self
            .hashing
            .run(move |memory| passwords::hash_in(&password, memory))
            .await??;
        let registered = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        if let Some(user) = registered {
            self.tell_registered(&user).await?;
            return Ok(Response::new(pb::SignUpResponse {}));
        }
        let (token, token_hash) = verification::new_token();
        match self
            .create_tenant_with_owner(
                &tenant_name,
                &email,
                hash,
                false,
                EmailState::Unverified { token_hash },
            )
            .await
        {
            Ok(member) => {
                self.send_verification(&member.user.email, &token);
                let note = member.audit_note();
                Ok(note.attach(Response::new(pb::SignUpResponse {})))
            }
            // Registered a moment ago by a concurrent sign-up.
            Err(AuthError::AlreadyExists(_)) => {
                let user = users::Entity::find()
                    .filter(users::Column::Email.eq(&email))
                    .one(self.ctx.db.connection())
                    .await
                    .map_err(AuthError::from)?;
                if let Some(user) = user {
                    self.tell_registered(&user).await?;
                }
                Ok(Response::new(pb::SignUpResponse {}))
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let token = request.into_inner().token;
        if token.is_empty() {
            return Err(AuthError::invalid("token", "is required").into());
        }
        if token.len() > 128 {
            return Err(AuthError::invalid("token", "is too long").into());
        }
        let user = AuthApi::verify_email(self, &token).await?;
        let member = self.member_to_sign_in(user, "").await?;
        let tokens = self.sessions.start(&member).await?;
        let note = member.audit_note();
        Ok(note.attach(Response::new(pb::VerifyEmailResponse {
            user: Some(convert::user(&member)),
            tokens: Some(tokens),
        })))
    }

    async fn resend_verification_email(
        &self,
        request: Request<pb::ResendVerificationEmailRequest>,
    ) -> Result<Response<pb::ResendVerificationEmailResponse>, Status> {
        let address = client_address(&request);
        let email = validate::email(&request.into_inner().email, "email")?;
        self.account_actions
            .admit(AccountAction::ResendVerification, address)
            .await?;
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        // The same answer for an unknown, a verified and an unverified address.
        if let Some(user) =
            user.filter(|u| u.email_verified_at.is_none() && u.password_hash.is_some())
        {
            self.renew_verification(&user).await?;
        }
        Ok(Response::new(pb::ResendVerificationEmailResponse {}))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let address = client_address(&request);
        let request = request.into_inner();
        let email = validate::email(&request.email, "email")?;
        if request.password.len() > passwords::MAX_LENGTH * 4 {
            return Err(AuthError::invalid("password", "is too long").into());
        }
        let attempt = self.throttle.admit(&email, address).await?;
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        // Unknown emails and pending invites verify against the decoy: the same cost, the same answer.
        let stored = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.decoy_hash.as_ref().clone());
        let password = request.password;
        let matches = self
            .hashing
            .run(move |memory| passwords::verify_in(&password, &stored, memory))
            .await?;
        let user = match user {
            Some(user) if matches && user.password_hash.is_some() => user,
            // The attempt was counted when it was admitted.
            _ => return Err(AuthError::BadCredentials.into()),
        };
        self.throttle.succeeded(attempt).await?;
        // Said only after the right password, so it reveals nothing to someone guessing.
        if user.email_verified_at.is_none() {
            return Err(AuthError::FailedPrecondition(
                "this email is not verified yet: follow the link in the verification email \
                 (or ask for a new one), then log in"
                    .into(),
            )
            .into());
        }
        let member = self.member_to_sign_in(user, &request.tenant_id).await?;
        let tokens = self.sessions.start(&member).await?;
        let note = member.audit_note();
        Ok(note.attach(Response::new(pb::LoginResponse {
            user: Some(convert::user(&member)),
            tokens: Some(tokens),
        })))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let token = request.into_inner().refresh_token;
        if token.is_empty() {
            return Err(AuthError::invalid("refresh_token", "is required").into());
        }
        let tokens = self.sessions.refresh(&token).await?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(tokens),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let token = request.into_inner().refresh_token;
        if token.is_empty() {
            return Err(AuthError::invalid("refresh_token", "is required").into());
        }
        self.sessions.logout(&token, None).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn me(
        &self,
        request: Request<pb::MeRequest>,
    ) -> Result<Response<pb::MeResponse>, Status> {
        let caller = caller(&request)?;
        let user = self.user_of(caller).await?;
        let db = self.ctx.db.connection();
        let member = members::of_tenant(db, tenant_of(caller)?, &user.id).await?;
        let memberships = members::joined(db, &user.id).await?;
        let safe_mode = self.settings.get().await?.safe_mode;
        Ok(Response::new(pb::MeResponse {
            user: Some(convert::user(&member)),
            memberships: memberships
                .iter()
                .map(|(membership, tenant)| convert::membership(membership, tenant))
                .collect(),
            safe_mode,
        }))
    }

    async fn switch_tenant(
        &self,
        request: Request<pb::SwitchTenantRequest>,
    ) -> Result<Response<pb::SwitchTenantResponse>, Status> {
        let user = self.user_of(caller(&request)?).await?;
        let request = request.into_inner();
        if request.tenant_id.is_empty() {
            return Err(AuthError::invalid("tenant_id", "is required").into());
        }
        let member = self.member_to_sign_in(user, &request.tenant_id).await?;
        let tokens = self.sessions.start(&member).await?;
        if !request.refresh_token.is_empty() {
            self.sessions
                .logout(&request.refresh_token, Some(&member.user.id))
                .await?;
        }
        let note = member.audit_note();
        Ok(note.attach(Response::new(pb::SwitchTenantResponse {
            user: Some(convert::user(&member)),
            tokens: Some(tokens),
        })))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let address = client_address(&request);
        let user = self.user_of(caller(&request)?).await?;
        let request = request.into_inner();
        passwords::check_policy(&request.new_password, "new_password")?;
        self.account_actions
            .admit(AccountAction::ChangePassword, address)
            .await?;
        if request.new_password == request.current_password {
            return Err(AuthError::invalid(
                "new_password",
                "must differ from the current password",
            )
            .into());
        }
        let stored = user.password_hash.clone().unwrap_or_default();
        let current = request.current_password;
        if !self
            .hashing
            .run(move |memory| passwords::verify_in(&current, &stored, memory))
            .await?
        {
            return Err(AuthError::invalid("current_password", "is wrong").into());
        }
        let new = request.new_password;
        let hash = self
            .hashing
            .run(move |memory| passwords::hash_in(&new, memory))
            .await??;
        let user_id = user.id.clone();
        let mut row: users::ActiveModel = user.into();
        row.password_hash = Set(Some(hash));
        row.update(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        self.sessions.revoke(&user_id, None).await?;
        Ok(AuditNote::target(format!("user/{user_id}"))
            .attach(Response::new(pb::ChangePasswordResponse {})))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        Ok(Response::new(pb::GetJwksResponse {
            jwks_json: self.sessions.keys().jwks_json().await?,
        }))
    }

    async fn verify_api_key(
        &self,
        request: Request<pb::VerifyApiKeyRequest>,
    ) -> Result<Response<pb::VerifyApiKeyResponse>, Status> {
        let secret = request.into_inner().secret;
        let key = api_keys::Entity::find()
            .filter(api_keys::Column::SecretHash.eq(hash_secret(&secret)))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?
            .filter(|key| key.revoked_at.is_none())
            .ok_or(AuthError::Unauthenticated("API key is unknown or revoked"))?;
        let now = now_millis();
        // Recorded at most once a minute per key, so verification does not write on every call.
        if key.last_used_at.is_none_or(|at| now - at > 60_000) {
            let mut row: api_keys::ActiveModel = key.clone().into();
            row.last_used_at = Set(Some(now));
            row.update(self.ctx.db.connection())
                .await
                .map_err(AuthError::from)?;
        }
        Ok(Response::new(pb::VerifyApiKeyResponse {
            api_key: Some(convert::api_key(&key)),
            tenant_id: key.tenant_id,
        }))
    }
}
