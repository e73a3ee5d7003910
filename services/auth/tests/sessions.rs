//! Sign-up, login, refresh, logout, password changes and throttling, as a user meets them.

use spot_proto::auth::v1 as pb;
use spot_testkit::{TestServer, authed, strong_password};

#[tokio::test]
async fn sign_up_login_refresh_logout() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme Platform").await;
    assert_eq!(owner.user.role, pb::Role::Owner as i32);
    assert!(!owner.user.platform_admin);
    let mut auth = test.auth();

    let me = auth
        .me(authed(pb::MeRequest {}, &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().email, owner.email);

    let login = auth
        .login(pb::LoginRequest {
            email: owner.email.to_uppercase(),
            password: owner.password.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let tokens = login.tokens.unwrap();
    let refreshed = auth
        .refresh(pb::RefreshRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(
        refreshed.refresh_token, tokens.refresh_token,
        "refresh tokens rotate"
    );
    auth.me(authed(pb::MeRequest {}, &refreshed.access_token))
        .await
        .unwrap();

    auth.logout(pb::LogoutRequest {
        refresh_token: refreshed.refresh_token.clone(),
    })
    .await
    .unwrap();
    let after = auth
        .refresh(pb::RefreshRequest {
            refresh_token: refreshed.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), tonic::Code::Unauthenticated);
    assert!(after.message().contains("revoked"), "{}", after.message());
    test.stop().await;
}

#[tokio::test]
async fn a_reused_refresh_token_signs_out_its_whole_family() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut auth = test.auth();
    let first = owner.refresh_token.clone();
    let second = auth
        .refresh(pb::RefreshRequest {
            refresh_token: first.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .refresh_token;
    // An attacker replays the spent token...
    let replay = auth
        .refresh(pb::RefreshRequest {
            refresh_token: first,
        })
        .await
        .unwrap_err();
    assert_eq!(replay.code(), tonic::Code::Unauthenticated);
    assert!(
        replay.message().contains("already used"),
        "{}",
        replay.message()
    );
    // ...and the legitimate newer token of the same family is revoked too.
    let legit = auth
        .refresh(pb::RefreshRequest {
            refresh_token: second,
        })
        .await
        .unwrap_err();
    assert_eq!(legit.code(), tonic::Code::Unauthenticated);
    test.stop().await;
}

#[tokio::test]
async fn bad_sign_up_input_names_the_field() {
    let test = TestServer::start(&[]).await;
    let mut auth = test.auth();
    let cases = [
        (
            "",
            "a@b.example",
            strong_password(),
            "invalid `tenant_name`: is required",
        ),
        ("Acme", "not-an-email", strong_password(), "invalid `email`"),
        (
            "Acme",
            &format!("{}@b.example", "a".repeat(300)),
            strong_password(),
            "at most 254",
        ),
        (
            "Acme",
            "a@b.example",
            "short".to_owned(),
            "invalid `password`: must be at least 12 characters",
        ),
        (
            "Acme",
            "a@b.example",
            "alllowercaseletters".to_owned(),
            "at least three of",
        ),
    ];
    for (tenant, email, password, expected) in cases {
        let error = auth
            .sign_up(pb::SignUpRequest {
                tenant_name: tenant.into(),
                email: email.into(),
                password,
            })
            .await
            .unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(
            error.message().contains(expected),
            "{expected}: {}",
            error.message()
        );
    }
    test.stop().await;
}

#[tokio::test]
async fn login_failures_do_not_reveal_accounts_and_lock_out_by_themselves() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut auth = test.auth();
    let unknown = auth
        .login(pb::LoginRequest {
            email: "nobody@nowhere.example".into(),
            password: strong_password(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let wrong = auth
        .login(pb::LoginRequest {
            email: owner.email.clone(),
            password: strong_password(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.message()),
        (wrong.code(), wrong.message())
    );
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);

    for _ in 0..4 {
        let _ = auth
            .login(pb::LoginRequest {
                email: owner.email.clone(),
                password: strong_password(),
                ..Default::default()
            })
            .await;
    }
    // Five failures: even the right password is refused until the window ends.
    let locked = auth
        .login(pb::LoginRequest {
            email: owner.email.clone(),
            password: owner.password.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(locked.code(), tonic::Code::ResourceExhausted);
    assert!(
        locked.message().contains("try again in"),
        "{}",
        locked.message()
    );
    test.stop().await;
}

#[tokio::test]
async fn changing_the_password_signs_out_other_sessions() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut auth = test.auth();
    let weak = auth
        .change_password(authed(
            pb::ChangePasswordRequest {
                current_password: owner.password.clone(),
                new_password: "weak".into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap_err();
    assert!(
        weak.message().starts_with("invalid `new_password`"),
        "{}",
        weak.message()
    );
    let wrong = auth
        .change_password(authed(
            pb::ChangePasswordRequest {
                current_password: strong_password(),
                new_password: strong_password(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap_err();
    assert!(
        wrong.message().starts_with("invalid `current_password`"),
        "{}",
        wrong.message()
    );

    let new_password = strong_password();
    auth.change_password(authed(
        pb::ChangePasswordRequest {
            current_password: owner.password.clone(),
            new_password: new_password.clone(),
        },
        &owner.access_token,
    ))
    .await
    .unwrap();
    let old_session = auth
        .refresh(pb::RefreshRequest {
            refresh_token: owner.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(old_session.code(), tonic::Code::Unauthenticated);
    test.login(&owner.email, &new_password).await;
    test.stop().await;
}

#[tokio::test]
async fn rotating_the_signing_key_logs_nobody_out() {
    let test = TestServer::start(&[]).await;
    let admin = test.admin_token().await;
    let owner = test.sign_up("Acme").await;
    let mut admin_client =
        spot_proto::auth::v1::admin_service_client::AdminServiceClient::new(test.channel.clone());
    let rotated = admin_client
        .rotate_signing_key(authed(pb::RotateSigningKeyRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    let mut auth = test.auth();
    // A token signed by the old key still works...
    auth.me(authed(pb::MeRequest {}, &owner.access_token))
        .await
        .unwrap();
    // ...and new tokens carry the new key id; both keys are published.
    let fresh = test.login(&owner.email, &owner.password).await;
    let header = jsonwebtoken::decode_header(&fresh).unwrap();
    assert_eq!(header.kid.as_deref(), Some(rotated.key_id.as_str()));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    auth.me(authed(pb::MeRequest {}, &fresh)).await.unwrap();
    let jwks = auth
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .jwks_json;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks).unwrap();
    assert_eq!(set.keys.len(), 2);
    test.stop().await;
}

#[tokio::test]
async fn many_accounts_tried_from_one_address_lock_that_address() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut auth = test.auth();
    // Twenty failures spread over accounts, never five on one: the address is what gets locked.
    for n in 0..20 {
        let error = auth
            .login(pb::LoginRequest {
                email: format!("guess-{n}@nowhere.example"),
                password: strong_password(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(error.code(), tonic::Code::Unauthenticated);
    }
    let locked = auth
        .login(pb::LoginRequest {
            email: owner.email.clone(),
            password: owner.password.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(locked.code(), tonic::Code::ResourceExhausted, "{locked:?}");
    test.stop().await;
}
