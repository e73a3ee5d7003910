//! StripeWebhookService: the edge's `POST /webhooks/stripe` lands here.

use spot_kit::topics::NOTIFICATIONS;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::stripe_webhook_service_server::StripeWebhookService;
use spot_proto::events::v1::NotificationRequested;
use tonic::{Request, Response, Status};

use crate::BillingApi;
use crate::period::now_millis;
use crate::webhook::{Outcome, receive};

#[tonic::async_trait]
impl StripeWebhookService for BillingApi {
    async fn receive_stripe_event(
        &self,
        request: Request<pb::ReceiveStripeEventRequest>,
    ) -> Result<Response<pb::ReceiveStripeEventResponse>, Status> {
        let request = request.into_inner();
        let (event, outcome) = receive(
            &self.ctx.db,
            &request.payload,
            &request.signature_header,
            self.ctx.config.stripe_webhook_secret.as_deref(),
            now_millis(),
        )
        .await?;
        if let Outcome::PaymentFailed { tenant_id } = &outcome {
            let grace = self.ctx.config.limits.billing_grace_days;
            let notice = NotificationRequested {
                id: format!("stripe:{}", event.id),
                tenant_id: tenant_id.clone(),
                user_id: String::new(),
                kind: "payment_problem".to_owned(),
                title: "A payment failed".to_owned(),
                body: format!(
                    "Stripe could not collect your invoice. Update your payment method: after {grace} days the platform only recommends changes until an invoice is paid. Interruption handling continues."
                ),
                min_role: "admin".to_owned(),
            };
            if let Err(error) = NOTIFICATIONS.publish(self.ctx.bus.as_ref(), &notice).await {
                tracing::warn!(%error, tenant_id, "payment failure not notified");
            }
        }
        Ok(Response::new(pb::ReceiveStripeEventResponse {
            event_id: event.id,
            applied: outcome != Outcome::Duplicate,
        }))
    }
}
