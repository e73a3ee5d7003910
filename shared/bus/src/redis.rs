use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use fred::types::scan::Scanner;
use fred::types::{Expiration, SetOptions};
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::{Bus, BusError, BusMessage, Lease, Subscription, check_name, new_token};

const TOPIC_CAPACITY: usize = 1024;
/// Messages from Redis waiting for the dispatcher.
const MESSAGES_IN_FLIGHT: usize = 16_384;

/// Extends a lease only while this holder still owns it.
const RENEW_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
"#;

/// Deletes a lease only while this holder still owns it.
const RELEASE_SCRIPT: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"#;

/// Takes one from a live counter, keeping its TTL (DECR on a missing key would create one
/// without a TTL, so the check and the decrement are one script).
const DECREMENT_SCRIPT: &str = r#"
local count = tonumber(redis.call("GET", KEYS[1]))
if count and count > 0 then
  return redis.call("DECR", KEYS[1])
end
return 0
"#;

/// The bus shared by every replica. It reconnects by itself and resubscribes after a Redis restart.
/// Every topic and key lives under `namespace`, so deployments (and tests) can share one Redis.
#[derive(Clone)]
pub struct RedisBus {
    commands: Client,
    subscriber: SubscriberClient,
    namespace: String,
    local_topics: Arc<Mutex<HashMap<String, broadcast::Sender<BusMessage>>>>,
}

impl RedisBus {
    /// Connects to `url`; fails with one clear error when Redis cannot be reached now.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, BusError> {
        let config =
            Config::from_url(url).map_err(|e| BusError::Unavailable(format!("{url}: {e}")))?;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(3);
                c.internal_command_timeout = Duration::from_secs(3);
            })
            .with_performance_config(|c| {
                c.default_command_timeout = Duration::from_secs(5);
                // Redis delivers a burst (a bulk reclaim's notices, hundreds of clusters' events)
                // faster than the dispatcher is scheduled: fred's default of 32 messages in
                // flight dropped interruption notices.
                c.broadcast_channel_capacity = MESSAGES_IN_FLIGHT;
            })
            // Retry forever, 100 ms doubling to 2 s: a Redis restart must never end the process.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let commands = builder.build().map_err(unavailable)?;
        let subscriber = builder.build_subscriber_client().map_err(unavailable)?;
        // `init` waits for the first connection; bound it so a wrong URL fails fast.
        let connect = async {
            commands.init().await?;
            subscriber.init().await
        };
        tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| BusError::Unavailable(format!("{url}: no answer within 5 s")))?
            .map_err(unavailable)?;
        let _resubscriber = subscriber.manage_subscriptions();

        let bus = Self {
            commands,
            subscriber,
            namespace: namespace.to_owned(),
            local_topics: Arc::default(),
        };
        bus.spawn_dispatcher();
        Ok(bus)
    }

    /// Fans messages from Redis out to this process's subscribers of each topic.
    fn spawn_dispatcher(&self) {
        let mut messages = self.subscriber.message_rx();
        let local_topics = Arc::clone(&self.local_topics);
        let prefix = format!("{}:topic:", self.namespace);
        tokio::spawn(async move {
            loop {
                match messages.recv().await {
                    Ok(message) => {
                        let Some(topic) = message.channel.strip_prefix(prefix.as_str()) else {
                            continue;
                        };
                        let payload = message.value.as_bytes().unwrap_or_default().to_vec();
                        let topics = local_topics.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(sender) = topics.get(topic) {
                            let _ = sender.send(BusMessage {
                                topic: topic.to_owned(),
                                payload,
                            });
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "bus dispatcher fell behind Redis");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}:topic:{topic}", self.namespace)
    }

    fn key(&self, key: &str) -> String {
        format!("{}:key:{key}", self.namespace)
    }

    fn lease_key(&self, name: &str) -> String {
        format!("{}:lease:{name}", self.namespace)
    }
}

fn unavailable(error: fred::error::Error) -> BusError {
    BusError::Unavailable(error.to_string())
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

#[async_trait::async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), BusError> {
        check_name(topic)?;
        let _: i64 = self
            .commands
            .publish(self.channel(topic), payload.to_vec())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, BusError> {
        check_name(topic)?;
        let (receiver, first) = {
            let mut topics = self.local_topics.lock().unwrap_or_else(|p| p.into_inner());
            let first = !topics.contains_key(topic);
            let sender = topics
                .entry(topic.to_owned())
                .or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0);
            (sender.subscribe(), first)
        };
        if first {
            self.subscriber
                .subscribe(self.channel(topic))
                .await
                .map_err(unavailable)?;
        }
        let topic = topic.to_owned();
        Ok(Box::pin(BroadcastStream::new(receiver).filter_map(
            move |item| {
                let message = match item {
                    Ok(message) => Some(message),
                    Err(lagged) => {
                        tracing::warn!(%topic, %lagged, "slow subscriber skipped messages");
                        None
                    }
                };
                async move { message }
            },
        )))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), BusError> {
        check_name(key)?;
        let _: () = self
            .commands
            .set(
                self.key(key),
                value.to_vec(),
                Some(Expiration::PX(millis(ttl))),
                None,
                false,
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, BusError> {
        check_name(key)?;
        let reply: Option<String> = self
            .commands
            .set(
                self.key(key),
                value.to_vec(),
                Some(Expiration::PX(millis(ttl))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BusError> {
        let value: Option<Vec<u8>> = self
            .commands
            .get(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(value)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, BusError> {
        check_name(key)?;
        let key = self.key(key);
        let count: u64 = self.commands.incr(&key).await.map_err(unavailable)?;
        if count == 1 {
            let _: i64 = self
                .commands
                .pexpire(&key, millis(ttl), None)
                .await
                .map_err(unavailable)?;
        }
        Ok(count)
    }

    async fn decrement(&self, key: &str) -> Result<(), BusError> {
        check_name(key)?;
        let _: i64 = self
            .commands
            .eval(DECREMENT_SCRIPT, vec![self.key(key)], Vec::<String>::new())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BusError> {
        let _: i64 = self
            .commands
            .del(self.key(key))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn scan_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError> {
        let namespaced = self.key(prefix);
        let pattern = format!("{}*", escape_glob(&namespaced));
        let mut pages = self.commands.scan(pattern, Some(500), None);
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let mut page = page.map_err(unavailable)?;
            keys.extend(page.take_results().unwrap_or_default());
            page.next();
        }
        let strip = self.key("");
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            // A key may expire between SCAN and GET; it is then simply not listed.
            let value: Option<Vec<u8>> = self.commands.get(&key).await.map_err(unavailable)?;
            if let (Some(value), Some(name)) = (value, key.as_str()) {
                entries.push((name.trim_start_matches(strip.as_str()).to_owned(), value));
            }
        }
        entries.sort();
        Ok(entries)
    }

    async fn try_acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, BusError> {
        check_name(name)?;
        let token = new_token();
        let reply: Option<String> = self
            .commands
            .set(
                self.lease_key(name),
                token.as_str(),
                Some(Expiration::PX(millis(ttl))),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(unavailable)?;
        Ok(reply.map(|_| Lease {
            name: name.to_owned(),
            token,
        }))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, BusError> {
        let renewed: i64 = self
            .commands
            .eval(
                RENEW_SCRIPT,
                vec![self.lease_key(&lease.name)],
                vec![lease.token.clone(), millis(ttl).to_string()],
            )
            .await
            .map_err(unavailable)?;
        Ok(renewed == 1)
    }

    async fn release(&self, lease: &Lease) -> Result<(), BusError> {
        let _: i64 = self
            .commands
            .eval(
                RELEASE_SCRIPT,
                vec![self.lease_key(&lease.name)],
                vec![lease.token.clone()],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn ping(&self) -> bool {
        self.commands.ping::<String>(None).await.is_ok()
    }
}

fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
