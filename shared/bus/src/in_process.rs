use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::{Bus, BusError, BusMessage, Lease, Subscription, check_name, new_token};

/// Messages a slow subscriber may fall behind by before it skips the oldest ones.
const TOPIC_CAPACITY: usize = 1024;

/// The bus for a single process: the embedded default.
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    topics: HashMap<String, broadcast::Sender<BusMessage>>,
    keys: BTreeMap<String, (Vec<u8>, Instant)>,
}

impl State {
    fn live(&mut self, key: &str) -> Option<&Vec<u8>> {
        let now = Instant::now();
        if self
            .keys
            .get(key)
            .is_some_and(|(_, expires)| *expires <= now)
        {
            self.keys.remove(key);
        }
        self.keys.get(key).map(|(value, _)| value)
    }

    fn purge_expired(&mut self) {
        let now = Instant::now();
        self.keys.retain(|_, (_, expires)| *expires > now);
    }
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated, so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), BusError> {
        check_name(topic)?;
        let mut state = self.state();
        let Some(sender) = state.topics.get(topic) else {
            return Ok(()); // No subscribers is not an error: pub/sub delivers to whoever listens now.
        };
        let message = BusMessage {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
        };
        if sender.send(message).is_err() {
            // Every subscriber has gone; forget the topic so unused topics do not accumulate.
            state.topics.remove(topic);
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        check_name(topic)?;
        let receiver = self
            .state()
            .topics
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0)
            .subscribe();
        let topic = topic.to_owned();
        Ok(Box::pin(BroadcastStream::new(receiver).filter_map(
            move |item| match item {
                Ok(message) => Some(message),
                Err(lagged) => {
                    tracing::warn!(%topic, %lagged, "slow subscriber skipped messages");
                    None
                }
            },
        )))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BusError> {
        check_name(key)?;
        let mut state = self.state();
        state.purge_expired();
        state
            .keys
            .insert(key.to_owned(), (value.to_vec(), Instant::now() + ttl));
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BusError> {
        check_name(key)?;
        let mut state = self.state();
        if state.live(key).is_some() {
            return Ok(false);
        }
        state.purge_expired();
        state
            .keys
            .insert(key.to_owned(), (value.to_vec(), Instant::now() + ttl));
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BusError> {
        Ok(self.state().live(key).cloned())
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BusError> {
        check_name(key)?;
        let mut state = self.state();
        let current = state
            .live(key)
            .and_then(|value| std::str::from_utf8(value).ok()?.parse::<u64>().ok());
        let count = current.unwrap_or(0) + 1;
        let expires = match current {
            Some(_) => state.keys.get(key).map(|(_, expires)| *expires),
            None => None,
        }
        .unwrap_or_else(|| Instant::now() + ttl);
        state
            .keys
            .insert(key.to_owned(), (count.to_string().into_bytes(), expires));
        Ok(count)
    }

    async fn decrement(&self, key: &str) -> Result<(), BusError> {
        check_name(key)?;
        let mut state = self.state();
        let current = state
            .live(key)
            .and_then(|value| std::str::from_utf8(value).ok()?.parse::<u64>().ok());
        if let Some(count) = current
            && let Some((value, _)) = state.keys.get_mut(key)
        {
            *value = count.saturating_sub(1).to_string().into_bytes();
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BusError> {
        self.state().keys.remove(key);
        Ok(())
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError> {
        let mut state = self.state();
        state.purge_expired();
        Ok(state
            .keys
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, (value, _))| (key.clone(), value.clone()))
            .collect())
    }

    async fn try_acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, BusError> {
        let token = new_token();
        let key = lease_key(name);
        if self.set_if_absent(&key, token.as_bytes(), ttl).await? {
            Ok(Some(Lease {
                name: name.to_owned(),
                token,
            }))
        } else {
            Ok(None)
        }
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, BusError> {
        let key = lease_key(&lease.name);
        let mut state = self.state();
        if state.live(&key).map(Vec::as_slice) != Some(lease.token.as_bytes()) {
            return Ok(false);
        }
        state
            .keys
            .insert(key, (lease.token.as_bytes().to_vec(), Instant::now() + ttl));
        Ok(true)
    }

    async fn release(&self, lease: &Lease) -> Result<(), BusError> {
        let key = lease_key(&lease.name);
        let mut state = self.state();
        if state.live(&key).map(Vec::as_slice) == Some(lease.token.as_bytes()) {
            state.keys.remove(&key);
        }
        Ok(())
    }

    async fn ping(&self) -> bool {
        true
    }
}

fn lease_key(name: &str) -> String {
    format!("lease:{name}")
}
