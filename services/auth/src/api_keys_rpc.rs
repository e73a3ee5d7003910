//! ApiKeyService: scoped keys for agents (one cluster) and automation (the tenant, with a role).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_access::{API_KEY_REVOKED_TOPIC, AuditNote, Role, caller, hash_secret};
use spot_kit::topics::NOTIFICATIONS;
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::api_key_service_server::ApiKeyService;
use spot_proto::events::v1::{ApiKeyRevoked, NotificationRequested};
use tonic::{Request, Response, Status};

use crate::entity::api_keys;
use crate::error::AuthError;
use crate::signing::now_millis;
use crate::{AuthApi, convert, page, tenant_of, validate};

/// The stored scope of an EventBridge intake key.
pub(crate) const EVENTBRIDGE_SCOPE: &str = "eventbridge";

impl AuthApi {
    /// Stores a new key (its secret hashed) and returns the row and the secret, shown once.
    async fn insert_key(
        &self,
        tenant_id: &str,
        name: String,
        cluster_id: Option<String>,
        role: Option<String>,
        scope: Option<String>,
    ) -> Result<(api_keys::Model, String), AuthError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let secret = format!(
            "spot_{id}_{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
        );
        let row = api_keys::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant_id.to_owned()),
            name: Set(name),
            cluster_id: Set(cluster_id),
            role: Set(role),
            scope: Set(scope),
            secret_hash: Set(hash_secret(&secret)),
            created_at: Set(now_millis()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(self.ctx.db.connection())
        .await?;
        Ok((row, secret))
    }
}

fn valid_cluster_id(cluster: &str) -> bool {
    !cluster.is_empty()
        && cluster.len() <= 64
        && cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl AuthApi {
    /// The tenant's owners and admins hear of every key made or revoked (a key is a credential).
    async fn tell_admins(&self, tenant_id: &str, key: &api_keys::Model, created: bool) {
        let (kind, verb) = if created {
            ("api_key_created", "created")
        } else {
            ("api_key_revoked", "revoked")
        };
        let notice = NotificationRequested {
            id: format!("{kind}:{}", key.id),
            tenant_id: tenant_id.to_owned(),
            user_id: String::new(),
            kind: kind.to_owned(),
            title: format!("API key \"{}\" {verb}", key.name),
            body: format!(
                "The API key \"{}\" ({}) was {verb}. See Team and API keys.",
                key.name, key.id
            ),
            min_role: Role::Admin.as_str().to_owned(),
        };
        if let Err(error) = NOTIFICATIONS.publish(self.ctx.bus.as_ref(), &notice).await {
            tracing::warn!(%error, key = %key.id, "API key change not notified");
        }
    }
}

#[tonic::async_trait]
impl ApiKeyService for AuthApi {
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?.to_owned();
        let request = request.into_inner();
        let name = validate::name(&request.name, "name")?;
        let scope = match pb::ApiKeyScope::try_from(request.scope) {
            Ok(pb::ApiKeyScope::Unspecified) => None,
            Ok(pb::ApiKeyScope::Eventbridge) => Some(EVENTBRIDGE_SCOPE.to_owned()),
            Err(_) => {
                return Err(AuthError::invalid("scope", "is not a known API key scope").into());
            }
        };
        if scope.is_some() {
            if !request.cluster_id.trim().is_empty() || request.role != 0 {
                return Err(AuthError::invalid(
                    "scope",
                    "a scoped key has neither cluster_id nor role; set only one of the three",
                )
                .into());
            }
            let (row, secret) = self.insert_key(&tenant_id, name, None, None, scope).await?;
            self.tell_admins(&tenant_id, &row, true).await;
            return Ok(
                AuditNote::target(format!("api_key/{}", row.id)).attach(Response::new(
                    pb::CreateApiKeyResponse {
                        api_key: Some(convert::api_key(&row)),
                        secret,
                    },
                )),
            );
        }
        let (cluster_id, role) = match (request.cluster_id.trim(), request.role) {
            ("", 0) => {
                return Err(AuthError::invalid(
                    "cluster_id",
                    "set cluster_id for an agent key, role for an automation key, or scope",
                )
                .into());
            }
            (cluster, 0) => {
                if !valid_cluster_id(cluster) {
                    return Err(AuthError::invalid(
                        "cluster_id",
                        "must be a cluster id (letters, digits, dashes)",
                    )
                    .into());
                }
                // A key for a cluster the tenant does not have would be refused later anyway; it
                // is refused here so it is never stored (another tenant's cluster is NOT_FOUND).
                spot_kit::clusters::tenant_cluster_state(&self.ctx, &tenant_id, cluster).await?;
                (Some(cluster.to_owned()), None)
            }
            ("", role) => {
                let role = Role::from_proto(role, "role").map_err(AuthError::from)?;
                if Some(role) > caller.role() {
                    return Err(AuthError::PermissionDenied(
                        "a key cannot have a higher role than its creator",
                    )
                    .into());
                }
                (None, Some(role.as_str().to_owned()))
            }
            _ => {
                return Err(AuthError::invalid(
                    "role",
                    "an agent key (cluster_id) has no role; set one or the other",
                )
                .into());
            }
        };
        let (row, secret) = self
            .insert_key(&tenant_id, name, cluster_id, role, None)
            .await?;
        self.tell_admins(&tenant_id, &row, true).await;
        let id = row.id.clone();
        Ok(
            AuditNote::target(format!("api_key/{id}")).attach(Response::new(
                pb::CreateApiKeyResponse {
                    api_key: Some(convert::api_key(&row)),
                    secret,
                },
            )),
        )
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let tenant_id = tenant_of(caller(&request)?)?.to_owned();
        let page_request = request.into_inner().page;
        let size = page::size(page_request.as_ref());
        let mut query = api_keys::Entity::find()
            .filter(api_keys::Column::TenantId.eq(&tenant_id))
            .order_by_asc(api_keys::Column::CreatedAt)
            .order_by_asc(api_keys::Column::Id);
        if let Some(cursor) = page::cursor(page_request.as_ref())? {
            query = query.filter(page::after(
                api_keys::Column::CreatedAt,
                api_keys::Column::Id,
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
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: rows.iter().map(convert::api_key).collect(),
            page: Some(page),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let tenant_id = tenant_of(caller(&request)?)?.to_owned();
        let id = request.into_inner().api_key_id;
        let key = api_keys::Entity::find_by_id(&id)
            .filter(api_keys::Column::TenantId.eq(&tenant_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::NotFound("API key"))?;
        if key.revoked_at.is_none() {
            self.tell_admins(&tenant_id, &key, false).await;
            let mut row: api_keys::ActiveModel = key.into();
            row.revoked_at = Set(Some(now_millis()));
            row.update(self.ctx.db.connection())
                .await
                .map_err(AuthError::from)?;
        }
        // Every replica's verifier drops the key from its cache now, not when the cache expires.
        API_KEY_REVOKED_TOPIC
            .publish(self.ctx.bus.as_ref(), &ApiKeyRevoked { key_id: id.clone() })
            .await
            .map_err(AuthError::from)?;
        Ok(AuditNote::target(format!("api_key/{id}"))
            .attach(Response::new(pb::RevokeApiKeyResponse {})))
    }

    async fn issue_agent_key(
        &self,
        request: Request<pb::IssueAgentKeyRequest>,
    ) -> Result<Response<pb::IssueAgentKeyResponse>, Status> {
        let request = request.into_inner();
        if !valid_cluster_id(&request.cluster_id) {
            return Err(AuthError::invalid(
                "cluster_id",
                "must be a cluster id (letters, digits, dashes)",
            )
            .into());
        }
        let name = validate::name(&request.name, "name")?;
        let tenant = crate::entity::tenants::Entity::find_by_id(&request.tenant_id)
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::NotFound("tenant"))?;
        let (row, secret) = self
            .insert_key(&tenant.id, name, Some(request.cluster_id), None, None)
            .await?;
        let note = AuditNote::target(format!("api_key/{}", row.id)).in_tenant(tenant.id);
        Ok(note.attach(Response::new(pb::IssueAgentKeyResponse {
            api_key: Some(convert::api_key(&row)),
            secret,
        })))
    }
}
