//! Open streams end when their credential does. A credential is checked when a call starts; a
//! server stream (`WatchCluster`, `WatchActions`, `WatchPlan`, `WatchRiskFlags`, the agent's
//! session) can stay open for days, so the access layer wraps every response body: when the
//! credential is revoked (announced on the bus) or its access token expires, the stream ends with
//! UNAUTHENTICATED and the client signs in again. An API key does not expire, so it is checked with
//! auth again every [`RECHECK_INTERVAL`] (a revocation whose announcement was lost still ends the
//! stream). One place, for every streaming RPC at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;

use crate::revocation::Revocations;
use crate::{CredentialError, Verified};

type Ending = Pin<Box<dyn Future<Output = tonic::Status> + Send>>;

/// How often an open stream's API key is checked again: as often as an access token expires.
pub(crate) const RECHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Checks the stream's credential again; `Invalid` ends the stream (an unreachable auth does not).
pub(crate) type Recheck = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), CredentialError>> + Send>> + Send + Sync,
>;

/// Wraps `body` so it ends when the verified credential does; a credential that cannot end
/// (a service's) leaves the body as it is.
pub(crate) fn guard(
    body: Body,
    verified: &Verified,
    revocations: Option<&Revocations>,
    recheck: Option<(Recheck, Duration)>,
) -> Body {
    let expiry = verified.expires_at.map(|exp| {
        let left = exp - chrono::Utc::now().timestamp();
        tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64)
    });
    let revoked = match (revocations, &verified.revocable) {
        (Some(revocations), Some(credential)) => Some(revocations.watch(credential.clone())),
        _ => None,
    };
    if expiry.is_none() && revoked.is_none() && recheck.is_none() {
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
        let rechecked = async {
            let Some((recheck, every)) = recheck else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(every).await;
                if let Err(CredentialError::Invalid(reason)) = recheck().await {
                    return reason;
                }
            }
        };
        tokio::select! {
            () = expired => tonic::Status::unauthenticated(
                "the access token expired; open the stream again with a fresh one",
            ),
            () = revoked => tonic::Status::unauthenticated(
                "the credential was revoked (signed out, removed, or its role changed)",
            ),
            reason = rechecked => tonic::Status::unauthenticated(reason),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;

    use super::*;
    use crate::Caller;

    /// A stream with nothing to say yet (a watch with no news).
    struct Waiting;

    impl HttpBody for Waiting {
        type Data = Bytes;
        type Error = tonic::Status;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_key_that_no_longer_verifies_ends_its_stream_and_an_unreachable_auth_does_not() {
        let verified = Verified {
            caller: Caller::Anonymous,
            expires_at: None,
            revocable: None,
        };
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let recheck: Recheck = Box::new(move || {
            let call = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                match call {
                    0 => Ok(()),
                    1 => Err(CredentialError::Unavailable("auth is down".into())),
                    _ => Err(CredentialError::Invalid(
                        "API key is unknown or revoked".into(),
                    )),
                }
            })
        });
        let mut body = guard(
            Body::new(Waiting),
            &verified,
            None,
            Some((recheck, Duration::from_millis(10))),
        );
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the stream ends")
            .expect("a frame")
            .expect("not an error");
        let trailers = frame.into_trailers().expect("trailers");
        assert_eq!(trailers["grpc-status"], "16");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(body.frame().await.is_none(), "nothing after the end");
    }
}
