//! An IMDSv2 watcher for spot interruption notices and rebalance recommendations.
//!
//! It takes a session token (`PUT /latest/api/token`), reads the instance's identity once
//! (instance id, availability zone, instance type, region), then every few seconds polls
//! `/latest/meta-data/spot/instance-action` and `/latest/meta-data/events/recommendations/rebalance`
//! (404 means nothing announced). Each new notice, deduplicated by a stable event id, becomes an
//! [`InterruptionNotice`] on an mpsc channel. A 401 means the token expired: it is refreshed and
//! the request repeated once.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice};
use spot_proto::common::v1::Pool;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const DEFAULT_BASE_URL: &str = "http://169.254.169.254";
pub const TOKEN_PATH: &str = "/latest/api/token";
pub const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
pub const SPOT_ACTION_PATH: &str = "/latest/meta-data/spot/instance-action";
pub const REBALANCE_PATH: &str = "/latest/meta-data/events/recommendations/rebalance";
pub const INSTANCE_ID_PATH: &str = "/latest/meta-data/instance-id";
pub const ZONE_PATH: &str = "/latest/meta-data/placement/availability-zone";
pub const REGION_PATH: &str = "/latest/meta-data/placement/region";
pub const INSTANCE_TYPE_PATH: &str = "/latest/meta-data/instance-type";

/// Refresh the token this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Responses larger than this are refused (IMDS answers are tiny).
const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsConfig {
    /// Scheme and authority, without a trailing slash.
    pub base_url: String,
    pub poll_interval: Duration,
    pub token_ttl_seconds: u32,
    pub request_timeout: Duration,
}

impl Default for ImdsConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            poll_interval: Duration::from_secs(5),
            token_ttl_seconds: 21_600,
            request_timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("invalid IMDS URL {0}")]
    Url(String),
    #[error("IMDS request to {path} failed: {message}")]
    Request { path: String, message: String },
    #[error("IMDS request to {path} timed out")]
    Timeout { path: String },
    #[error("IMDS answered {status} to {method} {path}")]
    Status {
        method: String,
        path: String,
        status: u16,
    },
    #[error("IMDS answered {path} with something unreadable: {message}")]
    Invalid { path: String, message: String },
}

/// Who this instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceIdentity {
    pub instance_id: String,
    pub zone: String,
    pub region: String,
    pub instance_type: String,
}

/// The body of `spot/instance-action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpotInstanceAction {
    /// terminate, stop or hibernate.
    pub action: String,
    /// RFC 3339, when the action happens.
    pub time: String,
}

/// The body of `events/recommendations/rebalance`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebalanceRecommendation {
    /// RFC 3339, when the recommendation was issued.
    pub notice_time: String,
}

/// A minimal IMDSv2 client.
pub struct ImdsClient {
    http: Client<HttpConnector, Full<Bytes>>,
    config: ImdsConfig,
    token: Mutex<Option<(String, Instant)>>,
}

impl ImdsClient {
    pub fn new(config: ImdsConfig) -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            config,
            token: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &ImdsConfig {
        &self.config
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        header: (&str, &str),
    ) -> Result<(StatusCode, Bytes), ImdsError> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let uri: Uri = url.parse().map_err(|_| ImdsError::Url(url.clone()))?;
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header.0, header.1)
            .body(Full::new(Bytes::new()))
            .map_err(|err| ImdsError::Request {
                path: path.to_owned(),
                message: err.to_string(),
            })?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| ImdsError::Request {
                    path: path.to_owned(),
                    message: err.to_string(),
                })?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|err| ImdsError::Request {
                    path: path.to_owned(),
                    message: err.to_string(),
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.config.request_timeout, exchange)
            .await
            .map_err(|_| ImdsError::Timeout {
                path: path.to_owned(),
            })?
    }

    /// A valid session token, fetched when there is none or it is about to expire.
    async fn token(&self) -> Result<String, ImdsError> {
        let mut cached = self.token.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() < *expires
        {
            return Ok(token.clone());
        }
        let ttl = self.config.token_ttl_seconds.to_string();
        let (status, body) = self
            .send(Method::PUT, TOKEN_PATH, (TOKEN_TTL_HEADER, &ttl))
            .await?;
        if status != StatusCode::OK {
            return Err(ImdsError::Status {
                method: "PUT".into(),
                path: TOKEN_PATH.into(),
                status: status.as_u16(),
            });
        }
        let token = String::from_utf8(body.to_vec())
            .map_err(|err| ImdsError::Invalid {
                path: TOKEN_PATH.into(),
                message: err.to_string(),
            })?
            .trim()
            .to_owned();
        let lifetime = Duration::from_secs(u64::from(self.config.token_ttl_seconds))
            .saturating_sub(TOKEN_MARGIN)
            .max(Duration::from_secs(1));
        *cached = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    async fn forget_token(&self, stale: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|(token, _)| token == stale) {
            *cached = None;
        }
    }

    /// GETs a metadata path: `Ok(None)` on 404. A 401 refreshes the token and retries once.
    pub async fn get(&self, path: &str) -> Result<Option<String>, ImdsError> {
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let (status, body) = self.send(Method::GET, path, (TOKEN_HEADER, &token)).await?;
            match status {
                StatusCode::OK => {
                    return String::from_utf8(body.to_vec()).map(Some).map_err(|err| {
                        ImdsError::Invalid {
                            path: path.to_owned(),
                            message: err.to_string(),
                        }
                    });
                }
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    tracing::debug!(path, "IMDS token refused; refreshing it");
                    self.forget_token(&token).await;
                    refreshed = true;
                }
                status => {
                    return Err(ImdsError::Status {
                        method: "GET".into(),
                        path: path.to_owned(),
                        status: status.as_u16(),
                    });
                }
            }
        }
    }

    async fn get_required(&self, path: &str) -> Result<String, ImdsError> {
        match self.get(path).await? {
            Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
            _ => Err(ImdsError::Status {
                method: "GET".into(),
                path: path.to_owned(),
                status: 404,
            }),
        }
    }

    pub async fn identity(&self) -> Result<InstanceIdentity, ImdsError> {
        let instance_id = self.get_required(INSTANCE_ID_PATH).await?;
        let zone = self.get_required(ZONE_PATH).await?;
        let instance_type = self.get_required(INSTANCE_TYPE_PATH).await?;
        let region = match self.get(REGION_PATH).await {
            Ok(Some(region)) if !region.trim().is_empty() => region.trim().to_owned(),
            _ => region_of_zone(&zone),
        };
        Ok(InstanceIdentity {
            instance_id,
            zone,
            region,
            instance_type,
        })
    }

    fn parse<T: for<'de> Deserialize<'de>>(path: &str, body: &str) -> Result<T, ImdsError> {
        serde_json::from_str(body).map_err(|err| ImdsError::Invalid {
            path: path.to_owned(),
            message: err.to_string(),
        })
    }

    pub async fn spot_action(&self) -> Result<Option<SpotInstanceAction>, ImdsError> {
        match self.get(SPOT_ACTION_PATH).await? {
            Some(body) => Self::parse(SPOT_ACTION_PATH, &body).map(Some),
            None => Ok(None),
        }
    }

    pub async fn rebalance(&self) -> Result<Option<RebalanceRecommendation>, ImdsError> {
        match self.get(REBALANCE_PATH).await? {
            Some(body) => Self::parse(REBALANCE_PATH, &body).map(Some),
            None => Ok(None),
        }
    }
}

/// "us-east-1a" -> "us-east-1"; "us-west-2-lax-1a" -> "us-west-2-lax-1" is wrong for local
/// zones, which is why the region is read from IMDS first.
fn region_of_zone(zone: &str) -> String {
    zone.trim_end_matches(|c: char| c.is_ascii_lowercase())
        .to_owned()
}

fn parse_time(path: &str, time: &str) -> Result<i64, ImdsError> {
    chrono::DateTime::parse_from_rfc3339(time.trim())
        .map(|time| time.timestamp_millis())
        .map_err(|err| ImdsError::Invalid {
            path: path.to_owned(),
            message: format!("time {time:?}: {err}"),
        })
}

/// The id a notice keeps however often it is read: instance, kind and time.
pub fn event_id(instance_id: &str, kind: InterruptionKind, at_millis: i64) -> String {
    let kind = match kind {
        InterruptionKind::SpotInterruption => "spot-interruption",
        InterruptionKind::RebalanceRecommendation => "rebalance-recommendation",
        InterruptionKind::Unspecified => "unspecified",
    };
    format!("{instance_id}:{kind}:{at_millis}")
}

/// Polls IMDS and turns new notices into [`InterruptionNotice`]s.
pub struct ImdsWatcher {
    client: ImdsClient,
    node_name: String,
    identity: Option<InstanceIdentity>,
    seen: HashSet<String>,
}

impl ImdsWatcher {
    /// `node_name` is the Kubernetes node this agent runs on, copied into every notice.
    pub fn new(config: ImdsConfig, node_name: impl Into<String>) -> Self {
        Self {
            client: ImdsClient::new(config),
            node_name: node_name.into(),
            identity: None,
            seen: HashSet::new(),
        }
    }

    pub fn client(&self) -> &ImdsClient {
        &self.client
    }

    /// The identity, read once and then remembered.
    pub async fn identity(&mut self) -> Result<InstanceIdentity, ImdsError> {
        if let Some(identity) = &self.identity {
            return Ok(identity.clone());
        }
        let identity = self.client.identity().await?;
        tracing::info!(
            instance_id = %identity.instance_id,
            zone = %identity.zone,
            instance_type = %identity.instance_type,
            "read the instance identity from IMDS"
        );
        self.identity = Some(identity.clone());
        Ok(identity)
    }

    fn notice(
        &mut self,
        identity: &InstanceIdentity,
        kind: InterruptionKind,
        at_millis: i64,
    ) -> Option<InterruptionNotice> {
        let event_id = event_id(&identity.instance_id, kind, at_millis);
        if !self.seen.insert(event_id.clone()) {
            return None;
        }
        Some(InterruptionNotice {
            event_id,
            kind: kind.into(),
            instance_id: identity.instance_id.clone(),
            node_name: self.node_name.clone(),
            pool: Some(Pool {
                region: identity.region.clone(),
                zone: identity.zone.clone(),
                instance_type: identity.instance_type.clone(),
            }),
            action_at: Some(spot_proto::time::timestamp(at_millis)),
        })
    }

    /// One poll: the notices not seen before. A malformed answer on one path is logged and
    /// does not hide a notice on the other.
    pub async fn poll_once(&mut self) -> Result<Vec<InterruptionNotice>, ImdsError> {
        let identity = self.identity().await?;
        let mut notices = Vec::new();

        match self.client.spot_action().await {
            Ok(Some(action)) => match parse_time(SPOT_ACTION_PATH, &action.time) {
                Ok(at) => {
                    if let Some(notice) =
                        self.notice(&identity, InterruptionKind::SpotInterruption, at)
                    {
                        tracing::warn!(action = %action.action, time = %action.time, "spot interruption notice");
                        notices.push(notice);
                    }
                }
                Err(err) => tracing::warn!(%err, "ignoring a malformed spot instance action"),
            },
            Ok(None) => {}
            Err(err @ ImdsError::Invalid { .. }) => {
                tracing::warn!(%err, "ignoring a malformed spot instance action");
            }
            Err(err) => return Err(err),
        }

        match self.client.rebalance().await {
            Ok(Some(recommendation)) => {
                match parse_time(REBALANCE_PATH, &recommendation.notice_time) {
                    Ok(at) => {
                        if let Some(notice) =
                            self.notice(&identity, InterruptionKind::RebalanceRecommendation, at)
                        {
                            tracing::info!(notice_time = %recommendation.notice_time, "rebalance recommendation");
                            notices.push(notice);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "ignoring a malformed rebalance recommendation")
                    }
                }
            }
            Ok(None) => {}
            Err(err @ ImdsError::Invalid { .. }) => {
                tracing::warn!(%err, "ignoring a malformed rebalance recommendation");
            }
            Err(err) => return Err(err),
        }
        Ok(notices)
    }

    /// Polls until `shutdown` is cancelled or the receiver is dropped.
    pub async fn run(
        mut self,
        notices: mpsc::Sender<InterruptionNotice>,
        shutdown: CancellationToken,
    ) {
        let interval = self.client.config.poll_interval;
        loop {
            let polled = tokio::select! {
                () = shutdown.cancelled() => return,
                polled = self.poll_once() => polled,
            };
            match polled {
                Ok(found) => {
                    for notice in found {
                        if notices.send(notice).await.is_err() {
                            return;
                        }
                    }
                }
                Err(err) => tracing::warn!(%err, "polling IMDS failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Starts an [`ImdsWatcher`] on the current runtime.
pub fn spawn(
    config: ImdsConfig,
    node_name: impl Into<String>,
    notices: mpsc::Sender<InterruptionNotice>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let watcher = ImdsWatcher::new(config, node_name);
    tokio::spawn(watcher.run(notices, shutdown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_zones() {
        assert_eq!(region_of_zone("us-east-1a"), "us-east-1");
        assert_eq!(region_of_zone("eu-central-1c"), "eu-central-1");
    }

    #[test]
    fn event_ids_are_stable() {
        let at = parse_time("p", "2026-11-28T10:00:00Z").unwrap();
        assert_eq!(at, parse_time("p", "2026-11-28T10:00:00+00:00").unwrap());
        assert_eq!(
            event_id("i-0abc", InterruptionKind::SpotInterruption, at),
            format!("i-0abc:spot-interruption:{at}")
        );
        assert_ne!(
            event_id("i-0abc", InterruptionKind::SpotInterruption, at),
            event_id("i-0abc", InterruptionKind::RebalanceRecommendation, at)
        );
        assert!(parse_time("p", "tomorrow").is_err());
    }
}
