//! The bus contract: the same behaviour from the in-process bus and from Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use spot_bus::{InProcessBus, RedisBus, SharedBus, run_singleton};

const WAIT: Duration = Duration::from_secs(5);

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn redis_bus() -> SharedBus {
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    Arc::new(
        RedisBus::connect(&redis_url(), &namespace)
            .await
            .expect("Redis for tests"),
    )
}

macro_rules! bus_contract_suite {
    ($($test:ident),* $(,)?) => {
        mod in_process {
            $( #[tokio::test] async fn $test() { super::$test(std::sync::Arc::new(super::InProcessBus::new())).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $test() { super::$test(super::redis_bus().await).await } )*
        }
    };
}

async fn subscribers_get_every_message_of_their_topic_in_order(bus: SharedBus) {
    let mut first = bus.subscribe("cluster.updated").await.unwrap();
    let mut second = bus.subscribe("cluster.updated").await.unwrap();
    let mut other = bus.subscribe("risk.flagged").await.unwrap();
    for n in 0..3u8 {
        bus.publish("cluster.updated", &[n]).await.unwrap();
    }
    for subscription in [&mut first, &mut second] {
        for n in 0..3u8 {
            let message = tokio::time::timeout(WAIT, subscription.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (message.topic.as_str(), message.payload),
                ("cluster.updated", vec![n])
            );
        }
    }
    let nothing = tokio::time::timeout(Duration::from_millis(200), other.next()).await;
    assert!(
        nothing.is_err(),
        "another topic's subscriber receives nothing"
    );
}

async fn publishing_without_subscribers_is_fine(bus: SharedBus) {
    bus.publish("nobody.listens", b"x").await.unwrap();
}

async fn keys_expire_after_their_ttl(bus: SharedBus) {
    bus.set("flag:a", b"1", Duration::from_millis(300))
        .await
        .unwrap();
    bus.set("flag:b", b"2", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(bus.get("flag:a").await.unwrap(), Some(b"1".to_vec()));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bus.get("flag:a").await.unwrap(), None);
    assert_eq!(bus.get("flag:b").await.unwrap(), Some(b"2".to_vec()));
    bus.delete("flag:b").await.unwrap();
    assert_eq!(bus.get("flag:b").await.unwrap(), None);
}

async fn set_if_absent_lets_only_the_first_writer_in(bus: SharedBus) {
    let ttl = Duration::from_secs(30);
    assert!(bus.set_if_absent("event:42", b"first", ttl).await.unwrap());
    assert!(!bus.set_if_absent("event:42", b"second", ttl).await.unwrap());
    assert_eq!(bus.get("event:42").await.unwrap(), Some(b"first".to_vec()));
}

async fn counters_count_within_their_window_then_reset(bus: SharedBus) {
    let window = Duration::from_millis(400);
    assert_eq!(bus.increment("login:a@b.c", window).await.unwrap(), 1);
    assert_eq!(bus.increment("login:a@b.c", window).await.unwrap(), 2);
    assert_eq!(bus.increment("login:other", window).await.unwrap(), 1);
    bus.decrement("login:other").await.unwrap();
    bus.decrement("login:other").await.unwrap();
    assert_eq!(
        bus.increment("login:other", window).await.unwrap(),
        1,
        "a decrement never goes below zero"
    );
    bus.decrement("login:never-set").await.unwrap();
    assert_eq!(bus.get("login:never-set").await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        bus.increment("login:a@b.c", window).await.unwrap(),
        1,
        "the window ended"
    );
}

async fn scan_prefix_lists_only_live_keys_under_the_prefix(bus: SharedBus) {
    let long = Duration::from_secs(30);
    bus.set("pool:us-east-1a:m5.large", b"a", long)
        .await
        .unwrap();
    bus.set("pool:us-east-1b:c5.xlarge", b"b", long)
        .await
        .unwrap();
    bus.set("pool:gone", b"c", Duration::from_millis(100))
        .await
        .unwrap();
    bus.set("poolside", b"d", long).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed = bus.scan_prefix("pool:").await.unwrap();
    assert_eq!(
        listed,
        vec![
            ("pool:us-east-1a:m5.large".to_owned(), b"a".to_vec()),
            ("pool:us-east-1b:c5.xlarge".to_owned(), b"b".to_vec()),
        ]
    );
}

async fn a_lease_has_one_holder_until_released_or_expired(bus: SharedBus) {
    let ttl = Duration::from_millis(400);
    let held = bus
        .try_acquire("optimizer-loop", ttl)
        .await
        .unwrap()
        .expect("free lease");
    assert!(
        bus.try_acquire("optimizer-loop", ttl)
            .await
            .unwrap()
            .is_none()
    );
    assert!(bus.renew(&held, ttl).await.unwrap(), "the holder renews");
    bus.release(&held).await.unwrap();
    let next = bus
        .try_acquire("optimizer-loop", ttl)
        .await
        .unwrap()
        .expect("released");

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !bus.renew(&next, ttl).await.unwrap(),
        "an expired lease cannot be renewed"
    );
    let third = bus
        .try_acquire("optimizer-loop", ttl)
        .await
        .unwrap()
        .expect("expired");
    bus.release(&next).await.unwrap();
    assert!(
        bus.try_acquire("optimizer-loop", ttl)
            .await
            .unwrap()
            .is_none(),
        "a stale holder's release leaves the new holder's lease alone"
    );
    bus.release(&third).await.unwrap();
}

async fn bad_names_are_refused(bus: SharedBus) {
    assert!(bus.publish("", b"x").await.is_err());
    assert!(
        bus.set("has space", b"x", Duration::from_secs(1))
            .await
            .is_err()
    );
}

async fn a_singleton_job_runs_on_one_replica_and_fails_over(bus: SharedBus) {
    let running = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let ttl = Duration::from_millis(300);
    let mut replicas = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let (bus, running, most_at_once, runs) = (
            bus.clone(),
            running.clone(),
            most_at_once.clone(),
            runs.clone(),
        );
        replicas.push(tokio::spawn(async move {
            run_singleton(
                bus.as_ref(),
                "hibernation-scheduler",
                ttl,
                async {
                    let _ = stopped.await;
                },
                |lost| {
                    let (running, most_at_once, runs) =
                        (running.clone(), most_at_once.clone(), runs.clone());
                    async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most_at_once.fetch_max(now, Ordering::SeqCst);
                        // Counted down however the job ends: cancelled, or dropped at shutdown.
                        let _running = CountDown(running);
                        lost.cancelled().await;
                    }
                },
            )
            .await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "exactly one replica runs the job"
    );

    // The holder shuts down (releasing the lease); the other replica takes over.
    let first_stop = stops.remove(0);
    let _ = first_stop.send(());
    let _ = tokio::time::timeout(WAIT, replicas.remove(0)).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while runs.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the other replica took over"
    );
    assert_eq!(most_at_once.load(Ordering::SeqCst), 1, "never two at once");
    for stop in stops {
        let _ = stop.send(());
    }
    for replica in replicas {
        let _ = tokio::time::timeout(WAIT, replica).await;
    }
}

struct CountDown(Arc<AtomicUsize>);

impl Drop for CountDown {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

bus_contract_suite!(
    subscribers_get_every_message_of_their_topic_in_order,
    publishing_without_subscribers_is_fine,
    keys_expire_after_their_ttl,
    set_if_absent_lets_only_the_first_writer_in,
    counters_count_within_their_window_then_reset,
    scan_prefix_lists_only_live_keys_under_the_prefix,
    a_lease_has_one_holder_until_released_or_expired,
    bad_names_are_refused,
    a_singleton_job_runs_on_one_replica_and_fails_over,
);

#[tokio::test]
async fn an_unreachable_redis_is_one_clear_error() {
    let Err(error) = RedisBus::connect("redis://127.0.0.1:1", "test").await else {
        panic!("connected to a closed port");
    };
    assert!(
        error
            .to_string()
            .starts_with("redis_url: cannot reach Redis"),
        "{error}"
    );
}
