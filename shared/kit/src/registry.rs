use std::convert::Infallible;

use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;

/// The gRPC services one process mounts, with their names for health and reflection.
#[derive(Default)]
pub struct ServiceRegistry {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
}

impl ServiceRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Full gRPC names (`spot.cluster.v1.ClusterService`) of everything added so far.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub fn into_parts(self) -> (RoutesBuilder, Vec<&'static str>) {
        (self.routes, self.names)
    }
}
