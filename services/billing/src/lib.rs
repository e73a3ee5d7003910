//! The billing service: plans, subscriptions, usage metering (a share of savings) and invoices.
//!
//! The contract is mounted; its behaviour lands with the billing issue.
//! Until then every RPC answers UNIMPLEMENTED (tonic's generated default), never a fake result.

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::billing::v1::billing_service_server::{BillingService, BillingServiceServer};

#[derive(Clone)]
pub struct BillingApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl BillingService for BillingApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    registry.add(BillingServiceServer::new(BillingApi { ctx: ctx.clone() }));
}
