use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::service::Interceptor;

use crate::tokens::{INTERNAL_AUDIENCE, ISSUER};

/// How long a minted internal credential is valid.
const LIFETIME_SECONDS: i64 = 300;
/// A cached credential is re-minted when it has less than this left.
const REFRESH_MARGIN_SECONDS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct InternalClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    iat: i64,
}

/// The identity one service presents to another: a short-lived HS256 token signed with the
/// platform's internal secret, never a user's token.
#[derive(Clone)]
pub struct InternalCredential {
    service: String,
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    cached: Arc<Mutex<Option<(String, i64)>>>,
}

impl InternalCredential {
    /// Fails only for an empty secret (config validation requires 32 characters or more).
    pub fn new(
        secret: &[u8],
        service: impl Into<String>,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(Self {
            service: service.into(),
            encoding: Arc::new(EncodingKey::from_secret(secret)?),
            decoding: Arc::new(DecodingKey::from_secret(secret)?),
            cached: Arc::default(),
        })
    }

    /// The same secret in another service's name: each service of a process calls the others in
    /// its own name, so the access rules can say which service may call which internal RPC.
    pub fn renamed(&self, service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            encoding: self.encoding.clone(),
            decoding: self.decoding.clone(),
            cached: Arc::default(),
        }
    }

    /// A valid bearer token for this service, minted when the cached one is about to expire.
    pub fn token(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, exp)) = cached.as_ref()
            && *exp - now > REFRESH_MARGIN_SECONDS
        {
            return token.clone();
        }
        let claims = InternalClaims {
            iss: ISSUER.to_owned(),
            aud: INTERNAL_AUDIENCE.to_owned(),
            sub: format!("service:{}", self.service),
            exp: now + LIFETIME_SECONDS,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default();
        *cached = Some((token.clone(), claims.exp));
        token
    }

    /// The calling service's name when `token` is a valid internal credential.
    pub fn verify(&self, token: &str) -> Option<String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[INTERNAL_AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        let data =
            jsonwebtoken::decode::<InternalClaims>(token, &self.decoding, &validation).ok()?;
        data.claims.sub.strip_prefix("service:").map(str::to_owned)
    }
}

/// What a platform process that forwards a client's call says about the client's address.
#[derive(Debug, Serialize, Deserialize)]
struct ForwardedClaims {
    iss: String,
    aud: String,
    /// The client's IP address.
    sub: String,
    exp: i64,
}

/// `aud` of a forwarded client address, so it can never pass for a service credential.
const FORWARDED_AUDIENCE: &str = "spot-client-address";
/// Long enough for a forwarded call to arrive, short enough that a copy is soon useless.
const FORWARDED_LIFETIME_SECONDS: i64 = 60;

impl InternalCredential {
    /// Signs the client address a call is forwarded for (the platform's own forwarding between
    /// processes), so the receiving process believes it although its peer is not the client.
    pub fn sign_client_address(&self, address: std::net::IpAddr) -> String {
        let claims = ForwardedClaims {
            iss: ISSUER.to_owned(),
            aud: FORWARDED_AUDIENCE.to_owned(),
            sub: address.to_string(),
            exp: chrono::Utc::now().timestamp() + FORWARDED_LIFETIME_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default()
    }

    /// The client address another platform process forwarded a call for, when `signed` verifies.
    pub fn verify_client_address(&self, signed: &str) -> Option<std::net::IpAddr> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[FORWARDED_AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<ForwardedClaims>(signed, &self.decoding, &validation).ok()?;
        data.claims.sub.parse().ok()
    }
}

/// Adds what every call between services carries: the internal credential and the W3C trace context.
#[derive(Clone)]
pub struct OutgoingInterceptor {
    credential: InternalCredential,
}

impl OutgoingInterceptor {
    pub fn new(credential: InternalCredential) -> Self {
        Self { credential }
    }
}

impl Interceptor for OutgoingInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let bearer = format!("Bearer {}", self.credential.token());
        let value = bearer
            .parse()
            .map_err(|_| tonic::Status::internal("internal credential is not a header value"))?;
        request.metadata_mut().insert("authorization", value);
        spot_telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}
