//! What authentication costs: one Argon2id hash, one password verification, and one access-token
//! verification (EdDSA signature + claim checks), the work done on every authenticated call.
//! Run: `cargo bench -p spot-auth --bench auth_costs`. Prints one line per measurement.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use spot_access::{AccessClaims, Role};
use spot_auth::passwords;

fn measure(name: &str, iterations: u32, mut work: impl FnMut()) {
    work(); // warm up
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    println!("{name}: median {median:?}, p99 {p99:?} over {iterations} runs");
}

fn main() {
    println!(
        "Argon2id m={} KiB, t={}, p={}",
        passwords::MEMORY_KIB,
        passwords::ITERATIONS,
        passwords::PARALLELISM
    );
    let password = "Correct-Horse-Battery-9";
    measure("argon2id hash", 30, || {
        passwords::hash(password).expect("hash");
    });
    let stored = passwords::hash(password).expect("hash");
    measure("argon2id verify", 30, || {
        assert!(passwords::verify(password, &stored));
    });

    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[42u8; 32]);
    let signing = EncodingKey::from_ed_der(&der);
    let jwk = Jwk::from_encoding_key(&signing, Algorithm::EdDSA).expect("jwk");
    let verifying = DecodingKey::from_jwk(&jwk).expect("decoding key");
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        iss: "spot".into(),
        aud: "spot-api".into(),
        sub: "user".into(),
        tid: "tenant".into(),
        role: Role::Admin,
        adm: false,
        iat: now,
        nbf: now,
        exp: now + 900,
        jti: "bench".into(),
        sid: "bench".into(),
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("bench".into());
    let token = jsonwebtoken::encode(&header, &claims, &signing).expect("sign");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["spot-api"]);
    validation.set_issuer(&["spot"]);
    validation.validate_nbf = true;
    measure("access token sign (EdDSA)", 2_000, || {
        jsonwebtoken::encode(&header, &claims, &signing).expect("sign");
    });
    measure("access token verify (EdDSA + claims)", 2_000, || {
        jsonwebtoken::decode::<AccessClaims>(&token, &verifying, &validation).expect("verify");
    });
}
