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
        return text(
            StatusCode::UNAUTHORIZED,
            "missing `Authorization: Bearer <API key>`: set it on the API destination's connection (API key authorization)",
        );
    };
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the event is larger than EventBridge's 256 KiB",
            );
        }
        Err(_) => return text(StatusCode::BAD_REQUEST, "the body could not be read"),
    };
    let Ok(event_json) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "the body is not UTF-8 JSON");
    };
    let mut call = grpc_request(key, &IngestEventBridgeEventRequest { event_json });
    // The connection's details (the caller's address) go with it, as with any call.
    *call.extensions_mut() = parts.extensions;
    let Ok(response) = inner.oneshot(call).await else {
        return text(StatusCode::BAD_GATEWAY, "the risk service did not answer");
    };
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return text(
            StatusCode::BAD_GATEWAY,
            "the risk service's answer broke off",
        );
    };
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let status = |name: &str| {
        trailers
            .get(name)
            .or_else(|| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let code = status("grpc-status").unwrap_or_else(|| "2".to_owned());
    if code != "0" {
        let message = percent_decoded(&status("grpc-message").unwrap_or_default());
        return text(http_status(&code), &message);
    }
    let bytes = collected.to_bytes();
    match IngestEventBridgeEventResponse::decode(bytes.get(5..).unwrap_or_default()) {
        Ok(answer) if answer.accepted => text(StatusCode::OK, "accepted"),
        Ok(_) => text(
            StatusCode::OK,
            "already handled: an event with this id arrived before",
        ),
        Err(_) => text(
            StatusCode::BAD_GATEWAY,
            "the risk service's answer did not decode",
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

fn http_status(grpc_code: &str) -> StatusCode {
    match grpc_code {
        "3" | "9" | "11" => StatusCode::BAD_REQUEST,
        "5" => StatusCode::NOT_FOUND,
        "6" | "10" => StatusCode::CONFLICT,
        "7" => StatusCode::FORBIDDEN,
        "8" => StatusCode::TOO_MANY_REQUESTS,
        "14" => StatusCode::SERVICE_UNAVAILABLE,
        "16" => StatusCode::UNAUTHORIZED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// gRPC sends its message percent-encoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: StatusCode, message: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_read_back_as_sent() {
        assert_eq!(
            percent_decoded("invalid %60detail.instance-id%60: not an instance id"),
            "invalid `detail.instance-id`: not an instance id"
        );
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("caf%C3%A9"), "café");
    }

    #[test]
    fn refusals_map_to_statuses_eventbridge_does_not_retry() {
        assert_eq!(http_status("3"), StatusCode::BAD_REQUEST);
        assert_eq!(http_status("5"), StatusCode::NOT_FOUND);
        assert_eq!(http_status("16"), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status("8"), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(http_status("14"), StatusCode::SERVICE_UNAVAILABLE);
    }
}
