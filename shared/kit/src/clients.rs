use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_config::{Config, ConfigError, ServiceName};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub type OutgoingChannel = InterceptedService<Channel, OutgoingInterceptor>;

/// One lazily connected channel per service: this process's own port for the services it runs,
/// the configured `SPOT_<SERVICE>_URL` for the others. Every call carries this process's internal
/// credential and the trace context. Connections are made on first use.
#[derive(Clone)]
pub struct ServiceClients {
    channels: Arc<BTreeMap<ServiceName, Channel>>,
    credential: InternalCredential,
}

impl ServiceClients {
    pub fn new(config: &Config, credential: InternalCredential) -> Result<Self, ConfigError> {
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
            credential,
        })
    }

    /// The channel to `service`, carrying the internal credential. Wrap it in a generated client.
    pub fn channel(&self, service: ServiceName) -> Option<OutgoingChannel> {
        self.raw_channel(service).map(|channel| {
            InterceptedService::new(channel, OutgoingInterceptor::new(self.credential.clone()))
        })
    }

    /// The bare channel, for components that add their own interceptor.
    pub fn raw_channel(&self, service: ServiceName) -> Option<Channel> {
        self.channels.get(&service).cloned()
    }

    /// The same channels, calling in `service`'s own name.
    pub fn as_service(&self, service: ServiceName) -> Self {
        Self {
            channels: self.channels.clone(),
            credential: self.credential.renamed(service.as_str()),
        }
    }

    pub fn credential(&self) -> &InternalCredential {
        &self.credential
    }
}
