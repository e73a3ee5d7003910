//! Ending credentials before they expire. An access token is verified locally on every replica, so
//! signing out (or removing a user, or changing their role) must reach every replica: auth writes
//! a revoked-session key on the bus that lives as long as the session's access tokens could, and
//! announces it, so open streams end at once and new calls are refused.

use std::time::Duration;

use spot_bus::{BusError, SharedBus, Topic};
use spot_proto::events::v1::SessionRevoked;
use tokio::sync::broadcast;

/// The bus topic auth announces a revoked session on.
pub const SESSION_REVOKED_TOPIC: Topic<SessionRevoked> = Topic::new("session.revoked");

/// Announcements kept for slow streams; one that falls further behind checks the bus instead.
const WATCH_CAPACITY: usize = 1024;

fn session_key(session_id: &str) -> String {
    format!("revoked-session:{session_id}")
}

/// A credential that can be revoked while a call using it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocable {
    /// A login: every access token issued from one refresh-token family.
    Session(String),
    ApiKey(String),
}

/// The revoked-session keys on the bus, written by auth and read by every verifier.
#[derive(Clone)]
pub struct Revocations {
    bus: SharedBus,
    /// Revocations announced on the bus, for the open streams of this process.
    announced: broadcast::Sender<Revocable>,
}

impl Revocations {
    pub fn new(bus: SharedBus) -> Self {
        Self {
            bus,
            announced: broadcast::channel(WATCH_CAPACITY).0,
        }
    }

    /// Refuses the session's access tokens from now on, for `ttl` (as long as they can live).
    pub async fn revoke_session(&self, session_id: &str, ttl: Duration) -> Result<(), BusError> {
        self.bus.set(&session_key(session_id), b"1", ttl).await?;
        let revoked = SessionRevoked {
            session_id: session_id.to_owned(),
        };
        SESSION_REVOKED_TOPIC
            .publish(self.bus.as_ref(), &revoked)
            .await
    }

    pub async fn is_revoked(&self, session_id: &str) -> Result<bool, BusError> {
        Ok(self.bus.get(&session_key(session_id)).await?.is_some())
    }

    /// Tells this process's open streams that a credential was revoked (from the bus's topics).
    pub fn announce(&self, revoked: Revocable) {
        // No receiver (no open stream) is not an error.
        let _ = self.announced.send(revoked);
    }

    /// Resolves when `credential` is revoked; a stream waits on it beside its data.
    pub(crate) fn watch(&self, credential: Revocable) -> impl Future<Output = ()> + Send + 'static {
        // Subscribed now, not when first polled, so a revocation in between is not missed.
        let mut announced = self.announced.subscribe();
        let this = self.clone();
        async move {
            loop {
                match announced.recv().await {
                    Ok(revoked) if revoked == credential => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Announcements were missed: ask the bus about sessions (an API key's
                        // revocation is only announced; a missed one ends at the next re-check).
                        if let Revocable::Session(id) = &credential
                            && this.is_revoked(id).await.unwrap_or(false)
                        {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        }
    }
}
