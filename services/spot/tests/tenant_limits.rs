//! Costly work bounded per tenant, through the real server: a tenant over its concurrent
//! requests or open streams is answered RESOURCE_EXHAUSTED naming the limit, and another
//! tenant is not held back.

use spot_proto::auth::v1 as pb;
use spot_proto::risk::v1::WatchRiskFlagsRequest;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed, strong_password};

async fn watch(
    test: &TestServer,
    token: &str,
) -> Result<tonic::Streaming<spot_proto::risk::v1::WatchRiskFlagsResponse>, tonic::Status> {
    RiskServiceClient::new(test.channel.clone())
        .watch_risk_flags(authed(
            WatchRiskFlagsRequest {
                region: "us-east-1".into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_tenant_cannot_hold_open_more_streams_than_its_limit() {
    let test = TestServer::start(&[("SPOT_LIMIT_CONCURRENT_STREAMS_PER_TENANT", "2")]).await;
    let acme = test.sign_up("Acme").await.access_token;
    let other = test.sign_up("Other").await.access_token;
    let first = watch(&test, &acme).await.expect("first stream opens");
    let _second = watch(&test, &acme).await.expect("second stream opens");
    let refused = watch(&test, &acme).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains("concurrent_streams_per_tenant"),
        "{refused:?}"
    );
    // Another tenant's streams are its own; requests are counted apart from streams.
    let _theirs = watch(&test, &other)
        .await
        .expect("another tenant opens one");
    pb::auth_service_client::AuthServiceClient::new(test.channel.clone())
        .me(authed(pb::MeRequest {}, &acme))
        .await
        .expect("a unary call is not a stream");

    // A closed stream frees its place (the server learns of the reset shortly).
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match watch(&test, &acme).await {
            Ok(_) => break,
            Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the place stays taken"
                );
                tokio::task::yield_now().await;
            }
            Err(status) => panic!("{status}"),
        }
    }
    test.stop().await;
}

#[tokio::test]
async fn a_tenant_over_its_concurrent_requests_is_refused_and_others_are_served() {
    let test = TestServer::start(&[
        ("SPOT_LIMIT_CONCURRENT_REQUESTS_PER_TENANT", "2"),
        ("SPOT_ACCOUNT_ACTIONS_PER_HOUR", "1000"),
    ])
    .await;
    let acme = test.sign_up("Acme").await;
    let other = test.sign_up("Other").await.access_token;
    // Each call costs a password hash (a wrong current password), so twenty at once overlap.
    let calls = (0..20).map(|_| {
        let mut auth = test.auth();
        let token = acme.access_token.clone();
        async move {
            auth.change_password(authed(
                pb::ChangePasswordRequest {
                    current_password: strong_password(),
                    new_password: strong_password(),
                },
                &token,
            ))
            .await
            .unwrap_err()
        }
    });
    let answers = futures::future::join_all(calls).await;
    let refused: Vec<_> = answers
        .iter()
        .filter(|s| s.code() == tonic::Code::ResourceExhausted)
        .collect();
    let served = answers
        .iter()
        .filter(|s| s.code() == tonic::Code::InvalidArgument)
        .count();
    assert!(!refused.is_empty(), "{answers:?}");
    assert!(served >= 2, "{answers:?}");
    assert!(
        refused[0]
            .message()
            .contains("limits.concurrent_requests_per_tenant"),
        "{:?}",
        refused[0]
    );
    pb::auth_service_client::AuthServiceClient::new(test.channel.clone())
        .me(authed(pb::MeRequest {}, &other))
        .await
        .expect("another tenant is served");
    test.stop().await;
}
