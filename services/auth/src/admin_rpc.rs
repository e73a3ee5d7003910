//! AdminService (platform admins): service health, tenants, system config, signing-key rotation.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use spot_access::{AuditNote, SIGNING_KEY_ROTATED_TOPIC, caller};
use spot_config::ServiceName;
use spot_db::{Setting, SystemSettings};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::admin_service_server::AdminService;
use spot_proto::cluster::v1::CountClustersRequest;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::events::v1::SigningKeyRotated;
use tonic::{Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::entity::{memberships, tenants};
use crate::error::AuthError;
use crate::{AuthApi, convert, page};

pub const MIN_RISK_TTL_SECONDS: u32 = 60;
pub const MAX_RISK_TTL_SECONDS: u32 = 7 * 24 * 3600;

fn to_proto(settings: &SystemSettings) -> pb::SystemConfig {
    pb::SystemConfig {
        safe_mode: settings.safe_mode,
        global_risk_ttl_seconds: settings.global_risk_ttl_seconds,
    }
}

fn unhealthy(service: ServiceName, detail: String) -> pb::ServiceHealth {
    pb::ServiceHealth {
        service: service.as_str().to_owned(),
        serving: false,
        detail,
    }
}

impl AuthApi {
    /// Each tenant's clusters, from the cluster service; None when it did not answer.
    async fn cluster_counts(&self, tenant_ids: Vec<String>) -> Option<HashMap<String, u32>> {
        let channel = self.ctx.clients.channel(ServiceName::Cluster)?;
        match FleetServiceClient::new(channel)
            .count_clusters(CountClustersRequest { tenant_ids })
            .await
        {
            Ok(response) => Some(response.into_inner().clusters),
            Err(status) => {
                tracing::warn!(%status, "cluster counts unavailable for the tenant list");
                None
            }
        }
    }
}

#[tonic::async_trait]
impl AdminService for AuthApi {
    /// Asks each service, wherever it runs, for its health under its platform name (`cluster`, ...).
    async fn get_system_health(
        &self,
        _request: Request<pb::GetSystemHealthRequest>,
    ) -> Result<Response<pb::GetSystemHealthResponse>, Status> {
        let checks = ServiceName::ALL.map(|service| async move {
            let Some(channel) = self.ctx.clients.channel(service) else {
                return unhealthy(service, "no URL configured".to_owned());
            };
            let request = HealthCheckRequest {
                service: service.as_str().to_owned(),
            };
            match HealthClient::new(channel).check(request).await {
                Ok(response) => {
                    let status = response.into_inner().status();
                    pb::ServiceHealth {
                        service: service.as_str().to_owned(),
                        serving: status == ServingStatus::Serving,
                        detail: status.as_str_name().to_owned(),
                    }
                }
                Err(status) => unhealthy(service, status.message().to_owned()),
            }
        });
        let services = futures::future::join_all(checks).await;
        Ok(Response::new(pb::GetSystemHealthResponse { services }))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let page_request = request.into_inner().page;
        let size = page::size(page_request.as_ref());
        let mut query = tenants::Entity::find()
            .order_by_asc(tenants::Column::CreatedAt)
            .order_by_asc(tenants::Column::Id);
        if let Some(cursor) = page::cursor(page_request.as_ref())? {
            query = query.filter(page::after(
                tenants::Column::CreatedAt,
                tenants::Column::Id,
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
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let clusters = self.cluster_counts(ids).await;
        let mut tenants = Vec::new();
        for row in &rows {
            let users = memberships::Entity::find()
                .filter(memberships::Column::TenantId.eq(&row.id))
                .count(self.ctx.db.connection())
                .await
                .map_err(AuthError::from)?;
            tenants.push(pb::Tenant {
                id: row.id.clone(),
                name: row.name.clone(),
                users: i32::try_from(users).unwrap_or(i32::MAX),
                clusters: match &clusters {
                    Some(counts) => counts
                        .get(&row.id)
                        .map_or(0, |n| i32::try_from(*n).unwrap_or(i32::MAX)),
                    None => -1,
                },
                created_at: Some(convert::timestamp(row.created_at)),
            });
        }
        Ok(Response::new(pb::ListTenantsResponse {
            tenants,
            page: Some(page),
        }))
    }

    async fn get_system_config(
        &self,
        _request: Request<pb::GetSystemConfigRequest>,
    ) -> Result<Response<pb::GetSystemConfigResponse>, Status> {
        let settings = self.settings.get().await?;
        Ok(Response::new(pb::GetSystemConfigResponse {
            config: Some(to_proto(&settings)),
        }))
    }

    async fn update_system_config(
        &self,
        request: Request<pb::UpdateSystemConfigRequest>,
    ) -> Result<Response<pb::UpdateSystemConfigResponse>, Status> {
        let who = caller(&request)?.audit_identity();
        let request = request.into_inner();
        let config = request
            .config
            .ok_or(AuthError::invalid("config", "is required"))?;
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(AuthError::invalid(
                "update_mask",
                "name the settings to change (safe_mode, global_risk_ttl_seconds)",
            )
            .into());
        }
        let mut changes = Vec::with_capacity(paths.len());
        for (index, path) in paths.iter().enumerate() {
            match path.as_str() {
                "safe_mode" => changes.push(Setting::SafeMode(config.safe_mode)),
                "global_risk_ttl_seconds" => {
                    let ttl = config.global_risk_ttl_seconds;
                    if !(MIN_RISK_TTL_SECONDS..=MAX_RISK_TTL_SECONDS).contains(&ttl) {
                        return Err(AuthError::invalid(
                            "config.global_risk_ttl_seconds",
                            format!(
                                "must be within {MIN_RISK_TTL_SECONDS}..={MAX_RISK_TTL_SECONDS} (it is {ttl})"
                            ),
                        )
                        .into());
                    }
                    changes.push(Setting::GlobalRiskTtlSeconds(ttl));
                }
                other => {
                    return Err(AuthError::invalid(
                        format!("update_mask.paths[{index}]"),
                        format!("`{other}` is not a setting (safe_mode, global_risk_ttl_seconds)"),
                    )
                    .into());
                }
            }
        }
        self.settings
            .set(&changes, &format!("{}:{}", who.0, who.1))
            .await?;
        let settings = self.settings.get().await?;
        let target = format!("system_config/safe_mode={}", settings.safe_mode);
        Ok(
            AuditNote::target(target).attach(Response::new(pb::UpdateSystemConfigResponse {
                config: Some(to_proto(&settings)),
            })),
        )
    }

    async fn rotate_signing_key(
        &self,
        _request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        let key_id = self.sessions.keys().rotate().await?;
        let rotated = SigningKeyRotated {
            key_id: key_id.clone(),
        };
        SIGNING_KEY_ROTATED_TOPIC
            .publish(self.ctx.bus.as_ref(), &rotated)
            .await
            .map_err(AuthError::from)?;
        Ok(AuditNote::target(format!("signing_key/{key_id}"))
            .attach(Response::new(pb::RotateSigningKeyResponse { key_id })))
    }
}
