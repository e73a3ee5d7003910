//! An account in several tenants: an invitation to a registered address goes to that account,
//! which joins with its own password, acts in one tenant at a time, and loses only the tenant
//! that removes it.

use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::user_service_client::UserServiceClient;
use spot_testkit::{TestServer, TestUser, authed, next_mail_to, strong_password};
use tonic::Code;

async fn invite(
    test: &TestServer,
    admin: &TestUser,
    email: &str,
    role: pb::Role,
) -> pb::InviteUserResponse {
    UserServiceClient::new(test.channel.clone())
        .invite_user(authed(
            pb::InviteUserRequest {
                email: email.to_owned(),
                role: role.into(),
            },
            &admin.access_token,
        ))
        .await
        .unwrap_or_else(|status| panic!("invite {email}: {status}"))
        .into_inner()
}

async fn login(
    test: &TestServer,
    user: &TestUser,
    tenant_id: &str,
) -> Result<pb::LoginResponse, tonic::Status> {
    test.auth()
        .login(pb::LoginRequest {
            email: user.email.clone(),
            password: user.password.clone(),
            tenant_id: tenant_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn user_emails(test: &TestServer, token: &str) -> Vec<String> {
    let mut emails: Vec<String> = UserServiceClient::new(test.channel.clone())
        .list_users(authed(pb::ListUsersRequest { page: None }, token))
        .await
        .unwrap()
        .into_inner()
        .users
        .into_iter()
        .map(|user| user.email)
        .collect();
    emails.sort();
    emails
}

#[tokio::test]
async fn an_invitation_to_a_registered_address_goes_to_that_account() {
    let test = TestServer::start(&[]).await;
    let acme = test.sign_up("Acme").await;
    let beta = test.sign_up("Beta").await;
    let acme_tenant = acme.user.tenant_id.clone();
    let beta_tenant = beta.user.tenant_id.clone();

    // Inviting Beta's owner into Acme is accepted like any invitation, and mailed to them.
    let mut mail = test.watch_mail();
    let invitation = invite(&test, &acme, &beta.email, pb::Role::Admin).await;
    let invited = invitation.user.clone().unwrap();
    assert_eq!(
        invited.id, beta.user.id,
        "the invitation names the existing account"
    );
    assert_eq!(invited.tenant_id, acme_tenant);
    let sent = next_mail_to(&mut mail, &beta.email).await;
    assert!(sent.body.contains("existing"), "{}", sent.body);
    assert_eq!(sent.token(), Some(invitation.invite_token.as_str()));

    // Invited twice: the tenant already has that address.
    let again = UserServiceClient::new(test.channel.clone())
        .invite_user(authed(
            pb::InviteUserRequest {
                email: beta.email.clone(),
                role: pb::Role::Viewer.into(),
            },
            &acme.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    // The account proves itself with its own password; another one does not join.
    let mut users = UserServiceClient::new(test.channel.clone());
    let wrong = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invitation.invite_token.clone(),
            password: strong_password(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let accepted = users
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: invitation.invite_token.clone(),
            password: beta.password.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let in_acme = accepted.user.unwrap();
    assert_eq!(
        (in_acme.tenant_id.as_str(), in_acme.role()),
        (acme_tenant.as_str(), pb::Role::Admin)
    );
    let acme_token = accepted.tokens.unwrap().access_token;
    assert_eq!(user_emails(&test, &acme_token).await, {
        let mut both = vec![acme.email.clone(), beta.email.clone()];
        both.sort();
        both
    });

    // One account, two tenants: Me lists both; a login acts in the first joined unless told.
    let me = test
        .auth()
        .me(authed(pb::MeRequest {}, &acme_token))
        .await
        .unwrap()
        .into_inner();
    let tenants: Vec<(String, pb::Role)> = me
        .memberships
        .iter()
        .map(|m| (m.tenant_name.clone(), m.role()))
        .collect();
    assert_eq!(
        tenants,
        vec![
            ("Beta".to_owned(), pb::Role::Owner),
            ("Acme".to_owned(), pb::Role::Admin)
        ]
    );
    let default_login = login(&test, &beta, "").await.unwrap();
    let default = default_login.user.clone().unwrap();
    assert_eq!(
        (default.tenant_id.as_str(), default.role()),
        (beta_tenant.as_str(), pb::Role::Owner)
    );
    let chosen = login(&test, &beta, &acme_tenant)
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(chosen.tenant_id, acme_tenant);
    let stranger = test.sign_up("Gamma").await;
    let not_member = login(&test, &beta, &stranger.user.tenant_id)
        .await
        .unwrap_err();
    assert_eq!(not_member.code(), Code::NotFound);

    // Switching moves a session between the account's tenants (the session it leaves ends),
    // and nowhere else.
    let switched = test
        .auth()
        .switch_tenant(authed(
            pb::SwitchTenantRequest {
                tenant_id: acme_tenant.clone(),
                refresh_token: beta.refresh_token.clone(),
            },
            &beta.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(switched.user.unwrap().tenant_id, acme_tenant);
    let left = test
        .auth()
        .refresh(pb::RefreshRequest {
            refresh_token: beta.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(left.code(), Code::Unauthenticated);
    let beta_token = default_login.tokens.clone().unwrap().access_token;
    let refused = test
        .auth()
        .switch_tenant(authed(
            pb::SwitchTenantRequest {
                tenant_id: stranger.user.tenant_id.clone(),
                refresh_token: String::new(),
            },
            &beta_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // Beta's members are Beta's own: Acme's owner is not among them.
    assert_eq!(
        user_emails(&test, &beta_token).await,
        vec![beta.email.clone()]
    );

    // Acme removes the account: its Acme sessions end, its Beta tenant and sessions stay.
    let acme_refresh = switched.tokens.unwrap().refresh_token;
    UserServiceClient::new(test.channel.clone())
        .remove_user(authed(
            pb::RemoveUserRequest {
                user_id: beta.user.id.clone(),
            },
            &acme.access_token,
        ))
        .await
        .unwrap();
    let refreshed = test
        .auth()
        .refresh(pb::RefreshRequest {
            refresh_token: acme_refresh,
        })
        .await
        .unwrap_err();
    assert_eq!(refreshed.code(), Code::Unauthenticated);
    assert_eq!(
        login(&test, &beta, &acme_tenant).await.unwrap_err().code(),
        Code::NotFound
    );
    let still = login(&test, &beta, "").await.unwrap();
    assert_eq!(still.user.unwrap().tenant_id, beta_tenant);
    test.auth()
        .refresh(pb::RefreshRequest {
            refresh_token: default_login.tokens.unwrap().refresh_token,
        })
        .await
        .expect("the Beta session is untouched");
    test.stop().await;
}

#[tokio::test]
async fn an_invitation_answers_alike_for_new_and_registered_addresses() {
    let test = TestServer::start(&[]).await;
    let acme = test.sign_up("Acme").await;
    let registered = test.sign_up("Beta").await;
    let new = invite(&test, &acme, "new@acme.example", pb::Role::Viewer).await;
    let old = invite(&test, &acme, &registered.email, pb::Role::Viewer).await;
    let shape = |response: &pb::InviteUserResponse| {
        let user = response.user.clone().unwrap();
        (
            user.tenant_id,
            user.role,
            user.platform_admin,
            response.invite_token.len(),
        )
    };
    assert_eq!(shape(&new), shape(&old));
    // A new address sets its own password when it accepts, and is then a member of Acme only.
    let password = strong_password();
    let joined = UserServiceClient::new(test.channel.clone())
        .accept_invite(pb::AcceptInviteRequest {
            invite_token: new.invite_token,
            password: password.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let me = test
        .auth()
        .me(authed(
            pb::MeRequest {},
            &joined.tokens.unwrap().access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.memberships.len(), 1);
    assert_eq!(me.memberships[0].tenant_id, acme.user.tenant_id);
    test.stop().await;
}
