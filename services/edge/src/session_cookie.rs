//! The browser session's refresh token, out of scripts' reach.
//!
//! The web app speaks grpc-web to the same `AuthService` as every other client, and the edge
//! keeps the refresh token for it in an `HttpOnly; SameSite=Strict` cookie:
//! - on grpc-web answers that issue tokens (`Login`, `Refresh`, `VerifyEmail`, `AcceptInvite`,
//!   `SwitchTenant`) the edge takes the refresh token out of the message and sets it as the
//!   cookie;
//! - on grpc-web `Refresh`, `Logout` and `SwitchTenant` (the session it leaves) calls that carry
//!   no token, the edge puts the cookie's
//!   token into the message before the auth service sees it; `Logout` (and a refused
//!   `Refresh`) clears the cookie.
//!
//! Why this shape: the auth service, its contract, the CLI and the SDKs stay as they are (native
//! gRPC clients still get both tokens in the message); no second HTTP API for sessions, with its
//! own errors and CORS, exists beside the gRPC one; and the rewrite is confined to six unary
//! methods whose messages are a few hundred bytes. The app keeps only the short-lived access
//! token, in memory: a script injected into the page could use the session while the page is
//! open, but can never carry the refresh token away to use later.
//!
//! The cookie is scoped to `Path=/spot.auth.v1.AuthService/`, the narrowest path that covers
//! both `Refresh` and `Logout` (which must revoke it), so it never travels with other calls.
//! It is `Secure` except when the request names a loopback host (`127.0.0.1`, `localhost`,
//! `[::1]`): `spot demo` serves plain http on 127.0.0.1, where browsers do not store a Secure
//! cookie from an http answer. Anywhere else the platform is served over https (directly or
//! behind a TLS-terminating proxy) and the cookie is Secure. Only binary grpc-web
//! (`application/grpc-web` and `+proto`) is rewritten; the app uses nothing else.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use prost::Message;
use spot_proto::auth::v1 as pb;
use tonic::body::Body;
use tower::{Layer, Service};

/// The cookie's name.
pub const REFRESH_COOKIE: &str = "spot_refresh";
const COOKIE_PATH: &str = "/spot.auth.v1.AuthService/";
/// As long as a refresh token lives (the auth service's `REFRESH_TOKEN_LIFETIME`, 30 days).
const COOKIE_MAX_AGE_SECONDS: u64 = 30 * 24 * 3600;
/// These messages are small; anything larger is passed on untouched.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Login,
    VerifyEmail,
    AcceptInvite,
    SwitchTenant,
    Refresh,
    Logout,
}

impl Method {
    fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/spot.auth.v1.AuthService/Login" => Self::Login,
            "/spot.auth.v1.AuthService/VerifyEmail" => Self::VerifyEmail,
            "/spot.auth.v1.UserService/AcceptInvite" => Self::AcceptInvite,
            "/spot.auth.v1.AuthService/SwitchTenant" => Self::SwitchTenant,
            "/spot.auth.v1.AuthService/Refresh" => Self::Refresh,
            "/spot.auth.v1.AuthService/Logout" => Self::Logout,
            _ => return None,
        })
    }

    /// Takes the refresh token out of an answer, if it carries one.
    fn take_refresh_token(self, message: &[u8]) -> Option<(Vec<u8>, String)> {
        match self {
            Self::Login => take::<pb::LoginResponse>(message, |r| &mut r.tokens),
            Self::VerifyEmail => take::<pb::VerifyEmailResponse>(message, |r| &mut r.tokens),
            Self::AcceptInvite => take::<pb::AcceptInviteResponse>(message, |r| &mut r.tokens),
            Self::SwitchTenant => take::<pb::SwitchTenantResponse>(message, |r| &mut r.tokens),
            Self::Refresh => take::<pb::RefreshResponse>(message, |r| &mut r.tokens),
            Self::Logout => None,
        }
    }

    /// Puts the cookie's token into a call that carries none.
    fn give_refresh_token(self, message: &[u8], token: &str) -> Option<Vec<u8>> {
        match self {
            Self::Refresh => give::<pb::RefreshRequest>(message, token, |c| &mut c.refresh_token),
            Self::Logout => give::<pb::LogoutRequest>(message, token, |c| &mut c.refresh_token),
            Self::SwitchTenant => {
                give::<pb::SwitchTenantRequest>(message, token, |c| &mut c.refresh_token)
            }
            _ => None,
        }
    }
}

/// The answer re-encoded without its refresh token, and the token; None when it has none.
fn take<M: Message + Default>(
    message: &[u8],
    tokens: impl Fn(&mut M) -> &mut Option<pb::Tokens>,
) -> Option<(Vec<u8>, String)> {
    let mut reply = M::decode(message).ok()?;
    let token = tokens(&mut reply)
        .as_mut()
        .map(|t| std::mem::take(&mut t.refresh_token))
        .unwrap_or_default();
    (!token.is_empty()).then(|| (reply.encode_to_vec(), token))
}

/// The call re-encoded with `token` as its refresh token; None when it carries one already.
fn give<M: Message + Default>(
    message: &[u8],
    token: &str,
    refresh_token: impl Fn(&mut M) -> &mut String,
) -> Option<Vec<u8>> {
    let mut call = M::decode(message).ok()?;
    let field = refresh_token(&mut call);
    field.is_empty().then(|| token.clone_into(field))?;
    Some(call.encode_to_vec())
}

fn is_binary_grpc_web(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "application/grpc-web" || v == "application/grpc-web+proto")
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == REFRESH_COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    name == "localhost" || name == "[::1]" || name.starts_with("127.")
}

/// The `Set-Cookie` value: the token, or an expired empty cookie that clears it.
fn set_cookie(token: Option<&str>, secure: bool) -> Option<HeaderValue> {
    let (value, max_age) = match token {
        Some(token) => (token, COOKIE_MAX_AGE_SECONDS),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// Splits a grpc-web body into its frames: (flags, payload).
fn frames(body: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut frames = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.len() < 5 {
            return None;
        }
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let end = 5usize.checked_add(len)?;
        if rest.len() < end {
            return None;
        }
        frames.push((rest[0], &rest[5..end]));
        rest = &rest[end..];
    }
    Some(frames)
}

fn put_frame(out: &mut BytesMut, flags: u8, payload: &[u8]) {
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
}

async fn collect(body: Body) -> Option<Bytes> {
    http_body_util::Limited::new(body, MAX_MESSAGE_BYTES)
        .collect()
        .await
        .ok()
        .map(|collected| collected.to_bytes())
}

/// Rebuilds a body with `rewrite` applied to its message frames (not its trailer frame).
fn rewrite_frames(body: &[u8], mut rewrite: impl FnMut(&[u8]) -> Option<Vec<u8>>) -> Option<Bytes> {
    let mut out = BytesMut::with_capacity(body.len());
    let mut changed = false;
    for (flags, payload) in frames(body)? {
        // Uncompressed message frames only; the trailer frame has the high bit set.
        match (flags == 0).then(|| rewrite(payload)).flatten() {
            Some(new) => {
                changed = true;
                put_frame(&mut out, flags, &new);
            }
            None => put_frame(&mut out, flags, payload),
        }
    }
    changed.then(|| out.freeze())
}

#[derive(Clone, Default)]
pub struct SessionCookieLayer;

impl<S> Layer<S> for SessionCookieLayer {
    type Service = SessionCookieService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionCookieService { inner }
    }
}

#[derive(Clone)]
pub struct SessionCookieService<S> {
    inner: S,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for SessionCookieService<S>
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let method = Method::of(request.uri().path());
        let Some(method) = method.filter(|_| is_binary_grpc_web(request.headers())) else {
            return Box::pin(inner.call(request));
        };
        Box::pin(async move {
            let secure = !is_loopback_host(request.headers());
            let request = match (method, cookie_token(request.headers())) {
                (Method::Refresh | Method::Logout | Method::SwitchTenant, Some(token)) => {
                    let (mut parts, body) = request.into_parts();
                    let body = match collect(body).await {
                        Some(bytes) => {
                            match rewrite_frames(&bytes, |m| method.give_refresh_token(m, &token)) {
                                Some(rewritten) => {
                                    parts.headers.remove(http::header::CONTENT_LENGTH);
                                    rewritten
                                }
                                None => bytes,
                            }
                        }
                        // Too large or broken: the service answers it as it is (empty).
                        None => Bytes::new(),
                    };
                    Request::from_parts(parts, Body::new(http_body_util::Full::new(body)))
                }
                _ => request,
            };
            let response = inner.call(request).await?;
            let (mut parts, body) = response.into_parts();
            let refused = parts
                .headers
                .get("grpc-status")
                .is_some_and(|status| status != "0");
            if (method == Method::Logout || (method == Method::Refresh && refused))
                && let Some(clear) = set_cookie(None, secure)
            {
                parts.headers.append(http::header::SET_COOKIE, clear);
            }
            if method == Method::Logout || refused {
                return Ok(Response::from_parts(parts, body));
            }
            let Some(bytes) = collect(body).await else {
                return Ok(Response::from_parts(parts, Body::empty()));
            };
            let mut token = None;
            let body = rewrite_frames(&bytes, |message| {
                let (encoded, taken) = method.take_refresh_token(message)?;
                token = Some(taken);
                Some(encoded)
            })
            .unwrap_or(bytes);
            if let Some(cookie) = token.as_deref().and_then(|t| set_cookie(Some(t), secure)) {
                parts.headers.append(http::header::SET_COOKIE, cookie);
                parts.headers.remove(http::header::CONTENT_LENGTH);
            }
            Ok(Response::from_parts(
                parts,
                Body::new(http_body_util::Full::new(body)),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others_and_secure_except_on_loopback() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_static("a=1; spot_refresh=abc; b=2"),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some("abc"));
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("127.0.0.1:8080"),
        );
        assert!(is_loopback_host(&headers));
        headers.insert(http::header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert!(is_loopback_host(&headers));
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("spot.example.com"),
        );
        assert!(!is_loopback_host(&headers));
        let cookie = set_cookie(Some("t"), true).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "spot_refresh=t; Path=/spot.auth.v1.AuthService/; Max-Age=2592000; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
