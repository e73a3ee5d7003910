//! Notifications: a per-user inbox fed by events any service publishes on the bus.

use futures::StreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use spot_access::{AuditNote, Role, caller};
use spot_kit::ServiceContext;
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::notification_service_server::NotificationService;
use spot_proto::events::v1::NotificationRequested;
use tonic::{Request, Response, Status};

use crate::entity::{memberships, notifications};
use crate::error::AuthError;
use crate::signing::now_millis;
use crate::{AuthApi, convert, page, tenant_of};

pub use spot_kit::topics::NOTIFICATIONS as NOTIFICATIONS_TOPIC;

/// Subscribes to the topic and stores each event in the inbox of its users.
pub async fn start_intake(ctx: ServiceContext) -> Result<(), AuthError> {
    let mut events = NOTIFICATIONS_TOPIC.subscribe(ctx.bus.as_ref()).await?;
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = ctx.shutdown.cancelled() => return,
                message = events.next() => message,
            };
            let Some(event) = message else { return };
            if let Err(error) = store(&ctx, &event).await {
                tracing::warn!(%error, id = %event.id, "notification not stored");
            }
        }
    });
    Ok(())
}

async fn store(ctx: &ServiceContext, event: &NotificationRequested) -> Result<(), AuthError> {
    // The tenant's members who have joined (an invitation not accepted yet reads nothing).
    let mut recipients = memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(&event.tenant_id))
        .filter(memberships::Column::JoinedAt.is_not_null());
    if !event.user_id.is_empty() {
        recipients = recipients.filter(memberships::Column::UserId.eq(&event.user_id));
    }
    let min_role = match event.min_role.as_str() {
        "" => None,
        named => Some(named.parse::<Role>().map_err(AuthError::Internal)?),
    };
    for member in recipients.all(ctx.db.connection()).await? {
        let role = member.role.parse::<Role>().ok();
        if min_role.is_some_and(|min| role.is_none_or(|role| role < min)) {
            continue;
        }
        let row = notifications::ActiveModel {
            id: Set(format!("{}:{}", event.id, member.user_id)),
            tenant_id: Set(event.tenant_id.clone()),
            user_id: Set(member.user_id),
            kind: Set(event.kind.clone()),
            title: Set(event.title.clone()),
            body: Set(event.body.clone()),
            read_at: Set(None),
            created_at: Set(now_millis()),
        };
        match row
            .insert(ctx.db.connection())
            .await
            .map_err(AuthError::from)
        {
            Ok(_) | Err(AuthError::AlreadyExists(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

#[tonic::async_trait]
impl NotificationService for AuthApi {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?.to_owned();
        let user_id = caller
            .user_id()
            .ok_or(AuthError::PermissionDenied("notifications belong to users"))?
            .to_owned();
        let request = request.into_inner();
        let size = page::size(request.page.as_ref());
        // The caller's, in the tenant it acts in: a member of two tenants reads each apart.
        let mine = notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(&user_id))
            .filter(notifications::Column::TenantId.eq(&tenant_id));
        let unread_count = mine
            .clone()
            .filter(notifications::Column::ReadAt.is_null())
            .count(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        let mut query = mine
            .order_by_desc(notifications::Column::CreatedAt)
            .order_by_desc(notifications::Column::Id);
        if request.unread_only {
            query = query.filter(notifications::Column::ReadAt.is_null());
        }
        if let Some(cursor) = page::cursor(request.page.as_ref())? {
            query = query.filter(page::after(
                notifications::Column::CreatedAt,
                notifications::Column::Id,
                cursor,
                false,
            ));
        }
        let rows = query
            .limit(size + 1)
            .all(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?;
        let (rows, page) = page::split(rows, size, |row| (row.created_at, &row.id));
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: rows
                .iter()
                .map(|row| pb::Notification {
                    id: row.id.clone(),
                    kind: row.kind.clone(),
                    title: row.title.clone(),
                    body: row.body.clone(),
                    read: row.read_at.is_some(),
                    at: Some(convert::timestamp(row.created_at)),
                })
                .collect(),
            page: Some(page),
            unread_count: u32::try_from(unread_count).unwrap_or(u32::MAX),
        }))
    }

    async fn mark_notification_read(
        &self,
        request: Request<pb::MarkNotificationReadRequest>,
    ) -> Result<Response<pb::MarkNotificationReadResponse>, Status> {
        let caller = caller(&request)?.clone();
        let tenant_id = tenant_of(&caller)?;
        let user_id = caller.user_id().unwrap_or_default();
        let id = request.into_inner().notification_id;
        let row = notifications::Entity::find_by_id(&id)
            .filter(notifications::Column::UserId.eq(user_id))
            .filter(notifications::Column::TenantId.eq(tenant_id))
            .one(self.ctx.db.connection())
            .await
            .map_err(AuthError::from)?
            .ok_or(AuthError::NotFound("notification"))?;
        if row.read_at.is_none() {
            let mut row: notifications::ActiveModel = row.into();
            row.read_at = Set(Some(now_millis()));
            row.update(self.ctx.db.connection())
                .await
                .map_err(AuthError::from)?;
        }
        Ok(AuditNote::target(format!("notification/{id}"))
            .attach(Response::new(pb::MarkNotificationReadResponse {})))
    }
}
