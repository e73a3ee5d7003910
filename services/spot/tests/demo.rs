//! `spot demo`: three simulated clusters whose agents connect over the real stream; the optimizer
//! moves them from on-demand to spot and the dashboard shows savings, well within a minute; the
//! tenant is on the savings-share plan and its invoice preview runs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spot_config::ConfigLayer;
use spot_proto::billing::v1::billing_admin_service_client::BillingAdminServiceClient;
use spot_proto::billing::v1::billing_service_client::BillingServiceClient;
use spot_proto::billing::v1::{
    GetSubscriptionRequest, LineKind, PreviewInvoiceRequest, RunBillingCycleRequest,
};
use spot_proto::cluster::v1::ListClustersRequest;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::optimizer::v1::dashboard_service_client::DashboardServiceClient;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::optimizer::v1::{GetKpisRequest, RecommendRequest, StepKind};
use spot_server::demo::{DemoArgs, start};
use spot_testkit::{authed, channel_to};

#[tokio::test]
async fn the_demo_moves_its_clusters_to_spot_and_shows_savings_within_a_minute() {
    let data_dir = tempfile::tempdir().unwrap();
    let flags = ConfigLayer {
        listen: Some("127.0.0.1:0".to_owned()),
        admin_listen: Some("127.0.0.1:0".to_owned()),
        data_dir: Some(data_dir.path().join("demo")),
        ..Default::default()
    };
    let args = DemoArgs {
        password: Some("Demo-Test-Password-1".to_owned()),
        seed: 7,
        no_capacity_shortages: false,
    };
    let started = Instant::now();
    let demo = start(flags, BTreeMap::new(), None, args).await.unwrap();
    let channel = channel_to(demo.server.local_addr).await;
    let token = spot_testkit::login_to(&channel, "demo@spot.local", &demo.password).await;

    let clusters = ClusterServiceClient::new(channel.clone())
        .list_clusters(authed(ListClustersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let mut names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["checkout-web", "data-pipeline", "ml-platform"]);

    let mut dashboard = DashboardServiceClient::new(channel.clone());
    let kpis = loop {
        let kpis = dashboard
            .get_kpis(authed(GetKpisRequest::default(), &token))
            .await
            .unwrap()
            .into_inner()
            .kpis
            .unwrap_or_default();
        if kpis.spot_share_percent > 0.0 && kpis.savings_to_date_usd > 0.0 {
            break kpis;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no savings after a minute: {kpis:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(kpis.nodes > 0, "{kpis:?}");
    // Demo Co pays a share of its savings, and its invoice for this month runs with them.
    let admin = spot_testkit::login_to(&channel, "admin@spot.local", &demo.password).await;
    BillingAdminServiceClient::new(channel.clone())
        .run_billing_cycle(authed(RunBillingCycleRequest {}, &admin))
        .await
        .unwrap();
    let mut billing = BillingServiceClient::new(channel.clone());
    let subscription = billing
        .get_subscription(authed(GetSubscriptionRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(subscription.plan.unwrap().id, "savings_share");
    let preview = billing
        .preview_invoice(authed(PreviewInvoiceRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .invoice
        .unwrap();
    let metered = preview
        .lines
        .iter()
        .filter(|l| l.kind() == LineKind::SavingsShare)
        .count();
    assert_eq!(metered, clusters.len(), "a line per cluster: {preview:?}");
    assert!(preview.savings.unwrap().minor_units >= 0);
    assert!(
        preview.total.unwrap().minor_units > 0,
        "the prorated minimum at least"
    );
    assert!(
        kpis.hourly_cost_usd < kpis.on_demand_hourly_cost_usd,
        "spot costs less than on-demand: {kpis:?}"
    );
    // The demo's clusters run amd64 nodes and their built-in policy names no architecture:
    // cheaper Graviton nodes would crash amd64-only images, so no plan launches one, not even
    // the full re-plan a user asks for.
    let catalog = spot_cloud::Catalog::embedded();
    for cluster in &clusters {
        let plan = OptimizerServiceClient::new(channel.clone())
            .recommend(authed(
                RecommendRequest {
                    cluster_id: cluster.id.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        for step in plan.steps.iter().filter(|s| s.kind() == StepKind::Launch) {
            let instance_type = &step.pool.as_ref().unwrap().instance_type;
            let architecture = catalog.get(instance_type).unwrap().architecture;
            assert_eq!(
                architecture,
                spot_cloud::Architecture::Amd64,
                "{} would launch {instance_type}",
                cluster.name
            );
        }
    }
    demo.stop().await.unwrap();
}
