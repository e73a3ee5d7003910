//! Proves the access rules for EVERY RPC in the descriptor sets, through the real server:
//! no credentials, too weak a role, the wrong kind of caller, and another tenant's data.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut};
use prost::Message;
use spot_access::InternalCredential;
use spot_access::Role;
use spot_access::rules::{Access, rule_for};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
use spot_proto::auth::v1::user_service_client::UserServiceClient;
use spot_testkit::{TestServer, authed, strong_password};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Sends raw protobuf bytes to any method, so every RPC can be called without its types.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Self::Error> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

/// Calls `method` (`package.Service/Method`) with an empty message; the status code it answers.
async fn call(channel: &Channel, method: &str, token: Option<&str>) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(tokio_stream::once(Vec::new()));
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("header");
        request.metadata_mut().insert("authorization", value);
    }
    let path = format!("/{method}").parse().expect("path");
    match grpc.streaming(request, path, RawCodec).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

fn every_rpc() -> Vec<String> {
    let set =
        prost_types::FileDescriptorSet::decode(spot_proto::FILE_DESCRIPTOR_SET).expect("decodes");
    let mut rpcs = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                rpcs.push(format!(
                    "{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    rpcs
}

/// Tenant RPCs already implemented, whose cross-tenant behaviour `another_tenants_data_is_never_reachable`
/// proves. An implemented tenant RPC missing here fails `every_rpc_enforces_its_rule`.
const CROSS_TENANT_COVERED: &[&str] = &[
    "spot.auth.v1.AuthService/Me",
    "spot.auth.v1.AuthService/ChangePassword",
    "spot.auth.v1.AuthService/SwitchTenant",
    "spot.auth.v1.UserService/InviteUser",
    "spot.auth.v1.UserService/ListUsers",
    "spot.auth.v1.UserService/ChangeUserRole",
    "spot.auth.v1.UserService/RemoveUser",
    "spot.auth.v1.ApiKeyService/CreateApiKey",
    "spot.auth.v1.ApiKeyService/ListApiKeys",
    "spot.auth.v1.ApiKeyService/RevokeApiKey",
    "spot.auth.v1.AuditService/ListAuditEvents",
    "spot.auth.v1.NotificationService/ListNotifications",
    "spot.auth.v1.NotificationService/MarkNotificationRead",
    "spot.cluster.v1.AccountService/GetLinkInstructions",
    "spot.cluster.v1.AccountService/LinkAwsAccount",
    "spot.cluster.v1.AccountService/VerifyAwsAccount",
    "spot.cluster.v1.AccountService/ListAwsAccounts",
    "spot.cluster.v1.AccountService/UnlinkAwsAccount",
    "spot.cluster.v1.AccountService/DiscoverClusters",
    "spot.cluster.v1.AccountService/AdoptCluster",
    "spot.cluster.v1.NodeClassService/GetNodeClass",
    "spot.cluster.v1.NodeClassService/ListNodeClasses",
    "spot.cluster.v1.NodeClassService/CreateNodeClass",
    "spot.cluster.v1.NodeClassService/UpdateNodeClass",
    "spot.cluster.v1.NodeClassService/DeleteNodeClass",
    "spot.cluster.v1.NodeClassService/ValidateNodeClass",
    "spot.cluster.v1.ClusterService/RegisterCluster",
    "spot.cluster.v1.ClusterService/ListClusters",
    "spot.cluster.v1.ClusterService/GetCluster",
    "spot.cluster.v1.ClusterService/ListNodes",
    "spot.cluster.v1.ClusterService/ListPods",
    "spot.cluster.v1.ClusterService/GetAgentStatus",
    "spot.cluster.v1.ClusterService/ListClusterEvents",
    "spot.cluster.v1.ClusterService/WatchCluster",
    "spot.cluster.v1.ClusterService/ListActions",
    "spot.cluster.v1.ClusterService/WatchActions",
    "spot.cluster.v1.ClusterService/SubmitAction",
    "spot.cluster.v1.ClusterService/SetClusterDryRun",
    "spot.optimizer.v1.OptimizerService/Recommend",
    "spot.optimizer.v1.OptimizerService/ApplyPlan",
    "spot.optimizer.v1.OptimizerService/ListPlans",
    "spot.optimizer.v1.OptimizerService/GetPlan",
    "spot.optimizer.v1.OptimizerService/WatchPlan",
    "spot.optimizer.v1.OptimizerService/GetSavingsReport",
    "spot.optimizer.v1.OptimizerService/GetAutopilotStatus",
    "spot.optimizer.v1.DashboardService/GetKpis",
    "spot.optimizer.v1.DashboardService/GetCostSeries",
    // another_tenants_policies_and_templates_are_never_reachable
    "spot.policy.v1.PolicyService/GetPolicy",
    "spot.policy.v1.PolicyService/UpdatePolicy",
    "spot.policy.v1.PolicyService/ValidatePolicy",
    "spot.policy.v1.PolicyService/PreviewPolicy",
    "spot.policy.v1.PolicyService/ListPolicyVersions",
    "spot.policy.v1.PolicyService/RollbackPolicy",
    "spot.policy.v1.NodeTemplateService/CreateNodeTemplate",
    "spot.policy.v1.NodeTemplateService/GetNodeTemplate",
    "spot.policy.v1.NodeTemplateService/ListNodeTemplates",
    "spot.policy.v1.NodeTemplateService/UpdateNodeTemplate",
    "spot.policy.v1.NodeTemplateService/DeleteNodeTemplate",
    "spot.policy.v1.HibernationService/CreateSchedule",
    "spot.policy.v1.HibernationService/ListSchedules",
    "spot.policy.v1.HibernationService/DeleteSchedule",
    "spot.policy.v1.HibernationService/CreateOverride",
    "spot.policy.v1.HibernationService/ListTransitions",
    "spot.policy.v1.HibernationService/ListHibernationRuns",
    // services/billing/tests/tenancy.rs: every billing read and change is the caller's tenant's
    "spot.billing.v1.BillingService/GetSubscription",
    "spot.billing.v1.BillingService/ChangePlan",
    "spot.billing.v1.BillingService/CancelSubscription",
    "spot.billing.v1.BillingService/GetUsage",
    "spot.billing.v1.BillingService/PreviewInvoice",
    "spot.billing.v1.BillingService/ListInvoices",
    // services/optimizer/tests/eventbridge.rs: another tenant's instance does not exist
    "spot.risk.v1.RiskService/IngestEventBridgeEvent",
    // services/optimizer/tests/lab.rs: another tenant's clusters and experiments do not exist
    "spot.risk.v1.ExperimentService/CreateExperiment",
    "spot.risk.v1.ExperimentService/ListExperiments",
    "spot.risk.v1.ExperimentService/GetExperiment",
    "spot.risk.v1.ExperimentService/StopExperiment",
    "spot.risk.v1.ExperimentService/ArchiveExperiment",
];

/// Tenant RPCs that serve only global reference data (no tenant's data exists behind them).
const GLOBAL_DATA: &[&str] = &[
    "spot.cluster.v1.CatalogService/ListInstanceTypes",
    "spot.cluster.v1.CatalogService/GetInstanceType",
    "spot.cluster.v1.CatalogService/ListPoolPrices",
    // The plans on offer are the same for everyone.
    "spot.billing.v1.BillingService/ListPlans",
    // Hive-mind flags are global by design and carry no tenant's data (a pool and an expiry).
    "spot.risk.v1.RiskService/ListRiskFlags",
    "spot.risk.v1.RiskService/WatchRiskFlags",
    // Scores are per pool from every tenant's interruptions, never naming who reported them.
    "spot.risk.v1.RiskService/GetRiskScores",
];

struct Callers {
    owner: String,
    viewer: String,
    agent_key: String,
    /// The tenant's EventBridge intake key: one RPC and nothing else.
    eventbridge_key: String,
    admin: String,
}

async fn callers(test: &TestServer) -> Callers {
    let owner = test.sign_up("Acme").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    let invite = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "viewer@acme.example".into(),
                role: pb::Role::Viewer.into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let password = strong_password();
    let viewer = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invite.invite_token,
            password,
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    // An agent key is bound to a cluster the tenant has: registering one returns its key.
    let agent_key = spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient::new(
        test.channel.clone(),
    )
    .register_cluster(authed(
        spot_proto::cluster::v1::RegisterClusterRequest {
            name: "cluster-1".into(),
            region: "us-east-1".into(),
            aws_account_id: String::new(),
        },
        &owner.access_token,
    ))
    .await
    .unwrap()
    .into_inner()
    .agent_key;
    let eventbridge_key = ApiKeyServiceClient::new(test.channel.clone())
        .create_api_key(authed(
            pb::CreateApiKeyRequest {
                name: "eventbridge".into(),
                scope: pb::ApiKeyScope::Eventbridge.into(),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    Callers {
        owner: owner.access_token,
        viewer,
        agent_key,
        eventbridge_key,
        admin: test.admin_token().await,
    }
}

fn passes(code: tonic::Code) -> bool {
    !matches!(
        code,
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
    )
}

const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";

#[tokio::test]
async fn every_rpc_enforces_its_rule() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let callers = callers(&test).await;
    let channel = &test.channel;
    let mut implemented_tenant_rpcs = BTreeSet::new();
    let rpcs = every_rpc();
    for rpc in &rpcs {
        let rule = rule_for(rpc).unwrap_or_else(|| panic!("{rpc} has no access rule"));
        let anonymous = call(channel, rpc, None).await;
        let garbage = call(channel, rpc, Some("not-a-token")).await;
        let viewer = call(channel, rpc, Some(&callers.viewer)).await;
        let owner = call(channel, rpc, Some(&callers.owner)).await;
        let agent = call(channel, rpc, Some(&callers.agent_key)).await;
        let admin = call(channel, rpc, Some(&callers.admin)).await;
        let eventbridge = call(channel, rpc, Some(&callers.eventbridge_key)).await;
        let seen = format!(
            "{rpc} ({rule:?}): anonymous {anonymous:?}, garbage {garbage:?}, viewer {viewer:?}, owner {owner:?}, agent {agent:?}, admin {admin:?}, eventbridge {eventbridge:?}"
        );
        if !matches!(rule.access, Access::Public | Access::EventIntake) {
            assert_eq!(
                eventbridge,
                tonic::Code::PermissionDenied,
                "an EventBridge key ingests events and calls nothing else: {seen}"
            );
        }
        match rule.access {
            Access::Public => assert!(passes(anonymous), "{seen}"),
            Access::Tenant(minimum) => {
                assert_eq!(anonymous, tonic::Code::Unauthenticated, "{seen}");
                assert_eq!(garbage, tonic::Code::Unauthenticated, "{seen}");
                assert_eq!(passes(viewer), minimum == Role::Viewer, "{seen}");
                assert!(passes(owner), "{seen}");
                assert_eq!(
                    agent,
                    tonic::Code::PermissionDenied,
                    "agent keys act on their cluster only: {seen}"
                );
                if owner != tonic::Code::Unimplemented {
                    implemented_tenant_rpcs.insert(rpc.clone());
                }
            }
            Access::EventIntake => {
                assert_eq!(anonymous, tonic::Code::Unauthenticated, "{seen}");
                assert_eq!(garbage, tonic::Code::Unauthenticated, "{seen}");
                assert_eq!(viewer, tonic::Code::PermissionDenied, "{seen}");
                assert_eq!(agent, tonic::Code::PermissionDenied, "{seen}");
                assert!(passes(owner), "{seen}");
                assert!(passes(eventbridge), "{seen}");
                implemented_tenant_rpcs.insert(rpc.clone());
            }
            Access::Agent => {
                assert_eq!(anonymous, tonic::Code::Unauthenticated, "{seen}");
                for other in [viewer, owner, admin] {
                    assert_eq!(other, tonic::Code::PermissionDenied, "{seen}");
                }
                assert!(passes(agent), "{seen}");
            }
            Access::PlatformAdmin => {
                assert_eq!(anonymous, tonic::Code::Unauthenticated, "{seen}");
                for other in [viewer, owner, agent] {
                    assert_eq!(other, tonic::Code::PermissionDenied, "{seen}");
                }
                assert!(passes(admin), "{seen}");
            }
            Access::Internal | Access::InternalFrom(_) => {
                assert_eq!(anonymous, tonic::Code::Unauthenticated, "{seen}");
                for other in [viewer, owner, agent, admin] {
                    assert_eq!(
                        other,
                        tonic::Code::PermissionDenied,
                        "users never call internal RPCs: {seen}"
                    );
                }
                // Each service calls in its own name; only the services the rule names pass.
                for service in ["auth", "cluster", "policy", "billing", "risk", "optimizer"] {
                    let credential = InternalCredential::new(SECRET.as_bytes(), service).unwrap();
                    let code = call(channel, rpc, Some(&credential.token())).await;
                    let allowed = match rule.access {
                        Access::InternalFrom(services) => services.contains(&service),
                        _ => true,
                    };
                    // A service's credential is always valid: only the rule can refuse it.
                    let refused = code == tonic::Code::PermissionDenied;
                    assert_eq!(!refused, allowed, "{service} calls {seen}: {code:?}");
                }
            }
        }
    }
    let uncovered: Vec<_> = implemented_tenant_rpcs
        .iter()
        .filter(|rpc| {
            !CROSS_TENANT_COVERED.contains(&rpc.as_str()) && !GLOBAL_DATA.contains(&rpc.as_str())
        })
        .collect();
    assert!(
        uncovered.is_empty(),
        "implemented tenant RPCs need a cross-tenant test (and an entry in CROSS_TENANT_COVERED): {uncovered:?}"
    );
    test.stop().await;
}

#[tokio::test]
async fn an_rpc_outside_the_table_is_refused() {
    let test = TestServer::start(&[]).await;
    let token = test.admin_token().await;
    let code = call(
        &test.channel,
        "spot.auth.v1.AuthService/Backdoor",
        Some(&token),
    )
    .await;
    assert_eq!(code, tonic::Code::PermissionDenied);
    test.stop().await;
}

#[tokio::test]
async fn another_tenants_data_is_never_reachable() {
    let test = TestServer::start(&[]).await;
    let a = test.sign_up("Tenant A").await;
    let b = test.sign_up("Tenant B").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    let mut keys = ApiKeyServiceClient::new(test.channel.clone());

    let a_member = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "m@a.example".into(),
                role: pb::Role::Member.into(),
            },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let a_key = keys
        .create_api_key(authed(
            pb::CreateApiKeyRequest {
                name: "ci".into(),
                cluster_id: String::new(),
                role: pb::Role::Viewer.into(),
                ..Default::default()
            },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();

    // B lists only its own users and keys.
    let listed = users
        .list_users(authed(pb::ListUsersRequest { page: None }, &b.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .users
            .iter()
            .map(|u| u.email.as_str())
            .collect::<Vec<_>>(),
        [b.email.as_str()]
    );
    let listed = keys
        .list_api_keys(authed(
            pb::ListApiKeysRequest { page: None },
            &b.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.api_keys.is_empty());

    // B cannot change, remove or revoke A's: NOT_FOUND, as if they did not exist.
    let change = users
        .change_user_role(authed(
            pb::ChangeUserRoleRequest {
                user_id: a_member.id.clone(),
                role: pb::Role::Owner.into(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(change.code(), tonic::Code::NotFound);
    let remove = users
        .remove_user(authed(
            pb::RemoveUserRequest {
                user_id: a_member.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(remove.code(), tonic::Code::NotFound);
    let revoke = keys
        .revoke_api_key(authed(
            pb::RevokeApiKeyRequest {
                api_key_id: a_key.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(revoke.code(), tonic::Code::NotFound);
    // B cannot act in A's tenant by naming it.
    let switch = test
        .auth()
        .switch_tenant(authed(
            pb::SwitchTenantRequest {
                tenant_id: a.user.tenant_id.clone(),
                refresh_token: String::new(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(switch.code(), tonic::Code::NotFound);

    // B's audit trail and notifications hold nothing of A's.
    let audit =
        spot_proto::auth::v1::audit_service_client::AuditServiceClient::new(test.channel.clone())
            .list_audit_events(authed(
                pb::ListAuditEventsRequest::default(),
                &b.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(
        audit.events.iter().all(|e| e.tenant_id == b.user.tenant_id),
        "{audit:?}"
    );
    let mark = spot_proto::auth::v1::notification_service_client::NotificationServiceClient::new(
        test.channel.clone(),
    )
    .mark_notification_read(authed(
        pb::MarkNotificationReadRequest {
            notification_id: format!("x:{}", a.user.id),
        },
        &b.access_token,
    ))
    .await
    .unwrap_err();
    assert_eq!(mark.code(), tonic::Code::NotFound);

    // B cannot see, verify, discover or unlink A's AWS account; their external ids differ.
    use spot_proto::cluster::v1 as cluster;
    let mut accounts = spot_proto::cluster::v1::account_service_client::AccountServiceClient::new(
        test.channel.clone(),
    );
    let a_account = accounts
        .link_aws_account(authed(
            cluster::LinkAwsAccountRequest {
                role_arn: "arn:aws:iam::123456789012:role/Spot".into(),
            },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    let b_accounts = accounts
        .list_aws_accounts(authed(
            cluster::ListAwsAccountsRequest { page: None },
            &b.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(b_accounts.accounts.is_empty());
    let verify = accounts
        .verify_aws_account(authed(
            cluster::VerifyAwsAccountRequest {
                id: a_account.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(verify.code(), tonic::Code::NotFound);
    let discover = accounts
        .discover_clusters(authed(
            cluster::DiscoverClustersRequest {
                id: a_account.id.clone(),
                regions: vec![],
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(discover.code(), tonic::Code::NotFound);
    let unlink = accounts
        .unlink_aws_account(authed(
            cluster::UnlinkAwsAccountRequest {
                id: a_account.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unlink.code(), tonic::Code::NotFound);
    let external = |token: String| {
        let mut accounts = accounts.clone();
        async move {
            accounts
                .get_link_instructions(authed(cluster::GetLinkInstructionsRequest {}, &token))
                .await
                .unwrap()
                .into_inner()
                .external_id
        }
    };
    assert_ne!(
        external(a.access_token.clone()).await,
        external(b.access_token.clone()).await
    );

    // B cannot see A's clusters, nor adopt A's discoveries, nor attach a cluster to A's account.
    let mut clusters = spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient::new(
        test.channel.clone(),
    );
    let a_cluster = clusters
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: "shop".into(),
                region: "us-east-1".into(),
                aws_account_id: a_account.id.clone(),
            },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cluster
        .unwrap();
    let get = clusters
        .get_cluster(authed(
            cluster::GetClusterRequest {
                cluster_id: a_cluster.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(get.code(), tonic::Code::NotFound);
    let b_clusters = clusters
        .list_clusters(authed(
            cluster::ListClustersRequest { page: None },
            &b.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(b_clusters.clusters.is_empty());
    let attach = clusters
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: "mine".into(),
                region: "us-east-1".into(),
                aws_account_id: a_account.id.clone(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(attach.code(), tonic::Code::NotFound);
    let adopt = accounts
        .adopt_cluster(authed(
            cluster::AdoptClusterRequest {
                discovered_cluster_id: "anything".into(),
            },
            &b.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(adopt.code(), tonic::Code::NotFound);

    // Nothing about A's cluster reaches B: its nodes, pods, agent, events and actions are
    // NOT_FOUND, as if the cluster did not exist, and B cannot act on it.
    let id = a_cluster.id.clone();
    let token = b.access_token.clone();
    let not_found = |result: Result<(), tonic::Status>, rpc: &str| {
        assert_eq!(
            result.map_err(|s| s.code()),
            Err(tonic::Code::NotFound),
            "{rpc}"
        );
    };
    not_found(
        clusters
            .list_nodes(authed(
                cluster::ListNodesRequest {
                    cluster_id: id.clone(),
                    page: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "ListNodes",
    );
    not_found(
        clusters
            .list_pods(authed(
                cluster::ListPodsRequest {
                    cluster_id: id.clone(),
                    page: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "ListPods",
    );
    not_found(
        clusters
            .get_agent_status(authed(
                cluster::GetAgentStatusRequest {
                    cluster_id: id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "GetAgentStatus",
    );
    not_found(
        clusters
            .list_cluster_events(authed(
                cluster::ListClusterEventsRequest {
                    cluster_id: id.clone(),
                    page: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "ListClusterEvents",
    );
    not_found(
        clusters
            .watch_cluster(authed(
                cluster::WatchClusterRequest {
                    cluster_id: id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "WatchCluster",
    );
    not_found(
        clusters
            .list_actions(authed(
                cluster::ListActionsRequest {
                    cluster_id: id.clone(),
                    page: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "ListActions",
    );
    not_found(
        clusters
            .watch_actions(authed(
                cluster::WatchActionsRequest {
                    cluster_id: id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "WatchActions",
    );
    not_found(
        clusters
            .submit_action(authed(
                cluster::SubmitActionRequest {
                    cluster_id: id.clone(),
                    kind: spot_proto::agent::v1::ActionKind::Cordon.into(),
                    node_name: "n1".into(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        "SubmitAction",
    );
    not_found(
        clusters
            .set_cluster_dry_run(authed(
                cluster::SetClusterDryRunRequest {
                    cluster_id: id.clone(),
                    dry_run: true,
                },
                &token,
            ))
            .await
            .map(drop),
        "SetClusterDryRun",
    );

    // A's node classes: B can neither see nor change them, nor give A's cluster one.
    let mut classes =
        cluster::node_class_service_client::NodeClassServiceClient::new(test.channel.clone());
    let a_class = cluster::NodeClass {
        cluster_id: id.clone(),
        subnets: Some(cluster::ResourceSelector {
            ids: vec!["subnet-0a".into()],
            ..Default::default()
        }),
        security_groups: Some(cluster::ResourceSelector {
            ids: vec!["sg-0a".into()],
            ..Default::default()
        }),
        instance_profile: "a-nodes".into(),
        ami_family: "al2023".into(),
        root_volume_gib: 20,
        root_volume_type: "gp3".into(),
        metadata_hop_limit: 1,
        ..Default::default()
    };
    // Registration imported a class from the cluster's nodes; A saves its own.
    classes
        .update_node_class(authed(
            cluster::UpdateNodeClassRequest {
                node_class: Some(a_class.clone()),
                expected_version: 1,
            },
            &a.access_token,
        ))
        .await
        .unwrap();
    for (rpc, result) in [
        (
            "GetNodeClass",
            classes
                .get_node_class(authed(
                    cluster::GetNodeClassRequest {
                        cluster_id: id.clone(),
                    },
                    &token,
                ))
                .await
                .map(drop),
        ),
        (
            "CreateNodeClass",
            classes
                .create_node_class(authed(
                    cluster::CreateNodeClassRequest {
                        node_class: Some(a_class.clone()),
                    },
                    &token,
                ))
                .await
                .map(drop),
        ),
        (
            "UpdateNodeClass",
            classes
                .update_node_class(authed(
                    cluster::UpdateNodeClassRequest {
                        node_class: Some(a_class.clone()),
                        expected_version: 0,
                    },
                    &token,
                ))
                .await
                .map(drop),
        ),
        (
            "DeleteNodeClass",
            classes
                .delete_node_class(authed(
                    cluster::DeleteNodeClassRequest {
                        cluster_id: id.clone(),
                    },
                    &token,
                ))
                .await
                .map(drop),
        ),
        (
            "ValidateNodeClass",
            classes
                .validate_node_class(authed(
                    cluster::ValidateNodeClassRequest {
                        node_class: Some(a_class.clone()),
                    },
                    &token,
                ))
                .await
                .map(drop),
        ),
    ] {
        not_found(result, rpc);
    }
    let b_classes = classes
        .list_node_classes(authed(cluster::ListNodeClassesRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(b_classes.node_classes.is_empty());
    let a_classes = classes
        .list_node_classes(authed(cluster::ListNodeClassesRequest {}, &a.access_token))
        .await
        .unwrap()
        .into_inner();
    let a_own = a_classes
        .node_classes
        .iter()
        .find(|c| c.cluster_id == id)
        .expect("A's class");
    assert_eq!(a_own.version, 2, "B's attempts changed nothing");
    assert_eq!(a_own.instance_profile, "a-nodes");
    assert!(
        a_classes
            .node_classes
            .iter()
            .all(|c| !c.cluster_id.is_empty()),
        "B made no default in A's tenant"
    );
    let a_view = clusters
        .get_cluster(authed(
            cluster::GetClusterRequest { cluster_id: id },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cluster
        .unwrap();
    assert!(!a_view.dry_run, "B's attempt changed nothing");

    // A's plans: B cannot recommend for A's cluster, nor see, watch or apply A's plan.
    use spot_proto::optimizer::v1 as optimizer;
    let mut plans =
        spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient::new(
            test.channel.clone(),
        );
    let a_plan = plans
        .recommend(authed(
            optimizer::RecommendRequest {
                cluster_id: a_view.id.clone(),
            },
            &a.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    not_found(
        plans
            .recommend(authed(
                optimizer::RecommendRequest {
                    cluster_id: a_view.id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "Recommend",
    );
    not_found(
        plans
            .get_plan(authed(
                optimizer::GetPlanRequest {
                    plan_id: a_plan.id.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        "GetPlan",
    );
    not_found(
        plans
            .watch_plan(authed(
                optimizer::WatchPlanRequest {
                    plan_id: a_plan.id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "WatchPlan",
    );
    not_found(
        plans
            .apply_plan(authed(
                optimizer::ApplyPlanRequest {
                    plan_id: a_plan.id.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        "ApplyPlan",
    );
    not_found(
        plans
            .list_plans(authed(
                optimizer::ListPlansRequest {
                    cluster_id: a_view.id.clone(),
                    page: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "ListPlans",
    );
    not_found(
        plans
            .get_savings_report(authed(
                optimizer::GetSavingsReportRequest {
                    cluster_id: a_view.id.clone(),
                    since: None,
                },
                &token,
            ))
            .await
            .map(drop),
        "GetSavingsReport",
    );
    not_found(
        plans
            .get_autopilot_status(authed(
                optimizer::GetAutopilotStatusRequest {
                    cluster_id: a_view.id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "GetAutopilotStatus",
    );
    let mut dashboard =
        spot_proto::optimizer::v1::dashboard_service_client::DashboardServiceClient::new(
            test.channel.clone(),
        );
    not_found(
        dashboard
            .get_kpis(authed(
                optimizer::GetKpisRequest {
                    cluster_id: a_view.id.clone(),
                },
                &token,
            ))
            .await
            .map(drop),
        "GetKpis",
    );
    not_found(
        dashboard
            .get_cost_series(authed(
                optimizer::GetCostSeriesRequest {
                    cluster_id: a_view.id.clone(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(drop),
        "GetCostSeries",
    );

    // A's member is untouched.
    let listed = users
        .list_users(authed(pb::ListUsersRequest { page: None }, &a.access_token))
        .await
        .unwrap()
        .into_inner();
    let member = listed.users.iter().find(|u| u.id == a_member.id).unwrap();
    assert_eq!(member.role, pb::Role::Member as i32);
    test.stop().await;
}

#[tokio::test]
async fn another_tenants_policies_and_templates_are_never_reachable() {
    use spot_proto::cluster::v1 as cluster;
    use spot_proto::policy::v1 as policy;
    use spot_proto::policy::v1::node_template_service_client::NodeTemplateServiceClient;
    use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;

    let test = TestServer::start(&[]).await;
    let a = test.sign_up("Tenant A").await.access_token;
    let b = test.sign_up("Tenant B").await.access_token;
    let a_cluster = spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient::new(
        test.channel.clone(),
    )
    .register_cluster(authed(
        cluster::RegisterClusterRequest {
            name: "shop".into(),
            region: "us-east-1".into(),
            aws_account_id: String::new(),
        },
        &a,
    ))
    .await
    .unwrap()
    .into_inner()
    .cluster
    .unwrap()
    .id;
    let mut templates = NodeTemplateServiceClient::new(test.channel.clone());
    let a_template = templates
        .create_node_template(authed(
            policy::CreateNodeTemplateRequest {
                template: Some(policy::NodeTemplate {
                    name: "workers".into(),
                    ..Default::default()
                }),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let a_policy = policy::Policy {
        cluster_id: a_cluster.clone(),
        spot_percent: 60,
        max_interruption_bucket: 2,
        node_template_ids: vec![a_template.id.clone()],
        ..Default::default()
    };
    let mut policies = PolicyServiceClient::new(test.channel.clone());
    for p in [
        a_policy.clone(),
        policy::Policy {
            cluster_id: String::new(),
            spot_percent: 40,
            ..a_policy.clone()
        },
    ] {
        policies
            .update_policy(authed(policy::UpdatePolicyRequest { policy: Some(p) }, &a))
            .await
            .unwrap();
    }

    let not_found = |result: Result<(), tonic::Status>, rpc: &str| {
        assert_eq!(
            result.map_err(|s| s.code()),
            Err(tonic::Code::NotFound),
            "{rpc}"
        );
    };
    not_found(
        policies
            .get_policy(authed(
                policy::GetPolicyRequest {
                    cluster_id: a_cluster.clone(),
                },
                &b,
            ))
            .await
            .map(drop),
        "GetPolicy",
    );
    not_found(
        policies
            .update_policy(authed(
                policy::UpdatePolicyRequest {
                    policy: Some(policy::Policy {
                        spot_percent: 0,
                        node_template_ids: vec![],
                        ..a_policy.clone()
                    }),
                },
                &b,
            ))
            .await
            .map(drop),
        "UpdatePolicy",
    );
    not_found(
        policies
            .validate_policy(authed(
                policy::ValidatePolicyRequest {
                    policy: Some(a_policy.clone()),
                    region: String::new(),
                },
                &b,
            ))
            .await
            .map(drop),
        "ValidatePolicy",
    );
    not_found(
        policies
            .preview_policy(authed(
                policy::PreviewPolicyRequest {
                    policy: Some(a_policy.clone()),
                    region: String::new(),
                },
                &b,
            ))
            .await
            .map(drop),
        "PreviewPolicy",
    );
    not_found(
        policies
            .list_policy_versions(authed(
                policy::ListPolicyVersionsRequest {
                    cluster_id: a_cluster.clone(),
                    page: None,
                },
                &b,
            ))
            .await
            .map(drop),
        "ListPolicyVersions",
    );
    not_found(
        policies
            .rollback_policy(authed(
                policy::RollbackPolicyRequest {
                    cluster_id: a_cluster.clone(),
                    version: 1,
                },
                &b,
            ))
            .await
            .map(drop),
        "RollbackPolicy",
    );
    // B's own default is the built-in, not A's; A's default has no versions for B.
    let b_default = policies
        .get_policy(authed(
            policy::GetPolicyRequest {
                cluster_id: String::new(),
            },
            &b,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(b_default.version, 0);
    let b_versions = policies
        .list_policy_versions(authed(
            policy::ListPolicyVersionsRequest {
                cluster_id: String::new(),
                page: None,
            },
            &b,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(b_versions.versions.is_empty());
    // A's template is not B's to use.
    let violations = policies
        .validate_policy(authed(
            policy::ValidatePolicyRequest {
                policy: Some(policy::Policy {
                    cluster_id: String::new(),
                    ..a_policy.clone()
                }),
                region: String::new(),
            },
            &b,
        ))
        .await
        .unwrap()
        .into_inner()
        .violations;
    assert!(
        violations
            .iter()
            .any(|v| v.field == "policy.node_template_ids"),
        "{violations:?}"
    );

    not_found(
        templates
            .get_node_template(authed(
                policy::GetNodeTemplateRequest {
                    id: a_template.id.clone(),
                },
                &b,
            ))
            .await
            .map(drop),
        "GetNodeTemplate",
    );
    not_found(
        templates
            .update_node_template(authed(
                policy::UpdateNodeTemplateRequest {
                    template: Some(policy::NodeTemplate {
                        name: "stolen".into(),
                        ..a_template.clone()
                    }),
                },
                &b,
            ))
            .await
            .map(drop),
        "UpdateNodeTemplate",
    );
    not_found(
        templates
            .delete_node_template(authed(
                policy::DeleteNodeTemplateRequest {
                    id: a_template.id.clone(),
                },
                &b,
            ))
            .await
            .map(drop),
        "DeleteNodeTemplate",
    );
    let b_templates = templates
        .list_node_templates(authed(policy::ListNodeTemplatesRequest { page: None }, &b))
        .await
        .unwrap()
        .into_inner();
    assert!(b_templates.templates.is_empty());
    // Names are unique per tenant only.
    templates
        .create_node_template(authed(
            policy::CreateNodeTemplateRequest {
                template: Some(policy::NodeTemplate {
                    name: "workers".into(),
                    ..Default::default()
                }),
            },
            &b,
        ))
        .await
        .unwrap();

    // A's policy and template are untouched.
    let a_now = policies
        .get_policy(authed(
            policy::GetPolicyRequest {
                cluster_id: a_cluster.clone(),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!((a_now.version, a_now.spot_percent), (1, 60));
    let a_template_now = templates
        .get_node_template(authed(
            policy::GetNodeTemplateRequest {
                id: a_template.id.clone(),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(a_template_now, a_template);
    test.stop().await;
}

#[tokio::test]
async fn another_tenants_hibernation_is_never_reachable() {
    use spot_proto::cluster::v1 as cluster;
    use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
    use spot_proto::policy::v1 as policy;
    use spot_proto::policy::v1::hibernation_service_client::HibernationServiceClient;

    let test = TestServer::start(&[]).await;
    let a = test.sign_up("Tenant A").await.access_token;
    let b = test.sign_up("Tenant B").await.access_token;
    let a_cluster = ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: "prod".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            &a,
        ))
        .await
        .unwrap()
        .into_inner()
        .cluster
        .unwrap();
    let mut hibernation = HibernationServiceClient::new(test.channel.clone());
    let nights = |cluster_id: &str| policy::CreateScheduleRequest {
        schedule: Some(policy::Schedule {
            cluster_id: cluster_id.to_owned(),
            sleep_cron: "0 20 * * *".into(),
            wake_cron: "0 7 * * *".into(),
            time_zone: "Europe/Berlin".into(),
            ..Default::default()
        }),
    };
    let a_schedule = hibernation
        .create_schedule(authed(nights(&a_cluster.id), &a))
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();

    // B can neither see nor change A's schedules, overrides, transitions or runs: NOT_FOUND, as
    // if A's cluster and schedule did not exist.
    let id = a_cluster.id.clone();
    let not_found = |result: Result<(), tonic::Status>, rpc: &str| {
        assert_eq!(
            result.map_err(|s| s.code()),
            Err(tonic::Code::NotFound),
            "{rpc}"
        );
    };
    not_found(
        hibernation
            .create_schedule(authed(nights(&id), &b))
            .await
            .map(drop),
        "CreateSchedule",
    );
    not_found(
        hibernation
            .list_schedules(authed(
                policy::ListSchedulesRequest {
                    cluster_id: id.clone(),
                },
                &b,
            ))
            .await
            .map(drop),
        "ListSchedules",
    );
    not_found(
        hibernation
            .delete_schedule(authed(
                policy::DeleteScheduleRequest {
                    id: a_schedule.id.clone(),
                },
                &b,
            ))
            .await
            .map(drop),
        "DeleteSchedule",
    );
    not_found(
        hibernation
            .create_override(authed(
                policy::CreateOverrideRequest {
                    cluster_id: id.clone(),
                    kind: policy::OverrideKind::WakeFor.into(),
                    wake_hours: 1,
                    sleep_until: None,
                },
                &b,
            ))
            .await
            .map(drop),
        "CreateOverride",
    );
    not_found(
        hibernation
            .list_transitions(authed(
                policy::ListTransitionsRequest {
                    cluster_id: id.clone(),
                    count: 5,
                },
                &b,
            ))
            .await
            .map(drop),
        "ListTransitions",
    );
    not_found(
        hibernation
            .list_hibernation_runs(authed(
                policy::ListHibernationRunsRequest {
                    cluster_id: id.clone(),
                    page: None,
                },
                &b,
            ))
            .await
            .map(drop),
        "ListHibernationRuns",
    );
    // B's own list of every schedule holds nothing of A's; A's schedule is untouched.
    let b_all = hibernation
        .list_schedules(authed(policy::ListSchedulesRequest::default(), &b))
        .await
        .unwrap()
        .into_inner()
        .schedules;
    assert!(b_all.is_empty(), "{b_all:?}");
    let a_all = hibernation
        .list_schedules(authed(policy::ListSchedulesRequest::default(), &a))
        .await
        .unwrap()
        .into_inner()
        .schedules;
    assert_eq!(a_all.len(), 1);
    assert_eq!(a_all[0].id, a_schedule.id);
    test.stop().await;
}

/// Ids are checked where they are given: a key cannot be bound to another tenant's cluster (or
/// to none), and another tenant's plans are as missing as its cluster.
#[tokio::test]
async fn another_tenants_cluster_ids_are_refused_where_they_are_given() {
    use spot_proto::cluster::v1 as cluster;
    use spot_proto::optimizer::v1 as optimizer;

    let test = TestServer::start(&[]).await;
    let a = test.sign_up("Tenant A").await.access_token;
    let b = test.sign_up("Tenant B").await.access_token;
    let clusters = cluster::cluster_service_client::ClusterServiceClient::new(test.channel.clone());
    let register = |token: String| {
        let mut clusters = clusters.clone();
        async move {
            clusters
                .register_cluster(authed(
                    cluster::RegisterClusterRequest {
                        name: "shop".into(),
                        region: "us-east-1".into(),
                        aws_account_id: String::new(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .cluster
                .unwrap()
                .id
        }
    };
    let a_cluster = register(a.clone()).await;
    let b_cluster = register(b.clone()).await;

    let mut keys = ApiKeyServiceClient::new(test.channel.clone());
    let agent_key = |cluster_id: &str| pb::CreateApiKeyRequest {
        name: "agent".into(),
        cluster_id: cluster_id.to_owned(),
        role: 0,
        scope: 0,
    };
    for (cluster_id, what) in [
        (a_cluster.as_str(), "another tenant's cluster"),
        ("no-such-cluster", "a cluster that does not exist"),
    ] {
        let refused = keys
            .create_api_key(authed(agent_key(cluster_id), &b))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::NotFound, "{what}: {refused:?}");
    }
    let listed = keys
        .list_api_keys(authed(pb::ListApiKeysRequest { page: None }, &b))
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(
        listed.iter().all(|key| key.cluster_id == b_cluster),
        "no key for a foreign or missing cluster was stored: {listed:?}"
    );
    keys.create_api_key(authed(agent_key(&b_cluster), &b))
        .await
        .expect("a key for the tenant's own cluster");

    let mut plans =
        optimizer::optimizer_service_client::OptimizerServiceClient::new(test.channel.clone());
    let foreign = plans
        .list_plans(authed(
            optimizer::ListPlansRequest {
                cluster_id: a_cluster.clone(),
                page: None,
            },
            &b,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound, "{foreign:?}");
    plans
        .list_plans(authed(
            optimizer::ListPlansRequest {
                cluster_id: a_cluster,
                page: None,
            },
            &a,
        ))
        .await
        .expect("the owner lists its own cluster's plans");
    test.stop().await;
}
