use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use spot_bus::Topic;
use spot_proto::auth::v1::VerifyApiKeyRequest;
use spot_proto::auth::v1::auth_service_client::AuthServiceClient;
use spot_proto::events::v1::{ApiKeyRevoked, SigningKeyRotated};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::revocation::{Revocable, Revocations};
use crate::tokens::{ACCESS_TOKEN_AUDIENCE, AccessClaims, ISSUER, api_key_id, hash_secret};
use crate::{ApiKeyScope, Caller, InternalCredential, OutgoingInterceptor, Role};

/// The bus topic auth publishes a revoked API key on.
pub const API_KEY_REVOKED_TOPIC: Topic<ApiKeyRevoked> = Topic::new("api_key.revoked");

/// The bus topic auth publishes on when a new signing key starts signing.
pub const SIGNING_KEY_ROTATED_TOPIC: Topic<SigningKeyRotated> = Topic::new("signing_key.rotated");

/// A verified API key is trusted this long before it is checked again (the revocation delay).
const API_KEY_CACHE_TTL: Duration = Duration::from_secs(30);
const API_KEY_CACHE_MAX: usize = 10_000;
/// An unknown key id refetches the JWKS at most this often (a flood of forged kids cannot hammer auth).
const JWKS_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Clock skew tolerated on exp and nbf.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    /// The credential is wrong, expired or revoked: the caller must sign in again.
    #[error("{0}")]
    Invalid(String),
    /// The credential could not be checked now (auth unreachable): the caller may retry.
    #[error("cannot verify credentials now: {0}")]
    Unavailable(String),
}

impl From<CredentialError> for tonic::Status {
    fn from(error: CredentialError) -> Self {
        match error {
            CredentialError::Invalid(_) => tonic::Status::unauthenticated(error.to_string()),
            CredentialError::Unavailable(_) => tonic::Status::unavailable(error.to_string()),
        }
    }
}

/// A verified credential: who calls, and what can end the credential while a call is open.
#[derive(Debug, Clone)]
pub struct Verified {
    pub caller: Caller,
    /// When the credential expires (Unix seconds); an open stream ends then.
    pub expires_at: Option<i64>,
    /// How a revocation of this credential is announced.
    pub revocable: Option<Revocable>,
}

impl Verified {
    fn only(caller: Caller) -> Self {
        Self {
            caller,
            expires_at: None,
            revocable: None,
        }
    }
}

type AuthClient = AuthServiceClient<InterceptedService<Channel, OutgoingInterceptor>>;

/// Verifies the three kinds of credential locally where it can: access tokens against the cached
/// JWKS, internal credentials against the shared secret, API keys through auth (cached briefly).
#[derive(Clone)]
pub struct Verifier {
    internal: InternalCredential,
    auth: AuthClient,
    keys: Arc<RwLock<HashMap<String, DecodingKey>>>,
    last_jwks_fetch: Arc<Mutex<Option<Instant>>>,
    /// One JWKS fetch at a time: callers arriving meanwhile wait for it instead of failing.
    jwks_fetching: Arc<tokio::sync::Mutex<()>>,
    api_keys: Arc<Mutex<HashMap<String, (Caller, Instant)>>>,
    revocations: Option<Revocations>,
}

impl Verifier {
    /// `auth_channel` reaches the auth service (this process or another).
    pub fn new(internal: InternalCredential, auth_channel: Channel) -> Self {
        let auth = AuthServiceClient::new(InterceptedService::new(
            auth_channel,
            OutgoingInterceptor::new(internal.clone()),
        ));
        Self {
            internal,
            auth,
            keys: Arc::default(),
            last_jwks_fetch: Arc::default(),
            jwks_fetching: Arc::default(),
            api_keys: Arc::default(),
            revocations: None,
        }
    }

    /// Refuses access tokens of revoked sessions, and lets open streams end on revocation.
    pub fn with_revocations(mut self, revocations: Revocations) -> Self {
        self.revocations = Some(revocations);
        self
    }

    pub fn revocations(&self) -> Option<&Revocations> {
        self.revocations.as_ref()
    }

    pub async fn verify(&self, bearer: &str) -> Result<Caller, CredentialError> {
        Ok(self.verify_credential(bearer).await?.caller)
    }

    pub async fn verify_credential(&self, bearer: &str) -> Result<Verified, CredentialError> {
        if api_key_id(bearer).is_some() {
            let caller = self.verify_api_key(bearer).await?;
            let revocable = match &caller {
                Caller::ApiKey { key_id, .. } => Some(Revocable::ApiKey(key_id.clone())),
                _ => None,
            };
            return Ok(Verified {
                caller,
                expires_at: None,
                revocable,
            });
        }
        let header = jsonwebtoken::decode_header(bearer)
            .map_err(|_| CredentialError::Invalid("credential is not a valid token".into()))?;
        match header.alg {
            Algorithm::HS256 => self
                .internal
                .verify(bearer)
                .map(|name| Verified::only(Caller::Service { name }))
                .ok_or_else(|| {
                    CredentialError::Invalid("internal credential does not verify".into())
                }),
            Algorithm::EdDSA => {
                let kid = header
                    .kid
                    .ok_or_else(|| CredentialError::Invalid("access token has no key id".into()))?;
                self.verify_access_token(bearer, &kid).await
            }
            other => Err(CredentialError::Invalid(format!(
                "token algorithm {other:?} is not accepted"
            ))),
        }
    }

    async fn verify_access_token(
        &self,
        token: &str,
        kid: &str,
    ) -> Result<Verified, CredentialError> {
        let key = match self.key(kid) {
            Some(key) => key,
            None => {
                self.refetch_jwks(kid).await?;
                self.key(kid).ok_or_else(|| {
                    CredentialError::Invalid("access token was signed by an unknown key".into())
                })?
            }
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[ACCESS_TOKEN_AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| CredentialError::Invalid(describe(e.kind()).into()))?
            .claims;
        let session = Some(claims.sid.clone()).filter(|sid| !sid.is_empty());
        if let (Some(revocations), Some(sid)) = (&self.revocations, &session) {
            let revoked = revocations
                .is_revoked(sid)
                .await
                .map_err(|e| CredentialError::Unavailable(e.to_string()))?;
            if revoked {
                return Err(CredentialError::Invalid(
                    "the session was signed out; sign in again".into(),
                ));
            }
        }
        Ok(Verified {
            caller: Caller::User {
                user_id: claims.sub,
                tenant_id: claims.tid,
                role: claims.role,
                platform_admin: claims.adm,
            },
            expires_at: Some(claims.exp),
            revocable: session.map(Revocable::Session),
        })
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
    }

    async fn refetch_jwks(&self, kid: &str) -> Result<(), CredentialError> {
        let _one_at_a_time = self.jwks_fetching.lock().await;
        if self.key(kid).is_some() {
            // A concurrent caller's fetch brought it.
            return Ok(());
        }
        {
            let mut last = self
                .last_jwks_fetch
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH_MIN_INTERVAL) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let response = self
            .auth
            .clone()
            .get_jwks(spot_proto::auth::v1::GetJwksRequest {})
            .await
            .map_err(|status| {
                // Let the next call try again rather than waiting out the interval.
                *self
                    .last_jwks_fetch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
                CredentialError::Unavailable(status.message().to_owned())
            })?;
        let set: JwkSet = serde_json::from_str(&response.into_inner().jwks_json)
            .map_err(|e| CredentialError::Unavailable(format!("JWKS does not parse: {e}")))?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
        Ok(())
    }

    async fn verify_api_key(&self, secret: &str) -> Result<Caller, CredentialError> {
        let hash = hash_secret(secret);
        if let Some(caller) = self.cached_api_key(&hash) {
            return Ok(caller);
        }
        let response = self
            .auth
            .clone()
            .verify_api_key(VerifyApiKeyRequest {
                secret: secret.to_owned(),
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unauthenticated | tonic::Code::NotFound => {
                    CredentialError::Invalid("API key is unknown or revoked".into())
                }
                _ => CredentialError::Unavailable(status.message().to_owned()),
            })?
            .into_inner();
        let key = response
            .api_key
            .ok_or_else(|| CredentialError::Unavailable("auth returned no key".into()))?;
        let scope = if key.scope() == spot_proto::auth::v1::ApiKeyScope::Eventbridge {
            ApiKeyScope::EventBridge
        } else if key.cluster_id.is_empty() {
            let role = Role::from_proto(key.role, "role")
                .map_err(|_| CredentialError::Invalid("API key has no valid role".into()))?;
            ApiKeyScope::Automation { role }
        } else {
            ApiKeyScope::Agent {
                cluster_id: key.cluster_id,
            }
        };
        let caller = Caller::ApiKey {
            key_id: key.id,
            tenant_id: response.tenant_id,
            scope,
        };
        let mut cache = self.api_keys.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= API_KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }

    /// Lets the next unknown key id refetch the JWKS at once (after a rotation).
    pub fn forget_jwks_fetch(&self) {
        *self
            .last_jwks_fetch
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Checks an API key with auth again, past the cache: a long-lived stream's key is re-checked
    /// so a revocation whose announcement was lost still ends it.
    pub async fn recheck_api_key(&self, secret: &str) -> Result<(), CredentialError> {
        self.api_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hash_secret(secret));
        self.verify_api_key(secret).await.map(drop)
    }

    /// Forgets a revoked key at once (auth publishes revocations on [`API_KEY_REVOKED_TOPIC`]).
    pub fn evict_api_key(&self, revoked_key_id: &str) {
        let mut cache = self.api_keys.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (caller, _)| {
            !matches!(caller, Caller::ApiKey { key_id, .. } if key_id == revoked_key_id)
        });
    }

    fn cached_api_key(&self, hash: &str) -> Option<Caller> {
        let cache = self.api_keys.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(hash)
            .filter(|(_, at)| at.elapsed() < API_KEY_CACHE_TTL)
            .map(|(caller, _)| caller.clone())
    }
}

fn describe(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "access token expired",
        ErrorKind::ImmatureSignature => "access token is not valid yet",
        ErrorKind::InvalidAudience => "access token is for another audience",
        ErrorKind::InvalidIssuer => "access token is from another issuer",
        ErrorKind::InvalidSignature => "access token signature does not verify",
        ErrorKind::InvalidAlgorithm => "token algorithm is not accepted",
        ErrorKind::MissingRequiredClaim(_) => "access token lacks a required claim",
        _ => "access token is malformed",
    }
}
