//! Costly work bounded per tenant: how many calls of one tenant this process serves at once,
//! and how many of its server streams (`WatchCluster`, `WatchPlan`, ...) are open. A tenant
//! over either limit is answered RESOURCE_EXHAUSTED at once, naming the limit, instead of
//! queueing work that grows without bound and slows every other tenant down.
//!
//! Counted in the access layer, once the caller is known, for users and automation keys. Agent
//! sessions are not counted here: there is one per cluster, and clusters have their own quota.
//! Platform services and public calls (sign-up, login) have no tenant; the latter are limited
//! per client address instead. The counts are per process: with N replicas a tenant may have N
//! times the limit in flight, which still bounds what each replica holds.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use prost::Message;
use tonic::body::Body;

use crate::{ApiKeyScope, Caller};

/// The limits in force (`limits.concurrent_requests_per_tenant`,
/// `limits.concurrent_streams_per_tenant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantLimits {
    pub requests: u64,
    pub streams: u64,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    streams: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Stream,
}

#[derive(Clone)]
pub struct TenantLoad {
    limits: TenantLimits,
    counts: Arc<Mutex<HashMap<String, Counts>>>,
    /// `package.Service/Method` of every RPC whose response is a stream, from the contracts.
    streaming: Arc<HashSet<String>>,
}

/// One admitted call (or open stream); dropping it frees its place.
pub struct Permit {
    load: TenantLoad,
    tenant: String,
    kind: Kind,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.load.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.tenant) {
            match self.kind {
                Kind::Request => count.requests = count.requests.saturating_sub(1),
                Kind::Stream => count.streams = count.streams.saturating_sub(1),
            }
            if count.requests == 0 && count.streams == 0 {
                counts.remove(&self.tenant);
            }
        }
    }
}

fn streaming_methods() -> HashSet<String> {
    let Ok(set) = prost_types::FileDescriptorSet::decode(spot_proto::FILE_DESCRIPTOR_SET) else {
        return HashSet::new();
    };
    let mut methods = HashSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                if method.server_streaming() {
                    methods.insert(format!(
                        "{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    methods
}

impl TenantLoad {
    pub fn new(limits: TenantLimits) -> Self {
        Self {
            limits,
            counts: Arc::default(),
            streaming: Arc::new(streaming_methods()),
        }
    }

    /// Takes a place for the call, or refuses it when the caller's tenant is at its limit.
    /// `None` for callers that are not counted.
    pub fn admit(&self, caller: &Caller, method: &str) -> Result<Option<Permit>, tonic::Status> {
        let tenant = match caller {
            Caller::User { tenant_id, .. } => tenant_id,
            Caller::ApiKey {
                scope: ApiKeyScope::Agent { .. },
                ..
            } => return Ok(None),
            Caller::ApiKey { tenant_id, .. } => tenant_id,
            Caller::Anonymous | Caller::Service { .. } => return Ok(None),
        };
        let kind = if self.streaming.contains(method) {
            Kind::Stream
        } else {
            Kind::Request
        };
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(tenant.clone()).or_default();
        let (held, limit, what, setting) = match kind {
            Kind::Request => (
                &mut count.requests,
                self.limits.requests,
                "concurrent requests",
                "concurrent_requests_per_tenant",
            ),
            Kind::Stream => (
                &mut count.streams,
                self.limits.streams,
                "open streams",
                "concurrent_streams_per_tenant",
            ),
        };
        if *held >= limit {
            return Err(tonic::Status::resource_exhausted(format!(
                "too many {what} for this tenant (at most {limit}, limits.{setting}); \
                 close some or try again shortly"
            )));
        }
        *held += 1;
        Ok(Some(Permit {
            load: self.clone(),
            tenant: tenant.clone(),
            kind,
        }))
    }
}

/// Holds `permit` for as long as the response body is open: a stream keeps its place until it
/// ends, a unary answer until it is written.
pub(crate) fn hold(body: Body, permit: Option<Permit>) -> Body {
    match permit {
        Some(permit) => Body::new(Holding {
            inner: body,
            _permit: permit,
        }),
        None => body,
    }
}

struct Holding {
    inner: Body,
    _permit: Permit,
}

impl HttpBody for Holding {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn user(tenant: &str) -> Caller {
        Caller::User {
            user_id: "u".into(),
            tenant_id: tenant.into(),
            role: Role::Owner,
            platform_admin: false,
        }
    }

    #[test]
    fn each_tenant_has_its_own_places_and_a_dropped_permit_frees_one() {
        let load = TenantLoad::new(TenantLimits {
            requests: 2,
            streams: 1,
        });
        let me = "spot.auth.v1.AuthService/Me";
        let watch = "spot.cluster.v1.ClusterService/WatchCluster";
        let first = load.admit(&user("a"), me).unwrap();
        let _second = load.admit(&user("a"), me).unwrap();
        let refused = load.admit(&user("a"), me).err().unwrap();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("concurrent_requests_per_tenant"));
        // Streams count apart from requests, and another tenant is not held back.
        let _stream = load.admit(&user("a"), watch).unwrap();
        assert!(load.admit(&user("a"), watch).is_err());
        assert!(load.admit(&user("b"), me).unwrap().is_some());
        drop(first);
        assert!(load.admit(&user("a"), me).is_ok());
        assert!(load.admit(&Caller::Anonymous, me).unwrap().is_none());
    }
}
