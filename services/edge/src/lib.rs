//! The edge: what a browser and an operator need in front of the gRPC services.
//! - grpc-web translation (tonic-web) and CORS for the configured origins ([`cors_layer`]);
//! - plain HTTP beside gRPC on the same port ([`EdgeLayer`]): the built web app with a
//!   single-page fallback and cache headers, `/healthz` and `/readyz`;
//! - the browser session's refresh token in an HttpOnly cookie ([`SessionCookieLayer`]);
//! - `POST /webhooks/aws-events` for an EventBridge API destination ([`aws_events`]) and
//!   `POST /webhooks/stripe` for Stripe's events ([`stripe_webhook`]);
//! - the admin port ([`serve_admin`]): `/metrics` (Prometheus), never on the public port;
//! - in the distributed mode, gRPC calls for services this process does not run are forwarded to
//!   their upstreams ([`Upstreams`]).

mod admin;
pub mod aws_events;
mod cors;
mod layer;
mod metrics;
mod session_cookie;
pub mod stripe_webhook;
mod unary;
mod upstream;
mod web;

pub use admin::serve_admin;
pub use cors::cors_layer;
pub use layer::{EdgeLayer, EdgeService, Readiness};
pub use metrics::Metrics;
pub use session_cookie::{REFRESH_COOKIE, SessionCookieLayer};
pub use tonic_web::GrpcWebLayer;
pub use upstream::Upstreams;
pub use web::WebApp;
