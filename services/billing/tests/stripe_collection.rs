//! Closed invoices that are owed go to Stripe (a customer per tenant, the invoice with one item,
//! finalized so Stripe collects it), with the secret key and idempotency keys from our ids; when
//! Stripe fails, the next cycle tries again, and an invoice is never sent twice.

mod common;

use chrono::{Datelike, TimeZone, Utc};
use common::*;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_admin_service_client::BillingAdminServiceClient;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_testkit::{TestServer, authed};

const MINUTE: i64 = 60_000;

#[tokio::test]
async fn an_owed_invoice_is_collected_by_stripe_once_even_when_stripe_fails_first() {
    let today = Utc::now();
    let this_month = Utc
        .with_ymd_and_hms(today.year(), today.month(), 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    if today.timestamp_millis() < this_month + 20 * MINUTE {
        eprintln!("skipped: last month is not closed in the first 20 minutes of a month");
        return;
    }
    let last_month = this_month - 10 * 24 * 60 * MINUTE;
    let stripe = FakeStripe::start().await;
    // Stripe fails the first request: the customer is not created, the invoice not sent.
    stripe
        .failures
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let test = TestServer::start(&[
        ("SPOT_STRIPE_API_KEY", "sk_test_platform"),
        ("SPOT_STRIPE_API_URL", &stripe.url),
    ])
    .await;
    let owner = test.sign_up("Acme").await.access_token;
    let admin = test.admin_token().await;
    let mut billing = BillingServiceClient::new(test.channel.clone());
    let tenant_id = on_savings_share_since(&test, &owner, last_month).await;
    // A day of savings last month.
    insert_samples(
        &test,
        &tenant_id,
        "c-web",
        (last_month, last_month + 24 * 60 * MINUTE, 5 * MINUTE),
        |_| {
            vec![SampledPool {
                instance_type: "m6g.large",
                zone: "us-east-1a",
                capacity_type: "spot",
                nodes: 2,
                price_micros: 30_000,
                on_demand_micros: 77_000,
            }]
        },
    )
    .await;

    let billing_admin = BillingAdminServiceClient::new(test.channel.clone());
    let cycle = || {
        let mut billing_admin = billing_admin.clone();
        let request = authed(pb::RunBillingCycleRequest {}, &admin);
        async move {
            billing_admin
                .run_billing_cycle(request)
                .await
                .unwrap()
                .into_inner()
        }
    };
    assert_eq!(cycle().await.invoices_closed, 1);
    let invoices = |billing: &mut BillingServiceClient<tonic::transport::Channel>| {
        let request = authed(pb::ListInvoicesRequest::default(), &owner);
        let mut billing = billing.clone();
        async move {
            billing
                .list_invoices(request)
                .await
                .unwrap()
                .into_inner()
                .invoices
        }
    };
    let closed = invoices(&mut billing).await.remove(0);
    assert_eq!(closed.status(), pb::InvoiceStatus::Open);
    assert_eq!(closed.stripe_invoice_id, "", "Stripe failed: not sent yet");
    assert_eq!(stripe.calls().len(), 1);

    // The next cycle tries again and gets through.
    cycle().await;
    let sent = invoices(&mut billing).await.remove(0);
    assert!(sent.stripe_invoice_id.starts_with("in_fake"), "{sent:?}");
    let calls = stripe.calls();
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    let finalize = format!("/v1/invoices/{}/finalize", sent.stripe_invoice_id);
    assert_eq!(
        paths,
        [
            "/v1/customers",
            "/v1/customers",
            "/v1/invoices",
            "/v1/invoiceitems",
            finalize.as_str()
        ]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.authorization == "Bearer sk_test_platform")
    );
    // The retried customer carries the same idempotency key: Stripe makes one customer of both.
    assert_eq!(calls[0].idempotency_key, format!("customer-{tenant_id}"));
    assert_eq!(calls[1].idempotency_key, calls[0].idempotency_key);
    assert_eq!(calls[1].form["metadata[tenant_id]"], tenant_id);
    let draft = &calls[2].form;
    assert_eq!(draft["metadata[invoice_id]"], sent.id);
    assert_eq!(draft["customer"], "cus_fake1");
    assert_eq!(draft["currency"], "usd");
    let item = &calls[3].form;
    assert_eq!(
        item["amount"],
        sent.total.as_ref().unwrap().minor_units.to_string()
    );
    assert_eq!(item["invoice"], sent.stripe_invoice_id);
    assert_eq!(calls[2].idempotency_key, format!("invoice-{}", sent.id));

    // Sent once: later cycles leave it alone.
    cycle().await;
    assert_eq!(stripe.calls().len(), calls.len());
    test.stop().await;
}
