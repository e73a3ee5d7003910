//! A tenant's plan through the public API: every tenant starts on the free plan; an owner moves
//! to the savings share at once (its minimum prorated) and back to free only at the period's end.

mod common;

use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_testkit::{TestServer, authed};

async fn change(
    billing: &mut BillingServiceClient<tonic::transport::Channel>,
    token: &str,
    plan_id: &str,
) -> Result<pb::Subscription, tonic::Status> {
    billing
        .change_plan(authed(
            pb::ChangePlanRequest {
                plan_id: plan_id.to_owned(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().subscription.expect("subscription"))
}

#[tokio::test]
async fn a_tenant_starts_free_upgrades_at_once_and_downgrades_at_the_period_end() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let mut billing = BillingServiceClient::new(test.channel.clone());

    let plans = billing
        .list_plans(authed(pb::ListPlansRequest {}, &owner))
        .await
        .unwrap()
        .into_inner()
        .plans;
    let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["free", "savings_share", "enterprise"]);
    let share = &plans[1];
    assert_eq!(share.share_basis_points, 2_000);
    let minimum = share.monthly_minimum.clone().unwrap();
    assert_eq!(
        (minimum.minor_units, minimum.currency.as_str()),
        (10_000, "USD")
    );

    let started = billing
        .get_subscription(authed(pb::GetSubscriptionRequest {}, &owner))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(started.plan.as_ref().unwrap().id, "free");
    assert_eq!(started.status(), pb::SubscriptionStatus::Active);
    assert!(
        started.plan.as_ref().unwrap().max_clusters > 0,
        "the free plan has limits"
    );

    // Bad input changes nothing and says which field and why.
    for plan_id in ["gold", "enterprise", ""] {
        let refused = change(&mut billing, &owner, plan_id).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{plan_id}");
        assert!(
            refused.message().starts_with("plan_id:"),
            "{}",
            refused.message()
        );
    }
    // Only owners change the plan: an admin's automation key may not.
    let admin_key = ApiKeyServiceClient::new(test.channel.clone())
        .create_api_key(authed(
            auth::CreateApiKeyRequest {
                name: "ops".into(),
                role: auth::Role::Admin.into(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let refused = change(&mut billing, &admin_key, "savings_share")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // From free, the savings share starts at once; its minimum is prorated over what is left.
    let upgraded = change(&mut billing, &owner, "savings_share").await.unwrap();
    assert_eq!(upgraded.plan.as_ref().unwrap().id, "savings_share");
    assert_eq!(upgraded.next_plan_id, "");
    let preview = billing
        .preview_invoice(authed(pb::PreviewInvoiceRequest {}, &owner))
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    assert_eq!(preview.status(), pb::InvoiceStatus::Draft);
    let minimum_line = preview
        .lines
        .iter()
        .find(|l| l.kind() == pb::LineKind::Minimum)
        .expect("a minimum line while nothing was saved");
    let owed = minimum_line.amount.as_ref().unwrap().minor_units;
    assert!(owed > 0 && owed <= 10_000, "prorated: {owed}");
    assert_eq!(preview.total.unwrap().minor_units, owed);

    // From a paid plan, a change waits for the period's end; choosing the plan again withdraws it.
    let downgraded = change(&mut billing, &owner, "free").await.unwrap();
    assert_eq!(downgraded.plan.as_ref().unwrap().id, "savings_share");
    assert_eq!(downgraded.next_plan_id, "free");
    assert_eq!(downgraded.current_period_end, upgraded.current_period_end);
    let kept = change(&mut billing, &owner, "savings_share").await.unwrap();
    assert_eq!(kept.next_plan_id, "");
    let canceled = billing
        .cancel_subscription(authed(pb::CancelSubscriptionRequest {}, &owner))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(canceled.plan.as_ref().unwrap().id, "savings_share");
    assert_eq!(canceled.next_plan_id, "free");

    // Another tenant sees only its own subscription.
    let other = test.sign_up("Other").await.access_token;
    let theirs = billing
        .get_subscription(authed(pb::GetSubscriptionRequest {}, &other))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(theirs.plan.unwrap().id, "free");
    assert_ne!(theirs.tenant_id, canceled.tenant_id);
    test.stop().await;
}
