//! Access ends when it should: logout, removal and role changes end the access token and every
//! open stream at once; a stream also ends when its access token expires; the last owner stays.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ConnectionTrait, Statement};
use spot_access::{AccessClaims, Role};
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::user_service_client::UserServiceClient;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_proto::risk::v1::{WatchRiskFlagsRequest, WatchRiskFlagsResponse};
use spot_testkit::{TestServer, TestUser, authed, strong_password};
use tonic::Streaming;

/// Opens a server stream (the hive mind's flags) as the holder of `token`.
async fn open_stream(test: &TestServer, token: &str) -> Streaming<WatchRiskFlagsResponse> {
    RiskServiceClient::new(test.channel.clone())
        .watch_risk_flags(authed(
            WatchRiskFlagsRequest {
                region: "us-east-1".into(),
            },
            token,
        ))
        .await
        .expect("the stream opens")
        .into_inner()
}

async fn me(test: &TestServer, token: &str) -> Result<(), tonic::Status> {
    test.auth()
        .me(authed(pb::MeRequest {}, token))
        .await
        .map(|_| ())
}

/// A new user of the owner's tenant with `role`, signed in: (user id, access token).
async fn invite(test: &TestServer, owner: &TestUser, role: pb::Role) -> (String, String) {
    let mut users = UserServiceClient::new(test.channel.clone());
    let invited = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: format!("member-{}@example.com", uuid::Uuid::new_v4().simple()),
                role: role as i32,
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let accepted = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invited.invite_token,
            password: strong_password(),
        })
        .await
        .unwrap()
        .into_inner();
    (
        invited.user.unwrap().id,
        accepted.tokens.unwrap().access_token,
    )
}

#[tokio::test]
async fn logout_ends_the_access_token_and_its_streams() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    me(&test, &owner.access_token).await.unwrap();
    let stream = open_stream(&test, &owner.access_token).await;
    test.auth()
        .logout(pb::LogoutRequest {
            refresh_token: owner.refresh_token.clone(),
        })
        .await
        .unwrap();
    let refused = me(&test, &owner.access_token).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("signed out"), "{refused:?}");
    let end = ended(stream).await;
    assert_eq!(end.code(), tonic::Code::Unauthenticated, "{end:?}");
    // Another login of the same user is another session, untouched.
    let again = test.login(&owner.email, &owner.password).await;
    me(&test, &again).await.unwrap();
    test.stop().await;
}

#[tokio::test]
async fn a_role_change_or_removal_ends_the_users_sessions_and_streams_at_once() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    let (member_id, member_token) = invite(&test, &owner, pb::Role::Admin).await;

    let stream = open_stream(&test, &member_token).await;
    users
        .change_user_role(authed(
            pb::ChangeUserRoleRequest {
                user_id: member_id.clone(),
                role: pb::Role::Viewer as i32,
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let end = ended(stream).await;
    assert_eq!(end.code(), tonic::Code::Unauthenticated, "{end:?}");
    let refused = me(&test, &member_token).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");

    let (other_id, other_token) = invite(&test, &owner, pb::Role::Member).await;
    let stream = open_stream(&test, &other_token).await;
    users
        .remove_user(authed(
            pb::RemoveUserRequest {
                user_id: other_id.clone(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let end = ended(stream).await;
    assert_eq!(end.code(), tonic::Code::Unauthenticated, "{end:?}");
    assert_eq!(
        me(&test, &other_token).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // The owner's own session is untouched.
    me(&test, &owner.access_token).await.unwrap();
    test.stop().await;
}

/// The server's active signing key, to mint a token that expires soon.
async fn server_key(test: &TestServer) -> (String, EncodingKey) {
    let (kid, der) = test.signing_key().await;
    (kid, EncodingKey::from_ed_der(&der))
}

#[tokio::test]
async fn a_stream_ends_when_its_access_token_expires() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let (kid, key) = server_key(&test).await;
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        iss: "spot".into(),
        aud: "spot-api".into(),
        sub: owner.user.id.clone(),
        tid: owner.user.tenant_id.clone(),
        role: Role::Owner,
        adm: false,
        iat: now,
        nbf: now,
        exp: now + 2,
        jti: "short".into(),
        sid: String::new(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    let short = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let stream = open_stream(&test, &short).await;
    let end = ended(stream).await;
    assert_eq!(end.code(), tonic::Code::Unauthenticated, "{end:?}");
    assert!(end.message().contains("expired"), "{end:?}");
    test.stop().await;
}

#[tokio::test]
async fn concurrent_removals_and_demotions_never_leave_a_tenant_without_an_owner() {
    let test = TestServer::start(&[]).await;
    let first = test.sign_up("Acme").await;
    let (second_id, second_token) = invite(&test, &first, pb::Role::Owner).await;
    let (third_id, third_token) = invite(&test, &first, pb::Role::Owner).await;
    let owners = [
        (first.user.id.clone(), first.access_token.clone()),
        (second_id, second_token),
        (third_id, third_token),
    ];
    // Every owner demotes or removes every other owner, all at once.
    let mut calls = Vec::new();
    for (actor, (_, token)) in owners.iter().enumerate() {
        for (target, (user_id, _)) in owners.iter().enumerate() {
            if actor == target {
                continue;
            }
            let mut users = UserServiceClient::new(test.channel.clone());
            let (token, user_id) = (token.clone(), user_id.clone());
            calls.push(tokio::spawn(async move {
                if (actor + target) % 2 == 0 {
                    users
                        .remove_user(authed(pb::RemoveUserRequest { user_id }, &token))
                        .await
                        .map(|_| ())
                } else {
                    users
                        .change_user_role(authed(
                            pb::ChangeUserRoleRequest {
                                user_id,
                                role: pb::Role::Admin as i32,
                            },
                            &token,
                        ))
                        .await
                        .map(|_| ())
                }
            }));
        }
    }
    for call in calls {
        if let Err(status) = call.await.unwrap() {
            assert!(
                matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition
                        | tonic::Code::NotFound
                        | tonic::Code::Unauthenticated
                        | tonic::Code::PermissionDenied
                ),
                "{status:?}"
            );
        }
    }
    let db = spot_db::Database::connect(&test.database_url)
        .await
        .unwrap();
    let backend = db.connection().get_database_backend();
    let row = db
        .connection()
        .query_one(Statement::from_string(
            backend,
            format!(
                "SELECT COUNT(*) AS owners FROM memberships WHERE tenant_id = '{}' AND role = 'owner' \
                 AND joined_at IS NOT NULL",
                first.user.tenant_id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let owners_left: i64 = row.try_get("", "owners").unwrap();
    assert!(owners_left >= 1, "the tenant has {owners_left} owners");
    test.stop().await;
}

#[tokio::test]
async fn an_invitation_expires() {
    let test = TestServer::start(&[("SPOT_INVITE_TTL_SECONDS", "1")]).await;
    let owner = test.sign_up("Acme").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    let invited = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "late@example.com".into(),
                role: pb::Role::Member as i32,
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let late = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invited.invite_token,
            password: strong_password(),
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::Unauthenticated, "{late:?}");
    assert!(late.message().contains("expired"), "{late:?}");
    test.stop().await;
}

/// How a stream of any message type ended, waiting at most 10 s.
async fn ended<T>(mut stream: Streaming<T>) -> tonic::Status {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return tonic::Status::ok("ended without a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the stream ended within 10 s")
}

#[tokio::test]
async fn a_revoked_agent_key_and_a_removed_member_lose_their_open_streams() {
    use futures::StreamExt;
    use spot_proto::agent::v1::agent_service_client::AgentServiceClient;
    use spot_proto::agent::v1::{Hello, SessionRequest, session_request};
    use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
    use spot_proto::cluster::v1 as cluster;
    use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;

    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let registered = ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: "shop".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let cluster_id = registered.cluster.unwrap().id;

    // The agent's session stays open (its request stream never ends).
    let hello = SessionRequest {
        message: Some(session_request::Message::Hello(Hello {
            agent_version: "test".into(),
            kubernetes_version: "v1.32.0".into(),
            resume_after_action_id: String::new(),
        })),
    };
    let requests = futures::stream::iter([hello]).chain(futures::stream::pending());
    let mut session = AgentServiceClient::new(test.channel.clone())
        .session(authed(requests, &registered.agent_key))
        .await
        .unwrap()
        .into_inner();
    session
        .message()
        .await
        .unwrap()
        .expect("the session is welcomed");

    // A viewer watches the cluster.
    let (member_id, member_token) = invite(&test, &owner, pb::Role::Viewer).await;
    let watch = ClusterServiceClient::new(test.channel.clone())
        .watch_cluster(authed(
            cluster::WatchClusterRequest {
                cluster_id: cluster_id.clone(),
            },
            &member_token,
        ))
        .await
        .unwrap()
        .into_inner();

    let mut keys = ApiKeyServiceClient::new(test.channel.clone());
    let agent_key_id = keys
        .list_api_keys(authed(
            pb::ListApiKeysRequest { page: None },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_keys
        .into_iter()
        .find(|key| key.cluster_id == cluster_id)
        .unwrap()
        .id;
    keys.revoke_api_key(authed(
        pb::RevokeApiKeyRequest {
            api_key_id: agent_key_id,
        },
        &owner.access_token,
    ))
    .await
    .unwrap();
    let agent = ended(session).await;
    assert_eq!(agent.code(), tonic::Code::Unauthenticated, "{agent:?}");

    UserServiceClient::new(test.channel.clone())
        .remove_user(authed(
            pb::RemoveUserRequest { user_id: member_id },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let watcher = ended(watch).await;
    assert_eq!(watcher.code(), tonic::Code::Unauthenticated, "{watcher:?}");
    test.stop().await;
}
