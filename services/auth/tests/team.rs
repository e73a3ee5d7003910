//! Users, roles, API keys, the audit trail, notifications and the admin console.

use std::time::Duration;

use spot_bus::Bus;
use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::admin_service_client::AdminServiceClient;
use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::auth::v1::notification_service_client::NotificationServiceClient;
use spot_proto::auth::v1::user_service_client::UserServiceClient;
use spot_proto::cluster::v1::RegisterClusterRequest;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_testkit::{TestServer, authed, strong_password};

#[path = "team/memberships.rs"]
mod memberships;

async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 5 s");
}

#[tokio::test]
async fn invite_accept_roles_and_removal() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    let invite = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "Admin@Acme.example".into(),
                role: pb::Role::Admin.into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(invite.user.as_ref().unwrap().email, "admin@acme.example");
    let password = strong_password();
    let accepted = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invite.invite_token.clone(),
            password: password.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let admin = accepted.tokens.unwrap().access_token;
    let reused = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invite.invite_token,
            password,
        })
        .await
        .unwrap_err();
    assert_eq!(
        reused.code(),
        tonic::Code::Unauthenticated,
        "an invite works once"
    );

    // An admin cannot make an owner, nor demote the only owner.
    let owner_id = owner.user.id.clone();
    let escalate = users
        .change_user_role(authed(
            pb::ChangeUserRoleRequest {
                user_id: accepted.user.clone().unwrap().id,
                role: pb::Role::Owner.into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        escalate.code(),
        tonic::Code::FailedPrecondition,
        "own role: {escalate:?}"
    );
    let demote = users
        .change_user_role(authed(
            pb::ChangeUserRoleRequest {
                user_id: owner_id.clone(),
                role: pb::Role::Viewer.into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(demote.code(), tonic::Code::PermissionDenied);
    let bad_role = users
        .change_user_role(authed(
            pb::ChangeUserRoleRequest {
                user_id: owner_id.clone(),
                role: 42,
            },
            &owner.access_token,
        ))
        .await
        .unwrap_err();
    assert!(
        bad_role.message().starts_with("invalid `role`"),
        "{}",
        bad_role.message()
    );
    let last_owner = users
        .remove_user(authed(pb::RemoveUserRequest { user_id: owner_id }, &admin))
        .await
        .unwrap_err();
    assert_eq!(last_owner.code(), tonic::Code::PermissionDenied);

    let member_id = accepted.user.unwrap().id;
    users
        .remove_user(authed(
            pb::RemoveUserRequest { user_id: member_id },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let listed = users
        .list_users(authed(
            pb::ListUsersRequest { page: None },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.users.len(), 1);
    test.stop().await;
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revoked_at_once() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut keys = ApiKeyServiceClient::new(test.channel.clone());
    let created = keys
        .create_api_key(authed(
            pb::CreateApiKeyRequest {
                name: "ci".into(),
                cluster_id: String::new(),
                role: pb::Role::Viewer.into(),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(created.secret.starts_with("spot_"));
    let mut users = UserServiceClient::new(test.channel.clone());
    users
        .list_users(authed(pb::ListUsersRequest { page: None }, &created.secret))
        .await
        .expect("a viewer key reads");
    let write = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "x@acme.example".into(),
                role: pb::Role::Viewer.into(),
            },
            &created.secret,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        write.code(),
        tonic::Code::PermissionDenied,
        "a viewer key cannot invite"
    );

    let listed = keys
        .list_api_keys(authed(
            pb::ListApiKeysRequest { page: None },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.api_keys.len(), 1);
    assert!(
        listed.api_keys[0].last_used_at.is_some(),
        "last use is recorded"
    );
    assert!(
        !format!("{listed:?}").contains(&created.secret),
        "the secret is never shown again"
    );

    let both = keys
        .create_api_key(authed(
            pb::CreateApiKeyRequest {
                name: "bad".into(),
                cluster_id: "c-1".into(),
                role: pb::Role::Admin.into(),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap_err();
    assert!(
        both.message().starts_with("invalid `role`"),
        "{}",
        both.message()
    );

    keys.revoke_api_key(authed(
        pb::RevokeApiKeyRequest {
            api_key_id: created.api_key.unwrap().id,
        },
        &owner.access_token,
    ))
    .await
    .unwrap();
    let secret = created.secret.clone();
    eventually(|| {
        let mut users = users.clone();
        let secret = secret.clone();
        async move {
            users
                .list_users(authed(pb::ListUsersRequest { page: None }, &secret))
                .await
                .is_err_and(|s| s.code() == tonic::Code::Unauthenticated)
        }
    })
    .await;
    // The owner hears of both: a key is a credential.
    test.notified(&owner.access_token, "api_key_created").await;
    let told = test.notified(&owner.access_token, "api_key_revoked").await;
    assert_eq!(told.title, "API key \"ci\" revoked", "{told:?}");
    test.stop().await;
}

#[tokio::test]
async fn mutating_calls_are_audited_with_who_what_and_result() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut users = UserServiceClient::new(test.channel.clone());
    users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "v@acme.example".into(),
                role: pb::Role::Viewer.into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let _ = users
        .invite_user(authed(
            pb::InviteUserRequest {
                email: "bad".into(),
                role: pb::Role::Viewer.into(),
            },
            &owner.access_token,
        ))
        .await;
    let mut audit = AuditServiceClient::new(test.channel.clone());
    let token = owner.access_token.clone();
    eventually(|| {
        let mut audit = audit.clone();
        let token = token.clone();
        async move {
            let events = audit
                .list_audit_events(authed(
                    pb::ListAuditEventsRequest {
                        action_prefix: "spot.auth.v1.UserService/".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .events;
            events.len() == 2
        }
    })
    .await;
    let events = audit
        .list_audit_events(authed(
            pb::ListAuditEventsRequest {
                page: Some(spot_proto::common::v1::PageRequest {
                    page_size: 1,
                    page_token: String::new(),
                }),
                ..Default::default()
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(events.events.len(), 1);
    assert!(
        !events.page.as_ref().unwrap().next_page_token.is_empty(),
        "more pages"
    );
    let all = audit
        .list_audit_events(authed(
            pb::ListAuditEventsRequest::default(),
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let results: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.action.as_str(), e.result.as_str()))
        .collect();
    assert!(
        results.contains(&("spot.auth.v1.UserService/InviteUser", "ok")),
        "{results:?}"
    );
    assert!(
        results.contains(&("spot.auth.v1.UserService/InviteUser", "invalid_argument")),
        "{results:?}"
    );
    assert!(
        results.contains(&("spot.auth.v1.AuthService/SignUp", "ok")),
        "{results:?}"
    );
    let invite = all
        .iter()
        .find(|e| e.result == "ok" && e.action.ends_with("InviteUser"))
        .unwrap();
    assert!(invite.target.starts_with("user/"));
    assert!(!invite.request_id.is_empty());
    assert_eq!(
        invite.actor.as_ref().unwrap().kind,
        Some(spot_proto::common::v1::actor::Kind::UserId(
            owner.user.id.clone()
        ))
    );
    test.stop().await;
}

#[tokio::test]
async fn the_admin_console_changes_system_config_and_announces_safe_mode() {
    let test = TestServer::start(&[]).await;
    let admin = test.admin_token().await;
    let mut console = AdminServiceClient::new(test.channel.clone());
    let config = console
        .get_system_config(authed(pb::GetSystemConfigRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        config.config.unwrap(),
        pb::SystemConfig {
            safe_mode: false,
            global_risk_ttl_seconds: 1800
        }
    );

    let update = |config: pb::SystemConfig, paths: &[&str]| {
        authed(
            pb::UpdateSystemConfigRequest {
                config: Some(config),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
            &admin,
        )
    };
    let read = |mut console: AdminServiceClient<tonic::transport::Channel>| {
        let admin = admin.clone();
        async move {
            console
                .get_system_config(authed(pb::GetSystemConfigRequest {}, &admin))
                .await
                .unwrap()
                .into_inner()
                .config
                .unwrap()
        }
    };

    let bad = console
        .update_system_config(update(
            pb::SystemConfig {
                safe_mode: true,
                global_risk_ttl_seconds: 5,
            },
            &["safe_mode", "global_risk_ttl_seconds"],
        ))
        .await
        .unwrap_err();
    assert!(
        bad.message()
            .starts_with("invalid `config.global_risk_ttl_seconds`"),
        "{}",
        bad.message()
    );
    assert!(
        !read(console.clone()).await.safe_mode,
        "a rejected update changes nothing"
    );
    let unmasked = console
        .update_system_config(authed(
            pb::UpdateSystemConfigRequest {
                config: Some(pb::SystemConfig {
                    safe_mode: true,
                    global_risk_ttl_seconds: 900,
                }),
                update_mask: None,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unmasked.code(), tonic::Code::InvalidArgument);
    assert!(
        unmasked.message().contains("`update_mask`"),
        "{}",
        unmasked.message()
    );
    let unknown = console
        .update_system_config(update(
            pb::SystemConfig::default(),
            &["safe_mode", "colour"],
        ))
        .await
        .unwrap_err();
    assert!(
        unknown.message().contains("`update_mask.paths[1]`")
            && unknown.message().contains("colour"),
        "{}",
        unknown.message()
    );
    assert!(!read(console.clone()).await.safe_mode);

    // One admin turns safe mode on; another, on a page still showing it off, changes only the
    // risk TTL: safe mode stays on.
    console
        .update_system_config(update(
            pb::SystemConfig {
                safe_mode: true,
                global_risk_ttl_seconds: 0,
            },
            &["safe_mode"],
        ))
        .await
        .unwrap();
    console
        .update_system_config(update(
            pb::SystemConfig {
                safe_mode: false,
                global_risk_ttl_seconds: 900,
            },
            &["global_risk_ttl_seconds"],
        ))
        .await
        .unwrap();
    assert_eq!(
        read(console.clone()).await,
        pb::SystemConfig {
            safe_mode: true,
            global_risk_ttl_seconds: 900
        }
    );

    // Every user of every tenant learns that safe mode is on (the web app's banner reads it).
    let acme = test.sign_up("Acme").await;
    let me =
        spot_proto::auth::v1::auth_service_client::AuthServiceClient::new(test.channel.clone())
            .me(authed(pb::MeRequest {}, &acme.access_token))
            .await
            .unwrap()
            .into_inner();
    assert!(me.safe_mode);

    // The tenant list counts each tenant's clusters (from the cluster service).
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    for name in ["shop", "search"] {
        clusters
            .register_cluster(authed(
                RegisterClusterRequest {
                    name: name.into(),
                    region: "us-east-1".into(),
                    aws_account_id: String::new(),
                },
                &acme.access_token,
            ))
            .await
            .unwrap();
    }
    let tenants = console
        .list_tenants(authed(pb::ListTenantsRequest { page: None }, &admin))
        .await
        .unwrap()
        .into_inner()
        .tenants;
    let counts: Vec<(&str, i32, i32)> = tenants
        .iter()
        .map(|t| (t.name.as_str(), t.users, t.clusters))
        .collect();
    assert_eq!(counts, [("Platform", 1, 0), ("Acme", 1, 2)]);
    test.stop().await;
}

/// Another service publishes on the shared bus (Redis), so this test runs the server on Redis.
#[tokio::test]
async fn notifications_published_on_the_bus_reach_the_inbox() {
    let redis = spot_testkit::redis_url();
    let test = TestServer::start(&[("SPOT_REDIS_URL", &redis)]).await;
    let owner = test.sign_up("Acme").await;
    let bus = spot_bus::RedisBus::connect(&redis, &test.bus_namespace)
        .await
        .unwrap();
    publish_and_read(&test, &bus, &owner).await;
    test.stop().await;
}

async fn publish_and_read(test: &TestServer, bus: &impl Bus, owner: &spot_testkit::TestUser) {
    let event = spot_proto::events::v1::NotificationRequested {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: owner.user.tenant_id.clone(),
        user_id: String::new(),
        kind: "interruption".into(),
        title: "Spot interruption handled".into(),
        body: "m5.large in us-east-1a was replaced".into(),
        min_role: String::new(),
    };
    // Twice: every replica hears each event, and storing it is idempotent.
    for _ in 0..2 {
        spot_auth::NOTIFICATIONS_TOPIC
            .publish(bus, &event)
            .await
            .unwrap();
    }
    let mut inbox = NotificationServiceClient::new(test.channel.clone());
    let token = owner.access_token.clone();
    eventually(|| {
        let mut inbox = inbox.clone();
        let token = token.clone();
        async move {
            inbox
                .list_notifications(authed(
                    pb::ListNotificationsRequest {
                        page: None,
                        unread_only: true,
                    },
                    &token,
                ))
                .await
                .is_ok_and(|r| r.into_inner().unread_count == 1)
        }
    })
    .await;
    let listed = inbox
        .list_notifications(authed(
            pb::ListNotificationsRequest {
                page: None,
                unread_only: false,
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.notifications.len(), 1, "stored once");
    let id = listed.notifications[0].id.clone();
    inbox
        .mark_notification_read(authed(
            pb::MarkNotificationReadRequest {
                notification_id: id,
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    let after = inbox
        .list_notifications(authed(
            pb::ListNotificationsRequest {
                page: None,
                unread_only: true,
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.unread_count, 0);
}
