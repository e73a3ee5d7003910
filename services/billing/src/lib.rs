//! The billing service: plans, a subscription per tenant, hourly metering of realised savings
//! (from the optimizer's cost samples), monthly invoices in integer minor units, Stripe's webhook
//! (verified before it is parsed, each event applied once) and dunning: after a failed payment
//! and its grace period the tenant's optimizer only recommends. See `billing.proto`.

mod admin_rpc;
mod automation;
mod cycle;
mod entity;
pub mod invoice;
mod invoices;
pub mod period;
pub mod plans;
mod rpc;
pub mod stripe_client;
mod stripe_http;
pub mod stripe_signature;
mod subscriptions;
pub mod usage;
mod webhook;
mod webhook_rpc;

use std::sync::Arc;

use spot_kit::{ServiceContext, ServiceRegistry, singleton};
use spot_proto::billing::v1::billing_admin_service_server::BillingAdminServiceServer;
use spot_proto::billing::v1::billing_service_server::BillingServiceServer;
use spot_proto::billing::v1::stripe_webhook_service_server::StripeWebhookServiceServer;

#[derive(Clone)]
pub struct BillingApi {
    ctx: ServiceContext,
    subscriptions: subscriptions::Subscriptions,
    usage: usage::Usage,
    invoices: invoices::Invoices,
    /// Where closed invoices are collected; None: they stay here (no Stripe account configured).
    stripe: Option<Arc<dyn stripe_client::StripeApi>>,
}

impl BillingApi {
    fn new(ctx: &ServiceContext, stripe: Option<Arc<dyn stripe_client::StripeApi>>) -> Self {
        let usage = usage::Usage::new(ctx.db.clone());
        Self {
            ctx: ctx.clone(),
            subscriptions: subscriptions::Subscriptions::new(ctx.db.clone()),
            invoices: invoices::Invoices::new(ctx.db.clone(), usage.clone()),
            usage,
            stripe,
        }
    }
}

/// Stripe's API when a secret key is configured.
fn stripe_of(ctx: &ServiceContext) -> Option<Arc<dyn stripe_client::StripeApi>> {
    let key = ctx.config.stripe_api_key.as_deref()?;
    let url = ctx
        .config
        .stripe_api_url
        .as_deref()
        .unwrap_or(stripe_http::DEFAULT_URL);
    match stripe_http::StripeHttp::new(url, key) {
        Ok(stripe) => Some(Arc::new(stripe)),
        Err(error) => {
            tracing::error!(%error, "Stripe is not reachable: closed invoices stay on the platform");
            None
        }
    }
}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = BillingApi::new(ctx, stripe_of(ctx));
    let cycles = api.clone();
    singleton(ctx, "billing.cycle", move |lost| {
        cycles.clone().run_cycles(lost)
    });
    registry
        .add(BillingServiceServer::new(api.clone()))
        .add(BillingAdminServiceServer::new(api.clone()))
        .add(StripeWebhookServiceServer::new(api));
}
