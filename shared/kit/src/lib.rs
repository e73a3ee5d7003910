//! What every service is built from: the shared context (config, database, bus, clients of the
//! other services, shutdown signal) and the registry the `spot` binary mounts services from.

mod clients;
pub mod clusters;
mod context;
pub mod cron;
pub mod hibernation;
pub mod kube_terms;
pub mod mail;
pub mod page;
pub mod policy_terms;
mod registry;
pub mod retention;
pub mod risk_flags;
pub mod sealing;
mod singleton;
pub mod steps;
pub mod topics;

pub use clients::{OutgoingChannel, ServiceClients};
pub use context::ServiceContext;
pub use registry::ServiceRegistry;
pub use singleton::singleton;
pub use spot_access::OutgoingInterceptor;
