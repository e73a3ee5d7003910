//! What a policy admits in a region, from the embedded catalog: the instance types and pools
//! (zone x type x capacity type) with their price and interruption bucket. The same predicate as
//! the optimizer's: the engine's pool filter, then its admission (bucket, price cap).

use spot_cloud::{Catalog, zones_of};
use spot_engine as engine;
use spot_kit::policy_terms;
use spot_proto::common::v1::{Architecture, CapacityType, Pool};
use spot_proto::policy::v1 as pb;

/// The most pools (and instance types) a preview lists, cheapest first.
pub const PREVIEW_LIMIT: usize = 500;

fn admitted(
    policy: &pb::Policy,
    templates: &[pb::NodeTemplate],
    region: &str,
    zones: &[String],
) -> Vec<engine::Offering> {
    let filter = policy_terms::pool_filter(policy, templates);
    let limits = engine::Problem {
        policy: policy_terms::engine_policy(policy),
        ..Default::default()
    };
    engine::offerings_in(region, zones)
        .into_iter()
        .filter(|o| policy.spot_percent > 0 || o.capacity_type == engine::CapacityType::OnDemand)
        .filter(|o| filter.admits(o) && engine::is_admitted(o, &limits))
        .collect()
}

/// True when the policy admits at least one instance type in the region. Without a region: in any region, judged by what the policy admits
/// by kind (family, category, generation, architecture), since every type is sold on-demand
/// everywhere and only prices and spot differ by region. Templates are judged only within a
/// region, against all its zones (a template may name a zone).
pub fn admits_any(
    policy: &pb::Policy,
    templates: &[pb::NodeTemplate],
    region: Option<&str>,
) -> bool {
    match region {
        Some(region) => !admitted(policy, templates, region, &zones_of(region)).is_empty(),
        None => {
            let by_kind = pb::Policy {
                max_usd_per_vcpu_hour: 0.0,
                ..policy.clone()
            };
            !admitted(&by_kind, &[], "", &["anywhere".to_owned()]).is_empty()
        }
    }
}

/// The CPU architectures of the pools the policy admits in the region, sorted (amd64 first).
pub fn architectures(
    policy: &pb::Policy,
    templates: &[pb::NodeTemplate],
    region: &str,
) -> Vec<Architecture> {
    let offered: Vec<engine::Architecture> = admitted(policy, templates, region, &zones_of(region))
        .iter()
        .map(|o| o.architecture)
        .collect();
    architectures_of(&offered)
}

/// What the policy admits in the region, cheapest first; `templates` are the tenant's node
/// templates the policy names.
pub fn preview(
    policy: &pb::Policy,
    templates: &[pb::NodeTemplate],
    region: &str,
) -> pb::PreviewPolicyResponse {
    let mut offerings = admitted(policy, templates, region, &zones_of(region));
    let pools_offered: Vec<engine::Architecture> =
        offerings.iter().map(|o| o.architecture).collect();
    offerings.sort_by(|a, b| {
        a.price_per_hour
            .total_cmp(&b.price_per_hour)
            .then_with(|| a.instance_type.cmp(&b.instance_type))
            .then_with(|| a.zone.cmp(&b.zone))
            .then_with(|| a.capacity_type.cmp(&b.capacity_type))
    });
    let mut instance_types: Vec<String> = Vec::new();
    for offering in &offerings {
        if instance_types.len() < PREVIEW_LIMIT && !instance_types.contains(&offering.instance_type)
        {
            instance_types.push(offering.instance_type.clone());
        }
    }
    let pools = offerings
        .into_iter()
        .take(PREVIEW_LIMIT)
        .map(|o| pb::AdmittedPool {
            pool: Some(Pool {
                region: region.to_owned(),
                zone: o.zone,
                instance_type: o.instance_type,
            }),
            capacity_type: match o.capacity_type {
                engine::CapacityType::Spot => CapacityType::Spot,
                engine::CapacityType::OnDemand => CapacityType::OnDemand,
            }
            .into(),
            usd_per_hour: o.price_per_hour,
            interruption_bucket: o.interruption_bucket.map_or(-1, i32::from),
        })
        .collect();
    let architectures = architectures_of(&pools_offered);
    pb::PreviewPolicyResponse {
        instance_types,
        pools,
        notes: notes(policy, &architectures),
    }
}

/// The architecture note: a policy that names neither architectures nor families leaves the
/// choice to each cluster's nodes (see the optimizer's `keep_architectures_in_use`), which the
/// list of every admitted pool cannot show.
fn notes(policy: &pb::Policy, architectures: &[Architecture]) -> Vec<String> {
    let chooses = !policy.architectures.is_empty() || !policy.allowed_families.is_empty();
    if chooses || architectures.len() < 2 {
        return Vec::new();
    }
    vec!["Architectures: this policy names none, so for each cluster it admits only the CPU architectures its nodes run today (and any a pod asks for by node selector or affinity); the pools listed here include both amd64 and arm64. Name arm64 (or Graviton families such as m7g) to let an amd64 cluster move to Graviton, once its images are built for arm64.".to_owned()]
}

fn architectures_of(offerings: &[engine::Architecture]) -> Vec<Architecture> {
    let mut architectures: Vec<Architecture> = offerings
        .iter()
        .map(|a| match a {
            engine::Architecture::Amd64 => Architecture::Amd64,
            engine::Architecture::Arm64 => Architecture::Arm64,
        })
        .collect();
    architectures.sort_unstable();
    architectures.dedup();
    architectures
}

/// What the catalog knows, for telling a typo from a family.
pub struct Known {
    pub families: std::collections::BTreeSet<String>,
    pub categories: std::collections::BTreeSet<String>,
    pub max_generation: u32,
}

pub fn known() -> Known {
    let types = Catalog::embedded().types();
    Known {
        families: types.iter().map(|t| t.family.clone()).collect(),
        categories: types.iter().map(|t| t.category.clone()).collect(),
        max_generation: types.iter().map(|t| t.generation).max().unwrap_or(0),
    }
}
