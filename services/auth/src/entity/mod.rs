//! sea-orm entities of the auth service's tables. Times are unix milliseconds.

pub mod api_keys;
pub mod audit_events;
pub mod memberships;
pub mod notifications;
pub mod refresh_tokens;
pub mod signing_keys;
pub mod tenants;
pub mod users;
