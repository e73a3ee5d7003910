//! The distributed mode: a gRPC call for a service this process does not run goes to the process
//! that does. The upstream checks the caller itself (its own access layer), so the edge only
//! translates (grpc-web, CORS) and forwards.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use spot_config::ServiceName;
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{Layer, Service, ServiceExt};

/// Which platform service answers a `package.Service/Method`, from its proto package.
pub fn service_of(method: &str) -> Option<ServiceName> {
    let package = method.trim_start_matches('/').strip_prefix("spot.")?;
    let name = package.split('.').next()?;
    match name {
        "auth" => Some(ServiceName::Auth),
        "cluster" | "agent" => Some(ServiceName::Cluster),
        "policy" => Some(ServiceName::Policy),
        "billing" => Some(ServiceName::Billing),
        "risk" => Some(ServiceName::Risk),
        "optimizer" => Some(ServiceName::Optimizer),
        _ => None,
    }
}

/// Channels to the services other processes run (empty in the all-in-one process).
#[derive(Clone, Default)]
pub struct Upstreams {
    channels: HashMap<ServiceName, Channel>,
}

impl Upstreams {
    pub fn new(channels: HashMap<ServiceName, Channel>) -> Self {
        Self { channels }
    }

    fn for_path(&self, path: &str) -> Option<Channel> {
        self.channels.get(&service_of(path)?).cloned()
    }
}

impl<S> Layer<S> for Upstreams {
    type Service = Forward<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Forward {
            inner,
            upstreams: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Forward<S> {
    inner: S,
    upstreams: Upstreams,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for Forward<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(channel) = self.upstreams.for_path(request.uri().path()) {
            return Box::pin(async move {
                Ok(channel.oneshot(request).await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "upstream unreachable");
                    tonic::Status::unavailable(format!("upstream unreachable: {error}")).into_http()
                }))
            });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_package_belongs_to_the_service_that_runs_it() {
        assert_eq!(
            service_of("/spot.agent.v1.AgentService/Session"),
            Some(ServiceName::Cluster)
        );
        assert_eq!(
            service_of("/spot.optimizer.v1.DashboardService/GetKpis"),
            Some(ServiceName::Optimizer)
        );
        assert_eq!(
            service_of("/spot.auth.v1.AdminService/SetSafeMode"),
            Some(ServiceName::Auth)
        );
        assert_eq!(service_of("/grpc.health.v1.Health/Check"), None);
        assert_eq!(service_of("/spot.unknown.v1.X/Y"), None);
    }
}
