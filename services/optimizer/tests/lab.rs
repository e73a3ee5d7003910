//! The lab through the real server: a candidate risk model and a candidate strategy run in
//! shadow beside the live ones on a tenant's cluster; both sides' decisions are recorded and
//! compared, the cluster is never touched, and experiments stop and archive. Bad requests name
//! their field; another tenant sees nothing.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::risk::v1 as pb;
use spot_proto::risk::v1::experiment_service_client::ExperimentServiceClient;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};

/// Three on-demand and three spot nodes (one per zone each), two pods on every node.
fn mixed_cluster() -> Snapshot {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let mut nodes = Vec::new();
    for (i, zone) in zones.iter().enumerate() {
        nodes.push(node(
            &format!("od-{i}"),
            zone,
            &format!("i-od{i}"),
            CapacityType::OnDemand,
        ));
        nodes.push(node(
            &format!("spot-{i}"),
            zone,
            &format!("i-sp{i}"),
            CapacityType::Spot,
        ));
    }
    let pods = nodes
        .iter()
        .flat_map(|n| {
            [
                pod(&format!("{}-a", n.name), &n.name),
                pod(&format!("{}-b", n.name), &n.name),
            ]
        })
        .collect();
    Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    }
}

fn experiment(kind: pb::ExperimentKind, candidate: &str, cluster_id: &str) -> pb::Experiment {
    pb::Experiment {
        name: format!("try {candidate}"),
        kind: kind.into(),
        candidate: candidate.into(),
        cluster_ids: vec![cluster_id.into()],
        duration_hours: 24,
        ..Default::default()
    }
}

type Lab = ExperimentServiceClient<tonic::transport::Channel>;

async fn create(
    lab: &mut Lab,
    token: &str,
    e: pb::Experiment,
) -> Result<pb::Experiment, tonic::Status> {
    lab.create_experiment(authed(
        pb::CreateExperimentRequest {
            experiment: Some(e),
        },
        token,
    ))
    .await
    .map(|r| r.into_inner().experiment.unwrap())
}

async fn get(
    lab: &mut Lab,
    token: &str,
    id: &str,
) -> Result<pb::GetExperimentResponse, tonic::Status> {
    lab.get_experiment(authed(pb::GetExperimentRequest { id: id.into() }, token))
        .await
        .map(|r| r.into_inner())
}

/// The platform's instances in the simulated cloud.
async fn cloud_instances(test: &TestServer) -> Vec<String> {
    use spot_cloud::CloudProvider;
    let mut ids: Vec<String> = test
        .cloud
        .instances_tagged("us-east-1", spot_cloud::CLUSTER_ID_TAG)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    ids.sort();
    ids
}

/// Waits until the experiment's report satisfies `done`.
async fn report_until(
    lab: &mut Lab,
    token: &str,
    id: &str,
    done: impl Fn(&pb::ExperimentReport) -> bool,
) -> pb::GetExperimentResponse {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = get(lab, token, id).await.unwrap();
        let report = got
            .experiment
            .as_ref()
            .unwrap()
            .report
            .clone()
            .unwrap_or_default();
        if done(&report) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "report never got there: {report:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn candidates_run_in_shadow_are_compared_and_never_touch_the_cluster() {
    let test = TestServer::start(&[
        ("SPOT_INTERNAL_SECRET", SECRET),
        ("SPOT_LAB_INTERVAL_SECONDS", "1"),
    ])
    .await;
    let bob = test.sign_up("Bob").await.access_token;
    let mallory = test.sign_up("Mallory").await.access_token;
    let bobs = register(&test, &bob).await;
    let cluster_id = bobs.cluster.unwrap().id;
    let recorder = Arc::new(Recorder::default());
    let (_notices, stop) = start_agent(
        &test,
        &bobs.agent_key,
        recorder.clone(),
        Cluster::new(mixed_cluster()),
    );
    wait_for_nodes(&test, &bob, &cluster_id, 6).await;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let mut lab = ExperimentServiceClient::new(test.channel.clone());
    let instances_before = cloud_instances(&test).await;

    // Bad requests name the field; another tenant's cluster does not exist for Mallory.
    let unknown = create(
        &mut lab,
        &bob,
        experiment(
            pb::ExperimentKind::RiskModel,
            "crystal-ball-v1",
            &cluster_id,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().contains("`experiment.candidate`"),
        "{unknown}"
    );
    let foreign = create(
        &mut lab,
        &mallory,
        experiment(
            pb::ExperimentKind::RiskModel,
            "bucket-prior-v1",
            &cluster_id,
        ),
    )
    .await
    .unwrap_err();
    assert!(
        foreign.message().contains("`experiment.cluster_ids[0]`"),
        "{foreign}"
    );

    let model = create(
        &mut lab,
        &bob,
        experiment(
            pb::ExperimentKind::RiskModel,
            "bucket-prior-v1",
            &cluster_id,
        ),
    )
    .await
    .unwrap();
    assert_eq!(model.state(), pb::ExperimentState::Running);
    assert_eq!(model.live, "recency-v1");
    let strategy = create(
        &mut lab,
        &bob,
        experiment(
            pb::ExperimentKind::OptimizerStrategy,
            "cost-aware-ffd",
            &cluster_id,
        ),
    )
    .await
    .unwrap();
    assert_eq!(strategy.live, "lp-guided-ffd");

    // Both strategies plan the cluster in shadow: their costs are recorded side by side.
    let compared = report_until(&mut lab, &bob, &strategy.id, |r| r.decisions >= 2).await;
    let report = compared.experiment.unwrap().report.unwrap();
    assert!(report.live_cost_usd_per_hour > 0.0, "{report:#?}");
    assert!(report.candidate_cost_usd_per_hour > 0.0, "{report:#?}");
    assert!(
        report.summary.contains("cost-aware-ffd would cost"),
        "{}",
        report.summary
    );
    assert_eq!(compared.recent_decisions[0].subject, "plan");

    // Both models predict for each of the cluster's three spot pools at every decision.
    let predicted = report_until(&mut lab, &bob, &model.id, |r| r.matured_decisions >= 3).await;
    let subjects: std::collections::BTreeSet<String> = predicted
        .recent_decisions
        .iter()
        .map(|d| d.subject.clone())
        .collect();
    assert_eq!(
        subjects.into_iter().collect::<Vec<_>>(),
        [
            "us-east-1/us-east-1a/m5.xlarge",
            "us-east-1/us-east-1b/m5.xlarge",
            "us-east-1/us-east-1c/m5.xlarge"
        ]
    );
    assert!(
        predicted
            .recent_decisions
            .iter()
            .all(|d| d.live_value > 0.0 && d.candidate_value > 0.0)
    );

    // Shadow means shadow: no action reached the agent, no instance started or stopped.
    assert!(recorder.0.lock().unwrap().is_empty());
    let actions = clusters
        .list_actions(authed(
            cluster::ListActionsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert!(actions.is_empty(), "{actions:#?}");
    assert_eq!(cloud_instances(&test).await, instances_before);

    // An interruption in one of the pools is observed against the predictions made just before.
    let credential = InternalCredential::new(SECRET.as_bytes(), "cluster").unwrap();
    RiskServiceClient::with_interceptor(test.channel.clone(), OutgoingInterceptor::new(credential))
        .report_interruption(spot_proto::risk::v1::ReportInterruptionRequest {
            cluster_id: String::new(),
            notice: Some(InterruptionNotice {
                event_id: "lab-test-1".into(),
                kind: InterruptionKind::SpotInterruption.into(),
                pool: Some(Pool {
                    region: "us-east-1".into(),
                    zone: "us-east-1b".into(),
                    instance_type: "m5.xlarge".into(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let observed = report_until(&mut lab, &bob, &model.id, |r| r.observed_interruptions >= 1).await;
    let report = observed.experiment.unwrap().report.unwrap();
    assert!(
        report.live_brier > 0.0 && report.candidate_brier > 0.0,
        "{report:#?}"
    );
    assert!(report.live_predicted_interruptions > 0.0);

    // Mallory cannot see Bob's experiment; Bob stops and archives it.
    let hidden = get(&mut lab, &mallory, &model.id).await.unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let not_hers = lab
        .stop_experiment(authed(
            pb::StopExperimentRequest {
                id: model.id.clone(),
            },
            &mallory,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_hers.code(), tonic::Code::NotFound);
    let not_hers = lab
        .archive_experiment(authed(
            pb::ArchiveExperimentRequest {
                id: model.id.clone(),
            },
            &mallory,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_hers.code(), tonic::Code::NotFound);
    let running = lab
        .archive_experiment(authed(
            pb::ArchiveExperimentRequest {
                id: model.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(running.code(), tonic::Code::FailedPrecondition);
    let stopped = lab
        .stop_experiment(authed(
            pb::StopExperimentRequest {
                id: model.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .experiment
        .unwrap();
    assert_eq!(stopped.state(), pb::ExperimentState::Stopped);
    assert!(
        stopped.stop_reason.starts_with("stopped by user:"),
        "{}",
        stopped.stop_reason
    );
    let again = lab
        .stop_experiment(authed(
            pb::StopExperimentRequest {
                id: model.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    lab.archive_experiment(authed(
        pb::ArchiveExperimentRequest {
            id: model.id.clone(),
        },
        &bob,
    ))
    .await
    .unwrap();
    let archived = get(&mut lab, &bob, &model.id).await.unwrap();
    assert_eq!(
        archived.experiment.as_ref().unwrap().state(),
        pb::ExperimentState::Archived
    );
    assert!(
        archived.recent_decisions.is_empty(),
        "an archived experiment keeps its report only"
    );
    assert!(
        archived
            .experiment
            .unwrap()
            .report
            .unwrap()
            .matured_decisions
            >= 3
    );
    let listed = lab
        .list_experiments(authed(pb::ListExperimentsRequest { page: None }, &bob))
        .await
        .unwrap()
        .into_inner()
        .experiments;
    assert_eq!(listed.len(), 2);
    let none_for_mallory = lab
        .list_experiments(authed(pb::ListExperimentsRequest { page: None }, &mallory))
        .await
        .unwrap()
        .into_inner()
        .experiments;
    assert!(none_for_mallory.is_empty());

    stop.cancel();
    test.stop().await;
}
