//! One unary gRPC call made from a plain HTTP handler of the edge (a webhook), through the same
//! services (and access layer) a client reaches; a refusal comes back as the HTTP status that
//! means the same, with the service's message.

use bytes::{BufMut, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use prost::Message;
use tonic::body::Body;
use tower::{Service, ServiceExt};

/// A refusal as HTTP: the status and a one-line reason.
pub type Refusal = (StatusCode, String);

/// Calls `method` (`/package.Service/Method`) with `message`; `authorization` is passed on, and
/// `extensions` (the caller's connection details) go with the call as with any.
pub async fn call<S, Answer>(
    inner: S,
    method: &'static str,
    message: &impl Message,
    authorization: Option<HeaderValue>,
    extensions: http::Extensions,
) -> Result<Answer, Refusal>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    Answer: Message + Default,
{
    let mut request = grpc_request(method, message, authorization);
    *request.extensions_mut() = extensions;
    let service = method.split('/').nth(1).unwrap_or("the service");
    let Ok(response) = inner.oneshot(request).await else {
        return Err((StatusCode::BAD_GATEWAY, format!("{service} did not answer")));
    };
    let (parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!("{service}'s answer broke off"),
        ));
    };
    // A refusal comes in the headers (trailers-only), an answer's status in the trailers.
    let status = collected
        .trailers()
        .and_then(tonic::Status::from_header_map)
        .or_else(|| tonic::Status::from_header_map(&parts.headers))
        .unwrap_or_else(|| tonic::Status::unknown(format!("{service} sent no status")));
    if status.code() != tonic::Code::Ok {
        return Err((http_status(status.code()), status.message().to_owned()));
    }
    let bytes = collected.to_bytes();
    Answer::decode(bytes.get(5..).unwrap_or_default()).map_err(|_| {
        (
            StatusCode::BAD_GATEWAY,
            format!("{service}'s answer did not decode"),
        )
    })
}

/// The request's body, at most `limit` bytes (413 with `too_large` beyond it).
pub async fn read_body(body: Body, limit: usize, too_large: &str) -> Result<bytes::Bytes, Refusal> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, too_large.to_owned()))
        }
        Err(_) => Err((
            StatusCode::BAD_REQUEST,
            "the body could not be read".to_owned(),
        )),
    }
}

/// A unary gRPC request: the message in one length-prefixed frame.
fn grpc_request(
    method: &'static str,
    message: &impl Message,
    authorization: Option<HeaderValue>,
) -> Request<Body> {
    let encoded = message.encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + encoded.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    frame.put_slice(&encoded);
    let mut request = Request::new(Body::new(Full::new(frame.freeze())));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = http::Uri::from_static(method);
    *request.version_mut() = Version::HTTP_2;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(authorization) = authorization {
        headers.insert(header::AUTHORIZATION, authorization);
    }
    request
}

/// The HTTP status that means what a gRPC code means (webhook senders retry only 429 and 5xx).
pub fn http_status(code: tonic::Code) -> StatusCode {
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
    fn refusals_map_to_statuses_a_webhook_sender_does_not_retry() {
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
