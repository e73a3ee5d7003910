//! Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each
//! `v1` an HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's secret (several while a secret
//! is rolled). Checked before the body is parsed, in constant time, within 300 s of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The header is missing a timestamp or any v1 signature, or is not `k=v` pairs.
    Malformed(&'static str),
    /// The timestamp is more than the tolerance from now (a replay, or a wrong clock).
    OutsideTolerance { age_seconds: i64 },
    /// No v1 signature matches the body.
    NoMatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "Stripe-Signature: {why}"),
            Self::OutsideTolerance { age_seconds } => write!(
                f,
                "Stripe-Signature: the timestamp is {age_seconds} s from now, more than {TOLERANCE_SECONDS} s"
            ),
            Self::NoMatch => f.write_str("Stripe-Signature: no v1 signature matches the body"),
        }
    }
}

/// The signature a sender with `secret` puts on `payload` at `timestamp`, as hex.
pub fn sign(payload: &[u8], timestamp: i64, secret: &str) -> String {
    hex::encode(mac(payload, timestamp, secret).finalize().into_bytes())
}

fn mac(payload: &[u8], timestamp: i64, secret: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// Checks the header against the body; Ok(timestamp) when one v1 signature matches.
pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &str,
    now_seconds: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            return Err(SignatureError::Malformed("expected key=value pairs"));
        };
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("more than one timestamp"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("t is not a number"))?,
                );
            }
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {} // v0 and future schemes are not ours to check.
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp (t=)"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    let age_seconds = now_seconds.saturating_sub(timestamp);
    if age_seconds.saturating_abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::OutsideTolerance { age_seconds });
    }
    let expected = mac(payload, timestamp, secret).finalize().into_bytes();
    // Every candidate is compared, so the time taken does not say which matched.
    let matched = signatures
        .iter()
        .fold(subtle::Choice::from(0), |any, candidate| {
            any | candidate.as_slice().ct_eq(expected.as_slice())
        });
    if bool::from(matched) {
        Ok(timestamp)
    } else {
        Err(SignatureError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(BODY, 1_000, SECRET);
        let other = sign(BODY, 1_000, "whsec_old");
        let header = format!("t=1000,v1={other},v0=abc,v1={good}");
        assert_eq!(verify(BODY, &header, SECRET, 1_100), Ok(1_000));
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_an_old_timestamp_is_refused() {
        let good = sign(BODY, 1_000, SECRET);
        let header = format!("t=1000,v1={good}");
        assert_eq!(
            verify(b"{}", &header, SECRET, 1_000),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(BODY, &header, "whsec_other", 1_000),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(BODY, &header, SECRET, 1_301),
            Err(SignatureError::OutsideTolerance { age_seconds: 301 })
        );
        assert!(matches!(
            verify(BODY, &header, SECRET, 699),
            Err(SignatureError::OutsideTolerance { .. })
        ));
        assert!(matches!(
            verify(BODY, "v1=abcd", SECRET, 1_000),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify(BODY, "t=1000", SECRET, 1_000),
            Err(SignatureError::Malformed(_))
        ));
        let extreme = format!("t={},v1={good}", i64::MIN);
        assert!(matches!(
            verify(BODY, &extreme, SECRET, 1_000),
            Err(SignatureError::OutsideTolerance { .. })
        ));
    }
}
