//! A fake Kubernetes API server for tests: a tower-test mock service behind a real kube::Client,
//! recording every request and answering from a closure.
#![allow(dead_code)]

use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::Value;
use tower_test::mock;

pub type Handle = mock::Handle<Request<Body>, Response<Body>>;

/// One request as the API server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    /// The JSON body, `Value::Null` when empty.
    pub body: Value,
}

impl Seen {
    /// `METHOD path?query`, for compact assertions.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }
}

pub fn client() -> (kube::Client, Handle) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), handle)
}

pub async fn read(request: Request<Body>) -> Seen {
    let (parts, body) = request.into_parts();
    let bytes = body.collect_bytes().await.expect("request body");
    Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|value| value.to_str().expect("ascii header").to_owned()),
        body: if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        },
    }
}

pub fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).expect("json")))
        .expect("response")
}

/// Answers requests with `respond` until `task` finishes; returns its output and every request.
pub async fn serve<T: Send + 'static>(
    task: tokio::task::JoinHandle<T>,
    mut handle: Handle,
    mut respond: impl FnMut(&Seen, &[Seen]) -> (u16, Value),
) -> (T, Vec<Seen>) {
    let mut task = task;
    let mut seen: Vec<Seen> = Vec::new();
    let work = async {
        loop {
            tokio::select! {
                output = &mut task => return output.expect("task panicked"),
                next = handle.next_request() => {
                    let Some((request, send)) = next else {
                        return (&mut task).await.expect("task panicked");
                    };
                    let request = read(request).await;
                    let (status, body) = respond(&request, &seen);
                    seen.push(request);
                    send.send_response(json_response(status, &body));
                }
            }
        }
    };
    let output = tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .expect("the test took too long");
    (output, seen)
}

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

pub fn not_found(kind: &str, name: &str) -> (u16, Value) {
    (
        404,
        status(404, "NotFound", &format!("{kind} \"{name}\" not found")),
    )
}
