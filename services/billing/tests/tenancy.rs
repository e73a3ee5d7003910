//! Billing never shows or changes another tenant's subscription, usage or invoices: every RPC
//! acts on the caller's own tenant, and naming another tenant's cluster finds nothing.

mod common;

use common::*;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_admin_service_client::BillingAdminServiceClient;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_testkit::{TestServer, authed};

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn another_tenants_billing_is_never_reachable() {
    let test = TestServer::start(&[]).await;
    let a = test.sign_up("Tenant A").await.access_token;
    let b = test.sign_up("Tenant B").await.access_token;
    let mut billing = BillingServiceClient::new(test.channel.clone());
    let a_tenant = billing
        .change_plan(authed(
            pb::ChangePlanRequest {
                plan_id: "savings_share".into(),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap()
        .tenant_id;
    // A's cluster saved money in the last two hours.
    let now = chrono::Utc::now().timestamp_millis();
    let from = now - now.rem_euclid(HOUR) - 2 * HOUR;
    insert_samples(
        &test,
        &a_tenant,
        "a-cluster",
        (from, from + 2 * HOUR, 5 * 60_000),
        |_| {
            vec![SampledPool {
                instance_type: "m6g.large",
                zone: "us-east-1a",
                capacity_type: "spot",
                nodes: 4,
                price_micros: 30_000,
                on_demand_micros: 77_000,
            }]
        },
    )
    .await;
    BillingAdminServiceClient::new(test.channel.clone())
        .run_billing_cycle(authed(
            pb::RunBillingCycleRequest {},
            &test.admin_token().await,
        ))
        .await
        .unwrap();
    let usage = |token: &str, cluster_id: &str| {
        let mut billing = billing.clone();
        let request = authed(
            pb::GetUsageRequest {
                since: Some(prost_types::Timestamp {
                    seconds: from / 1_000,
                    nanos: 0,
                }),
                until: Some(prost_types::Timestamp {
                    seconds: from / 1_000 + 7_200,
                    nanos: 0,
                }),
                cluster_id: cluster_id.to_owned(),
            },
            token,
        );
        async move { billing.get_usage(request).await.unwrap().into_inner() }
    };
    assert!(
        !usage(&a, "a-cluster").await.records.is_empty(),
        "A sees its own usage"
    );

    // B, naming A's cluster or not, sees nothing of A's.
    assert!(usage(&b, "a-cluster").await.records.is_empty());
    assert!(usage(&b, "").await.records.is_empty());
    let b_preview = billing
        .preview_invoice(authed(pb::PreviewInvoiceRequest {}, &b))
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    assert!(b_preview.lines.is_empty(), "{b_preview:?}");
    assert_ne!(b_preview.tenant_id, a_tenant);
    let b_invoices = billing
        .list_invoices(authed(pb::ListInvoicesRequest::default(), &b))
        .await
        .unwrap()
        .into_inner()
        .invoices;
    assert!(b_invoices.iter().all(|i| i.tenant_id != a_tenant));

    // B's changes are B's own: A stays on the savings share with nothing pending.
    for cancel in [false, true] {
        let mut request_b = billing.clone();
        if cancel {
            request_b
                .cancel_subscription(authed(pb::CancelSubscriptionRequest {}, &b))
                .await
                .unwrap();
        } else {
            request_b
                .change_plan(authed(
                    pb::ChangePlanRequest {
                        plan_id: "savings_share".into(),
                    },
                    &b,
                ))
                .await
                .unwrap();
        }
    }
    let a_subscription = billing
        .get_subscription(authed(pb::GetSubscriptionRequest {}, &a))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(a_subscription.tenant_id, a_tenant);
    assert_eq!(a_subscription.plan.unwrap().id, "savings_share");
    assert_eq!(a_subscription.next_plan_id, "");
    let a_preview = billing
        .preview_invoice(authed(pb::PreviewInvoiceRequest {}, &a))
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    // (Early on the 1st those two hours were last month's: the preview holds only this month.)
    let this_month_started = a_preview.period_start.unwrap().seconds * 1_000;
    if from >= this_month_started {
        assert!(a_preview.lines.iter().any(|l| l.cluster_id == "a-cluster"));
    }
    test.stop().await;
}
