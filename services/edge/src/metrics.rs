//! Prometheus metrics for `/metrics`: calls per gRPC method and how long they took to answer.
//!
//! Labels are bounded: a method is named only when it is one the platform serves (the caller
//! passes that check in), so a scanner cannot grow the series without bound.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: String,
    /// The gRPC status when it is known from the response headers (errors and trailers-only
    /// answers); "streamed" when the status comes later in trailers.
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PageLabels {
    kind: String,
}

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    in_flight: Gauge,
    pages: Family<PageLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("spot");
        let calls = Family::<CallLabels, Counter>::default();
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            // 1 ms .. 16 s
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 16.0,
            ])
        });
        let in_flight = Gauge::default();
        let pages = Family::<PageLabels, Counter>::default();
        registry.register(
            "grpc_calls",
            "gRPC and grpc-web calls answered, by method and status",
            calls.clone(),
        );
        registry.register(
            "grpc_call_seconds",
            "Time until a call's response headers (a stream's start), by method",
            latency.clone(),
        );
        registry.register(
            "grpc_calls_in_flight",
            "Calls in progress, open streams included",
            in_flight.clone(),
        );
        registry.register(
            "http_requests",
            "Plain HTTP requests by kind (web, health, metrics, not_found)",
            pages.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                calls,
                latency,
                in_flight,
                pages,
            }),
        }
    }

    pub(crate) fn call_started(&self) {
        self.inner.in_flight.inc();
    }

    pub(crate) fn call_answered(&self, method: &str, code: &str, elapsed: Duration) {
        self.inner.in_flight.dec();
        self.inner
            .calls
            .get_or_create(&CallLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.inner
            .latency
            .get_or_create(&MethodLabels {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn page(&self, kind: &str) {
        self.inner
            .pages
            .get_or_create(&PageLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_method_and_code_with_their_latency() {
        let metrics = Metrics::new();
        metrics.call_started();
        metrics.call_answered(
            "spot.auth.v1.AuthService/Login",
            "ok",
            Duration::from_millis(3),
        );
        metrics.call_started();
        metrics.page("health");
        let text = metrics.render();
        assert!(
            text.contains(
                r#"spot_grpc_calls_total{method="spot.auth.v1.AuthService/Login",code="ok"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"spot_grpc_call_seconds_bucket{le="0.005",method="spot.auth.v1.AuthService/Login"} 1"#) 
            || text.contains(r#"spot_grpc_call_seconds_bucket{method="spot.auth.v1.AuthService/Login",le="0.005"} 1"#), "{text}");
        assert!(text.contains("spot_grpc_calls_in_flight 1"), "{text}");
        assert!(
            text.contains(r#"spot_http_requests_total{kind="health"} 1"#),
            "{text}"
        );
    }
}
