use spot_bus::BusError;
use spot_config::ConfigError;
use spot_db::DbError;

/// Why the process could not start; each is one line naming the setting or dependency at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Telemetry(#[from] spot_telemetry::TelemetryError),
    #[error("listen: cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Service(String),
    #[error("server failed: {0}")]
    Serve(String),
}
