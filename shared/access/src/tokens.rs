use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `iss` of every token the platform issues.
pub const ISSUER: &str = "spot";
/// `aud` of access tokens for the API.
pub const ACCESS_TOKEN_AUDIENCE: &str = "spot-api";
/// `aud` of the credentials services present to each other.
pub const INTERNAL_AUDIENCE: &str = "spot-internal";
/// API key secrets start with this, so they are told apart from JWTs at a glance (and by scanners).
pub const API_KEY_PREFIX: &str = "spot_";

/// The claims of an access token (EdDSA-signed, about 15 minutes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tid: String,
    pub role: crate::Role,
    /// Platform admin.
    #[serde(default)]
    pub adm: bool,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (refresh-token family) the token was issued for, so signing out can revoke it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
}

/// SHA-256 of a high-entropy secret (API keys, refresh tokens), hex. Such secrets need no slow hash.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The key id embedded in an API key secret `spot_<key id>_<random>`, if it has that shape.
pub fn api_key_id(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(API_KEY_PREFIX)?;
    let (id, random) = rest.split_once('_')?;
    (!id.is_empty() && random.len() >= 32).then_some(id)
}
