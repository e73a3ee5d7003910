//! Who may call what. Every RPC of every service has one entry in [`rules::RULES`]; the
//! [`AccessLayer`] in front of all services authenticates the caller (access token, API key or
//! internal service credential), applies the entry, puts the [`Caller`] into the request, and
//! records an audit event for every mutating call.

mod audit;
mod caller;
mod client_address;
mod internal;
mod layer;
mod revocation;
mod role;
pub mod rules;
mod stream_guard;
mod tenant_load;
mod tokens;
mod verifier;

pub use audit::{AuditNote, AuditRecord, AuditSink};
pub use caller::{ApiKeyScope, Caller, RequestId};
pub use client_address::{
    ClientAddress, ClientAddressLayer, ClientAddressService, FORWARDED_ADDRESS_HEADER,
    client_address, resolve as resolve_client_address,
};
pub use internal::{InternalCredential, OutgoingInterceptor};
pub use layer::{AccessLayer, AccessService};
pub use revocation::{Revocable, Revocations, SESSION_REVOKED_TOPIC};
pub use role::Role;
pub use rules::{Access, Rule};
pub use tenant_load::{TenantLimits, TenantLoad};
pub use tokens::{ACCESS_TOKEN_AUDIENCE, AccessClaims, ISSUER, api_key_id, hash_secret};
pub use verifier::{
    API_KEY_REVOKED_TOPIC, CredentialError, SIGNING_KEY_ROTATED_TOPIC, Verified, Verifier,
};

/// Reads the caller the access layer put into a request. Handlers of non-public RPCs can rely on it.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| tonic::Status::unauthenticated("no verified caller"))
}

/// The tenant the caller acts in: every tenant RPC reads and writes only that tenant's rows.
pub fn tenant<T>(request: &tonic::Request<T>) -> Result<String, tonic::Status> {
    caller(request)?
        .tenant_id()
        .map(str::to_owned)
        .ok_or_else(|| tonic::Status::permission_denied("this call acts within a tenant"))
}
