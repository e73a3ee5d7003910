//! Throttling retried with full-jitter exponential backoff (the SDK's own retries are off, so the
//! behaviour is ours, explicit and tested).

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rand::Rng;
use spot_cloud::CloudError;

pub const MAX_ATTEMPTS: u32 = 6;
const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_secs(5);

const THROTTLING: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
];

pub fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|code| THROTTLING.contains(&code))
}

/// Runs `call` until it succeeds, fails with something other than throttling, or runs out of attempts.
pub async fn with_backoff<T, E, R, F, Fut>(operation: &str, mut call: F) -> Result<T, CloudError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(output) => return Ok(output),
            Err(error) => {
                let code = error.code().map(str::to_owned);
                if is_throttling(code.as_deref()) && attempt < MAX_ATTEMPTS {
                    let ceiling = (BASE * 2u32.pow(attempt)).min(CAP);
                    let wait = rand::rng().random_range(Duration::ZERO..=ceiling);
                    tracing::debug!(operation, attempt, ?wait, "throttled; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(classify(operation, code.as_deref(), &error));
            }
        }
    }
}

fn classify<E, R>(operation: &str, code: Option<&str>, error: &SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let message = error.message().map(str::to_owned).unwrap_or_else(|| {
        aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
    });
    let detail = format!(
        "{operation}: {}{message}",
        code.map(|c| format!("{c}: ")).unwrap_or_default()
    );
    match code {
        Some(code) if is_throttling(Some(code)) => CloudError::Throttled(detail),
        Some(
            "UnauthorizedOperation"
            | "AuthFailure"
            | "AccessDenied"
            | "AccessDeniedException"
            | "InvalidClientTokenId",
        ) => CloudError::AccessDenied(detail),
        Some(code) if code.starts_with("Invalid") || code.starts_with("Missing") => {
            CloudError::InvalidArgument {
                field: "request",
                reason: detail,
            }
        }
        _ => CloudError::Unavailable(detail),
    }
}
