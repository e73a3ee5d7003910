//! CORS for the configured origins.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// CORS for the configured origins, or none when no origin is configured (same-origin only).
/// Credentials are allowed, so a wildcard is never used; config validation refuses `*`.
pub fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(
                [
                    "content-type",
                    "authorization",
                    "x-grpc-web",
                    "x-user-agent",
                    "grpc-timeout",
                    "x-request-id",
                ]
                .map(HeaderName::from_static),
            )
            .expose_headers(
                ["grpc-status", "grpc-message", "grpc-status-details-bin"]
                    .map(HeaderName::from_static),
            )
            .max_age(Duration::from_secs(3600)),
    )
}
