//! Logs always; OTLP trace export only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; W3C trace context
//! continued by servers ([`TraceContextLayer`]) and injected by clients ([`inject_trace_context`]).

mod propagation;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use propagation::{TraceContextLayer, TraceContextService, inject_trace_context};

/// Keeps the exporter alive; dropping it flushes the spans still buffered.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("config `log`: `{0}` is not a valid log filter")]
    Filter(String),
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP exporter could not be built: {0}")]
    Exporter(String),
}

/// Installs the global subscriber. Call once, early in `main`, and keep the guard.
pub fn init(log_filter: &str, service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_new(log_filter)
        .map_err(|_| TelemetryError::Filter(log_filter.to_owned()))?;
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );

    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(otlp_provider(service_name)?),
        _ => None,
    };
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("spot"))
            .boxed()
    });

    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(std::io::stderr),
        )
        .with(otel_layer)
        .try_init();
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
