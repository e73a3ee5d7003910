use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use spot_config::{Config, ConfigError, ServiceName};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Adds what every call between services carries: the W3C trace context.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutgoingInterceptor;

impl Interceptor for OutgoingInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        spot_telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

pub type OutgoingChannel = InterceptedService<Channel, OutgoingInterceptor>;

/// One lazily connected channel per service: this process's own port for the services it runs,
/// the configured `SPOT_<SERVICE>_URL` for the others. Connections are made on first use.
#[derive(Clone)]
pub struct ServiceClients {
    channels: Arc<BTreeMap<ServiceName, Channel>>,
}

impl ServiceClients {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let mut channels = BTreeMap::new();
        for service in ServiceName::ALL {
            let Some(url) = config.url_of(service) else {
                continue;
            };
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| {
                    ConfigError::new(service.url_env_var(), format!("`{url}` is not usable: {e}"))
                })?
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(30))
                .tcp_nodelay(true);
            channels.insert(service, endpoint.connect_lazy());
        }
        Ok(Self {
            channels: Arc::new(channels),
        })
    }

    /// The channel to `service`, with the outgoing interceptor applied. Wrap it in a generated client.
    pub fn channel(&self, service: ServiceName) -> Option<OutgoingChannel> {
        self.channels
            .get(&service)
            .map(|channel| InterceptedService::new(channel.clone(), OutgoingInterceptor))
    }
}
