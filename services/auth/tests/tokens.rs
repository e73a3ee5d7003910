//! Forged, tampered, expired and misdirected tokens: each refused with a precise reason.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use spot_access::{AccessClaims, Role};
use spot_proto::auth::v1 as pb;
use spot_testkit::{TestServer, authed};

/// The server's active signing key; a database dump alone holds it sealed.
async fn server_key(test: &TestServer) -> (String, EncodingKey) {
    let (_, stored) = test.stored_signing_key().await;
    assert!(
        spot_kit::sealing::is_sealed(&stored),
        "sealed at rest: {stored}"
    );
    assert!(STANDARD.decode(&stored).is_err(), "not the plain key");
    let (kid, der) = test.signing_key().await;
    (kid, EncodingKey::from_ed_der(&der))
}

fn claims(user: &pb::User) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        iss: "spot".into(),
        aud: "spot-api".into(),
        sub: user.id.clone(),
        tid: user.tenant_id.clone(),
        role: Role::Owner,
        adm: false,
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: "test".into(),
        sid: String::new(),
    }
}

fn sign(claims: &AccessClaims, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

async fn refusal(test: &TestServer, token: &str) -> tonic::Status {
    test.auth()
        .me(authed(pb::MeRequest {}, token))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let (kid, key) = server_key(&test).await;
    let good = claims(&owner.user);
    test.auth()
        .me(authed(pb::MeRequest {}, &sign(&good, &kid, &key)))
        .await
        .expect("a well-formed token works");

    let now = chrono::Utc::now().timestamp();
    let expired = AccessClaims {
        exp: now - 120,
        iat: now - 1000,
        nbf: now - 1000,
        ..good.clone()
    };
    let future = AccessClaims {
        nbf: now + 600,
        exp: now + 1200,
        ..good.clone()
    };
    let audience = AccessClaims {
        aud: "someone-else".into(),
        ..good.clone()
    };
    let issuer = AccessClaims {
        iss: "evil".into(),
        ..good.clone()
    };
    let cases = [
        (sign(&expired, &kid, &key), "access token expired"),
        (sign(&future, &kid, &key), "not valid yet"),
        (sign(&audience, &kid, &key), "another audience"),
        (sign(&issuer, &kid, &key), "another issuer"),
    ];
    for (token, reason) in &cases {
        let status = refusal(&test, token).await;
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{reason}");
        assert!(
            status.message().contains(reason),
            "{reason}: {}",
            status.message()
        );
    }

    // Tampered: the payload says platform admin, the signature is the original's.
    let token = sign(&good, &kid, &key);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = AccessClaims {
        adm: true,
        ..good.clone()
    };
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let status = refusal(&test, &parts.join(".")).await;
    assert!(
        status.message().contains("signature does not verify"),
        "{}",
        status.message()
    );

    // Signed by a key of our own choosing under the server's key id.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[7u8; 32]);
    let status = refusal(&test, &sign(&good, &kid, &EncodingKey::from_ed_der(&der))).await;
    assert!(
        status.message().contains("signature does not verify"),
        "{}",
        status.message()
    );
    let status = refusal(
        &test,
        &sign(&good, "unknown-kid", &EncodingKey::from_ed_der(&der)),
    )
    .await;
    assert!(
        status.message().contains("unknown key"),
        "{}",
        status.message()
    );

    // alg=none, and HS256 keyed with public material (algorithm confusion).
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap())
    );
    assert_eq!(
        refusal(&test, &none).await.code(),
        tonic::Code::Unauthenticated
    );
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(kid.as_bytes()).unwrap(),
    )
    .unwrap();
    let status = refusal(&test, &confused).await;
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let rs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &good,
        &EncodingKey::from_secret(b"x").unwrap(),
    )
    .unwrap();
    assert!(refusal(&test, &rs).await.message().contains("not accepted"));
    test.stop().await;
}
