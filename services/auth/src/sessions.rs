//! Access tokens and rotating refresh tokens. A refresh token is used once; presenting a used one
//! again means it was stolen or replayed, and revokes its whole family (every token descended
//! from the same login).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::QuerySelect;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use spot_access::{ACCESS_TOKEN_AUDIENCE, AccessClaims, ISSUER, Revocations, Role, hash_secret};
use spot_db::Database;
use spot_proto::auth::v1 as pb;

use crate::entity::refresh_tokens;
use crate::error::{AuthError, AuthResult};
use crate::members::{self, Member};
use crate::signing::{ACCESS_TOKEN_LIFETIME, SigningKeys, now_millis};

pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long a revoked session's access tokens are refused: as long as the newest can still verify
/// (its lifetime plus the verifier's leeway on `exp`, rounded up).
const REVOCATION_TTL: Duration = Duration::from_secs(ACCESS_TOKEN_LIFETIME.as_secs() + 60);

#[derive(Clone)]
pub struct Sessions {
    db: Database,
    keys: SigningKeys,
    revocations: Revocations,
}

impl Sessions {
    pub fn new(db: Database, keys: SigningKeys, revocations: Revocations) -> Self {
        Self {
            db,
            keys,
            revocations,
        }
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// A new login, acting in the member's tenant: a new refresh-token family.
    pub async fn start(&self, member: &Member) -> AuthResult<pb::Tokens> {
        let family = uuid::Uuid::new_v4().to_string();
        self.issue(member, &family).await
    }

    /// Exchanges a refresh token for a new pair. Reuse of a spent token revokes the family.
    pub async fn refresh(&self, presented: &str) -> AuthResult<pb::Tokens> {
        let now = now_millis();
        let hash = hash_secret(presented);
        let db = self.db.connection();
        // Spend the token in one statement: of two concurrent uses, exactly one succeeds.
        let spent = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .filter(refresh_tokens::Column::TokenHash.eq(&hash))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .filter(refresh_tokens::Column::ExpiresAt.gt(now))
            .exec(db)
            .await?;
        let token = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(&hash))
            .one(db)
            .await?
            .ok_or(AuthError::Unauthenticated("refresh token is not valid"))?;
        if spent.rows_affected != 1 {
            if token.revoked_at.is_some() {
                return Err(AuthError::Unauthenticated(
                    "refresh token was revoked; sign in again",
                ));
            }
            if token.used_at.is_some() {
                revoke_family(db, &token.family_id, now).await?;
                tracing::warn!(family = %token.family_id, "refresh token reused; family revoked");
                return Err(AuthError::Unauthenticated(
                    "refresh token was already used; every session from that login is signed out",
                ));
            }
            return Err(AuthError::Unauthenticated(
                "refresh token expired; sign in again",
            ));
        }
        // The role is read again, and a member removed from the tenant is signed out of it.
        let tenant_id = token
            .tenant_id
            .as_deref()
            .ok_or(AuthError::Unauthenticated("refresh token is not valid"))?;
        let member = members::of_tenant(db, tenant_id, &token.user_id)
            .await
            .ok()
            .filter(Member::has_joined)
            .ok_or(AuthError::Unauthenticated(
                "you are no longer a member of this tenant; sign in again",
            ))?;
        self.issue(&member, &token.family_id).await
    }

    /// Ends the session the refresh token belongs to (if it is `owner`'s, when given), its
    /// access tokens included, on every replica. Unknown tokens are ignored (idempotent).
    pub async fn logout(&self, presented: &str, owner: Option<&str>) -> AuthResult<()> {
        let token = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash_secret(presented)))
            .one(self.db.connection())
            .await?
            .filter(|token| owner.is_none_or(|owner| token.user_id == owner));
        if let Some(token) = token {
            revoke_family(self.db.connection(), &token.family_id, now_millis()).await?;
            self.revocations
                .revoke_session(&token.family_id, REVOCATION_TTL)
                .await?;
        }
        Ok(())
    }

    /// Signs out sessions at once, access tokens included: every session of the account
    /// (a password change), or only those acting in one tenant (a role change there: the role
    /// is in the token).
    pub async fn revoke(&self, user_id: &str, tenant_id: Option<&str>) -> AuthResult<()> {
        let sessions = self
            .live_sessions(self.db.connection(), user_id, tenant_id)
            .await?;
        self.revoke_sessions(&sessions).await?;
        let mut tokens = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now_millis()))
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::RevokedAt.is_null());
        if let Some(tenant_id) = tenant_id {
            tokens = tokens.filter(refresh_tokens::Column::TenantId.eq(tenant_id));
        }
        tokens.exec(self.db.connection()).await?;
        Ok(())
    }

    /// The sessions of an account (in one tenant, or in any) whose access tokens may still
    /// verify: each was issued beside a refresh token created since then.
    pub async fn live_sessions(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        user_id: &str,
        tenant_id: Option<&str>,
    ) -> AuthResult<Vec<String>> {
        let since = now_millis() - REVOCATION_TTL.as_millis() as i64;
        let mut query = refresh_tokens::Entity::find()
            .select_only()
            .column(refresh_tokens::Column::FamilyId)
            .distinct()
            .filter(refresh_tokens::Column::UserId.eq(user_id))
            .filter(refresh_tokens::Column::CreatedAt.gt(since));
        if let Some(tenant_id) = tenant_id {
            query = query.filter(refresh_tokens::Column::TenantId.eq(tenant_id));
        }
        Ok(query.into_tuple().all(db).await?)
    }

    /// Refuses the sessions' access tokens on every replica and ends their open streams.
    pub async fn revoke_sessions(&self, sessions: &[String]) -> AuthResult<()> {
        for session in sessions {
            self.revocations
                .revoke_session(session, REVOCATION_TTL)
                .await?;
        }
        Ok(())
    }

    async fn issue(&self, member: &Member, family: &str) -> AuthResult<pb::Tokens> {
        let now = chrono::Utc::now().timestamp();
        let role: Role = member.role()?;
        let user = &member.user;
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
            sub: user.id.clone(),
            tid: member.tenant_id().to_owned(),
            role,
            adm: user.platform_admin,
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_LIFETIME.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: family.to_owned(),
        };
        let access_token = self.keys.sign(&claims).await?;
        let refresh_token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        refresh_tokens::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            family_id: Set(family.to_owned()),
            user_id: Set(user.id.clone()),
            tenant_id: Set(Some(member.tenant_id().to_owned())),
            token_hash: Set(hash_secret(&refresh_token)),
            expires_at: Set(now_millis() + REFRESH_TOKEN_LIFETIME.as_millis() as i64),
            used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now_millis()),
        }
        .insert(self.db.connection())
        .await?;
        Ok(pb::Tokens {
            access_token,
            refresh_token,
            access_expires_at: Some(prost_types::Timestamp {
                seconds: claims.exp,
                nanos: 0,
            }),
        })
    }
}

async fn revoke_family(
    db: &impl sea_orm::ConnectionTrait,
    family: &str,
    now: i64,
) -> AuthResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
