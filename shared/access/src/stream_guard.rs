//! Open streams end when their credential does. A credential is checked when a call starts; a
//! server stream (`WatchCluster`, `WatchActions`, `WatchPlan`, `WatchRiskFlags`, the agent's
//! session) can stay open for days, so the access layer wraps every response body: when the
//! credential is revoked (announced on the bus) or its access token expires, the stream ends with
//! UNAUTHENTICATED and the client signs in again. One place, for every streaming RPC at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;

use crate::Verified;
use crate::revocation::Revocations;

type Ending = Pin<Box<dyn Future<Output = tonic::Status> + Send>>;

/// Wraps `body` so it ends when the verified credential does; a credential that cannot end
/// (a service's) leaves the body as it is.
pub(crate) fn guard(body: Body, verified: &Verified, revocations: Option<&Revocations>) -> Body {
    let expiry = verified.expires_at.map(|exp| {
        let left = exp - chrono::Utc::now().timestamp();
        tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64)
    });
    let revoked = match (revocations, &verified.revocable) {
        (Some(revocations), Some(credential)) => Some(revocations.watch(credential.clone())),
        _ => None,
    };
    if expiry.is_none() && revoked.is_none() {
        return body;
    }
    let ending: Ending = Box::pin(async move {
        let expired = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let revoked = async {
            match revoked {
                Some(revoked) => revoked.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = expired => tonic::Status::unauthenticated(
                "the access token expired; open the stream again with a fresh one",
            ),
            () = revoked => tonic::Status::unauthenticated(
                "the credential was revoked (signed out, removed, or its role changed)",
            ),
        }
    });
    Body::new(Guarded {
        inner: body,
        ending: Some(ending),
        done: false,
    })
}

struct Guarded {
    inner: Body,
    ending: Option<Ending>,
    done: bool,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // The stream's own frames first: the credential is only looked at while it waits.
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame)),
            Poll::Pending => {}
        }
        let Some(ending) = this.ending.as_mut() else {
            return Poll::Pending;
        };
        let Poll::Ready(status) = ending.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        this.ending = None;
        this.done = true;
        let mut trailers = http::HeaderMap::new();
        match status.add_header(&mut trailers) {
            Ok(()) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Err(_) => Poll::Ready(Some(Err(status))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
