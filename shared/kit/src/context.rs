use std::sync::Arc;

use spot_bus::SharedBus;
use spot_config::{Config, ServiceName};
use spot_db::Database;
use tokio_util::sync::CancellationToken;

use crate::ServiceClients;

/// Everything a service needs from the process it runs in. Cheap to clone.
#[derive(Clone)]
pub struct ServiceContext {
    pub config: Arc<Config>,
    pub db: Database,
    pub bus: SharedBus,
    /// gRPC clients of every service, local or remote: services talk to each other only through these.
    pub clients: ServiceClients,
    /// Cancelled when the process begins to shut down; long-lived streams end when it fires.
    pub shutdown: CancellationToken,
    /// Seals the secrets services keep in the database (see [`crate::sealing`]).
    pub master_key: crate::sealing::SharedKey,
    /// Outbound email (in the embedded default, written to the log).
    pub mailer: crate::mail::Mailer,
}

impl ServiceContext {
    /// The context one service runs with: its calls to the other services carry its own name.
    pub fn for_service(&self, service: ServiceName) -> Self {
        Self {
            clients: self.clients.as_service(service),
            ..self.clone()
        }
    }
}
