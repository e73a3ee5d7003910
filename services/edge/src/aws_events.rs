//! `POST /webhooks/aws-events`: what an EventBridge API destination sends (one event's JSON as
//! the body, the connection's API key as `Authorization: Bearer <key>`). The edge hands it to the
//! same gRPC method a client calls, `RiskService/IngestEventBridgeEvent`, through the services
//! behind it, so access, tenancy and validation are that method's own; the answer is its status
//! as HTTP (EventBridge retries only 429 and 5xx, so a refused event is not sent again).

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use spot_proto::risk::v1::{IngestEventBridgeEventRequest, IngestEventBridgeEventResponse};
use tonic::body::Body;
use tower::Service;

use crate::unary;
use crate::web::plain;

pub const PATH: &str = "/webhooks/aws-events";
const GRPC_METHOD: &str = "/spot.risk.v1.RiskService/IngestEventBridgeEvent";
/// EventBridge's largest event.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn is_intake(request: &Request<Body>) -> bool {
    request.method() == Method::POST && request.uri().path() == PATH
}

/// The event through the gRPC method; its outcome as an HTTP answer.
pub async fn intake<S>(inner: S, request: Request<Body>) -> Response<Bytes>
where
    S: Service<Request<Body>, Response = Response<Body>>,
{
    let (parts, body) = request.into_parts();
    let Some(key) = parts.headers.get(header::AUTHORIZATION).cloned() else {
        return plain(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer <API key>`: set it on the API destination's connection (API key authorization)\n",
        );
    };
    let body = match unary::read_body(
        body,
        MAX_BODY_BYTES,
        "the event is larger than EventBridge's 256 KiB",
    )
    .await
    {
        Ok(body) => body,
        Err((status, reason)) => return plain(status, format!("{reason}\n")),
    };
    let Ok(event_json) = String::from_utf8(body.to_vec()) else {
        return plain(StatusCode::BAD_REQUEST, "the body is not UTF-8 JSON\n");
    };
    let answer: Result<IngestEventBridgeEventResponse, _> = unary::call(
        inner,
        GRPC_METHOD,
        &IngestEventBridgeEventRequest { event_json },
        Some(key),
        parts.extensions,
    )
    .await;
    match answer {
        Ok(answer) if answer.accepted => plain(StatusCode::OK, "accepted\n"),
        Ok(_) => plain(
            StatusCode::OK,
            "already handled: an event with this id arrived before\n",
        ),
        Err((status, reason)) => plain(status, format!("{reason}\n")),
    }
}
