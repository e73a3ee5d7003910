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
}
