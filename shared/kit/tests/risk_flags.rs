//! Hive-mind flags end by themselves when their TTL runs out, on the in-process bus and on Redis
//! (the Redis half runs with TEST_BACKEND=postgres, as `make test` does).

use std::time::Duration;

use spot_bus::{Bus, InProcessBus, RedisBus};
use spot_kit::risk_flags::{self, Flag};

fn flag(zone: &str) -> Flag {
    Flag {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: "m5.large".into(),
        expires_at_millis: 0,
        reporters: 1,
    }
}

async fn flags_expire_on_time(bus: &dyn Bus) {
    risk_flags::raise(bus, &flag("us-east-1a"), Duration::from_millis(800))
        .await
        .unwrap();
    risk_flags::raise(bus, &flag("us-east-1b"), Duration::from_secs(30))
        .await
        .unwrap();
    let zones = |flags: Vec<Flag>| {
        let mut zones: Vec<String> = flags.into_iter().map(|f| f.zone).collect();
        zones.sort();
        zones
    };
    assert_eq!(
        zones(risk_flags::active(bus, "us-east-1").await.unwrap()),
        ["us-east-1a", "us-east-1b"]
    );
    assert!(
        risk_flags::active(bus, "eu-west-1")
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        zones(risk_flags::active(bus, "us-east-1").await.unwrap()),
        ["us-east-1b"],
        "the short flag expired, the long one stands"
    );
}

/// Reporters count once each, per pool, and are forgotten with their TTL.
async fn reporters_count_once_per_pool(bus: &dyn Bus) {
    let a = flag("us-east-1a");
    let ttl = Duration::from_millis(800);
    assert_eq!(
        risk_flags::add_reporter(bus, &a, "t1", ttl).await.unwrap(),
        1
    );
    assert_eq!(
        risk_flags::add_reporter(bus, &a, "t1", ttl).await.unwrap(),
        1,
        "the same tenant again is not corroboration"
    );
    assert_eq!(
        risk_flags::add_reporter(bus, &flag("us-east-1b"), "t2", ttl)
            .await
            .unwrap(),
        1,
        "another pool's reporter does not count"
    );
    assert_eq!(
        risk_flags::add_reporter(bus, &a, "t2", ttl).await.unwrap(),
        2
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        risk_flags::add_reporter(bus, &a, "t3", ttl).await.unwrap(),
        1,
        "old reports expired"
    );
}

#[tokio::test]
async fn reporters_count_once_per_pool_in_process() {
    reporters_count_once_per_pool(&InProcessBus::new()).await;
}

#[tokio::test]
async fn flags_expire_on_time_in_process() {
    flags_expire_on_time(&InProcessBus::new()).await;
}

#[tokio::test]
async fn flags_expire_on_time_on_redis() {
    if std::env::var("TEST_BACKEND").as_deref() != Ok("postgres") {
        eprintln!("the Redis half runs with TEST_BACKEND=postgres");
        return;
    }
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let namespace = format!("flags-{}-{nanos}", std::process::id());
    let bus = RedisBus::connect(&url, &namespace).await.unwrap();
    flags_expire_on_time(&bus).await;
    reporters_count_once_per_pool(&bus).await;
}
