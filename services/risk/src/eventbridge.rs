//! The EventBridge events AWS sends for spot capacity ("EC2 Spot Instance Interruption Warning",
//! "EC2 Instance Rebalance Recommendation"), read strictly: anything that does not look like AWS
//! wrote it is refused with the field that is wrong, before anything is stored.
//!
//! ```json
//! {"version": "0", "id": "…", "detail-type": "EC2 Spot Instance Interruption Warning",
//!  "source": "aws.ec2", "account": "123456789012", "time": "2026-11-29T05:00:00Z",
//!  "region": "us-east-1", "resources": ["arn:aws:ec2:us-east-1a:instance/i-0abc…"],
//!  "detail": {"instance-id": "i-0abc…", "instance-action": "terminate"}}
//! ```

use serde_json::Value;
use spot_cloud::Catalog;
use spot_proto::agent::v1::InterruptionKind;

use crate::intake::{IntakeError, MAX_AGE_MILLIS, MAX_FUTURE_MILLIS};

/// Far above the size of a real event (under 1 KiB); a larger body is not one.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;
pub const SPOT_WARNING: &str = "EC2 Spot Instance Interruption Warning";
pub const REBALANCE: &str = "EC2 Instance Rebalance Recommendation";
/// A spot warning comes two minutes before the instance is reclaimed.
const WARNING_LEAD_MILLIS: i64 = 120_000;

/// What the platform takes from an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudNotice {
    pub event_id: String,
    pub kind: InterruptionKind,
    pub account: String,
    pub region: String,
    pub instance_id: String,
    pub time_millis: i64,
    /// When the instance is reclaimed (spot warnings only).
    pub action_at_millis: Option<i64>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> IntakeError {
    IntakeError::Invalid(field, reason.into())
}

fn text<'a>(event: &'a Value, field: &'static str) -> Result<&'a str, IntakeError> {
    event
        .get(field)
        .ok_or_else(|| invalid(field, "missing"))?
        .as_str()
        .ok_or_else(|| invalid(field, "must be a string"))
}

fn is_instance_id(id: &str) -> bool {
    let Some(hex) = id.strip_prefix("i-") else {
        return false;
    };
    (hex.len() == 8 || hex.len() == 17)
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads and checks one event; `now_millis` bounds its time (no more than an hour old, no more
/// than 15 minutes ahead).
pub fn parse(json: &str, now_millis: i64) -> Result<CloudNotice, IntakeError> {
    if json.len() > MAX_EVENT_BYTES {
        return Err(invalid(
            "event_json",
            format!("{} bytes, more than {MAX_EVENT_BYTES}", json.len()),
        ));
    }
    let event: Value =
        serde_json::from_str(json).map_err(|e| invalid("event_json", format!("not JSON: {e}")))?;
    if !event.is_object() {
        return Err(invalid("event_json", "must be a JSON object"));
    }
    if text(&event, "version")? != "0" {
        return Err(invalid("version", "must be \"0\""));
    }
    if text(&event, "source")? != "aws.ec2" {
        return Err(invalid("source", "must be \"aws.ec2\""));
    }
    let kind = match text(&event, "detail-type")? {
        SPOT_WARNING => InterruptionKind::SpotInterruption,
        REBALANCE => InterruptionKind::RebalanceRecommendation,
        other => {
            return Err(invalid(
                "detail-type",
                format!("`{other}` is neither \"{SPOT_WARNING}\" nor \"{REBALANCE}\""),
            ));
        }
    };
    let id = text(&event, "id")?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid("id", "1 to 64 letters, digits and dashes"));
    }
    let account = text(&event, "account")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("account", "must be a 12-digit AWS account id"));
    }
    let region = text(&event, "region")?;
    Catalog::embedded()
        .check_region(region)
        .map_err(|e| invalid("region", e.to_string()))?;
    let time = text(&event, "time")?;
    let time_millis = chrono::DateTime::parse_from_rfc3339(time)
        .map_err(|e| invalid("time", format!("`{time}` is not an RFC 3339 time: {e}")))?
        .timestamp_millis();
    if time_millis > now_millis + MAX_FUTURE_MILLIS {
        return Err(invalid("time", "more than 15 minutes ahead"));
    }
    if time_millis < now_millis - MAX_AGE_MILLIS {
        return Err(invalid("time", "more than an hour old"));
    }
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| invalid("detail", "must be an object"))?;
    let instance_id = detail
        .get("instance-id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("detail.instance-id", "missing"))?;
    if !is_instance_id(instance_id) {
        return Err(invalid(
            "detail.instance-id",
            format!("`{instance_id}` is not an EC2 instance id"),
        ));
    }
    if let Some(resources) = event.get("resources") {
        let names_instance = resources.as_array().is_some_and(|list| {
            list.iter().any(|arn| {
                arn.as_str().is_some_and(|arn| {
                    arn.starts_with(&format!("arn:aws:ec2:{region}"))
                        && arn.ends_with(&format!(":instance/{instance_id}"))
                })
            })
        });
        if !names_instance {
            return Err(invalid(
                "resources",
                format!("no ARN of instance {instance_id} in {region}"),
            ));
        }
    }
    let action_at_millis = if kind == InterruptionKind::SpotInterruption {
        let action = detail
            .get("instance-action")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("detail.instance-action", "missing"))?;
        if !matches!(action, "terminate" | "stop" | "hibernate") {
            return Err(invalid(
                "detail.instance-action",
                format!("`{action}` is not terminate, stop or hibernate"),
            ));
        }
        Some(time_millis + WARNING_LEAD_MILLIS)
    } else {
        None
    };
    Ok(CloudNotice {
        event_id: format!("aws-{id}"),
        kind,
        account: account.to_owned(),
        region: region.to_owned(),
        instance_id: instance_id.to_owned(),
        time_millis,
        action_at_millis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn event(detail_type: &str) -> Value {
        let time = chrono::DateTime::from_timestamp_millis(NOW - 5_000)
            .unwrap()
            .to_rfc3339();
        serde_json::json!({
            "version": "0",
            "id": "1e5527d7-bb36-4607-3370-4164db56a40e",
            "detail-type": detail_type,
            "source": "aws.ec2",
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1a:instance/i-0123456789abcdef0"],
            "detail": {"instance-id": "i-0123456789abcdef0", "instance-action": "terminate"}
        })
    }

    fn field_of(value: &Value) -> &'static str {
        match parse(&value.to_string(), NOW) {
            Err(IntakeError::Invalid(field, _)) => field,
            Ok(_) => "accepted",
        }
    }

    #[test]
    fn a_spot_warning_is_read_with_its_reclaim_time() {
        let notice = parse(&event(SPOT_WARNING).to_string(), NOW).unwrap();
        assert_eq!(notice.kind, InterruptionKind::SpotInterruption);
        assert_eq!(notice.event_id, "aws-1e5527d7-bb36-4607-3370-4164db56a40e");
        assert_eq!(notice.account, "123456789012");
        assert_eq!(notice.instance_id, "i-0123456789abcdef0");
        assert_eq!(notice.action_at_millis, Some(NOW - 5_000 + 120_000));
    }

    #[test]
    fn a_rebalance_recommendation_needs_no_action() {
        let mut value = event(REBALANCE);
        value["detail"] = serde_json::json!({"instance-id": "i-0123456789abcdef0"});
        let notice = parse(&value.to_string(), NOW).unwrap();
        assert_eq!(notice.kind, InterruptionKind::RebalanceRecommendation);
        assert_eq!(notice.action_at_millis, None);
    }

    #[test]
    fn each_wrong_field_is_named() {
        let with = |field: &str, value: Value| {
            let mut e = event(SPOT_WARNING);
            e[field] = value;
            field_of(&e)
        };
        assert_eq!(with("version", "1".into()), "version");
        assert_eq!(with("source", "aws.s3".into()), "source");
        assert_eq!(
            with("detail-type", "EC2 Instance State-change".into()),
            "detail-type"
        );
        assert_eq!(with("id", "".into()), "id");
        assert_eq!(with("id", "a b".into()), "id");
        assert_eq!(with("account", "12345".into()), "account");
        assert_eq!(with("region", "mars-north-1".into()), "region");
        assert_eq!(with("time", "yesterday".into()), "time");
        assert_eq!(
            with(
                "resources",
                serde_json::json!(["arn:aws:ec2:us-east-1a:instance/i-0fff"])
            ),
            "resources"
        );
        assert_eq!(
            with("detail", serde_json::json!({"instance-id": "vol-1234"})),
            "detail.instance-id"
        );
        assert_eq!(
            with(
                "detail",
                serde_json::json!({"instance-id": "i-0123456789abcdef0"})
            ),
            "detail.instance-action"
        );
        let mut e = event(SPOT_WARNING);
        e.as_object_mut().unwrap().remove("account");
        assert_eq!(field_of(&e), "account");
        assert!(matches!(
            parse("not json", NOW),
            Err(IntakeError::Invalid("event_json", _))
        ));
        assert!(matches!(
            parse("[1]", NOW),
            Err(IntakeError::Invalid("event_json", _))
        ));
        let huge = "x".repeat(MAX_EVENT_BYTES + 1);
        assert!(matches!(
            parse(&huge, NOW),
            Err(IntakeError::Invalid("event_json", _))
        ));
    }

    #[test]
    fn events_from_the_future_or_far_past_are_refused() {
        let at = |millis: i64| {
            let mut e = event(SPOT_WARNING);
            e["time"] = chrono::DateTime::from_timestamp_millis(millis)
                .unwrap()
                .to_rfc3339()
                .into();
            field_of(&e)
        };
        assert_eq!(at(NOW + 16 * 60_000), "time");
        assert_eq!(at(NOW - 61 * 60_000), "time");
        assert_eq!(at(NOW - 59 * 60_000), "accepted");
    }
}
