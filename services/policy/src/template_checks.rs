//! What a node template must be: a DNS-label name, requirements Kubernetes accepts, and labels and
//! taints with valid Kubernetes syntax. Each violation names its field (`template.<field>`).

use spot_proto::common::v1::TaintEffect;
use spot_proto::policy::v1 as pb;

const OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

/// A DNS label (RFC 1123): 1 to 63 lower-case letters, digits and dashes, alphanumeric at both ends.
pub fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_dns_subdomain(prefix: &str) -> bool {
    (1..=253).contains(&prefix.len()) && prefix.split('.').all(is_dns_label)
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A label (or taint) key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

const KEY_RULE: &str = "must be `[prefix/]name`: a name of at most 63 letters, digits, `-`, `_` \
                        or `.`, alphanumeric at both ends, after an optional DNS subdomain prefix";
const VALUE_RULE: &str =
    "must be at most 63 letters, digits, `-`, `_` or `.`, alphanumeric at both ends";

fn requirement(
    index: usize,
    r: &spot_proto::common::v1::NodeSelectorRequirement,
    out: &mut Vec<pb::FieldViolation>,
) {
    let field = |name: &str| format!("template.requirements[{index}].{name}");
    if !is_label_key(&r.key) {
        out.push(violation(field("key"), format!("`{}` {KEY_RULE}", r.key)));
    }
    if !OPERATORS.contains(&r.operator.as_str()) {
        out.push(violation(
            field("operator"),
            format!("`{}` is not one of {}", r.operator, OPERATORS.join(", ")),
        ));
        return;
    }
    let values_wrong = match r.operator.as_str() {
        "In" | "NotIn" => (r.values.is_empty()).then_some("needs at least one value"),
        "Exists" | "DoesNotExist" => (!r.values.is_empty()).then_some("takes no values"),
        _ => (r.values.len() != 1 || r.values[0].parse::<i64>().is_err())
            .then_some("needs exactly one integer value"),
    };
    if let Some(reason) = values_wrong {
        out.push(violation(
            field("values"),
            format!("{} {reason}", r.operator),
        ));
    }
    for value in &r.values {
        if !is_label_value(value) {
            out.push(violation(
                field("values"),
                format!("`{value}` {VALUE_RULE}"),
            ));
        }
    }
}

fn violation(field: String, description: String) -> pb::FieldViolation {
    pb::FieldViolation { field, description }
}

pub fn violations(template: &pb::NodeTemplate) -> Vec<pb::FieldViolation> {
    let mut out = Vec::new();
    if !is_dns_label(&template.name) {
        out.push(violation(
            "template.name".into(),
            "1 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
                .into(),
        ));
    }
    for (index, r) in template.requirements.iter().enumerate() {
        requirement(index, r, &mut out);
    }
    let mut labels: Vec<_> = template.labels.iter().collect();
    labels.sort();
    for (key, value) in labels {
        if !is_label_key(key) {
            out.push(violation(
                "template.labels".into(),
                format!("key `{key}` {KEY_RULE}"),
            ));
        }
        if !is_label_value(value) {
            out.push(violation(
                "template.labels".into(),
                format!("value `{value}` of `{key}` {VALUE_RULE}"),
            ));
        }
    }
    for (index, taint) in template.taints.iter().enumerate() {
        let field = |name: &str| format!("template.taints[{index}].{name}");
        if !is_label_key(&taint.key) {
            out.push(violation(
                field("key"),
                format!("`{}` {KEY_RULE}", taint.key),
            ));
        }
        if !is_label_value(&taint.value) {
            out.push(violation(
                field("value"),
                format!("`{}` {VALUE_RULE}", taint.value),
            ));
        }
        if !matches!(
            TaintEffect::try_from(taint.effect),
            Ok(TaintEffect::NoSchedule | TaintEffect::PreferNoSchedule | TaintEffect::NoExecute)
        ) {
            out.push(violation(
                field("effect"),
                "must be NoSchedule, PreferNoSchedule or NoExecute".into(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_syntax() {
        assert!(is_dns_label("gpu-workers"));
        assert!(!is_dns_label("-gpu") && !is_dns_label("GPU") && !is_dns_label(""));
        assert!(is_label_key("team") && is_label_key("example.com/team"));
        assert!(!is_label_key("bad key") && !is_label_key("/team") && !is_label_key("a/b/c"));
        assert!(is_label_value("") && is_label_value("v1.2_x"));
        assert!(!is_label_value("-x") && !is_label_value(&"x".repeat(64)));
    }
}
