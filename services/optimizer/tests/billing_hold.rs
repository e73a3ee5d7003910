//! Dunning as the optimizer meets it: once a failed payment's grace period is over, the autopilot
//! keeps recommending but applies nothing that moves running workloads, ApplyPlan says why, and
//! the autopilot status shows the hold; when Stripe says the account is in order again, plans
//! apply. (Provisioning and interruption handling never ask billing.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use spot_proto::agent::v1::Snapshot;
use spot_proto::billing::v1 as billing;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_proto::billing::v1::stripe_webhook_service_client::StripeWebhookServiceClient;
use spot_proto::common::v1::CapacityType;
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_testkit::{TestServer, authed};

const WEBHOOK_SECRET: &str = "whsec_optimizer_test";

/// Delivers a Stripe event about the tenant's subscription, signed as Stripe signs it.
async fn stripe(test: &TestServer, id: &str, kind: &str, created: i64, object: serde_json::Value) {
    let payload =
        json!({ "id": id, "type": kind, "created": created, "data": { "object": object } })
            .to_string()
            .into_bytes();
    let now = chrono::Utc::now().timestamp();
    let signature = spot_billing::stripe_signature::sign(&payload, now, WEBHOOK_SECRET);
    StripeWebhookServiceClient::new(test.channel.clone())
        .receive_stripe_event(billing::ReceiveStripeEventRequest {
            payload,
            signature_header: format!("t={now},v1={signature}"),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn past_a_failed_payments_grace_the_autopilot_only_recommends_and_apply_plan_says_why() {
    let test = TestServer::start(&[
        ("SPOT_INTERNAL_SECRET", SECRET),
        ("SPOT_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("SPOT_LIMIT_BILLING_GRACE_DAYS", "0"),
        ("SPOT_SETTLE_SECONDS", "1"),
    ])
    .await;
    let owner = test.sign_up("Acme").await.access_token;
    let tenant_id = BillingServiceClient::new(test.channel.clone())
        .get_subscription(authed(billing::GetSubscriptionRequest {}, &owner))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap()
        .tenant_id;
    let now = chrono::Utc::now().timestamp();
    stripe(
        &test,
        "evt_failed",
        "invoice.payment_failed",
        now,
        json!({ "id": "in_1", "metadata": { "tenant_id": tenant_id } }),
    )
    .await;

    // An all-on-demand cluster: the autopilot would move it to spot.
    let registered = register(&test, &owner).await;
    let cluster_id = registered.cluster.unwrap().id;
    let source = Cluster::new(Snapshot {
        nodes: vec![
            node("old-0", "us-east-1a", "i-0", CapacityType::OnDemand),
            node("old-1", "us-east-1b", "i-1", CapacityType::OnDemand),
        ],
        pods: vec![pod("web-0", "old-0"), pod("web-1", "old-1")],
        pdbs: vec![],
    });
    let (_notices, stop) = start_agent(
        &test,
        &registered.agent_key,
        Arc::new(Recorder::default()),
        source,
    );
    wait_for_nodes(&test, &owner, &cluster_id, 2).await;
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());

    // The autopilot's plan is kept as a recommendation that says why it was not applied.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let held = loop {
        let plans = optimizer
            .list_plans(authed(
                pb::ListPlansRequest {
                    cluster_id: cluster_id.clone(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .plans;
        if let Some(plan) = plans
            .into_iter()
            .find(|p| p.reason.contains("recommended only"))
        {
            break plan;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the autopilot kept no held plan"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(held.state(), pb::PlanState::Recommended);
    assert!(held.reason.contains("a payment failed"), "{}", held.reason);
    let status = optimizer
        .get_autopilot_status(authed(
            pb::GetAutopilotStatusRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        status.billing_hold.contains("a payment failed"),
        "{status:?}"
    );

    // Applying it by hand is refused, saying why.
    let refused = optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: held.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("a payment failed"),
        "{}",
        refused.message()
    );

    // Stripe says the subscription is in order again: the same plan applies.
    stripe(
        &test,
        "evt_active",
        "customer.subscription.updated",
        now + 1,
        json!({ "id": "sub_1", "status": "active", "metadata": { "tenant_id": tenant_id } }),
    )
    .await;
    let applied = optimizer
        .apply_plan(authed(
            pb::ApplyPlanRequest {
                plan_id: held.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_ne!(applied.state(), pb::PlanState::Recommended);
    stop.cancel();
    test.stop().await;
}
