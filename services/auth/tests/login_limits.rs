//! Login limits as an attacker meets them: concurrent guesses, and forged client addresses.

use std::net::IpAddr;

use spot_proto::auth::v1 as pb;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_testkit::{TestServer, strong_password};
use tonic::transport::{Channel, Endpoint};

/// A channel to the server whose TCP connection comes from `from` (any 127.0.0.0/8 address).
async fn channel_from(test: &TestServer, from: &str) -> Channel {
    Endpoint::from_shared(format!("http://{}", test.addr()))
        .unwrap()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .connect()
        .await
        .unwrap()
}

async fn login(
    channel: &Channel,
    forwarded_for: Option<&str>,
    email: &str,
    password: &str,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(pb::LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        ..Default::default()
    });
    if let Some(chain) = forwarded_for {
        request
            .metadata_mut()
            .insert("x-forwarded-for", chain.parse().unwrap());
    }
    AuthServiceClient::new(channel.clone())
        .login(request)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn sixty_concurrent_wrong_passwords_get_at_most_five_answers() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let guesses = (0..60).map(|_| {
        let channel = test.channel.clone();
        let email = owner.email.clone();
        tokio::spawn(async move { login(&channel, None, &email, &strong_password()).await })
    });
    let (mut wrong, mut throttled) = (0, 0);
    for guess in guesses {
        let status = guess.await.unwrap().unwrap_err();
        match status.code() {
            tonic::Code::Unauthenticated => wrong += 1,
            tonic::Code::ResourceExhausted => {
                assert!(status.message().contains("try again in"), "{status:?}");
                throttled += 1;
            }
            other => panic!("unexpected answer {other:?}: {status:?}"),
        }
    }
    assert!(wrong <= 5, "{wrong} guesses were checked; the limit is 5");
    assert_eq!(wrong + throttled, 60);
    // The account is locked now, even for its owner.
    let locked = login(&test.channel, None, &owner.email, &owner.password)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), tonic::Code::ResourceExhausted);
    test.stop().await;
}

#[tokio::test]
async fn a_forged_forwarded_for_cannot_lock_out_another_address() {
    // 127.0.0.2 plays the load balancer; 127.0.0.1 is a client that reaches the port directly.
    let test = TestServer::start(&[("SPOT_TRUSTED_PROXIES", "127.0.0.2/32")]).await;
    let victim = test.sign_up("Victim").await;
    let direct = channel_from(&test, "127.0.0.1").await;
    let proxy = channel_from(&test, "127.0.0.2").await;
    let victim_address = "203.0.113.50";

    // Straight to the port, claiming to be the victim: the header is not believed, so the
    // attacker's own address is what locks.
    for n in 0..20 {
        let guess = login(
            &direct,
            Some(victim_address),
            &format!("guess-{n}@nowhere.example"),
            &strong_password(),
        )
        .await
        .unwrap_err();
        assert_eq!(guess.code(), tonic::Code::Unauthenticated, "{guess:?}");
    }
    let attacker = login(
        &direct,
        Some(victim_address),
        &victim.email,
        &victim.password,
    )
    .await
    .unwrap_err();
    assert_eq!(attacker.code(), tonic::Code::ResourceExhausted);

    // Through the proxy, with the victim's address written in front: the proxy appends the
    // address it saw (the attacker's), and that rightmost untrusted hop is what counts.
    let attacker_chain = format!("{victim_address}, 198.51.100.1");
    for n in 0..20 {
        let guess = login(
            &proxy,
            Some(&attacker_chain),
            &format!("other-{n}@nowhere.example"),
            &strong_password(),
        )
        .await
        .unwrap_err();
        assert_eq!(guess.code(), tonic::Code::Unauthenticated, "{guess:?}");
    }
    let attacker = login(
        &proxy,
        Some("198.51.100.1"),
        &victim.email,
        &victim.password,
    )
    .await
    .unwrap_err();
    assert_eq!(attacker.code(), tonic::Code::ResourceExhausted);

    // The victim, behind the same proxy, signs in.
    login(
        &proxy,
        Some(victim_address),
        &victim.email,
        &victim.password,
    )
    .await
    .expect("the victim's address is not locked");
    test.stop().await;
}

#[tokio::test]
async fn successful_logins_from_one_address_do_not_lock_it() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    // An office behind one NAT address: many good logins are not failures.
    for _ in 0..25 {
        login(&test.channel, None, &owner.email, &owner.password)
            .await
            .expect("a good login is never throttled");
    }
    test.stop().await;
}

#[tokio::test]
async fn costly_account_actions_are_rate_limited_per_address() {
    let test = TestServer::start(&[("SPOT_ACCOUNT_ACTIONS_PER_HOUR", "2")]).await;
    let first = test.sign_up("One").await;
    test.sign_up("Two").await;
    let sign_up = |channel: Channel| async move {
        AuthServiceClient::new(channel)
            .sign_up(pb::SignUpRequest {
                tenant_name: "Three".into(),
                email: format!("third-{}@example.com", uuid::Uuid::new_v4().simple()),
                password: strong_password(),
            })
            .await
    };
    let refused = sign_up(test.channel.clone()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused
            .message()
            .contains("too many sign-ups from this address"),
        "{refused:?}"
    );
    // Another address is not held back by this one.
    sign_up(channel_from(&test, "127.0.0.2").await)
        .await
        .expect("another address signs up");

    // Password changes count on their own.
    let mut auth = test.auth();
    let mut password = first.password.clone();
    let mut token = first.access_token.clone();
    for _ in 0..2 {
        let new_password = strong_password();
        auth.change_password(spot_testkit::authed(
            pb::ChangePasswordRequest {
                current_password: password.clone(),
                new_password: new_password.clone(),
            },
            &token,
        ))
        .await
        .unwrap();
        password = new_password;
        token = test.login(&first.email, &password).await;
    }
    let refused = auth
        .change_password(spot_testkit::authed(
            pb::ChangePasswordRequest {
                current_password: password.clone(),
                new_password: strong_password(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains("password changes"),
        "{refused:?}"
    );
    test.stop().await;
}
