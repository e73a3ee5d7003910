//! Email verification and sign-up that does not reveal who is registered, through the real
//! server: tokens are read from the mail the server sends (the embedded mailer's log).

use spot_proto::auth::v1 as pb;
use spot_testkit::{TestServer, next_mail_to, strong_password};
use tokio::sync::broadcast::error::TryRecvError;

fn sign_up_request(email: &str, password: &str) -> pb::SignUpRequest {
    pb::SignUpRequest {
        tenant_name: "Acme".into(),
        email: email.into(),
        password: password.into(),
    }
}

fn login_request(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        email: email.into(),
        password: password.into(),
        ..Default::default()
    }
}

fn new_email() -> String {
    format!("new-{}@example.com", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn an_account_logs_in_only_after_its_email_is_verified() {
    let test = TestServer::start(&[]).await;
    let mut auth = test.auth();
    let mut mail = test.watch_mail();
    let (email, password) = (new_email(), strong_password());
    auth.sign_up(sign_up_request(&email, &password))
        .await
        .unwrap();
    let sent = next_mail_to(&mut mail, &email).await;
    assert!(sent.subject.contains("Verify your email"), "{sent:?}");
    let link = sent.link.clone().unwrap();
    assert!(link.contains("/verify-email?token="), "{link}");
    let token = sent.token().unwrap().to_owned();

    // The right password learns that the email waits for verification; a wrong one learns nothing.
    let unverified = auth
        .login(login_request(&email, &password))
        .await
        .unwrap_err();
    assert_eq!(unverified.code(), tonic::Code::FailedPrecondition);
    assert!(
        unverified.message().contains("not verified"),
        "{unverified:?}"
    );
    let wrong = auth
        .login(login_request(&email, &strong_password()))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(wrong.message(), "email or password is wrong");

    let verified = auth
        .verify_email(pb::VerifyEmailRequest {
            token: token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.user.unwrap().email, email);
    assert!(!verified.tokens.unwrap().access_token.is_empty());
    auth.login(login_request(&email, &password))
        .await
        .expect("a verified account logs in");

    let reused = auth
        .verify_email(pb::VerifyEmailRequest { token })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), tonic::Code::Unauthenticated);
    let empty = auth
        .verify_email(pb::VerifyEmailRequest::default())
        .await
        .unwrap_err();
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);
    assert!(empty.message().contains("`token`"), "{empty:?}");
    test.stop().await;
}

#[tokio::test]
async fn a_new_verification_email_replaces_the_old_link_and_says_nothing_about_the_address() {
    let test = TestServer::start(&[("SPOT_ACCOUNT_ACTIONS_PER_HOUR", "2")]).await;
    let mut auth = test.auth();
    let mut mail = test.watch_mail();
    let (email, password) = (new_email(), strong_password());
    auth.sign_up(sign_up_request(&email, &password))
        .await
        .unwrap();
    let first = next_mail_to(&mut mail, &email).await;

    auth.resend_verification_email(pb::ResendVerificationEmailRequest {
        email: email.clone(),
    })
    .await
    .unwrap();
    let second = next_mail_to(&mut mail, &email).await;
    assert_ne!(first.token(), second.token());

    // An unknown address gets the same answer and no mail.
    auth.resend_verification_email(pb::ResendVerificationEmailRequest { email: new_email() })
        .await
        .expect("the same answer for an unknown address");
    assert!(matches!(mail.try_recv(), Err(TryRecvError::Empty)));

    // Over the hourly limit of the address: two verification emails (sign-ups count apart).
    let limited = auth
        .resend_verification_email(pb::ResendVerificationEmailRequest {
            email: email.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(limited.code(), tonic::Code::ResourceExhausted);
    assert!(
        limited.message().contains("verification emails"),
        "{limited:?}"
    );
    let malformed = auth
        .resend_verification_email(pb::ResendVerificationEmailRequest {
            email: "not-an-email".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
    assert!(malformed.message().contains("`email`"), "{malformed:?}");

    let stale = auth
        .verify_email(pb::VerifyEmailRequest {
            token: first.token().unwrap().to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Unauthenticated);
    auth.verify_email(pb::VerifyEmailRequest {
        token: second.token().unwrap().to_owned(),
    })
    .await
    .expect("the newest link verifies");
    test.stop().await;
}

#[tokio::test]
async fn signing_up_with_a_registered_email_answers_like_a_new_one_and_tells_the_owner() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let mut auth = test.auth();
    let mut mail = test.watch_mail();
    let admin = test.admin_token().await;
    let tenants = || async {
        pb::admin_service_client::AdminServiceClient::new(test.channel.clone())
            .list_tenants(spot_testkit::authed(
                pb::ListTenantsRequest::default(),
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .tenants
            .len()
    };
    let before = tenants().await;

    let attacker_password = strong_password();
    let registered = auth
        .sign_up(sign_up_request(&owner.email, &attacker_password))
        .await
        .unwrap();
    let fresh = auth
        .sign_up(sign_up_request(&new_email(), &strong_password()))
        .await
        .unwrap();
    assert_eq!(registered.get_ref(), fresh.get_ref(), "the same answer");

    // The owner is told, without a link to act on; nothing was created or changed.
    let notice = next_mail_to(&mut mail, &owner.email).await;
    assert!(notice.subject.contains("tried to sign up"), "{notice:?}");
    assert!(notice.token().is_none());
    assert_eq!(
        tenants().await,
        before + 1,
        "only the new address made a tenant"
    );
    let refused = auth
        .login(login_request(&owner.email, &attacker_password))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    auth.login(login_request(&owner.email, &owner.password))
        .await
        .expect("the owner's password still works");

    // An address still waiting for verification is sent a new link instead.
    let waiting = new_email();
    auth.sign_up(sign_up_request(&waiting, &strong_password()))
        .await
        .unwrap();
    let first = next_mail_to(&mut mail, &waiting).await;
    auth.sign_up(sign_up_request(&waiting, &strong_password()))
        .await
        .unwrap();
    let again = next_mail_to(&mut mail, &waiting).await;
    assert!(again.token().is_some());
    assert_ne!(first.token(), again.token());
    test.stop().await;
}
