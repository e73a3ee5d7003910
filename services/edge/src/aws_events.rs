//! `POST /webhooks/aws-events`: what an EventBridge API destination sends (one event's JSON as
//! the body, the connection's API key as `Authorization: Bearer <key>`). The edge hands it to the
//! same gRPC method a client calls, `RiskService/IngestEventBridgeEvent`, through the services
//! behind it, so access, tenancy and validation are that method's own; the answer is its status
//! as HTTP (EventBridge retries only 429 and 5xx, so a refused event is not sent again).

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use prost::Message;
use spot_proto::risk::v1::{IngestEventBridgeEventRequest, IngestEventBridgeEventResponse};
use tonic::body::Body;
use tower::{Service, ServiceExt};

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
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the event is larger than EventBridge's 256 KiB\n",
            );
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "the body could not be read\n"),
    };
    let Ok(event_json) = String::from_utf8(body.to_vec()) else {
        return plain(StatusCode::BAD_REQUEST, "the body is not UTF-8 JSON\n");
    };
    let mut call = grpc_request(key, &IngestEventBridgeEventRequest { event_json });
    // The connection's details (the caller's address) go with it, as with any call.
    *call.extensions_mut() = parts.extensions;
    let Ok(response) = inner.oneshot(call).await else {
        return plain(StatusCode::BAD_GATEWAY, "the risk service did not answer\n");
    };
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return plain(
            StatusCode::BAD_GATEWAY,
            "the risk service's answer broke off\n",
        );
    };
    // A refusal comes in the headers (trailers-only), an answer's status in the trailers.
    let status = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        .or_else(|| tonic::Status::from_header_map(&parts.headers))
        .unwrap_or_else(|| tonic::Status::unknown("the risk service sent no status"));
    if status.code() != tonic::Code::Ok {
        return plain(
            http_status(status.code()),
            format!("{}\n", status.message()),
        );
    }
    let bytes = collected.to_bytes();
    match IngestEventBridgeEventResponse::decode(bytes.get(5..).unwrap_or_default()) {
        Ok(answer) if answer.accepted => plain(StatusCode::OK, "accepted\n"),
        Ok(_) => plain(
            StatusCode::OK,
            "already handled: an event with this id arrived before\n",
        ),
        Err(_) => plain(
            StatusCode::BAD_GATEWAY,
            "the risk service's answer did not decode\n",
        ),
    }
}

/// A unary gRPC call: the message in one length-prefixed frame, the caller's key passed on.
fn grpc_request(key: HeaderValue, message: &impl Message) -> Request<Body> {
    let encoded = message.encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + encoded.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    frame.put_slice(&encoded);
    let mut request = Request::new(Body::new(Full::new(frame.freeze())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static(GRPC_METHOD);
    *request.version_mut() = Version::HTTP_2;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    headers.insert(header::AUTHORIZATION, key);
    request
}

fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_read_back_as_sent() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("3"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("invalid %60detail.instance-id%60: not an instance id"),
        );
        let status = tonic::Status::from_header_map(&headers).unwrap();
        assert_eq!(
            status.message(),
            "invalid `detail.instance-id`: not an instance id"
        );
        assert_eq!(http_status(status.code()), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn refusals_map_to_statuses_eventbridge_does_not_retry() {
        use tonic::Code;
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
