//! The billing cycle (one runner across replicas, every minute; an admin may run it at once):
//! meters the last hours, the one under way included (so the open period's preview runs with
//! it), and once
//! a period has ended and its last hour settled, meters it whole and closes it for every
//! subscription that began before its end: an invoice per tenant, handed to Stripe when there is
//! something to pay. A subscription closed for the period is not closed again.

use std::time::Duration;

use spot_config::ServiceName;
use spot_proto::optimizer::v1::ListMeteredHoursRequest;
use spot_proto::optimizer::v1::metering_service_client::MeteringServiceClient;
use tonic::Status;

use crate::BillingApi;
use crate::period::{HOUR_MILLIS, now_millis, period_of};
use crate::stripe_client::InvoiceToCollect;
use crate::subscriptions::Subscription;
use spot_proto::time::timestamp;

pub const EVERY: Duration = Duration::from_secs(60);
/// Hours metered on every cycle, up to the end of the current one: the hour under way is
/// metered as far as it has gone, and the hours before again (a sample taken at an hour's end
/// lands just after it).
const METERED_MILLIS: i64 = 3 * HOUR_MILLIS;
/// How long after a period ends it is closed: its last samples have arrived (one is taken at
/// least every 5 minutes).
pub const SETTLE_MILLIS: i64 = 15 * 60_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleReport {
    pub hours_metered: u32,
    pub invoices_closed: u32,
}

/// The bus key one cycle at a time holds, across replicas (the scheduled cycle and an admin's).
const LOCK: &str = "billing.cycle.lock";
const LOCK_TTL: Duration = Duration::from_secs(600);
/// Metering asks for at most a day at a time, so one answer stays small however many clusters.
const DAY_MILLIS: i64 = 24 * HOUR_MILLIS;

impl BillingApi {
    pub(crate) async fn run_cycles(self, lost: spot_bus::CancellationToken) {
        // The first cycle a minute after start: the services it calls are serving by then.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                _ = tick.tick() => {
                    match self.cycle(now_millis(), Duration::ZERO).await {
                        Ok(_) => {}
                        Err(status) if status.code() == tonic::Code::Aborted => {}
                        Err(status) => tracing::warn!(%status, "billing cycle incomplete; the next one retries"),
                    }
                }
            }
        }
    }

    /// One cycle, waiting up to `patience` for another (on any replica) to finish.
    pub(crate) async fn cycle(&self, now: i64, patience: Duration) -> Result<CycleReport, Status> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let locked = self
                .ctx
                .bus
                .set_if_absent(LOCK, b"1", LOCK_TTL)
                .await
                .map_err(|e| Status::unavailable(format!("billing cycle lock: {e}")))?;
            if locked {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Status::aborted(
                    "another billing cycle is running: try again in a minute",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let result = self.locked_cycle(now).await;
        if let Err(error) = self.ctx.bus.delete(LOCK).await {
            tracing::warn!(%error, "billing cycle lock not released (it expires by itself)");
        }
        result
    }

    async fn locked_cycle(&self, now: i64) -> Result<CycleReport, Status> {
        let until = now - now.rem_euclid(HOUR_MILLIS) + HOUR_MILLIS;
        let mut report = CycleReport::default();
        let metered = self.meter(until - METERED_MILLIS, until).await;
        let open_start = period_of(now).0;
        let previous = period_of(open_start - 1);
        let closed = async {
            if now < open_start + SETTLE_MILLIS {
                return Ok((0, 0));
            }
            let unclosed = self.unclosed(previous).await?;
            if unclosed.is_empty() {
                return Ok((0, 0));
            }
            let mut hours = 0;
            let mut day = previous.0;
            while day < previous.1 {
                hours += self.meter(day, (day + DAY_MILLIS).min(previous.1)).await?;
                day += DAY_MILLIS;
            }
            Ok::<_, Status>((hours, self.close(&unclosed, previous, now).await?))
        }
        .await;
        // Invoices already closed go to Stripe whatever else failed.
        let collected = self.collect().await;
        report.hours_metered = metered?;
        let (hours, invoices) = closed?;
        report.hours_metered += hours;
        report.invoices_closed = invoices;
        collected?;
        Ok(report)
    }

    async fn meter(&self, from: i64, until: i64) -> Result<u32, Status> {
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Optimizer)
            .ok_or_else(|| Status::unavailable("the optimizer is not reachable"))?;
        let hours = MeteringServiceClient::new(channel)
            .max_decoding_message_size(64 * 1024 * 1024)
            .list_metered_hours(ListMeteredHoursRequest {
                from: Some(timestamp(from)),
                until: Some(timestamp(until)),
                tenant_id: String::new(),
            })
            .await?
            .into_inner()
            .hours;
        // A tenant whose clusters run has a subscription (the free plan) from its first hour.
        let tenants: std::collections::BTreeSet<&str> =
            hours.iter().map(|h| h.tenant_id.as_str()).collect();
        for tenant_id in tenants {
            self.subscriptions.get_or_start(tenant_id, from).await?;
        }
        self.usage.record(&hours).await
    }

    /// The subscriptions that began before the period ended and have no invoice for it yet.
    async fn unclosed(&self, period: (i64, i64)) -> Result<Vec<Subscription>, Status> {
        // Every minute once the month has closed, so only ids are read until one is unclosed.
        let invoiced = self.invoices.tenants_invoiced(period.0).await?;
        let mut unclosed = Vec::new();
        for tenant_id in self.subscriptions.tenants_started_before(period.1).await? {
            if !invoiced.contains(&tenant_id)
                && let Some(subscription) = self.subscriptions.find(&tenant_id).await?
            {
                unclosed.push(subscription);
            }
        }
        Ok(unclosed)
    }

    /// Closes the period for each subscription: its invoice, written once.
    async fn close(
        &self,
        unclosed: &[Subscription],
        period: (i64, i64),
        now: i64,
    ) -> Result<u32, Status> {
        let mut closed = 0;
        for subscription in unclosed {
            if self
                .invoices
                .close(subscription, period, now)
                .await?
                .is_some()
            {
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// Hands Stripe every closed invoice that is owed and not yet with it (an earlier attempt
    /// that failed is tried again on the next cycle; the idempotency keys keep it to one).
    async fn collect(&self) -> Result<u32, Status> {
        let Some(stripe) = &self.stripe else {
            return Ok(0);
        };
        let mut collected = 0;
        for invoice in self.invoices.not_with_stripe().await? {
            let tenant_id = &invoice.tenant_id;
            let Some(subscription) = self.subscriptions.find(tenant_id).await? else {
                continue;
            };
            let mut customer_id = subscription.row.stripe_customer_id.clone();
            if customer_id.is_empty() {
                customer_id = match stripe.create_customer(tenant_id).await {
                    Ok(id) => id,
                    Err(error) => {
                        tracing::warn!(%error, tenant_id, "no Stripe customer yet; the next cycle tries again");
                        continue;
                    }
                };
                self.subscriptions
                    .set_stripe_customer(tenant_id, &customer_id)
                    .await?;
            }
            let collect = InvoiceToCollect {
                invoice_id: invoice.id.clone(),
                tenant_id: tenant_id.clone(),
                customer_id,
                total_minor_units: invoice.total_minor_units,
                currency: invoice.currency.clone(),
                description: "Spot Optimizer: share of realised savings".to_owned(),
            };
            match stripe.create_invoice(&collect).await {
                Ok(stripe_id) => {
                    self.invoices.set_stripe_id(&invoice.id, &stripe_id).await?;
                    collected += 1;
                }
                Err(error) => {
                    tracing::warn!(%error, invoice = %invoice.id, "invoice not with Stripe yet; the next cycle tries again");
                }
            }
        }
        Ok(collected)
    }
}
