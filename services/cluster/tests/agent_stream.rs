//! The agent's stream as users and agents see it: a real agent session (the spot-agent crate's
//! client) against a real server, with a fake executor and cluster source.

mod common;

use common::*;
use futures::StreamExt;
use spot_proto::agent::v1::agent_service_client::AgentServiceClient;
use spot_proto::agent::v1::{
    ActionKind, ActionOutcome, ActionResult, Delta, Heartbeat, Hello, InterruptionKind,
    InterruptionNotice, SessionRequest, SessionResponse, Snapshot, session_request,
    session_response,
};
use spot_proto::auth::v1 as auth;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_testkit::{TestServer, authed};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn message(message: session_request::Message) -> SessionRequest {
    SessionRequest {
        message: Some(message),
    }
}

fn hello() -> SessionRequest {
    message(session_request::Message::Hello(Hello {
        agent_version: "test".into(),
        kubernetes_version: "v1.32.0".into(),
        resume_after_action_id: String::new(),
    }))
}

/// A hand-driven session: what the test sends, and the stream of what it receives.
async fn raw_session(
    test: &TestServer,
    key: &str,
    first: SessionRequest,
) -> Result<
    (
        mpsc::Sender<SessionRequest>,
        tonic::Streaming<SessionResponse>,
    ),
    tonic::Status,
> {
    let (sender, receiver) = mpsc::channel(16);
    sender.send(first).await.unwrap();
    let responses = AgentServiceClient::new(test.channel.clone())
        .session(authed(ReceiverStream::new(receiver), key))
        .await?
        .into_inner();
    Ok((sender, responses))
}

async fn next(responses: &mut tonic::Streaming<SessionResponse>) -> session_response::Message {
    tokio::time::timeout(std::time::Duration::from_secs(10), responses.message())
        .await
        .expect("a response in time")
        .expect("stream open")
        .expect("a message")
        .message
        .expect("set")
}

#[tokio::test]
async fn an_agents_snapshot_shows_and_a_drain_reaches_it_and_its_result_is_recorded() {
    const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let cluster_id = registered.cluster.id.clone();
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let mut actions_watch = clusters
        .watch_actions(authed(
            pb::WatchActionsRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();

    let executor = FakeExecutor::new();
    let source = FakeSource::new();
    let agent = start_agent(
        test.addr(),
        &registered.agent_key,
        executor.clone(),
        source.clone(),
    );

    let nodes = eventually("the snapshot's nodes", || {
        let mut clusters = clusters.clone();
        let request = authed(
            pb::ListNodesRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        );
        async move {
            let nodes = clusters.list_nodes(request).await.ok()?.into_inner().nodes;
            (nodes.len() == 2).then_some(nodes)
        }
    })
    .await;
    assert_eq!(nodes[0].name, "n1");
    assert_eq!(nodes[0].instance_type, "m5.large");
    let status = clusters
        .get_agent_status(authed(
            pb::GetAgentStatusRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(status.connected);
    assert_eq!(status.kubernetes_version, "v1.32.1");
    assert!(status.last_heartbeat_at.is_some());

    // Pods page by `namespace/name`.
    let first = clusters
        .list_pods(authed(
            pb::ListPodsRequest {
                cluster_id: cluster_id.clone(),
                page: Some(spot_proto::common::v1::PageRequest {
                    page_size: 2,
                    page_token: String::new(),
                }),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["api-1", "web-1"]);
    let rest = clusters
        .list_pods(authed(
            pb::ListPodsRequest {
                cluster_id: cluster_id.clone(),
                page: Some(spot_proto::common::v1::PageRequest {
                    page_size: 2,
                    page_token: first.page.unwrap().next_page_token,
                }),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.pods.len(), 1);
    assert!(rest.page.unwrap().next_page_token.is_empty());

    // A drain goes out on the stream, runs once, and its result is recorded.
    let drain = submit(&test.channel, &owner, &cluster_id, ActionKind::Drain, "n1").await;
    assert_eq!(drain.status(), pb::ActionStatus::Pending);
    let id = drain.action.unwrap().id;
    let done = action_reaches(
        &test.channel,
        &owner,
        &cluster_id,
        &id,
        pb::ActionStatus::Succeeded,
    )
    .await;
    assert_eq!(done.message, "n1 done");
    let ran = executor.ran();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].kind(), ActionKind::Drain);
    assert_eq!(ran[0].node_name, "n1");
    assert!(ran[0].deadline.is_some(), "every action has a deadline");

    // WatchActions saw it move: pending, sent, acknowledged, succeeded.
    let mut seen = Vec::new();
    while seen.last() != Some(&pb::ActionStatus::Succeeded) {
        let update = tokio::time::timeout(std::time::Duration::from_secs(5), actions_watch.next())
            .await
            .expect("an update")
            .unwrap()
            .unwrap();
        seen.push(update.action.unwrap().status());
    }
    assert_eq!(
        seen,
        [
            pb::ActionStatus::Pending,
            pb::ActionStatus::Sent,
            pb::ActionStatus::Acknowledged,
            pb::ActionStatus::Succeeded
        ]
    );

    // A delta changes the inventory and is announced on WatchCluster.
    let mut events = clusters
        .watch_cluster(authed(
            pb::WatchClusterRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    source
        .deltas
        .send(Delta {
            upserted_nodes: vec![node("n3", "c5.xlarge")],
            removed_nodes: vec!["n2".into()],
            upserted_pods: vec![],
            removed_pods: vec!["shop/api-1".into()],
            upserted_pdbs: vec![spot_proto::common::v1::PodDisruptionBudget {
                namespace: "shop".into(),
                name: "web".into(),
                selector: [("app".to_owned(), "web".to_owned())].into(),
                disruptions_allowed: 1,
            }],
            ..Default::default()
        })
        .unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("an event")
        .unwrap()
        .unwrap()
        .event
        .unwrap();
    assert_eq!(event.kind, "delta");
    let nodes = clusters
        .list_nodes(authed(
            pb::ListNodesRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1", "n3"]);
    // Planners see the PDB the delta brought (internal GetClusterState).
    let credential = spot_access::InternalCredential::new(SECRET.as_bytes(), "optimizer").unwrap();
    let state =
        spot_proto::cluster::v1::fleet_service_client::FleetServiceClient::with_interceptor(
            test.channel.clone(),
            spot_access::OutgoingInterceptor::new(credential),
        )
        .get_cluster_state(pb::GetClusterStateRequest {
            cluster_id: cluster_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.pdbs.len(), 1);
    assert_eq!(state.pdbs[0].disruptions_allowed, 1);
    assert_eq!(state.pods.len(), 2, "api-1 was removed");

    // The event log tells the story, newest first.
    let log = clusters
        .list_cluster_events(authed(
            pb::ListClusterEventsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<_> = log.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["agent_connected", "snapshot", "action"], "{log:?}");
    assert_eq!(
        log[0].message, "Drain node n1 (m5.large, us-east-1a) succeeded: n1 done",
        "the node by name, type and zone"
    );

    agent.cancel();
    test.stop().await;
}

#[tokio::test]
async fn bad_keys_bad_messages_and_unknown_results_get_clear_statuses() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;

    let wrong = raw_session(&test, "spot_not-a-key", hello())
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated, "{wrong}");
    let user = raw_session(&test, &owner, hello()).await.unwrap_err();
    assert_eq!(user.code(), tonic::Code::PermissionDenied, "{user}");
    let no_hello = raw_session(
        &test,
        &registered.agent_key,
        message(session_request::Message::Heartbeat(Heartbeat { at: None })),
    )
    .await
    .unwrap_err();
    assert_eq!(no_hello.code(), tonic::Code::InvalidArgument);
    assert!(no_hello.message().contains("hello"), "{no_hello}");

    let (sender, mut responses) = raw_session(&test, &registered.agent_key, hello())
        .await
        .unwrap();
    assert!(
        matches!(next(&mut responses).await, session_response::Message::Welcome(w) if w.cluster_id == registered.cluster.id)
    );
    assert!(
        matches!(next(&mut responses).await, session_response::Message::Config(c) if c.heartbeat_interval_seconds == 10)
    );

    // A result for an action that does not exist: a notice, and the stream lives on.
    sender
        .send(message(session_request::Message::Result(ActionResult {
            action_id: "nope".into(),
            outcome: ActionOutcome::Succeeded.into(),
            message: String::new(),
        })))
        .await
        .unwrap();
    match next(&mut responses).await {
        session_response::Message::Notice(notice) => {
            assert_eq!(notice.code, "NotFound");
            assert_eq!(notice.action_id, "nope");
        }
        other => panic!("expected a notice, got {other:?}"),
    }
    // A snapshot with a nameless node: the valid part is stored, the rest named in a notice.
    sender
        .send(message(session_request::Message::Snapshot(Snapshot {
            nodes: vec![node("n1", "m5.large"), node("", "m5.large")],
            pods: vec![],
            pdbs: vec![],
        })))
        .await
        .unwrap();
    match next(&mut responses).await {
        session_response::Message::Notice(notice) => {
            assert_eq!(notice.code, "InvalidArgument");
            assert!(
                notice.message.contains("nodes[1]: empty name"),
                "{}",
                notice.message
            );
        }
        other => panic!("expected a notice, got {other:?}"),
    }
    let nodes = ClusterServiceClient::new(test.channel.clone())
        .list_nodes(authed(
            pb::ListNodesRequest {
                cluster_id: registered.cluster.id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    assert_eq!(nodes.len(), 1);

    // Another cluster's key opens that cluster's session, never this one's.
    let other = register(&test.channel, &owner, "other").await;
    let (_other_sender, mut other_responses) =
        raw_session(&test, &other.agent_key, hello()).await.unwrap();
    assert!(
        matches!(next(&mut other_responses).await, session_response::Message::Welcome(w) if w.cluster_id == other.cluster.id)
    );

    // A revoked agent key is refused at once (revocation reaches every verifier on the bus).
    let mut keys = spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient::new(
        test.channel.clone(),
    );
    let other_key = keys
        .list_api_keys(authed(auth::ListApiKeysRequest { page: None }, &owner))
        .await
        .unwrap()
        .into_inner()
        .api_keys
        .into_iter()
        .find(|k| k.cluster_id == other.cluster.id)
        .expect("the other cluster's agent key");
    keys.revoke_api_key(authed(
        auth::RevokeApiKeyRequest {
            api_key_id: other_key.id,
        },
        &owner,
    ))
    .await
    .unwrap();
    eventually("the revocation to reach the verifier", || {
        let test = &test;
        let key = other.agent_key.clone();
        async move {
            match raw_session(test, &key, hello()).await {
                Err(status) if status.code() == tonic::Code::Unauthenticated => Some(()),
                _ => None,
            }
        }
    })
    .await;

    // Oversize messages end the stream with a clear status.
    let huge = Snapshot {
        nodes: (0..40_000)
            .map(|i| {
                let mut n = node(&format!("node-{i}"), "m5.large");
                n.labels.insert("padding".into(), "x".repeat(1_000));
                n
            })
            .collect(),
        pods: vec![],
        pdbs: vec![],
    };
    sender
        .send(message(session_request::Message::Snapshot(huge)))
        .await
        .unwrap();
    drop(sender);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match responses.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the stream ends");
    // The server refuses to decode it; the client sees the stream end (with the status when
    // the server's answer arrives before the connection resets).
    if let Some(status) = ended {
        assert!(
            matches!(
                status.code(),
                tonic::Code::OutOfRange | tonic::Code::ResourceExhausted | tonic::Code::Internal
            ),
            "{status}"
        );
    }
    test.stop().await;
}

#[tokio::test]
async fn a_second_agent_for_the_same_cluster_wins_and_the_first_is_told_why() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let (_first_sender, mut first) = raw_session(&test, &registered.agent_key, hello())
        .await
        .unwrap();
    next(&mut first).await;
    let (_second_sender, mut second) = raw_session(&test, &registered.agent_key, hello())
        .await
        .unwrap();
    assert!(matches!(
        next(&mut second).await,
        session_response::Message::Welcome(_)
    ));
    let ended = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), first.message())
            .await
            .expect("the first session ends")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("ended without a reason"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), tonic::Code::Aborted);
    assert!(ended.message().contains("newer session wins"), "{ended}");
    // The newer session works on.
    let drain = submit(
        &test.channel,
        &owner,
        &registered.cluster.id,
        ActionKind::Cordon,
        "n1",
    )
    .await;
    assert!(matches!(
        next(&mut second).await,
        session_response::Message::Config(_)
    ));
    match next(&mut second).await {
        session_response::Message::Action(action) => {
            assert_eq!(action.id, drain.action.unwrap().id);
            assert_eq!(action.attempt, 1);
        }
        other => panic!("expected the action, got {other:?}"),
    }
    test.stop().await;
}

#[tokio::test]
async fn dry_run_and_safe_mode_refuse_actions_visibly_and_audited() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let cluster_id = registered.cluster.id.clone();
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let executor = FakeExecutor::new();
    let agent = start_agent(
        test.addr(),
        &registered.agent_key,
        executor.clone(),
        FakeSource::new(),
    );

    clusters
        .set_cluster_dry_run(authed(
            pb::SetClusterDryRunRequest {
                cluster_id: cluster_id.clone(),
                dry_run: true,
            },
            &owner,
        ))
        .await
        .unwrap();
    let refused = submit(&test.channel, &owner, &cluster_id, ActionKind::Drain, "n1").await;
    assert_eq!(refused.status(), pb::ActionStatus::Refused);
    assert!(refused.message.contains("dry-run"), "{}", refused.message);

    clusters
        .set_cluster_dry_run(authed(
            pb::SetClusterDryRunRequest {
                cluster_id: cluster_id.clone(),
                dry_run: false,
            },
            &owner,
        ))
        .await
        .unwrap();
    test.set_safe_mode(true).await;
    let refused = submit(&test.channel, &owner, &cluster_id, ActionKind::Cordon, "n1").await;
    assert_eq!(refused.status(), pb::ActionStatus::Refused);
    assert!(refused.message.contains("safe mode"), "{}", refused.message);

    // Refusals are in the event log and the audit trail; nothing reached the agent.
    let log = clusters
        .list_cluster_events(authed(
            pb::ListClusterEventsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        log.iter().filter(|e| e.kind == "refused").count(),
        2,
        "{log:?}"
    );
    let audit = eventually("the refusals in the audit trail", || {
        let request = authed(
            auth::ListAuditEventsRequest {
                action_prefix: "spot.cluster.v1.ClusterService/SubmitAction".into(),
                ..Default::default()
            },
            &owner,
        );
        let mut client = spot_proto::auth::v1::audit_service_client::AuditServiceClient::new(
            test.channel.clone(),
        );
        async move {
            let events = client
                .list_audit_events(request)
                .await
                .ok()?
                .into_inner()
                .events;
            (events.len() == 2).then_some(events)
        }
    })
    .await;
    assert!(
        audit.iter().all(|e| e.result.starts_with("refused: ")),
        "{audit:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(executor.ran().is_empty());
    agent.cancel();
    test.stop().await;
}

#[tokio::test]
async fn turning_dry_run_on_or_off_reaches_the_connected_agent_at_once() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let (_sender, mut responses) = raw_session(&test, &registered.agent_key, hello())
        .await
        .unwrap();
    assert!(matches!(
        next(&mut responses).await,
        session_response::Message::Welcome(_)
    ));
    assert!(
        matches!(next(&mut responses).await, session_response::Message::Config(c) if !c.dry_run)
    );

    for dry_run in [true, false] {
        clusters
            .set_cluster_dry_run(authed(
                pb::SetClusterDryRunRequest {
                    cluster_id: registered.cluster.id.clone(),
                    dry_run,
                },
                &owner,
            ))
            .await
            .unwrap();
        // The agent stops (or resumes) ranking pods for scale-downs without reconnecting.
        match next(&mut responses).await {
            session_response::Message::Config(config) => {
                assert_eq!(config.dry_run, dry_run);
                assert_eq!(config.heartbeat_interval_seconds, 10);
            }
            other => panic!("expected the new configuration, got {other:?}"),
        }
    }
    test.stop().await;
}

#[tokio::test]
async fn invalid_actions_are_refused_with_the_field_named() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let cases = [
        (
            pb::SubmitActionRequest {
                kind: 0,
                node_name: "n1".into(),
                ..Default::default()
            },
            "`kind`",
        ),
        (
            pb::SubmitActionRequest {
                kind: ActionKind::Cordon.into(),
                ..Default::default()
            },
            "`node_name`",
        ),
        (
            pb::SubmitActionRequest {
                kind: ActionKind::Label.into(),
                node_name: "n1".into(),
                ..Default::default()
            },
            "`labels`",
        ),
        (
            pb::SubmitActionRequest {
                kind: ActionKind::Taint.into(),
                node_name: "n1".into(),
                ..Default::default()
            },
            "`taints`",
        ),
        (
            pb::SubmitActionRequest {
                kind: ActionKind::Drain.into(),
                node_name: "n1".into(),
                deadline_seconds: 86_400,
                ..Default::default()
            },
            "`deadline_seconds`",
        ),
    ];
    for (mut request, field) in cases {
        request.cluster_id = registered.cluster.id.clone();
        let status = clusters
            .submit_action(authed(request, &owner))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status}");
        assert!(status.message().contains(field), "{status}");
    }
    assert!(
        actions(&test.channel, &owner, &registered.cluster.id)
            .await
            .is_empty(),
        "nothing stored"
    );
    test.stop().await;
}

#[tokio::test]
async fn the_install_command_points_agents_at_the_public_url() {
    let test = TestServer::start(&[("SPOT_PUBLIC_URL", "https://spot.example.com")]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let response = ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            pb::RegisterClusterRequest {
                name: "shop".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        response
            .install_command
            .ends_with("--set controlPlane=https://spot.example.com"),
        "{}",
        response.install_command
    );
    // The key is pasted into a Secret, never written on a command line.
    assert!(!response.install_command.contains(&response.agent_key));
    assert!(
        response
            .install_command
            .contains("create secret generic spot-agent-key"),
        "{}",
        response.install_command
    );
    test.stop().await;
}

/// Opens a session for the agent key and reports a snapshot; the stream is past its welcome and
/// config.
async fn reporting_session(
    test: &TestServer,
    key: &str,
    nodes: Vec<spot_proto::common::v1::Node>,
) -> (
    mpsc::Sender<SessionRequest>,
    tonic::Streaming<SessionResponse>,
) {
    let (sender, mut responses) = raw_session(test, key, hello()).await.unwrap();
    assert!(matches!(
        next(&mut responses).await,
        session_response::Message::Welcome(_)
    ));
    assert!(matches!(
        next(&mut responses).await,
        session_response::Message::Config(_)
    ));
    sender
        .send(message(session_request::Message::Snapshot(Snapshot {
            nodes,
            pods: vec![],
            pdbs: vec![],
        })))
        .await
        .unwrap();
    (sender, responses)
}

fn spot_node(name: &str) -> spot_proto::common::v1::Node {
    spot_proto::common::v1::Node {
        capacity_type: spot_proto::common::v1::CapacityType::Spot.into(),
        ..node(name, "m5.large")
    }
}

fn notice_about(event_id: &str, node_name: &str, zone: &str) -> SessionRequest {
    message(session_request::Message::Interruption(InterruptionNotice {
        event_id: event_id.to_owned(),
        kind: InterruptionKind::SpotInterruption.into(),
        instance_id: String::new(),
        node_name: node_name.to_owned(),
        pool: Some(spot_proto::common::v1::Pool {
            region: "us-east-1".into(),
            zone: zone.into(),
            instance_type: "m5.large".into(),
        }),
        action_at: None,
    }))
}

/// The next notice the session gets, past any action the platform sends meanwhile (an accepted
/// warning gets its replacement plan).
async fn next_notice_only(
    responses: &mut tonic::Streaming<SessionResponse>,
) -> spot_proto::agent::v1::Notice {
    loop {
        match next(responses).await {
            session_response::Message::Notice(notice) => return notice,
            session_response::Message::Action(_) => {}
            other => panic!("expected a notice, got {other:?}"),
        }
    }
}

/// The next notice the session gets: sends a result for an unknown action after whatever was sent
/// before, so a quiet acceptance shows as that action's NotFound, not as a missing message.
async fn next_notice(
    sender: &mpsc::Sender<SessionRequest>,
    responses: &mut tonic::Streaming<SessionResponse>,
) -> spot_proto::agent::v1::Notice {
    sender
        .send(message(session_request::Message::Result(ActionResult {
            action_id: "marker".into(),
            outcome: ActionOutcome::Succeeded.into(),
            message: String::new(),
        })))
        .await
        .unwrap();
    next_notice_only(responses).await
}

#[tokio::test]
async fn a_notice_counts_only_for_the_clusters_own_spot_node_in_its_pool() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let (sender, mut responses) = reporting_session(
        &test,
        &registered.agent_key,
        vec![spot_node("spot-1"), node("on-demand-1", "m5.large")],
    )
    .await;
    let refusals = [
        (
            notice_about("e1", "someone-elses-node", "us-east-1a"),
            "NotFound",
        ),
        (
            notice_about("e2", "on-demand-1", "us-east-1a"),
            "FailedPrecondition",
        ),
        (
            notice_about("e3", "spot-1", "us-east-1b"),
            "InvalidArgument",
        ),
    ];
    for (request, code) in refusals {
        sender.send(request).await.unwrap();
        let notice = next_notice(&sender, &mut responses).await;
        assert_eq!(notice.code, code, "{notice:?}");
        let marker = next_notice_only(&mut responses).await;
        assert_eq!(marker.action_id, "marker", "{marker:?}");
    }
    // Its own spot node in its own pool: accepted quietly, and on the cluster's events.
    sender
        .send(notice_about("e4", "spot-1", "us-east-1a"))
        .await
        .unwrap();
    let marker = next_notice(&sender, &mut responses).await;
    assert_eq!(marker.action_id, "marker", "accepted without a notice");
    let events = ClusterServiceClient::new(test.channel.clone())
        .list_cluster_events(authed(
            pb::ListClusterEventsRequest {
                cluster_id: registered.cluster.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let interruptions: Vec<_> = events
        .iter()
        .filter(|e| e.message.contains("interruption warning"))
        .collect();
    assert_eq!(interruptions.len(), 1, "{events:?}");
    assert!(interruptions[0].message.contains("spot-1"), "{events:?}");
    test.stop().await;
}

#[tokio::test]
async fn a_tenants_notice_allowance_holds_across_reconnects_and_the_session_lives_on() {
    let test = TestServer::start(&[(
        "SPOT_LIMIT_INTERRUPTION_NOTICES_PER_TENANT_PER_MINUTE",
        "120",
    )])
    .await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let other = test.sign_up("Other").await.access_token;
    let others = register(&test.channel, &other, "shop").await;
    // Half the allowance on one session, half on the next: reconnecting resets nothing.
    for round in 0..2 {
        let (sender, mut responses) =
            reporting_session(&test, &registered.agent_key, vec![spot_node("spot-1")]).await;
        for i in 0..60 {
            sender
                .send(notice_about(
                    &format!("flood-{round}-{i}"),
                    "spot-1",
                    "us-east-1a",
                ))
                .await
                .unwrap();
        }
        let marker = next_notice(&sender, &mut responses).await;
        assert_eq!(
            marker.action_id, "marker",
            "within the allowance: {marker:?}"
        );
        if round == 1 {
            sender
                .send(notice_about("flood-over", "spot-1", "us-east-1a"))
                .await
                .unwrap();
            let refused = next_notice(&sender, &mut responses).await;
            assert_eq!(refused.code, "ResourceExhausted", "{refused:?}");
            assert!(refused.message.contains("flood-over"), "{refused:?}");
            // The session still answers.
            let marker = next_notice_only(&mut responses).await;
            assert_eq!(marker.action_id, "marker", "{marker:?}");
        }
    }
    // Another tenant's allowance is its own.
    let (sender, mut responses) =
        reporting_session(&test, &others.agent_key, vec![spot_node("spot-1")]).await;
    sender
        .send(notice_about("other-1", "spot-1", "us-east-1a"))
        .await
        .unwrap();
    let marker = next_notice(&sender, &mut responses).await;
    assert_eq!(marker.action_id, "marker", "accepted: {marker:?}");
    test.stop().await;
}

#[tokio::test]
async fn concurrent_registrations_never_pass_the_cluster_quota() {
    let test = TestServer::start(&[("SPOT_LIMIT_CLUSTERS_PER_TENANT", "3")]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let attempts = (0..12).map(|i| {
        let mut clusters = ClusterServiceClient::new(test.channel.clone());
        let owner = owner.clone();
        async move {
            clusters
                .register_cluster(authed(
                    pb::RegisterClusterRequest {
                        name: format!("burst-{i}"),
                        region: "us-east-1".into(),
                        aws_account_id: String::new(),
                    },
                    &owner,
                ))
                .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let accepted = answers.iter().filter(|answer| answer.is_ok()).count();
    for refused in answers.iter().filter_map(|answer| answer.as_ref().err()) {
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused}");
    }
    let listed = ClusterServiceClient::new(test.channel.clone())
        .list_clusters(authed(pb::ListClustersRequest { page: None }, &owner))
        .await
        .unwrap()
        .into_inner()
        .clusters
        .len();
    assert!(
        accepted <= 3,
        "{accepted} of 12 concurrent registrations passed a quota of 3"
    );
    assert_eq!(
        listed, accepted,
        "every accepted cluster is stored, no refused one is"
    );
    // One at a time, the quota fills to exactly its limit.
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    for i in 0.. {
        let answer = clusters
            .register_cluster(authed(
                pb::RegisterClusterRequest {
                    name: format!("after-{i}"),
                    region: "us-east-1".into(),
                    aws_account_id: String::new(),
                },
                &owner,
            ))
            .await;
        if let Err(refused) = answer {
            assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused}");
            assert_eq!(accepted + i, 3, "the quota admits exactly 3");
            break;
        }
    }
    test.stop().await;
}

#[tokio::test]
async fn quotas_refuse_a_cluster_too_many_and_reports_over_the_node_limit_store_nothing() {
    let test = TestServer::start(&[
        ("SPOT_LIMIT_CLUSTERS_PER_TENANT", "1"),
        ("SPOT_LIMIT_NODES_PER_CLUSTER", "2"),
    ])
    .await;
    let owner = test.sign_up("Acme").await.access_token;
    let registered = register(&test.channel, &owner, "shop").await;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let second = clusters
        .register_cluster(authed(
            pb::RegisterClusterRequest {
                name: "second".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(second.code(), tonic::Code::ResourceExhausted, "{second}");
    assert!(
        second.message().contains("limits.clusters_per_tenant"),
        "{second}"
    );

    let node_names = |clusters: ClusterServiceClient<tonic::transport::Channel>| {
        let (owner, cluster_id) = (owner.clone(), registered.cluster.id.clone());
        async move {
            let mut clusters = clusters;
            let nodes = clusters
                .list_nodes(authed(
                    pb::ListNodesRequest {
                        cluster_id,
                        page: None,
                    },
                    &owner,
                ))
                .await
                .unwrap()
                .into_inner()
                .nodes;
            nodes.into_iter().map(|n| n.name).collect::<Vec<_>>()
        }
    };
    // A snapshot over the node quota is refused whole; the stream lives on.
    let (sender, mut responses) = reporting_session(
        &test,
        &registered.agent_key,
        vec![
            node("a", "m5.large"),
            node("b", "m5.large"),
            node("c", "m5.large"),
        ],
    )
    .await;
    let refused = next_notice_only(&mut responses).await;
    assert_eq!(refused.code, "ResourceExhausted", "{refused:?}");
    assert!(
        refused.message.contains("limits.nodes_per_cluster"),
        "{refused:?}"
    );
    assert!(node_names(clusters.clone()).await.is_empty());
    // Within it, stored; a delta that would go over it is refused and changes nothing.
    sender
        .send(message(session_request::Message::Snapshot(Snapshot {
            nodes: vec![node("a", "m5.large"), node("b", "m5.large")],
            pods: vec![],
            pdbs: vec![],
        })))
        .await
        .unwrap();
    sender
        .send(message(session_request::Message::Delta(Delta {
            upserted_nodes: vec![node("c", "m5.large")],
            ..Default::default()
        })))
        .await
        .unwrap();
    let refused = next_notice_only(&mut responses).await;
    assert_eq!(refused.code, "ResourceExhausted", "{refused:?}");
    assert_eq!(node_names(clusters.clone()).await, ["a", "b"]);
    test.stop().await;
}
