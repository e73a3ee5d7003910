//! `POST /webhooks/stripe`: Stripe's events. The edge reads the raw body (at most 256 KiB) and
//! hands it with the `Stripe-Signature` header to the billing service, which verifies the
//! signature before it parses anything and applies each event once. Stripe retries anything but
//! 2xx (with backoff, for up to three days), so: 200 for an event applied or seen before, 400 for
//! a bad signature or body, 413 for an oversized body, 503 while no webhook secret is set, other
//! 5xx only when the platform could not answer.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use spot_proto::billing::v1::{ReceiveStripeEventRequest, ReceiveStripeEventResponse};
use tonic::body::Body;
use tower::Service;

use crate::unary;
use crate::web::plain;

pub const PATH: &str = "/webhooks/stripe";
const GRPC_METHOD: &str = "/spot.billing.v1.StripeWebhookService/ReceiveStripeEvent";
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn is_intake(request: &Request<Body>) -> bool {
    request.method() == Method::POST && request.uri().path() == PATH
}

pub async fn intake<S>(inner: S, request: Request<Body>) -> Response<Bytes>
where
    S: Service<Request<Body>, Response = Response<Body>>,
{
    let (parts, body) = request.into_parts();
    let Some(signature_header) = parts
        .headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            "missing the Stripe-Signature header\n",
        );
    };
    let payload =
        match unary::read_body(body, MAX_BODY_BYTES, "the body is larger than 256 KiB").await {
            Ok(payload) => payload,
            Err((status, reason)) => return plain(status, format!("{reason}\n")),
        };
    let answer: Result<ReceiveStripeEventResponse, _> = unary::call(
        inner,
        GRPC_METHOD,
        &ReceiveStripeEventRequest {
            payload: payload.to_vec(),
            signature_header,
        },
        None,
        parts.extensions,
    )
    .await;
    match answer {
        Ok(answer) if answer.applied => {
            plain(StatusCode::OK, format!("applied {}\n", answer.event_id))
        }
        Ok(answer) => plain(
            StatusCode::OK,
            format!("already applied: {} arrived before\n", answer.event_id),
        ),
        Err((status, reason)) => plain(status, format!("{reason}\n")),
    }
}
