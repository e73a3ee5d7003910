//! The auth service: accounts, tenants, tokens, roles, API keys, audit, notifications and the
//! platform admin console. Who may call each RPC is decided by `spot_access::rules`, in front of
//! every service; the handlers here check which tenant owns the data.

mod account_actions;
mod admin_rpc;
mod api_keys_rpc;
mod audit_rpc;
mod auth_rpc;
mod bootstrap;
mod convert;
mod entity;
mod error;
mod hashing;
mod members;
mod notifications;
mod page;
pub mod passwords;
mod sessions;
mod signing;
mod throttle;
mod users_rpc;
mod validate;
mod verification;

use std::sync::Arc;

use spot_db::SystemSettingsStore;
use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::auth::v1::admin_service_server::AdminServiceServer;
use spot_proto::auth::v1::api_key_service_server::ApiKeyServiceServer;
use spot_proto::auth::v1::audit_service_server::AuditServiceServer;
use spot_proto::auth::v1::auth_service_server::AuthServiceServer;
use spot_proto::auth::v1::notification_service_server::NotificationServiceServer;
use spot_proto::auth::v1::user_service_server::UserServiceServer;

pub use error::AuthError;
pub use notifications::NOTIFICATIONS_TOPIC;

#[derive(Clone)]
pub struct AuthApi {
    ctx: ServiceContext,
    sessions: sessions::Sessions,
    throttle: throttle::LoginThrottle,
    settings: SystemSettingsStore,
    hashing: hashing::Hashing,
    account_actions: account_actions::AccountActions,
    /// Verified against when an email is unknown, so that path costs as much as a wrong password.
    decoy_hash: Arc<String>,
}

/// Prepares the auth service (signing keys, the first platform admin, the notification intake)
/// and mounts its gRPC services.
pub async fn register(
    ctx: &ServiceContext,
    registry: &mut ServiceRegistry,
) -> Result<(), AuthError> {
    let keys = signing::SigningKeys::load(ctx.db.clone(), ctx.master_key.clone()).await?;
    let decoy_hash = tokio::task::spawn_blocking(passwords::decoy_hash)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let api = AuthApi {
        ctx: ctx.clone(),
        sessions: sessions::Sessions::new(
            ctx.db.clone(),
            keys,
            spot_access::Revocations::new(ctx.bus.clone()),
        ),
        throttle: throttle::LoginThrottle::new(ctx.bus.clone()),
        settings: SystemSettingsStore::new(ctx.db.clone()),
        hashing: hashing::Hashing::new(ctx.config.password_hash_memory_mib),
        account_actions: account_actions::AccountActions::new(
            ctx.bus.clone(),
            ctx.config.account_actions_per_hour,
        ),
        decoy_hash: Arc::new(decoy_hash),
    };
    bootstrap::ensure_platform_admin(&api).await?;
    notifications::start_intake(ctx.clone()).await?;
    registry
        .add(AuthServiceServer::new(api.clone()))
        .add(UserServiceServer::new(api.clone()))
        .add(ApiKeyServiceServer::new(api.clone()))
        .add(AuditServiceServer::new(api.clone()))
        .add(NotificationServiceServer::new(api.clone()))
        .add(AdminServiceServer::new(api));
    Ok(())
}

/// The tenant a caller acts in; calls that need one refuse callers without.
fn tenant_of(caller: &spot_access::Caller) -> Result<&str, AuthError> {
    caller.tenant_id().ok_or(AuthError::PermissionDenied(
        "this call acts within a tenant",
    ))
}
