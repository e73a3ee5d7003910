use std::time::Duration;

use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::auth::v1::{AuditEvent, RecordAuditEventsRequest};
use spot_proto::common::v1::{Actor, actor};
use tokio::sync::mpsc;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{InternalCredential, OutgoingInterceptor};

/// Records waiting to be sent; beyond this, new records are dropped (and an error is logged).
const QUEUE: usize = 10_000;
const BATCH: usize = 200;

/// What a handler adds to its response so the audit record names the target (and the tenant, for
/// calls that create one, such as sign-up).
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub tenant_id: Option<String>,
    pub target: String,
    /// Overrides the recorded result when the call answered OK but did not do what was asked
    /// (a change refused by safe mode or dry-run).
    pub result: Option<String>,
}

impl AuditNote {
    pub fn target(target: impl Into<String>) -> Self {
        Self {
            tenant_id: None,
            target: target.into(),
            result: None,
        }
    }

    /// The tenant the call acted on, for callers without one (internal services).
    pub fn in_tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Records the call as refused, with why.
    pub fn refused(mut self, reason: &str) -> Self {
        self.result = Some(format!("refused: {reason}"));
        self
    }

    /// Attaches the note to a response.
    pub fn attach<T>(self, mut response: tonic::Response<T>) -> tonic::Response<T> {
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub tenant_id: String,
    /// user, api_key, service or anonymous.
    pub actor_kind: &'static str,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    pub result: String,
    pub request_id: String,
    pub at_millis: i64,
}

impl AuditRecord {
    pub fn to_proto(&self) -> AuditEvent {
        let kind = match self.actor_kind {
            "user" => Some(actor::Kind::UserId(self.actor_id.clone())),
            "api_key" => Some(actor::Kind::ApiKeyId(self.actor_id.clone())),
            "service" => Some(actor::Kind::Service(self.actor_id.clone())),
            "policy" => Some(actor::Kind::PolicyId(self.actor_id.clone())),
            _ => None,
        };
        AuditEvent {
            id: String::new(),
            tenant_id: self.tenant_id.clone(),
            actor: Some(Actor { kind }),
            action: self.action.clone(),
            target: self.target.clone(),
            result: self.result.clone(),
            request_id: self.request_id.clone(),
            at: Some(spot_proto::time::timestamp(self.at_millis)),
        }
    }
}

/// Sends audit records to the auth service in the background, in batches, retrying while it is
/// unreachable, so recording never slows or fails the call being recorded.
#[derive(Clone)]
pub struct AuditSink {
    queue: mpsc::Sender<AuditRecord>,
}

impl AuditSink {
    /// Starts the sender task; `auth_channel` reaches the auth service.
    pub fn start(credential: InternalCredential, auth_channel: Channel) -> Self {
        let (queue, mut records) = mpsc::channel::<AuditRecord>(QUEUE);
        let mut client = AuditServiceClient::new(InterceptedService::new(
            auth_channel,
            OutgoingInterceptor::new(credential),
        ));
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while records.recv_many(&mut batch, BATCH).await > 0 {
                let request = RecordAuditEventsRequest {
                    events: batch.iter().map(AuditRecord::to_proto).collect(),
                };
                let mut delay = Duration::from_millis(100);
                while let Err(status) = client.record_audit_events(request.clone()).await {
                    tracing::warn!(%status, records = batch.len(), "audit records not stored yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                batch.clear();
            }
        });
        Self { queue }
    }

    pub fn record(&self, record: AuditRecord) {
        if let Err(error) = self.queue.try_send(record) {
            tracing::error!(%error, "audit queue full: an audit record was dropped");
        }
    }
}
