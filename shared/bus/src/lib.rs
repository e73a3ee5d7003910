//! The bus: publish/subscribe on topics, keys with a TTL, and leases for singleton jobs.
//! [`RedisBus`] is shared by every replica; [`InProcessBus`] is the embedded default for one process.

mod in_process;
mod redis;
mod singleton;
mod topic;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use spot_error::{ErrorCode, ServiceError};

pub use in_process::InProcessBus;
pub use redis::RedisBus;
pub use singleton::run_singleton;
pub use tokio_util::sync::CancellationToken;
pub use topic::{Messages, Topic};

/// One message received on a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Messages of one subscription, in publish order. Ends when the bus is dropped.
pub type Subscription = Pin<Box<dyn Stream<Item = BusMessage> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis_url: cannot reach Redis: {0}")]
    Unavailable(String),
    #[error("invalid bus name `{0}`: it must be non-empty and contain no whitespace")]
    InvalidName(String),
}

impl ServiceError for BusError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::InvalidName(_) => ErrorCode::InvalidArgument,
        }
    }
}

/// A held lease on a named singleton job. The holder must renew it before its TTL runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    /// Unique to this holder, so only the holder can renew or release it.
    pub token: String,
}

#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers `payload` to every current subscriber of `topic`, on any replica.
    async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), BusError>;

    /// Messages published to `topic` from now on.
    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError>;

    /// Sets `key` to `value`; it disappears after `ttl`.
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BusError>;

    /// Sets `key` only when it does not exist; true when this call set it. For de-duplication by id.
    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration)
    -> Result<bool, BusError>;

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BusError>;

    /// Adds one to the counter `key` and returns the new count. The first increment starts its
    /// `ttl` (a fixed window): for rate limits and lockouts that end by themselves.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BusError>;

    /// Takes one back from the counter `key` (an attempt that turned out not to count), keeping
    /// its window; never below zero, and a counter that is gone stays gone.
    async fn decrement(&self, key: &str) -> Result<(), BusError>;

    async fn delete(&self, key: &str) -> Result<(), BusError>;

    /// Every live key starting with `prefix`, with its value, sorted by key.
    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError>;

    /// Takes the lease `name` for `ttl` when nobody holds it.
    async fn try_acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, BusError>;

    /// Extends a held lease; false when it was lost (expired and taken by another holder).
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, BusError>;

    /// Gives a lease up; a lease already lost is left to its new holder.
    async fn release(&self, lease: &Lease) -> Result<(), BusError>;

    /// True when the bus answers (readiness).
    async fn ping(&self) -> bool;
}

pub type SharedBus = Arc<dyn Bus>;

fn check_name(name: &str) -> Result<(), BusError> {
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(BusError::InvalidName(name.to_owned()));
    }
    Ok(())
}

fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}
