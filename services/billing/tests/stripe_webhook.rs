//! Stripe's webhook over HTTP, as Stripe delivers it: verified before anything is parsed, each
//! event applied exactly once (also when delivered three times at once), out-of-order updates
//! never overwriting newer ones, and answers whose status makes Stripe retry only what it should.

mod common;

use common::*;
use serde_json::json;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_testkit::{TestServer, authed};

async fn subscription(test: &TestServer, token: &str) -> pb::Subscription {
    BillingServiceClient::new(test.channel.clone())
        .get_subscription(authed(pb::GetSubscriptionRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap()
}

#[tokio::test]
async fn stripe_events_are_verified_applied_once_and_in_order() {
    let test = TestServer::start(&[("SPOT_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await;
    let owner = test.sign_up("Acme").await;
    let token = owner.access_token.clone();
    let tenant_id = subscription(&test, &token).await.tenant_id;
    let now = now_seconds();
    let failed = event(
        "evt_failed",
        "invoice.payment_failed",
        now,
        json!({ "id": "in_1", "object": "invoice", "metadata": { "tenant_id": tenant_id } }),
    );

    // Refused before anything is parsed or stored: 400, so Stripe does not retry.
    let (status, body) = post_stripe(&test, None, failed.as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    let forged = format!(
        "t={now},v1={}",
        spot_billing::stripe_signature::sign(failed.as_bytes(), now, "whsec_guess")
    );
    let (status, body) = post_stripe(&test, Some(&forged), failed.as_bytes()).await;
    assert_eq!(status, 400);
    assert!(body.contains("no v1 signature matches"), "{body}");
    for stale in [now - 301, now + 400] {
        let (status, body) =
            post_stripe(&test, Some(&signature(&failed, stale)), failed.as_bytes()).await;
        assert_eq!(status, 400);
        assert!(body.contains("300 s"), "{body}");
    }
    let (status, body) = post_stripe(&test, Some(&signature("not json", now)), b"not json").await;
    assert_eq!(status, 400);
    assert!(body.contains("not JSON"), "{body}");
    let huge = "x".repeat(300 * 1024);
    let (status, _) = post_stripe(&test, Some(&signature(&huge, now)), huge.as_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(
        subscription(&test, &token).await.status(),
        pb::SubscriptionStatus::Active
    );

    // The real delivery is applied: past due, and the owner is told.
    let (status, body) =
        post_stripe(&test, Some(&signature(&failed, now)), failed.as_bytes()).await;
    assert_eq!((status, body.trim()), (200, "applied evt_failed"));
    let past_due = subscription(&test, &token).await;
    assert_eq!(past_due.status(), pb::SubscriptionStatus::PastDue);
    let since = past_due.past_due_since.unwrap().seconds;
    assert_eq!(since, now);
    assert_eq!(past_due.limited_from.unwrap().seconds, now + 7 * 86_400);
    // The owner is told of the failed payment.
    let notice = test.notified(&token, "payment_problem").await;
    assert!(notice.body.contains("7 days"), "{}", notice.body);

    // A retry of the same event is acknowledged, not applied again.
    let (status, body) =
        post_stripe(&test, Some(&signature(&failed, now)), failed.as_bytes()).await;
    assert_eq!(status, 200);
    assert!(body.contains("already applied"), "{body}");

    // Three deliveries of one event at once: exactly one applies it.
    let unknown = event(
        "evt_thrice",
        "customer.created",
        now,
        json!({ "id": "cus_1" }),
    );
    let header = signature(&unknown, now);
    let deliveries = futures::future::join_all(
        (0..3).map(|_| post_stripe(&test, Some(&header), unknown.as_bytes())),
    )
    .await;
    assert!(
        deliveries.iter().all(|(status, _)| *status == 200),
        "{deliveries:?}"
    );
    let applied = deliveries
        .iter()
        .filter(|(_, body)| body.starts_with("applied"))
        .count();
    assert_eq!(applied, 1, "{deliveries:?}");

    // Out of order: Stripe's newer "active" arrives before an older "past_due".
    let newer = event(
        "evt_newer",
        "customer.subscription.updated",
        now + 60,
        json!({ "id": "sub_1", "status": "active", "metadata": { "tenant_id": tenant_id } }),
    );
    let older = event(
        "evt_older",
        "customer.subscription.updated",
        now + 30,
        json!({ "id": "sub_1", "status": "past_due", "metadata": { "tenant_id": tenant_id } }),
    );
    for body in [&newer, &older] {
        let (status, answer) =
            post_stripe(&test, Some(&signature(body, now)), body.as_bytes()).await;
        assert_eq!(status, 200, "{answer}");
    }
    let active = subscription(&test, &token).await;
    assert_eq!(active.status(), pb::SubscriptionStatus::Active);
    assert!(active.past_due_since.is_none());

    // An event about a tenant is never applied to another.
    let other = test.sign_up("Other").await.access_token;
    assert_eq!(
        subscription(&test, &other).await.status(),
        pb::SubscriptionStatus::Active
    );
    test.stop().await;
}

#[tokio::test]
async fn without_a_webhook_secret_stripe_events_are_refused() {
    let test = TestServer::start(&[]).await;
    let body = event("evt_1", "invoice.paid", now_seconds(), json!({}));
    let (status, answer) = post_stripe(
        &test,
        Some(&signature(&body, now_seconds())),
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 503, "unavailable until configured: Stripe retries");
    assert!(answer.contains("stripe_webhook_secret"), "{answer}");
    test.stop().await;
}
