//! A burst of calls right after start, before any access token was verified: every one is
//! accepted (concurrent callers wait for the one JWKS fetch instead of failing).

use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_testkit::{TestServer, authed};

#[tokio::test]
async fn concurrent_first_calls_after_start_are_all_accepted() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let calls = (0..16).map(|i| {
        let mut clusters = ClusterServiceClient::new(test.channel.clone());
        let request = authed(pb::ListClustersRequest { page: None }, &owner);
        async move { (i, clusters.list_clusters(request).await.map(drop)) }
    });
    for (i, result) in futures::future::join_all(calls).await {
        assert!(result.is_ok(), "call {i}: {result:?}");
    }
    test.stop().await;
}
