//! Typed topics: each topic carries one protobuf message type (`spot.events.v1`, or a service's
//! own object), published and read only through its [`Topic`] constant, so the bus has one
//! contract, the protos, and no payload is built or parsed by hand.

use std::marker::PhantomData;
use std::pin::Pin;

use futures::{Stream, StreamExt};

use crate::{Bus, BusError};

/// A topic and the message it carries.
pub struct Topic<M> {
    name: &'static str,
    message: PhantomData<fn() -> M>,
}

/// Messages of one subscription, decoded, in publish order. Ends when the bus is dropped.
pub type Messages<M> = Pin<Box<dyn Stream<Item = M> + Send>>;

impl<M> Topic<M> {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            message: PhantomData,
        }
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<M: prost::Message + Default + 'static> Topic<M> {
    /// Delivers `message` to every current subscriber, on any replica.
    pub async fn publish(&self, bus: &dyn Bus, message: &M) -> Result<(), BusError> {
        bus.publish(self.name, &message.encode_to_vec()).await
    }

    /// Messages published from now on. One that does not decode (a replica of another version
    /// mid-upgrade) is logged and skipped.
    pub async fn subscribe(&self, bus: &dyn Bus) -> Result<Messages<M>, BusError> {
        let topic = self.name;
        let raw = bus.subscribe(topic).await?;
        Ok(Box::pin(raw.filter_map(move |message| async move {
            match M::decode(message.payload.as_slice()) {
                Ok(decoded) => Some(decoded),
                Err(error) => {
                    tracing::warn!(%error, topic, "a message that does not decode was skipped");
                    None
                }
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InProcessBus;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Greeting {
        #[prost(string, tag = "1")]
        text: String,
    }

    const GREETINGS: Topic<Greeting> = Topic::new("greetings");

    #[tokio::test]
    async fn a_subscriber_reads_what_was_published_and_skips_what_does_not_decode() {
        let bus = InProcessBus::new();
        let mut greetings = GREETINGS.subscribe(&bus).await.unwrap();
        // A field 1 of the wrong wire type: not a Greeting.
        bus.publish(GREETINGS.name(), &[0x08, 0x01]).await.unwrap();
        let hello = Greeting {
            text: "hello".into(),
        };
        GREETINGS.publish(&bus, &hello).await.unwrap();
        assert_eq!(greetings.next().await, Some(hello));
    }
}
