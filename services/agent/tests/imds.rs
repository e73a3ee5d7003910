//! The IMDSv2 watcher against a fake IMDS server on 127.0.0.1.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use spot_agent::imds::{self, ImdsConfig, ImdsError, ImdsWatcher};
use spot_proto::agent::v1::InterruptionKind;
use spot_proto::common::v1::Pool;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct State {
    /// The token GETs must carry; `None` until one was issued.
    valid_token: Option<String>,
    tokens_issued: usize,
    /// What `spot/instance-action` and `events/recommendations/rebalance` answer (404 if None).
    spot: Option<String>,
    rebalance: Option<String>,
    /// `METHOD path token-or-ttl` of every request.
    log: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeImds(Arc<Mutex<State>>);

impl FakeImds {
    async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.answer(request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (fake, format!("http://{address}"))
    }

    fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let mut state = self.0.lock().unwrap();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let path = request.uri().path().to_owned();
        let reply = |status: StatusCode, body: &str| {
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap()
        };
        if request.method() == http::Method::PUT && path == "/latest/api/token" {
            let ttl = header("X-aws-ec2-metadata-token-ttl-seconds");
            state.log.push(format!(
                "PUT {path} ttl={}",
                ttl.clone().unwrap_or_default()
            ));
            if ttl.as_deref() != Some("21600") {
                return reply(StatusCode::BAD_REQUEST, "missing ttl");
            }
            state.tokens_issued += 1;
            let token = format!("token-{}", state.tokens_issued);
            state.valid_token = Some(token.clone());
            return reply(StatusCode::OK, &token);
        }
        let token = header("X-aws-ec2-metadata-token");
        state.log.push(format!(
            "{} {path} token={}",
            request.method(),
            token.clone().unwrap_or_default()
        ));
        if request.method() != http::Method::GET {
            return reply(StatusCode::METHOD_NOT_ALLOWED, "");
        }
        if token.is_none() || token != state.valid_token {
            return reply(StatusCode::UNAUTHORIZED, "");
        }
        let found = match path.as_str() {
            "/latest/meta-data/instance-id" => Some("i-0abc".to_owned()),
            "/latest/meta-data/placement/availability-zone" => Some("us-east-1a".to_owned()),
            "/latest/meta-data/instance-type" => Some("m5.large".to_owned()),
            "/latest/meta-data/spot/instance-action" => state.spot.clone(),
            "/latest/meta-data/events/recommendations/rebalance" => state.rebalance.clone(),
            _ => None,
        };
        match found {
            Some(body) => reply(StatusCode::OK, &body),
            None => reply(StatusCode::NOT_FOUND, "Not Found"),
        }
    }

    fn set_spot(&self, body: Option<&str>) {
        self.0.lock().unwrap().spot = body.map(str::to_owned);
    }

    fn set_rebalance(&self, body: Option<&str>) {
        self.0.lock().unwrap().rebalance = body.map(str::to_owned);
    }

    /// Makes the current token invalid, as if it expired.
    fn expire_token(&self) {
        self.0.lock().unwrap().valid_token = Some("expired".into());
    }

    fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().log.clone()
    }

    fn tokens_issued(&self) -> usize {
        self.0.lock().unwrap().tokens_issued
    }
}

fn config(base_url: String) -> ImdsConfig {
    ImdsConfig {
        base_url,
        poll_interval: Duration::from_millis(20),
        ..ImdsConfig::default()
    }
}

const SPOT: &str = r#"{"action":"terminate","time":"2026-11-28T10:00:00Z"}"#;
const REBALANCE: &str = r#"{"noticeTime":"2026-11-28T09:58:00Z"}"#;

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn takes_a_token_and_reads_the_identity_once() {
    let (fake, base) = FakeImds::start().await;
    let mut watcher = ImdsWatcher::new(config(base), "ip-10-0-0-1");
    assert!(watcher.poll_once().await.unwrap().is_empty());
    assert!(watcher.poll_once().await.unwrap().is_empty());
    assert_eq!(
        fake.log(),
        [
            "PUT /latest/api/token ttl=21600",
            "GET /latest/meta-data/instance-id token=token-1",
            "GET /latest/meta-data/placement/availability-zone token=token-1",
            "GET /latest/meta-data/instance-type token=token-1",
            "GET /latest/meta-data/placement/region token=token-1",
            "GET /latest/meta-data/spot/instance-action token=token-1",
            "GET /latest/meta-data/events/recommendations/rebalance token=token-1",
            "GET /latest/meta-data/spot/instance-action token=token-1",
            "GET /latest/meta-data/events/recommendations/rebalance token=token-1",
        ]
    );
    let identity = watcher.identity().await.unwrap();
    assert_eq!(identity.instance_id, "i-0abc");
    assert_eq!(identity.zone, "us-east-1a");
    assert_eq!(identity.region, "us-east-1");
    assert_eq!(identity.instance_type, "m5.large");
}

#[tokio::test]
async fn requests_without_a_token_are_refused() {
    let (_fake, base) = FakeImds::start().await;
    // The fake refuses GETs without the token header, so a plain HTTP GET gets 401.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let response = client
        .get(
            format!("{base}/latest/meta-data/instance-id")
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_404_then_a_200_gives_exactly_one_notice() {
    let (fake, base) = FakeImds::start().await;
    let mut watcher = ImdsWatcher::new(config(base), "ip-10-0-0-1");
    assert!(watcher.poll_once().await.unwrap().is_empty());

    fake.set_spot(Some(SPOT));
    let notices = watcher.poll_once().await.unwrap();
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    let at = millis("2026-11-28T10:00:00Z");
    assert_eq!(notice.kind(), InterruptionKind::SpotInterruption);
    assert_eq!(notice.event_id, format!("i-0abc:spot-interruption:{at}"));
    assert_eq!(notice.instance_id, "i-0abc");
    assert_eq!(notice.node_name, "ip-10-0-0-1");
    assert_eq!(
        notice.pool,
        Some(Pool {
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            instance_type: "m5.large".into(),
        })
    );
    assert_eq!(notice.action_at, Some(spot_proto::time::timestamp(at)));

    // IMDS keeps answering the same notice: it is not repeated.
    assert!(watcher.poll_once().await.unwrap().is_empty());
    assert!(watcher.poll_once().await.unwrap().is_empty());

    // A different time is a different notice.
    fake.set_spot(Some(r#"{"action":"stop","time":"2026-11-28T11:00:00Z"}"#));
    let notices = watcher.poll_once().await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0].action_at,
        Some(spot_proto::time::timestamp(millis("2026-11-28T11:00:00Z")))
    );
}

#[tokio::test]
async fn a_rebalance_recommendation_is_a_notice() {
    let (fake, base) = FakeImds::start().await;
    let mut watcher = ImdsWatcher::new(config(base), "n1");
    fake.set_rebalance(Some(REBALANCE));
    let notices = watcher.poll_once().await.unwrap();
    assert_eq!(notices.len(), 1);
    let at = millis("2026-11-28T09:58:00Z");
    assert_eq!(notices[0].kind(), InterruptionKind::RebalanceRecommendation);
    assert_eq!(
        notices[0].event_id,
        format!("i-0abc:rebalance-recommendation:{at}")
    );
    assert_eq!(notices[0].action_at, Some(spot_proto::time::timestamp(at)));
    assert!(watcher.poll_once().await.unwrap().is_empty());

    // Then the interruption itself: one more notice, of the other kind.
    fake.set_spot(Some(SPOT));
    let notices = watcher.poll_once().await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].kind(), InterruptionKind::SpotInterruption);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_on_401() {
    let (fake, base) = FakeImds::start().await;
    let mut watcher = ImdsWatcher::new(config(base), "n1");
    watcher.poll_once().await.unwrap();
    assert_eq!(fake.tokens_issued(), 1);

    fake.expire_token();
    fake.set_spot(Some(SPOT));
    let notices = watcher.poll_once().await.unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(fake.tokens_issued(), 2);
    let log = fake.log();
    let tail = &log[log.len() - 4..];
    assert_eq!(
        tail,
        [
            "GET /latest/meta-data/spot/instance-action token=token-1",
            "PUT /latest/api/token ttl=21600",
            "GET /latest/meta-data/spot/instance-action token=token-2",
            "GET /latest/meta-data/events/recommendations/rebalance token=token-2",
        ]
    );
}

#[tokio::test]
async fn malformed_answers_are_skipped() {
    let (fake, base) = FakeImds::start().await;
    let mut watcher = ImdsWatcher::new(config(base), "n1");
    fake.set_spot(Some("not json"));
    fake.set_rebalance(Some(r#"{"noticeTime":"soon"}"#));
    assert!(watcher.poll_once().await.unwrap().is_empty());
    fake.set_spot(Some(SPOT));
    assert_eq!(watcher.poll_once().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreachable_imds_is_an_error() {
    // Bind and drop a listener, so the port is (almost certainly) closed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut watcher = ImdsWatcher::new(config(format!("http://{address}")), "n1");
    let err = watcher.poll_once().await.unwrap_err();
    assert!(matches!(err, ImdsError::Request { .. }), "{err:?}");
}

#[tokio::test]
async fn spawned_watcher_sends_each_notice_once() {
    let (fake, base) = FakeImds::start().await;
    let (tx, mut rx) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let task = imds::spawn(config(base), "n1", tx, shutdown.clone());

    fake.set_spot(Some(SPOT));
    let notice = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.kind(), InterruptionKind::SpotInterruption);

    // Several more polls happen; none repeats the notice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err());
    let polls = fake
        .log()
        .iter()
        .filter(|line| line.contains("spot/instance-action"))
        .count();
    assert!(polls >= 3, "{polls}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
