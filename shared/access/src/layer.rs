use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;

use crate::rules::{Access, Rule, rule_for};
use crate::{
    ApiKeyScope, AuditNote, AuditRecord, AuditSink, Caller, RequestId, TenantLimits, TenantLoad,
    Verified, Verifier,
};

/// The one layer in front of every service: authenticate, authorize by [`crate::rules::RULES`],
/// hand the caller to the handler, audit mutating calls.
#[derive(Clone)]
pub struct AccessLayer {
    verifier: Verifier,
    audit: AuditSink,
    load: Option<TenantLoad>,
}

impl AccessLayer {
    pub fn new(verifier: Verifier, audit: AuditSink) -> Self {
        Self {
            verifier,
            audit,
            load: None,
        }
    }

    /// Bounds each tenant's concurrent requests and open streams (see [`TenantLoad`]).
    pub fn with_tenant_limits(mut self, limits: TenantLimits) -> Self {
        self.load = Some(TenantLoad::new(limits));
        self
    }
}

impl<S> tower::Layer<S> for AccessLayer {
    type Service = AccessService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessService {
            inner,
            verifier: self.verifier.clone(),
            audit: self.audit.clone(),
            load: self.load.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AccessService<S> {
    inner: S,
    verifier: Verifier,
    audit: AuditSink,
    load: Option<TenantLoad>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<Body>> for AccessService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let audit = self.audit.clone();
        let load = self.load.clone();
        Box::pin(async move {
            let method = request.uri().path().trim_start_matches('/').to_owned();
            let Some(rule) = rule_for(&method) else {
                let status =
                    tonic::Status::permission_denied(format!("no access rule for `{method}`"));
                return Ok(status.into_http());
            };
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= 128)
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let audited = |caller: &Caller, result: String, note: Option<&AuditNote>| {
                if !rule.mutating {
                    return;
                }
                let (actor_kind, actor_id) = caller.audit_identity();
                let tenant_id = note
                    .and_then(|n| n.tenant_id.clone())
                    .or_else(|| caller.tenant_id().map(str::to_owned))
                    .unwrap_or_default();
                audit.record(AuditRecord {
                    tenant_id,
                    actor_kind,
                    actor_id,
                    action: method.clone(),
                    target: note.map(|n| n.target.clone()).unwrap_or_default(),
                    result: note.and_then(|n| n.result.clone()).unwrap_or(result),
                    request_id: request_id.clone(),
                    at_millis: chrono::Utc::now().timestamp_millis(),
                });
            };

            let (verified, bearer) = match authenticate(&verifier, request.headers(), rule).await {
                Ok(verified) => verified,
                // Unauthenticated calls are not audited: anyone could fill the trail with them.
                Err(status) => return Ok(status.into_http()),
            };
            let caller = verified.caller.clone();
            if let Err(status) = authorize(rule.access, &caller) {
                audited(&caller, code_name(status.code()).to_owned(), None);
                return Ok(status.into_http());
            }
            let permit = match load.as_ref().map(|load| load.admit(&caller, &method)) {
                Some(Err(status)) => {
                    audited(&caller, code_name(status.code()).to_owned(), None);
                    return Ok(status.into_http());
                }
                Some(Ok(permit)) => permit,
                None => None,
            };
            request.extensions_mut().insert(caller.clone());
            request
                .extensions_mut()
                .insert(RequestId(request_id.clone()));

            let recheck = match (&verified.caller, bearer) {
                (Caller::ApiKey { .. }, Some(bearer)) => {
                    let verifier = verifier.clone();
                    let recheck: crate::stream_guard::Recheck = Box::new(move || {
                        let (verifier, bearer) = (verifier.clone(), bearer.clone());
                        Box::pin(async move { verifier.recheck_api_key(&bearer).await })
                    });
                    Some((recheck, crate::stream_guard::RECHECK_INTERVAL))
                }
                _ => None,
            };
            let response = inner.call(request).await?.map(|body| {
                let body =
                    crate::stream_guard::guard(body, &verified, verifier.revocations(), recheck);
                crate::tenant_load::hold(body, permit)
            });
            let result = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map(|code| code_name(tonic::Code::from_i32(code)))
                .unwrap_or("ok");
            audited(
                &caller,
                result.to_owned(),
                response.extensions().get::<AuditNote>(),
            );
            Ok(response)
        })
    }
}

async fn authenticate(
    verifier: &Verifier,
    headers: &http::HeaderMap,
    rule: Rule,
) -> Result<(Verified, Option<String>), tonic::Status> {
    if rule.access == Access::Public {
        // Public calls ignore credentials, so a stale token never blocks logging in again.
        let anonymous = Verified {
            caller: Caller::Anonymous,
            expires_at: None,
            revocable: None,
        };
        return Ok((anonymous, None));
    }
    let Some(header) = headers.get("authorization") else {
        return Err(tonic::Status::unauthenticated(
            "missing credentials: send `authorization: Bearer <access token or API key>`",
        ));
    };
    let bearer = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| tonic::Status::unauthenticated("authorization must be `Bearer <token>`"))?;
    let verified = verifier.verify_credential(bearer).await?;
    // Kept only for an API key, which an open stream checks again later.
    let api_key = crate::api_key_id(bearer).map(|_| bearer.to_owned());
    Ok((verified, api_key))
}

fn authorize(access: Access, caller: &Caller) -> Result<(), tonic::Status> {
    let allowed = match access {
        Access::Public => true,
        Access::Tenant(minimum) => caller.role().is_some_and(|role| role >= minimum),
        Access::Agent => matches!(
            caller,
            Caller::ApiKey {
                scope: ApiKeyScope::Agent { .. },
                ..
            }
        ),
        Access::EventIntake => {
            caller.role().is_some_and(|role| role >= crate::Role::Admin)
                || matches!(
                    caller,
                    Caller::ApiKey {
                        scope: ApiKeyScope::EventBridge,
                        ..
                    }
                )
        }
        Access::PlatformAdmin => caller.is_platform_admin(),
        Access::Internal => matches!(caller, Caller::Service { .. }),
        Access::InternalFrom(services) => {
            matches!(caller, Caller::Service { name } if services.contains(&name.as_str()))
        }
    };
    if allowed {
        return Ok(());
    }
    let needed = match access {
        Access::Public => "anyone".to_owned(),
        Access::Tenant(role) => format!("the {role} role or higher"),
        Access::Agent => "a cluster agent key".to_owned(),
        Access::EventIntake => "the admin role or higher, or an EventBridge intake key".to_owned(),
        Access::PlatformAdmin => "a platform admin".to_owned(),
        Access::Internal => "a platform service".to_owned(),
        Access::InternalFrom(services) => format!("the {} service", services.join(" or ")),
    };
    Err(tonic::Status::permission_denied(format!(
        "this call needs {needed}"
    )))
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "ok",
        Cancelled => "cancelled",
        InvalidArgument => "invalid_argument",
        DeadlineExceeded => "deadline_exceeded",
        NotFound => "not_found",
        AlreadyExists => "already_exists",
        PermissionDenied => "permission_denied",
        ResourceExhausted => "resource_exhausted",
        FailedPrecondition => "failed_precondition",
        Aborted => "aborted",
        OutOfRange => "out_of_range",
        Unimplemented => "unimplemented",
        Internal => "internal",
        Unavailable => "unavailable",
        DataLoss => "data_loss",
        Unauthenticated => "unauthenticated",
        Unknown => "unknown",
    }
}
