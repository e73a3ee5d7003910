//! Every check a policy must pass, each naming its field (`policy.<field>`). Pure: what needs
//! storage (which node templates exist) or the cluster (its region) is passed in.

use chrono::{DateTime, Utc};
use spot_proto::common::v1::Architecture;
use spot_proto::policy::v1 as pb;
use tonic::Status;

use crate::admitted::{self, Known};
use crate::windows;

pub const MAX_ON_DEMAND_BASE: u32 = 1000;
pub const MAX_MIN_POOLS: u32 = 20;

/// What the checks need from outside the policy.
pub struct Checks<'a> {
    /// The region whose catalog the policy must admit something in, when known.
    pub region: Option<&'a str>,
    /// The tenant's node templates among those the policy names (a missing one is not here).
    pub templates: &'a [pb::NodeTemplate],
    pub now: DateTime<Utc>,
}

struct Found(Vec<pb::FieldViolation>);

impl Found {
    fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(pb::FieldViolation {
            field: format!("policy.{field}"),
            description: description.into(),
        });
    }

    fn on(&self, field: &str) -> bool {
        let field = format!("policy.{field}");
        self.0.iter().any(|v| v.field == field)
    }
}

/// The violations, in field order; empty when the policy is valid.
pub fn violations(policy: &pb::Policy, checks: &Checks<'_>) -> Vec<pb::FieldViolation> {
    let mut found = Found(Vec::new());
    let known = admitted::known();
    if policy.spot_percent > 100 {
        found.add("spot_percent", "must be at most 100");
    }
    if policy.on_demand_base > MAX_ON_DEMAND_BASE {
        found.add(
            "on_demand_base",
            format!("must be at most {MAX_ON_DEMAND_BASE}"),
        );
    }
    pools(policy, &known, &mut found);
    for id in &policy.node_template_ids {
        if !checks.templates.iter().any(|t| &t.id == id) {
            found.add(
                "node_template_ids",
                format!("no node template `{id}` in this tenant"),
            );
        }
    }
    if !(0..=4).contains(&policy.max_interruption_bucket) {
        found.add(
            "max_interruption_bucket",
            "must be 0 (under 5 % interruptions) to 4 (any)",
        );
    }
    if policy.min_pools > MAX_MIN_POOLS {
        found.add("min_pools", format!("must be at most {MAX_MIN_POOLS}"));
    }
    if !policy.max_usd_per_vcpu_hour.is_finite() || policy.max_usd_per_vcpu_hour < 0.0 {
        found.add(
            "max_usd_per_vcpu_hour",
            "must be 0 (no cap) or a positive price",
        );
    }
    consolidation(policy, &mut found);
    for (field, namespaces) in [
        ("bare_pods_evictable_in", &policy.bare_pods_evictable_in),
        ("local_data_evictable_in", &policy.local_data_evictable_in),
    ] {
        if let Some(bad) = namespaces.iter().find(|n| !is_namespace_or_all(n)) {
            found.add(
                field,
                format!("`{bad}` is not a namespace name (lowercase letters, digits and '-', at most 63) or `*`"),
            );
        }
    }
    budget(policy, checks.now, &mut found);
    admits_something(policy, checks.templates, checks.region, &mut found);
    found.0
}

/// A Kubernetes namespace name (an RFC 1123 label), or `*` for every namespace.
fn is_namespace_or_all(name: &str) -> bool {
    name == "*"
        || (!name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-'))
}

/// Families, categories, generations and architectures: known to the catalog, not contradictory.
fn pools(policy: &pb::Policy, known: &Known, found: &mut Found) {
    for (field, list) in [
        ("allowed_families", &policy.allowed_families),
        ("denied_families", &policy.denied_families),
    ] {
        for family in list {
            if !known.families.contains(family) {
                found.add(field, format!("unknown instance family `{family}`"));
            }
        }
    }
    for family in &policy.denied_families {
        if policy.allowed_families.contains(family) {
            found.add(
                "denied_families",
                format!("`{family}` is also allowed: a family cannot be both allowed and denied"),
            );
        }
    }
    for category in &policy.allowed_categories {
        if !known.categories.contains(category) {
            found.add(
                "allowed_categories",
                format!("unknown instance category `{category}`"),
            );
        }
    }
    for generation in &policy.allowed_generations {
        if *generation < 1 || *generation as i64 > i64::from(known.max_generation) {
            found.add(
                "allowed_generations",
                format!(
                    "generation {generation} does not exist: the catalog has 1 to {}",
                    known.max_generation
                ),
            );
        }
    }
    for architecture in &policy.architectures {
        if !matches!(
            Architecture::try_from(*architecture),
            Ok(Architecture::Amd64 | Architecture::Arm64)
        ) {
            found.add(
                "architectures",
                format!("unknown architecture {architecture}: use AMD64 or ARM64"),
            );
        }
    }
}

fn consolidation(policy: &pb::Policy, found: &mut Found) {
    if pb::ConsolidationMode::try_from(policy.consolidation).is_err() {
        found.add(
            "consolidation",
            format!("unknown mode {}", policy.consolidation),
        );
    }
    let savings = policy.consolidation_min_savings_percent;
    if !savings.is_finite() || !(0.0..=100.0).contains(&savings) {
        found.add("consolidation_min_savings_percent", "must be 0 to 100");
    }
}

fn consolidates(policy: &pb::Policy) -> bool {
    policy.consolidation() != pb::ConsolidationMode::Off
}

fn budget(policy: &pb::Policy, now: DateTime<Utc>, found: &mut Found) {
    let Some(budget) = &policy.disruption_budget else {
        return;
    };
    if budget.max_percent > 100 {
        found.add("disruption_budget.max_percent", "must be at most 100");
    }
    if budget.max_nodes == 0 && budget.max_percent == 0 && consolidates(policy) {
        found.add(
            "disruption_budget",
            "a budget of zero nodes lets consolidation disrupt nothing: set max_nodes or \
             max_percent, or turn consolidation off",
        );
    }
    let zone = match windows::zone(&budget.time_zone) {
        Ok(zone) => Some(zone),
        Err(reason) => {
            found.add("disruption_budget.time_zone", reason);
            None
        }
    };
    for window in &budget.windows {
        if let Err(reason) = windows::window(window, zone.unwrap_or(chrono_tz::Tz::UTC), now) {
            found.add("disruption_budget.windows", reason);
        }
    }
}

/// The fields that choose instance types, with the policy keeping only that one.
fn filtering_fields(policy: &pb::Policy) -> Vec<(&'static str, pb::Policy)> {
    let bare = pb::Policy {
        spot_percent: policy.spot_percent,
        max_interruption_bucket: policy.max_interruption_bucket,
        ..Default::default()
    };
    let mut fields = Vec::new();
    if !policy.allowed_families.is_empty() {
        fields.push((
            "allowed_families",
            pb::Policy {
                allowed_families: policy.allowed_families.clone(),
                ..bare.clone()
            },
        ));
    }
    if !policy.denied_families.is_empty() {
        fields.push((
            "denied_families",
            pb::Policy {
                denied_families: policy.denied_families.clone(),
                ..bare.clone()
            },
        ));
    }
    if !policy.allowed_categories.is_empty() {
        fields.push((
            "allowed_categories",
            pb::Policy {
                allowed_categories: policy.allowed_categories.clone(),
                ..bare.clone()
            },
        ));
    }
    if !policy.allowed_generations.is_empty() {
        fields.push((
            "allowed_generations",
            pb::Policy {
                allowed_generations: policy.allowed_generations.clone(),
                ..bare.clone()
            },
        ));
    }
    if !policy.architectures.is_empty() {
        fields.push((
            "architectures",
            pb::Policy {
                architectures: policy.architectures.clone(),
                ..bare.clone()
            },
        ));
    }
    if !policy.node_template_ids.is_empty() {
        fields.push((
            "node_template_ids",
            pb::Policy {
                node_template_ids: policy.node_template_ids.clone(),
                ..bare.clone()
            },
        ));
    }
    if policy.max_usd_per_vcpu_hour > 0.0 {
        fields.push((
            "max_usd_per_vcpu_hour",
            pb::Policy {
                max_usd_per_vcpu_hour: policy.max_usd_per_vcpu_hour,
                ..bare
            },
        ));
    }
    fields
}

/// A policy that admits no instance type in the region (any region, for a tenant default) is a
/// violation on the field(s) that exclude everything: the one that does it alone, else all of
/// them together.
fn admits_something(
    policy: &pb::Policy,
    templates: &[pb::NodeTemplate],
    region: Option<&str>,
    found: &mut Found,
) {
    let mut fields = filtering_fields(policy);
    if region.is_none() {
        // Prices differ by region: a cap is judged only against a cluster's region.
        fields.retain(|(field, _)| *field != "max_usd_per_vcpu_hour");
    }
    let place = region.map_or_else(|| "any region".to_owned(), |r| r.to_owned());
    if fields.iter().any(|(field, _)| found.on(field))
        || admitted::admits_any(policy, templates, region)
    {
        return;
    }
    let alone: Vec<&str> = fields
        .iter()
        .filter(|(_, only)| !admitted::admits_any(only, templates, region))
        .map(|(field, _)| *field)
        .collect();
    if alone.is_empty() {
        let names: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
        for field in &names {
            found.add(
                field,
                format!(
                    "together, {} admit no instance type in {place}",
                    names.join(", ")
                ),
            );
        }
    } else {
        for field in alone {
            found.add(field, format!("admits no instance type in {place}"));
        }
    }
}

/// INVALID_ARGUMENT listing every violation: "invalid `policy.<field>`: <reason>" joined by "; ".
pub fn status(violations: &[pb::FieldViolation]) -> Status {
    Status::invalid_argument(message(violations))
}

pub fn message(violations: &[pb::FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("invalid `{}`: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}
