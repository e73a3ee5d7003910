//! The outermost layer: plain HTTP requests (GET and HEAD that are not gRPC) are the edge's own —
//! health, readiness, metrics and the web app — and so is EventBridge's POST of AWS events (taken
//! to the risk service's gRPC method, see [`crate::aws_events`]) and Stripe's webhook (to billing,
//! see [`crate::stripe_webhook`]); everything else (gRPC,
//! grpc-web, CORS preflight) goes on to the services, timed and counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::metrics::Metrics;
use crate::web::{WebApp, plain};

/// Whether the process can serve: its database and bus answer and it is not shutting down.
pub type Readiness = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Whether a `package.Service/Method` is one the platform serves (bounds the metric labels).
pub type KnownMethod = fn(&str) -> bool;

#[derive(Clone)]
pub struct EdgeLayer {
    web: Option<WebApp>,
    metrics: Metrics,
    ready: Readiness,
    known: KnownMethod,
}

impl EdgeLayer {
    pub fn new(
        web: Option<WebApp>,
        metrics: Metrics,
        ready: Readiness,
        known: KnownMethod,
    ) -> Self {
        Self {
            web,
            metrics,
            ready,
            known,
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            inner,
            edge: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct EdgeService<S> {
    inner: S,
    edge: EdgeLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for EdgeService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let edge = self.edge.clone();
        if is_plain_http(&request) {
            let path = request.uri().path().to_owned();
            let accept_encoding = request
                .headers()
                .get(http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Box::pin(async move {
                let response = edge.page(&path, &accept_encoding).await;
                Ok(response.map(|bytes| Body::new(http_body_util::Full::new(bytes))))
            });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if crate::aws_events::is_intake(&request) {
            return Box::pin(async move {
                edge.metrics.page("aws_events");
                let response = crate::aws_events::intake(inner, request).await;
                Ok(response.map(|bytes| Body::new(http_body_util::Full::new(bytes))))
            });
        }
        if crate::stripe_webhook::is_intake(&request) {
            return Box::pin(async move {
                edge.metrics.page("stripe_webhook");
                let response = crate::stripe_webhook::intake(inner, request).await;
                Ok(response.map(|bytes| Body::new(http_body_util::Full::new(bytes))))
            });
        }
        let method = request.uri().path().trim_start_matches('/');
        let method = if (edge.known)(method) {
            method.to_owned()
        } else {
            "unknown".to_owned()
        };
        Box::pin(async move {
            let started = Instant::now();
            edge.metrics.call_started();
            let response = inner.call(request).await?;
            let (parts, body) = response.into_parts();
            let code = header_code(&parts.headers, parts.status);
            let observed = Observed {
                inner: body,
                code,
                done: Some(Box::new(move |code: &str| {
                    edge.metrics.call_answered(&method, code, started.elapsed());
                })),
            };
            Ok(Response::from_parts(parts, Body::new(observed)))
        })
    }
}

fn is_plain_http(request: &Request<Body>) -> bool {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    !grpc
}

impl EdgeLayer {
    async fn page(&self, path: &str, accept_encoding: &str) -> Response<Bytes> {
        match path {
            "/healthz" => {
                self.metrics.page("health");
                plain(StatusCode::OK, "ok\n")
            }
            "/readyz" => {
                self.metrics.page("health");
                if (self.ready)().await {
                    plain(StatusCode::OK, "ready\n")
                } else {
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: the database or the bus does not answer, or shutdown began\n",
                    )
                }
            }
            _ => match &self.web {
                Some(web) => {
                    self.metrics.page("web");
                    web.respond(path, accept_encoding).await
                }
                None => {
                    self.metrics.page("not_found");
                    plain(
                        StatusCode::NOT_FOUND,
                        "not found (this server has no web app; see SPOT_WEB_DIR)\n",
                    )
                }
            },
        }
    }
}

/// The status when the headers carry it (errors and trailers-only answers; grpc-web puts it in
/// the body, so it stays unknown until the trailers).
fn header_code(headers: &HeaderMap, status: StatusCode) -> Option<String> {
    if let Some(code) = headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
        return Some(code_name(code));
    }
    (status != StatusCode::OK).then(|| format!("http_{}", status.as_u16()))
}

fn code_name(code: &str) -> String {
    let name = match code {
        "0" => "ok",
        "1" => "cancelled",
        "2" => "unknown",
        "3" => "invalid_argument",
        "4" => "deadline_exceeded",
        "5" => "not_found",
        "6" => "already_exists",
        "7" => "permission_denied",
        "8" => "resource_exhausted",
        "9" => "failed_precondition",
        "10" => "aborted",
        "11" => "out_of_range",
        "12" => "unimplemented",
        "13" => "internal",
        "14" => "unavailable",
        "15" => "data_loss",
        "16" => "unauthenticated",
        _ => "other",
    };
    name.to_owned()
}

type Done = Box<dyn FnOnce(&str) + Send>;

/// A response body that reports the call's status once: from its trailers, from the headers,
/// or "cancelled" when the caller went away first.
struct Observed {
    inner: Body,
    code: Option<String>,
    done: Option<Done>,
}

impl Observed {
    fn finish(&mut self, code: Option<&str>) {
        if let Some(done) = self.done.take() {
            let code = code
                .map(str::to_owned)
                .or_else(|| self.code.clone())
                .unwrap_or_else(|| "ok".to_owned());
            done(&code);
        }
    }
}

impl HttpBody for Observed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = trailers
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .map(code_name);
                    self.finish(code.as_deref());
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(Some("internal")),
            Poll::Ready(None) => self.finish(None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // A trailers-only answer (most errors) has an empty body the server never polls.
        if self.inner.is_end_stream() {
            self.finish(None);
        } else {
            self.finish(Some("cancelled"));
        }
    }
}
