//! AuditService: the append-only trail. Tenant admins see their tenant's; platform admins see all.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use spot_access::caller;
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::audit_service_server::AuditService;
use spot_proto::common::v1::{Actor, actor};
use tonic::{Request, Response, Status};

use crate::entity::audit_events;
use crate::error::AuthError;
use crate::{AuthApi, convert, page, tenant_of};

/// A stored audit row as the wire message.
fn event(row: &audit_events::Model) -> pb::AuditEvent {
    let kind = match row.actor_kind.as_str() {
        "user" => Some(actor::Kind::UserId(row.actor_id.clone())),
        "api_key" => Some(actor::Kind::ApiKeyId(row.actor_id.clone())),
        "service" => Some(actor::Kind::Service(row.actor_id.clone())),
        "policy" => Some(actor::Kind::PolicyId(row.actor_id.clone())),
        _ => None,
    };
    pb::AuditEvent {
        id: row.id.clone(),
        tenant_id: row.tenant_id.clone(),
        actor: Some(Actor { kind }),
        action: row.action.clone(),
        target: row.target.clone(),
        result: row.result.clone(),
        request_id: row.request_id.clone(),
        at: Some(convert::timestamp(row.at)),
    }
}

fn actor_of(event: &pb::AuditEvent) -> (&'static str, String) {
    match event.actor.as_ref().and_then(|a| a.kind.clone()) {
        Some(actor::Kind::UserId(id)) => ("user", id),
        Some(actor::Kind::ApiKeyId(id)) => ("api_key", id),
        Some(actor::Kind::Service(id)) => ("service", id),
        Some(actor::Kind::PolicyId(id)) => ("policy", id),
        None => ("anonymous", String::new()),
    }
}

#[tonic::async_trait]
impl AuditService for AuthApi {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let request = request.into_inner();
        let size = page::size(request.page.as_ref());
        // Newest first.
        let mut query = audit_events::Entity::find()
            .order_by_desc(audit_events::Column::At)
            .order_by_desc(audit_events::Column::Id);
        if !caller.is_platform_admin() {
            query = query.filter(audit_events::Column::TenantId.eq(tenant_of(&caller)?));
        }
        if !request.action_prefix.is_empty() {
            query = query.filter(audit_events::Column::Action.starts_with(&request.action_prefix));
        }
        if !request.target.is_empty() {
            query = query.filter(audit_events::Column::Target.eq(&request.target));
        }
        if let Some(since) = &request.since {
            query = query.filter(audit_events::Column::At.gte(convert::millis(since)));
        }
        if let Some(until) = &request.until {
            query = query.filter(audit_events::Column::At.lt(convert::millis(until)));
        }
        if let Some(cursor) = page::cursor(request.page.as_ref())? {
            query = query.filter(page::after(
                audit_events::Column::At,
                audit_events::Column::Id,
                cursor,
                false,
            ));
        }
        let rows = query
            .limit(size + 1)
            .all(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        let (rows, page) = page::split(rows, size, |row| (row.at, &row.id));
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: rows.iter().map(event).collect(),
            page: Some(page),
        }))
    }

    async fn record_audit_events(
        &self,
        request: Request<pb::RecordAuditEventsRequest>,
    ) -> Result<Response<pb::RecordAuditEventsResponse>, Status> {
        let events = request.into_inner().events;
        if events.len() > 1000 {
            return Err(AuthError::invalid("events", "at most 1000 per call").into());
        }
        let rows: Vec<audit_events::ActiveModel> = events
            .iter()
            .map(|event| {
                let (actor_kind, actor_id) = actor_of(event);
                audit_events::ActiveModel {
                    // v7: time-ordered, so the id also breaks ties in time order.
                    id: Set(uuid::Uuid::now_v7().to_string()),
                    tenant_id: Set(event.tenant_id.clone()),
                    actor_kind: Set(actor_kind.to_owned()),
                    actor_id: Set(actor_id),
                    action: Set(event.action.clone()),
                    target: Set(event.target.clone()),
                    result: Set(event.result.clone()),
                    request_id: Set(event.request_id.clone()),
                    at: Set(event.at.as_ref().map(convert::millis).unwrap_or_default()),
                }
            })
            .collect();
        if !rows.is_empty() {
            audit_events::Entity::insert_many(rows)
                .exec(self.ctx.db.connection())
                .await
                .map_err(AuthError::from)?;
        }
        Ok(Response::new(pb::RecordAuditEventsResponse {}))
    }
}
