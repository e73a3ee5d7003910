//! Hibernation end to end, through the real server: schedules are validated with field errors and
//! never overlap; overrides beat schedules in ListTransitions; and a hibernate-then-wake cycle on
//! the simulated cloud stops every node but the must-run ones, then brings back exactly the
//! capacity that was there.

mod hibernation_fixtures;

use std::sync::Arc;
use std::time::Duration;

use hibernation_fixtures::*;
use spot_proto::agent::v1::ActionKind;
use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::CapacityType;
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::hibernation_service_client::HibernationServiceClient;
use spot_testkit::{TestServer, authed};
use tonic::transport::Channel;

type Client = HibernationServiceClient<Channel>;

fn schedule(cluster_id: &str, sleep: &str, wake: &str, zone: &str) -> pb::Schedule {
    pb::Schedule {
        cluster_id: cluster_id.into(),
        sleep_cron: sleep.into(),
        wake_cron: wake.into(),
        time_zone: zone.into(),
        ..Default::default()
    }
}

async fn create(
    client: &mut Client,
    token: &str,
    schedule: pb::Schedule,
) -> Result<pb::Schedule, tonic::Status> {
    client
        .create_schedule(authed(
            pb::CreateScheduleRequest {
                schedule: Some(schedule),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().schedule.unwrap())
}

async fn sleep_until(client: &mut Client, token: &str, cluster_id: &str, hours: i64) {
    let until = chrono::Utc::now() + chrono::Duration::hours(hours);
    client
        .create_override(authed(
            pb::CreateOverrideRequest {
                cluster_id: cluster_id.into(),
                kind: pb::OverrideKind::SleepUntil.into(),
                wake_hours: 0,
                sleep_until: Some(spot_proto::time::timestamp(until.timestamp_millis())),
            },
            token,
        ))
        .await
        .unwrap();
}

async fn wake_for(client: &mut Client, token: &str, cluster_id: &str, hours: u32) {
    client
        .create_override(authed(
            pb::CreateOverrideRequest {
                cluster_id: cluster_id.into(),
                kind: pb::OverrideKind::WakeFor.into(),
                wake_hours: hours,
                sleep_until: None,
            },
            token,
        ))
        .await
        .unwrap();
}

async fn transitions(
    client: &mut Client,
    token: &str,
    cluster_id: &str,
) -> pb::ListTransitionsResponse {
    client
        .list_transitions(authed(
            pb::ListTransitionsRequest {
                cluster_id: cluster_id.into(),
                count: 3,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Waits for the newest run of `kind` to finish; the run.
async fn finished_run(
    client: &mut Client,
    token: &str,
    cluster_id: &str,
    kind: &str,
) -> pb::HibernationRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = client
            .list_hibernation_runs(authed(
                pb::ListHibernationRunsRequest {
                    cluster_id: cluster_id.into(),
                    page: None,
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .runs;
        if let Some(run) = runs.iter().find(|r| r.kind == kind)
            && run.status() != pb::HibernationRunStatus::Running
        {
            return run.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no finished {kind} run: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn schedules_are_checked_field_by_field_and_never_overlap() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let cluster_id = register(&test, &owner).await.cluster.unwrap().id;
    let mut client = HibernationServiceClient::new(test.channel.clone());

    let invalid = |status: tonic::Status| {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        status.message().to_owned()
    };
    let cases = [
        (
            schedule(
                &cluster_id,
                "0 20 * * MON-FRI",
                "0 7 * * 1-5x",
                "Europe/Berlin",
            ),
            "invalid `schedule.wake_cron`: the day-of-week field `1-5x`",
        ),
        (
            schedule(&cluster_id, "0 24 * * *", "0 7 * * *", "Europe/Berlin"),
            "invalid `schedule.sleep_cron`: the hour field `24`",
        ),
        (
            schedule(&cluster_id, "0 20 * * *", "0 7 * * *", "Europe/Atlantis"),
            "invalid `schedule.time_zone`: `Europe/Atlantis` is not an IANA time zone",
        ),
        (
            schedule(&cluster_id, "0 20 30 2 *", "0 7 * * *", "Europe/Berlin"),
            "invalid `schedule.sleep_cron`: `0 20 30 2 *` matches no date that exists",
        ),
        (
            schedule(&cluster_id, "0 20 * * *", "0 20 * * *", "Europe/Berlin"),
            "invalid `schedule.wake_cron`: the same as sleep_cron",
        ),
        (
            schedule(&cluster_id, "0 20 * * *", "0 20 * * 0-6", "Europe/Berlin"),
            "invalid `schedule.wake_cron`: `0 20 * * 0-6` runs at every sleep run of `0 20 * * *`",
        ),
        (
            schedule(&cluster_id, "0 20 1 * *", "0 20 * * *", "Europe/Berlin"),
            "invalid `schedule.wake_cron`: `0 20 * * *` runs at every sleep run of `0 20 1 * *`",
        ),
    ];
    for (request, expected) in cases {
        let message = invalid(create(&mut client, &owner, request).await.unwrap_err());
        assert!(message.starts_with(expected), "{message}");
    }
    let mut bad_workload = schedule(&cluster_id, "0 20 * * *", "0 7 * * *", "Europe/Berlin");
    bad_workload.must_run = vec!["coredns".into()];
    let message = invalid(create(&mut client, &owner, bad_workload).await.unwrap_err());
    assert!(
        message.starts_with("invalid `schedule.must_run[0]`"),
        "{message}"
    );

    let mut nights = schedule(&cluster_id, "0 20 * * 1-5", "0 7 * * 1-5", "Europe/Berlin");
    nights.must_run = vec!["kube-system/coredns".into()];
    let nights = create(&mut client, &owner, nights).await.unwrap();
    assert!(!nights.id.is_empty());
    assert_eq!(nights.must_run, ["kube-system/coredns"]);
    // A weekend in New York covers Friday night in Berlin: refused, naming the other schedule.
    let message = invalid(
        create(
            &mut client,
            &owner,
            schedule(&cluster_id, "0 18 * * 5", "0 6 * * 1", "America/New_York"),
        )
        .await
        .unwrap_err(),
    );
    assert!(
        message.starts_with("invalid `schedule`") && message.contains(&nights.id),
        "{message}"
    );
    // Lunch breaks do not overlap the nights.
    let lunch = create(
        &mut client,
        &owner,
        schedule(&cluster_id, "0 12 * * 1-5", "0 13 * * 1-5", "Europe/Berlin"),
    )
    .await
    .unwrap();
    let listed = client
        .list_schedules(authed(
            pb::ListSchedulesRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .schedules;
    assert_eq!(listed.len(), 2);
    client
        .delete_schedule(authed(
            pb::DeleteScheduleRequest {
                id: lunch.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let again = client
        .delete_schedule(authed(pb::DeleteScheduleRequest { id: lunch.id }, &owner))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::NotFound);

    // Transitions: the nights alternate hibernate and wake.
    let next = transitions(&mut client, &owner, &cluster_id).await;
    assert_eq!(next.transitions.len(), 3);
    for pair in next.transitions.windows(2) {
        assert_ne!(pair[0].kind, pair[1].kind);
        assert!(
            spot_proto::time::millis(pair[0].at.as_ref().unwrap())
                < spot_proto::time::millis(pair[1].at.as_ref().unwrap())
        );
    }
    test.stop().await;
}

#[tokio::test]
async fn the_newest_override_decides_the_next_transitions() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let cluster_id = register(&test, &owner).await.cluster.unwrap().id;
    let mut client = HibernationServiceClient::new(test.channel.clone());
    let before = transitions(&mut client, &owner, &cluster_id).await;
    assert!(!before.asleep && before.transitions.is_empty());

    // Asleep for 5 hours: the next transition is the wake at its end.
    sleep_until(&mut client, &owner, &cluster_id, 5).await;
    let asleep = transitions(&mut client, &owner, &cluster_id).await;
    assert!(asleep.asleep);
    let kinds: Vec<&str> = asleep.transitions.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["wake"]);
    let wake_at = spot_proto::time::millis(asleep.transitions[0].at.as_ref().unwrap());

    // Then awake for one hour: newer, so it wins; the sleep resumes after it, and ends as before.
    wake_for(&mut client, &owner, &cluster_id, 1).await;
    let awake = transitions(&mut client, &owner, &cluster_id).await;
    assert!(!awake.asleep);
    let kinds: Vec<&str> = awake.transitions.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["hibernate", "wake"]);
    let resumes = spot_proto::time::millis(awake.transitions[0].at.as_ref().unwrap());
    let in_an_hour = chrono::Utc::now().timestamp_millis() + 3_600_000;
    assert!(
        (resumes - in_an_hour).abs() < 60_000,
        "{resumes} vs {in_an_hour}"
    );
    assert_eq!(
        spot_proto::time::millis(awake.transitions[1].at.as_ref().unwrap()),
        wake_at
    );

    let bad = client
        .create_override(authed(
            pb::CreateOverrideRequest {
                cluster_id: cluster_id.clone(),
                kind: pb::OverrideKind::WakeFor.into(),
                wake_hours: 0,
                sleep_until: None,
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("invalid `wake_hours`"),
        "{}",
        bad.message()
    );
    test.stop().await;
}

#[tokio::test]
async fn a_hibernate_then_wake_cycle_keeps_must_run_nodes_and_restores_the_capacity() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    // Five nodes that really run in the simulated cloud: two spot in 1a, one spot in 1b, one
    // on-demand in 1b, and the on-demand node in 1c that hosts the must-run DNS.
    let layout = [
        ("spot-a1", "us-east-1a", CapacityType::Spot),
        ("spot-a2", "us-east-1a", CapacityType::Spot),
        ("spot-b1", "us-east-1b", CapacityType::Spot),
        ("od-b1", "us-east-1b", CapacityType::OnDemand),
        ("system", "us-east-1c", CapacityType::OnDemand),
    ];
    let pods = vec![
        pod("shop", "web-7f9c5d-abcde", "spot-a1"),
        pod("shop", "web-7f9c5d-fghij", "spot-a2"),
        pod("shop", "api-0", "spot-b1"),
        pod("shop", "db-0", "od-b1"),
        pod("kube-system", "coredns-5d78c9869d-x7vzp", "system"),
    ];
    let executor = Arc::new(Recorder::default());
    let RunningCluster {
        cluster_id,
        stop,
        follower,
        ..
    } = running_cluster(&test, &owner, &layout, pods, executor.clone()).await;
    let before = capacity(&test, &cluster_id).await;
    assert_eq!(before.values().sum::<usize>(), 5);

    let mut client = HibernationServiceClient::new(test.channel.clone());
    // The schedule names the must-run workload; its own window (New Year's first hour) is far off.
    let mut yearly = schedule(&cluster_id, "0 0 1 1 *", "0 1 1 1 *", "UTC");
    yearly.must_run = vec!["kube-system/coredns".into()];
    create(&mut client, &owner, yearly).await.unwrap();

    // Sleep now: every node but the DNS one is cordoned, drained and terminated.
    sleep_until(&mut client, &owner, &cluster_id, 8).await;
    let hibernated = finished_run(&mut client, &owner, &cluster_id, "hibernate").await;
    assert_eq!(
        hibernated.status(),
        pb::HibernationRunStatus::Succeeded,
        "{hibernated:?}"
    );
    assert_eq!(hibernated.kept_nodes, ["system"]);
    assert_eq!(hibernated.steps.len(), 4 * 3);
    assert!(
        hibernated
            .steps
            .iter()
            .all(|s| s.status() == pb::HibernationStepStatus::Succeeded)
    );
    assert_eq!(
        hibernated.capacity.iter().map(|g| g.count).sum::<u32>(),
        5,
        "the capacity before, recorded"
    );
    let asleep = capacity(&test, &cluster_id).await;
    assert_eq!(asleep.len(), 1, "{asleep:?}");
    assert_eq!(
        asleep.get(&("us-east-1c".into(), TYPE.into(), "OnDemand".into())),
        Some(&1)
    );
    {
        let actions = executor.0.lock().unwrap();
        assert!(actions.iter().all(|a| a.node_name != "system"));
        let cordons = actions
            .iter()
            .filter(|a| a.kind() == ActionKind::Cordon)
            .count();
        let drains = actions
            .iter()
            .filter(|a| a.kind() == ActionKind::Drain)
            .count();
        assert_eq!((cordons, drains), (4, 4));
        // Cordons first, so no drained pod lands on a node about to go.
        let first_drain = actions
            .iter()
            .position(|a| a.kind() == ActionKind::Drain)
            .unwrap();
        assert!(
            actions[..first_drain]
                .iter()
                .all(|a| a.kind() == ActionKind::Cordon)
        );
    }
    wait_for_nodes(&test, &owner, &cluster_id, 1).await;
    let state = transitions(&mut client, &owner, &cluster_id).await;
    assert!(state.asleep);
    assert_eq!(state.last_run.unwrap().kind, "hibernate");

    // Wake for two hours: the newer override wins, the recorded capacity comes back.
    wake_for(&mut client, &owner, &cluster_id, 2).await;
    let woken = finished_run(&mut client, &owner, &cluster_id, "wake").await;
    assert_eq!(
        woken.status(),
        pb::HibernationRunStatus::Succeeded,
        "{woken:?}"
    );
    assert_eq!(capacity(&test, &cluster_id).await, before);
    wait_for_nodes(&test, &owner, &cluster_id, 5).await;
    let state = transitions(&mut client, &owner, &cluster_id).await;
    assert!(!state.asleep);
    assert_eq!(
        state.transitions[0].kind, "hibernate",
        "the sleep resumes after the wake"
    );

    // Both runs are in the tenant's audit trail, by the scheduler.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = AuditServiceClient::new(test.channel.clone())
            .list_audit_events(authed(
                auth::ListAuditEventsRequest {
                    action_prefix: "hibernation.".into(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        let mut actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        actions.sort_unstable();
        if actions == ["hibernation.hibernate", "hibernation.wake"] {
            assert!(
                events
                    .iter()
                    .all(|e| e.result == "ok" && e.target == format!("cluster/{cluster_id}"))
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    follower.abort();
    stop.cancel();
    test.stop().await;
}

/// Puts the cluster to sleep (a yearly schedule, then a sleep override) with coredns's node kept
/// as must-run, and waits until only that node runs.
async fn asleep_but_coredns(test: &TestServer, owner: &str, cluster_id: &str) -> Client {
    let mut client = HibernationServiceClient::new(test.channel.clone());
    let mut yearly = schedule(cluster_id, "0 0 1 1 *", "0 1 1 1 *", "UTC");
    yearly.must_run = vec!["kube-system/coredns".into()];
    create(&mut client, owner, yearly).await.unwrap();
    sleep_until(&mut client, owner, cluster_id, 8).await;
    let hibernated = finished_run(&mut client, owner, cluster_id, "hibernate").await;
    assert_eq!(hibernated.status(), pb::HibernationRunStatus::Succeeded);
    wait_for_nodes(test, owner, cluster_id, 1).await;
    client
}

#[tokio::test]
async fn a_wake_short_of_capacity_fails_and_terminates_what_it_launched_that_never_joined() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let layout = [
        ("spot-a1", "us-east-1a", CapacityType::Spot),
        ("spot-a2", "us-east-1a", CapacityType::Spot),
        ("spot-b1", "us-east-1b", CapacityType::Spot),
        ("system", "us-east-1c", CapacityType::OnDemand),
    ];
    let pods = vec![pod("kube-system", "coredns-5d78c9869d-x7vzp", "system")];
    let RunningCluster {
        cluster_id,
        stop,
        follower,
        ..
    } = running_cluster(&test, &owner, &layout, pods, Arc::new(Recorder::default())).await;
    let mut client = asleep_but_coredns(&test, &owner, &cluster_id).await;

    // From now on launched instances never join, and us-east-1b has no capacity of any type
    // (its pool and every fallback): the wake launches the two spot nodes in 1a, finds 1b short,
    // and must not leave the two running.
    follower.abort();
    for offering in spot_engine::offerings_in(REGION, &["us-east-1b".to_owned()]) {
        let short = spot_cloud::Pool {
            region: REGION.into(),
            zone: "us-east-1b".into(),
            instance_type: offering.instance_type,
        };
        test.cloud.run_short(&short, 3_600);
    }
    wake_for(&mut client, &owner, &cluster_id, 2).await;
    let woken = finished_run(&mut client, &owner, &cluster_id, "wake").await;
    assert_eq!(
        woken.status(),
        pb::HibernationRunStatus::Failed,
        "{woken:?}"
    );
    let kinds: Vec<&str> = woken.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["launch", "launch", "wait_ready", "release"],
        "{woken:?}"
    );
    let launched = &woken.steps[0].instance_ids;
    assert_eq!(launched.len(), 2, "{woken:?}");
    assert_eq!(woken.steps[1].status(), pb::HibernationStepStatus::Failed);
    assert!(
        woken.steps[1].message.starts_with("launched 0 of 1"),
        "{}",
        woken.steps[1].message
    );
    let release = &woken.steps[3];
    assert_eq!(
        release.status(),
        pb::HibernationStepStatus::Succeeded,
        "{release:?}"
    );
    assert_eq!(&release.instance_ids, launched);
    assert!(
        woken
            .reason
            .contains("terminated 2 launched instances that never joined"),
        "{}",
        woken.reason
    );
    // Only the must-run node runs: nothing launched is left behind for the retry to double.
    let running = capacity(&test, &cluster_id).await;
    assert_eq!(running.values().sum::<usize>(), 1, "{running:?}");
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn a_cluster_wakes_in_a_fallback_pool_when_the_pool_it_slept_from_is_dry() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let layout = [
        ("spot-a1", "us-east-1a", CapacityType::Spot),
        ("spot-a2", "us-east-1a", CapacityType::Spot),
        ("system", "us-east-1c", CapacityType::OnDemand),
    ];
    let pods = vec![pod("kube-system", "coredns-5d78c9869d-x7vzp", "system")];
    let RunningCluster {
        cluster_id, stop, ..
    } = running_cluster(&test, &owner, &layout, pods, Arc::new(Recorder::default())).await;
    let mut client = asleep_but_coredns(&test, &owner, &cluster_id).await;

    // The spot pool the cluster slept from has no capacity when it wakes.
    let dry = spot_cloud::Pool {
        region: REGION.into(),
        zone: "us-east-1a".into(),
        instance_type: TYPE.into(),
    };
    test.cloud.run_short(&dry, 3_600);
    wake_for(&mut client, &owner, &cluster_id, 2).await;
    let woken = finished_run(&mut client, &owner, &cluster_id, "wake").await;
    assert_eq!(
        woken.status(),
        pb::HibernationRunStatus::Succeeded,
        "{woken:?}"
    );
    let launch = &woken.steps[0];
    assert_eq!(launch.kind, "launch");
    assert!(!launch.fallback_pools.is_empty(), "{launch:?}");
    // Both spot nodes are back in 1a, in a pool of the same capacity type, none of the dry one.
    let running = capacity(&test, &cluster_id).await;
    let spot_in_1a: usize = running
        .iter()
        .filter(|((zone, instance_type, capacity_type), _)| {
            zone == "us-east-1a" && instance_type != TYPE && capacity_type == "Spot"
        })
        .map(|(_, count)| count)
        .sum();
    assert_eq!(spot_in_1a, 2, "{running:?}");
    assert!(
        !running
            .keys()
            .any(|(zone, t, _)| zone == "us-east-1a" && t == TYPE),
        "{running:?}"
    );
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn a_cluster_in_dry_run_refuses_the_hibernation_and_the_run_says_why() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let RunningCluster {
        cluster_id, stop, ..
    } = running_cluster(
        &test,
        &owner,
        &[("only", "us-east-1a", CapacityType::Spot)],
        vec![],
        Arc::new(Recorder::default()),
    )
    .await;
    ClusterServiceClient::new(test.channel.clone())
        .set_cluster_dry_run(authed(
            cluster::SetClusterDryRunRequest {
                cluster_id: cluster_id.clone(),
                dry_run: true,
            },
            &owner,
        ))
        .await
        .unwrap();

    let mut client = HibernationServiceClient::new(test.channel.clone());
    sleep_until(&mut client, &owner, &cluster_id, 1).await;
    let run = finished_run(&mut client, &owner, &cluster_id, "hibernate").await;
    assert_eq!(run.status(), pb::HibernationRunStatus::Refused, "{run:?}");
    assert!(run.reason.contains("dry-run"), "{}", run.reason);
    assert_eq!(run.steps[0].status(), pb::HibernationStepStatus::Failed);
    assert!(
        run.steps[1..]
            .iter()
            .all(|s| s.status() == pb::HibernationStepStatus::Skipped)
    );
    assert_eq!(
        capacity(&test, &cluster_id).await.values().sum::<usize>(),
        1
    );
    stop.cancel();
    test.stop().await;
}

#[tokio::test]
async fn a_schedule_puts_the_cluster_to_sleep_and_deleting_it_wakes_the_cluster() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let layout = [
        ("a", "us-east-1a", CapacityType::Spot),
        ("b", "us-east-1b", CapacityType::Spot),
    ];
    let RunningCluster {
        cluster_id,
        stop,
        follower,
        ..
    } = running_cluster(
        &test,
        &owner,
        &layout,
        vec![pod("shop", "web-0", "a")],
        Arc::new(Recorder::default()),
    )
    .await;
    let before = capacity(&test, &cluster_id).await;

    // Asleep from every minute on, awake only from New Year: asleep now, by the schedule alone.
    let mut client = HibernationServiceClient::new(test.channel.clone());
    let always = create(
        &mut client,
        &owner,
        schedule(&cluster_id, "* * * * *", "0 0 1 1 *", "Asia/Tokyo"),
    )
    .await
    .unwrap();
    let run = finished_run(&mut client, &owner, &cluster_id, "hibernate").await;
    assert_eq!(run.status(), pb::HibernationRunStatus::Succeeded, "{run:?}");
    assert!(capacity(&test, &cluster_id).await.is_empty());
    wait_for_nodes(&test, &owner, &cluster_id, 0).await;

    // Without its schedule the cluster has no reason to sleep: it wakes as it was.
    client
        .delete_schedule(authed(pb::DeleteScheduleRequest { id: always.id }, &owner))
        .await
        .unwrap();
    let run = finished_run(&mut client, &owner, &cluster_id, "wake").await;
    assert_eq!(run.status(), pb::HibernationRunStatus::Succeeded, "{run:?}");
    assert_eq!(capacity(&test, &cluster_id).await, before);
    follower.abort();
    stop.cancel();
    test.stop().await;
}
