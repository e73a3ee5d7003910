//! The auth service: accounts, tenants, tokens, roles, API keys, audit, notifications and the
//! platform admin console.
//!
//! Mounted now: every contract. Implemented now: AdminService.GetSystemHealth (it asks every
//! service's health endpoint through its gRPC client). The rest lands with the auth issue; until
//! then those RPCs answer UNIMPLEMENTED (tonic's generated default), never a fake result.

mod system_health;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::auth::v1::admin_service_server::AdminServiceServer;
use spot_proto::auth::v1::api_key_service_server::{ApiKeyService, ApiKeyServiceServer};
use spot_proto::auth::v1::audit_service_server::{AuditService, AuditServiceServer};
use spot_proto::auth::v1::auth_service_server::{AuthService, AuthServiceServer};
use spot_proto::auth::v1::notification_service_server::{
    NotificationService, NotificationServiceServer,
};
use spot_proto::auth::v1::user_service_server::{UserService, UserServiceServer};

#[derive(Clone)]
pub struct AuthApi {
    ctx: ServiceContext,
}

impl AuthService for AuthApi {}
impl UserService for AuthApi {}
impl ApiKeyService for AuthApi {}
impl AuditService for AuthApi {}
impl NotificationService for AuthApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = AuthApi { ctx: ctx.clone() };
    registry
        .add(AuthServiceServer::new(api.clone()))
        .add(UserServiceServer::new(api.clone()))
        .add(ApiKeyServiceServer::new(api.clone()))
        .add(AuditServiceServer::new(api.clone()))
        .add(NotificationServiceServer::new(api.clone()))
        .add(AdminServiceServer::new(api));
}
