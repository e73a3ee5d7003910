//! Fallback pools for a launch. A planned pool can be dry when the launch comes
//! (InsufficientInstanceCapacity); a launch that must land (pods waiting, an interruption's
//! replacement, a compliance move) then draws from these instead of failing. A fallback keeps
//! every promise the planned pool made, so the plan stays one kube-scheduler can carry out:
//! - the same zone (volumes and spread constraints were planned for it), capacity type and
//!   architecture (images are per architecture);
//! - at least the planned type's allocatable room in every resource;
//! - the same node-template labels and taints (the new nodes get the same set-up; the labels
//!   that describe the type itself differ by nature);
//! - every pod of the cluster that may run on the planned pool may run on it (a pod pinned to an
//!   instance type or family by its selector or affinity is never launched for elsewhere);
//! - admitted by the policy now (families, buckets, risk flags, price cap), and at most
//!   [`FALLBACK_PRICE_MARGIN_PERCENT`] dearer than the planned pool.

use crate::admission::is_admitted;
use crate::labels::placement_allowed;
use crate::model::{CapacityType, Offering, Problem};

/// At most this many fallback pools per launch, cheapest first.
pub const MAX_FALLBACK_POOLS: usize = 4;

/// A fallback costs at most this much more per hour than the planned pool.
pub const FALLBACK_PRICE_MARGIN_PERCENT: f64 = 25.0;

/// The instance types a launch of `instance_type` in `zone` may fall back to, cheapest first
/// (empty when the planned pool is not among the problem's offerings).
pub fn fallback_instance_types(
    problem: &Problem,
    instance_type: &str,
    zone: &str,
    capacity_type: CapacityType,
) -> Vec<String> {
    let Some(planned) = problem.offerings.iter().find(|o| {
        o.instance_type == instance_type && o.zone == zone && o.capacity_type == capacity_type
    }) else {
        return Vec::new();
    };
    let price_cap = planned.price_per_hour * (1.0 + FALLBACK_PRICE_MARGIN_PERCENT / 100.0);
    let may_run_on_planned: Vec<_> = problem
        .pods
        .iter()
        .filter(|pod| placement_allowed(pod, planned))
        .collect();
    let mut fallbacks: Vec<&Offering> = problem
        .offerings
        .iter()
        .filter(|o| {
            o.instance_type != planned.instance_type
                && o.zone == planned.zone
                && o.capacity_type == planned.capacity_type
                && o.architecture == planned.architecture
                && o.price_per_hour <= price_cap
                && planned.allocatable.fits_in(&o.allocatable)
                && set_up_alike(o, planned)
                && is_admitted(o, problem)
                && may_run_on_planned
                    .iter()
                    .all(|pod| placement_allowed(pod, o))
        })
        .collect();
    fallbacks.sort_by(|a, b| {
        a.price_per_hour
            .total_cmp(&b.price_per_hour)
            .then_with(|| a.instance_type.cmp(&b.instance_type))
    });
    fallbacks
        .into_iter()
        .take(MAX_FALLBACK_POOLS)
        .map(|o| o.instance_type.clone())
        .collect()
}

/// The labels that describe the instance type itself (family, category, generation): they
/// differ between types by nature; pods that select them are checked one by one.
const TYPE_LABEL_PREFIX: &str = "karpenter.k8s.aws/instance-";

/// The same node-template labels and taints.
fn set_up_alike(a: &Offering, b: &Offering) -> bool {
    let template_labels = |o: &Offering| {
        o.labels
            .iter()
            .filter(|(key, _)| !key.starts_with(TYPE_LABEL_PREFIX))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect::<Vec<_>>()
    };
    a.taints == b.taints && template_labels(a) == template_labels(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Pod, Resources, well_known};

    fn problem(pods: Vec<Pod>) -> Problem {
        Problem {
            offerings: crate::offerings_in(
                "us-east-1",
                &["us-east-1a".to_owned(), "us-east-1b".to_owned()],
            ),
            pods,
            ..Default::default()
        }
    }

    fn pod(id: &str) -> Pod {
        Pod {
            id: id.into(),
            requests: Resources::new(500, 1_024, 1, 0),
            ..Default::default()
        }
    }

    fn offering<'a>(problem: &'a Problem, instance_type: &str) -> &'a Offering {
        problem
            .offerings
            .iter()
            .find(|o| {
                o.instance_type == instance_type
                    && o.zone == "us-east-1a"
                    && o.capacity_type == CapacityType::OnDemand
            })
            .unwrap()
    }

    #[test]
    fn fallbacks_are_as_big_in_the_same_zone_and_architecture_and_not_much_dearer() {
        let problem = problem(vec![pod("a")]);
        let planned = offering(&problem, "m5.large");
        let fallbacks =
            fallback_instance_types(&problem, "m5.large", "us-east-1a", CapacityType::OnDemand);
        assert!(!fallbacks.is_empty());
        assert!(fallbacks.len() <= MAX_FALLBACK_POOLS);
        let mut last_price = 0.0;
        for instance_type in &fallbacks {
            let fallback = offering(&problem, instance_type);
            assert_ne!(fallback.instance_type, "m5.large");
            assert_eq!(fallback.architecture, planned.architecture);
            assert!(
                planned.allocatable.fits_in(&fallback.allocatable),
                "{instance_type}"
            );
            assert!(fallback.price_per_hour <= planned.price_per_hour * 1.25);
            assert!(fallback.price_per_hour >= last_price, "cheapest first");
            last_price = fallback.price_per_hour;
        }
    }

    #[test]
    fn a_pod_pinned_to_the_planned_type_allows_no_fallback() {
        let mut pinned = pod("pinned");
        pinned
            .node_selector
            .insert(well_known::INSTANCE_TYPE.into(), "m5.large".into());
        let problem = problem(vec![pod("a"), pinned]);
        assert_eq!(
            fallback_instance_types(&problem, "m5.large", "us-east-1a", CapacityType::OnDemand),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_fallback_gets_the_same_node_template_set_up() {
        let mut problem = problem(vec![pod("a")]);
        // The template labels the m5 and m7i families' nodes: only those may stand in for each
        // other.
        for offering in &mut problem.offerings {
            if ["m5", "m7i"].contains(&offering.label("karpenter.k8s.aws/instance-family").unwrap())
            {
                offering
                    .labels
                    .insert("example.com/pool".into(), "general".into());
            }
        }
        assert_eq!(
            fallback_instance_types(&problem, "m5.large", "us-east-1a", CapacityType::OnDemand),
            ["m7i.large"]
        );
    }

    #[test]
    fn a_pool_the_problem_does_not_offer_has_no_fallbacks() {
        let problem = problem(vec![pod("a")]);
        assert!(
            fallback_instance_types(&problem, "m5.large", "eu-west-1a", CapacityType::OnDemand)
                .is_empty()
        );
    }
}
