//! Email verification and the mail that keeps sign-up from revealing who is registered.
//!
//! Sign-up answers the same for a new and a registered address; what differs is the mail: a new
//! address gets a link to verify it, a registered one a notice that someone tried to sign up with
//! it. Only the person reading that mailbox learns which, and an account cannot log in before its
//! owner has shown they read it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use spot_access::hash_secret;
use spot_kit::mail::Mail;

use crate::AuthApi;
use crate::entity::users;
use crate::error::{AuthError, AuthResult};
use crate::signing::now_millis;

/// How long a verification link works; asking for a new one replaces it.
pub const VERIFICATION_TTL: Duration = Duration::from_secs(48 * 3600);

/// What a new user row says about its email.
pub(crate) enum EmailState {
    /// Shown already (the platform admin from the config; invitees when they accept, since the
    /// invite token reached them by mail).
    Verified,
    /// Waiting for the token whose hash this is.
    Unverified { token_hash: String },
    /// An invitation not accepted yet: accepting it verifies the address.
    Invited,
}

/// A fresh one-time token and its stored hash.
pub(crate) fn new_token() -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hash_secret(&token);
    (token, hash)
}

impl AuthApi {
    /// Where links in mail point: the public URL, or the address this process serves on.
    fn web_url(&self) -> String {
        if let Some(url) = &self.ctx.config.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let listen = self.ctx.config.listen;
        let host = if listen.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            listen.ip().to_string()
        };
        format!("http://{host}:{}", listen.port())
    }

    pub(crate) fn send_verification(&self, email: &str, token: &str) {
        let link = format!("{}/verify-email?token={token}", self.web_url());
        self.ctx.mailer.send(Mail {
            to: email.to_owned(),
            subject: "Verify your email for Spot Optimizer".to_owned(),
            body: format!(
                "Follow this link within {} hours to finish signing up: {link}",
                VERIFICATION_TTL.as_secs() / 3600
            ),
            link: Some(link),
        });
    }

    /// An invitation into a tenant: a new address sets a password, an account signs in with its
    /// own to join.
    pub(crate) fn send_invitation(
        &self,
        email: &str,
        tenant_name: &str,
        token: &str,
        has_account: bool,
    ) {
        let link = format!("{}/invite?token={token}", self.web_url());
        let how = if has_account {
            "Join with your existing Spot Optimizer password"
        } else {
            "Choose a password to join"
        };
        self.ctx.mailer.send(Mail {
            to: email.to_owned(),
            subject: format!("You are invited to {tenant_name} on Spot Optimizer"),
            body: format!(
                "You are invited to the tenant {tenant_name}. {how} at {link} within {} days.",
                self.ctx.config.invite_ttl_seconds / 86_400
            ),
            link: Some(link),
        });
    }

    /// Someone signed up with an address that has an account: its owner is told, the caller
    /// is answered as for a new address. An account still waiting for verification gets a new
    /// link instead, so a lost first mail is not a dead end.
    pub(crate) async fn tell_registered(&self, user: &users::Model) -> AuthResult<()> {
        if user.email_verified_at.is_none() && user.password_hash.is_some() {
            return self.renew_verification(user).await;
        }
        let login = format!("{}/login", self.web_url());
        self.ctx.mailer.send(Mail {
            to: user.email.clone(),
            subject: "Someone tried to sign up with your email".to_owned(),
            body: format!(
                "This address already has a Spot Optimizer account, so no new one was made. If it \
                 was you, log in at {login}. If it was not, you can ignore this mail."
            ),
            link: None,
        });
        Ok(())
    }

    /// A new verification token for an unverified account (the old one stops working).
    pub(crate) async fn renew_verification(&self, user: &users::Model) -> AuthResult<()> {
        let (token, hash) = new_token();
        users::Entity::update_many()
            .col_expr(users::Column::VerificationTokenHash, Expr::value(hash))
            .col_expr(users::Column::VerificationSentAt, Expr::value(now_millis()))
            .filter(users::Column::Id.eq(&user.id))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(self.ctx.db.connection())
            .await?;
        self.send_verification(&user.email, &token);
        Ok(())
    }

    /// Marks the token's account verified, once: of two concurrent uses one succeeds.
    pub(crate) async fn verify_email(&self, token: &str) -> AuthResult<users::Model> {
        let hash = hash_secret(token);
        let db = self.ctx.db.connection();
        let user = users::Entity::find()
            .filter(users::Column::VerificationTokenHash.eq(&hash))
            .one(db)
            .await?
            .ok_or(AuthError::Unauthenticated(
                "verification token is not valid (or was already used); log in, or ask for a new email",
            ))?;
        let sent_at = user.verification_sent_at.unwrap_or(user.created_at);
        if now_millis() - sent_at > VERIFICATION_TTL.as_millis() as i64 {
            return Err(AuthError::Unauthenticated(
                "verification token expired; ask for a new email",
            ));
        }
        let now = now_millis();
        let done = users::Entity::update_many()
            .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
            .col_expr(
                users::Column::VerificationTokenHash,
                Expr::value(Option::<String>::None),
            )
            .filter(users::Column::Id.eq(&user.id))
            .filter(users::Column::VerificationTokenHash.eq(&hash))
            .exec(db)
            .await?;
        if done.rows_affected != 1 {
            return Err(AuthError::Unauthenticated(
                "verification token is not valid (or was already used); log in, or ask for a new email",
            ));
        }
        Ok(users::Model {
            email_verified_at: Some(now),
            verification_token_hash: None,
            ..user
        })
    }
}
