//! Risk scores through the real server: an interruption any tenant reported makes its pool
//! score higher than a quiet pool of the same bucket, and every score explains its parts.

use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice};
use spot_proto::common::v1::Pool;
use spot_proto::risk::v1 as pb;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};

const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";

fn pool(zone: &str) -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: "m5.large".into(),
    }
}

#[tokio::test]
async fn a_reported_interruption_raises_its_pools_score_and_the_score_explains_why() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let credential = InternalCredential::new(SECRET.as_bytes(), "cluster").unwrap();
    let mut internal = RiskServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    );
    let reported = internal
        .report_interruption(pb::ReportInterruptionRequest {
            cluster_id: String::new(),
            notice: Some(InterruptionNotice {
                event_id: "scores-test-1".into(),
                kind: InterruptionKind::SpotInterruption.into(),
                pool: Some(pool("us-east-1a")),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reported.accepted);

    // Another tenant asks: it sees the pool's risk, not who reported it.
    let viewer = test.sign_up("Scores Co").await;
    let mut risk = RiskServiceClient::new(test.channel.clone());
    let scores = risk
        .get_risk_scores(authed(
            pb::GetRiskScoresRequest {
                pools: vec![pool("us-east-1a"), pool("us-east-1b")],
            },
            &viewer.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .scores;
    let (hit, quiet) = (&scores[0], &scores[1]);
    assert!(hit.score > quiet.score, "{hit:?} vs {quiet:?}");
    assert!((0.0..=1.0).contains(&hit.score) && quiet.score > 0.0);
    assert_eq!(hit.model_version, "recency-v1");
    let part = |score: &pb::RiskScore, name: &str| {
        score
            .components
            .iter()
            .find(|c| c.name.contains(name))
            .unwrap_or_else(|| panic!("no `{name}` part in {score:?}"))
            .clone()
    };
    assert_eq!(part(hit, "flag").value, 1.0);
    assert_eq!(part(quiet, "flag").value, 0.0);
    assert!(part(hit, "last hours").value > 0.9);
    assert_eq!(part(hit, "bucket").value, part(quiet, "bucket").value);

    // Bad input names the field.
    let mut unknown_zone = pool("us-east-1a");
    unknown_zone.zone = "eu-west-1a".into();
    let refused = risk
        .get_risk_scores(authed(
            pb::GetRiskScoresRequest {
                pools: vec![pool("us-east-1a"), unknown_zone],
            },
            &viewer.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("`pools[1].zone`"), "{refused}");
    let empty = risk
        .get_risk_scores(authed(
            pb::GetRiskScoresRequest::default(),
            &viewer.access_token,
        ))
        .await
        .unwrap_err();
    assert!(empty.message().contains("`pools`"), "{empty}");
    test.stop().await;
}
