//! The admin port: `/metrics` (and the health pages, for probes that use it) on an address of
//! its own (`admin_listen`, loopback by default), so what the platform calls and how it performs
//! is never published on the public port.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::Readiness;
use crate::metrics::Metrics;
use crate::web::plain;

/// Serves the admin pages on `listener` until `shutdown` resolves.
pub async fn serve_admin(
    listener: TcpListener,
    metrics: Metrics,
    ready: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "admin port: accept failed");
                    continue;
                }
            },
        };
        let (metrics, ready) = (metrics.clone(), ready.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (metrics, ready) = (metrics.clone(), ready.clone());
                async move { Ok::<_, Infallible>(page(request.uri().path(), &metrics, &ready).await) }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "admin port: connection ended");
            }
        });
    }
}

async fn page(path: &str, metrics: &Metrics, ready: &Readiness) -> Response<Full<Bytes>> {
    let response = match path {
        "/metrics" => {
            metrics.page("metrics");
            let mut response = Response::new(Bytes::from(metrics.render()));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        "/readyz" if ready().await => plain(StatusCode::OK, "ready\n"),
        "/readyz" => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found (the admin port serves /metrics, /healthz and /readyz)\n",
        ),
    };
    response.map(Full::new)
}
