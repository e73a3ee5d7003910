//! Which instance types a policy admits by what they are (family, category, generation,
//! architecture), before prices and risk: the caller's half of admission (see `admission.rs`).
//! One predicate for the policy service's preview and validation and for the optimizer's problem.

use crate::model::{Architecture, Offering, Requirement};

/// An empty list admits everything for that attribute; `denied_families` always wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolFilter {
    pub allowed_families: Vec<String>,
    pub denied_families: Vec<String>,
    pub allowed_categories: Vec<String>,
    pub allowed_generations: Vec<u32>,
    pub architectures: Vec<Architecture>,
    /// Node templates' requirements, one list per template: a pool must meet every requirement
    /// of at least one template (as Karpenter's node pools). No templates: no constraint.
    pub templates: Vec<Vec<Requirement>>,
}

const FAMILY: &str = "karpenter.k8s.aws/instance-family";
const CATEGORY: &str = "karpenter.k8s.aws/instance-category";
const GENERATION: &str = "karpenter.k8s.aws/instance-generation";

impl PoolFilter {
    pub fn admits_type(
        &self,
        family: &str,
        category: &str,
        generation: u32,
        architecture: Architecture,
    ) -> bool {
        let allowed =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        !self.denied_families.iter().any(|f| f == family)
            && allowed(&self.allowed_families, family)
            && allowed(&self.allowed_categories, category)
            && (self.allowed_generations.is_empty()
                || self.allowed_generations.contains(&generation))
            && (self.architectures.is_empty() || self.architectures.contains(&architecture))
    }

    /// For offerings from [`crate::offerings_in`], which carry the family, category and
    /// generation as labels.
    pub fn admits(&self, offering: &Offering) -> bool {
        let label = |key| {
            offering
                .labels
                .get(key)
                .map(String::as_str)
                .unwrap_or_default()
        };
        self.admits_type(
            label(FAMILY),
            label(CATEGORY),
            label(GENERATION).parse().unwrap_or(0),
            offering.architecture,
        ) && (self.templates.is_empty()
            || self.templates.iter().any(|template| {
                template
                    .iter()
                    .all(|r| crate::labels::requirement_holds(r, offering))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapacityType, Operator};

    #[test]
    fn denied_families_win_and_empty_lists_admit_everything() {
        let any = PoolFilter::default();
        assert!(any.admits_type("m5", "m", 5, Architecture::Amd64));
        let filter = PoolFilter {
            allowed_families: vec!["m5".into(), "c6g".into()],
            denied_families: vec!["m5".into()],
            architectures: vec![Architecture::Arm64],
            ..Default::default()
        };
        assert!(!filter.admits_type("m5", "m", 5, Architecture::Arm64));
        assert!(filter.admits_type("c6g", "c", 6, Architecture::Arm64));
        assert!(!filter.admits_type("c6g", "c", 6, Architecture::Amd64));
        assert!(!filter.admits_type("r5", "r", 5, Architecture::Arm64));
    }

    #[test]
    fn offerings_are_judged_by_their_labels() {
        let offerings = crate::offerings_in("us-east-1", &["us-east-1a".to_owned()]);
        let filter = PoolFilter {
            allowed_families: vec!["m5".into()],
            allowed_generations: vec![5],
            ..Default::default()
        };
        let admitted: Vec<_> = offerings.iter().filter(|o| filter.admits(o)).collect();
        assert!(!admitted.is_empty());
        assert!(admitted.iter().all(|o| o.instance_type.starts_with("m5.")));
    }

    #[test]
    fn node_template_requirements_narrow_the_pools() {
        let offerings = crate::offerings_in("us-east-1", &["us-east-1a".to_owned()]);
        let filter = PoolFilter {
            templates: vec![vec![
                Requirement {
                    key: crate::model::well_known::INSTANCE_TYPE.to_owned(),
                    operator: Operator::In,
                    values: vec!["m5.large".into(), "c5.large".into()],
                },
                Requirement {
                    key: crate::model::well_known::CAPACITY_TYPE.to_owned(),
                    operator: Operator::In,
                    values: vec!["spot".into()],
                },
            ]],
            ..Default::default()
        };
        let admitted: Vec<_> = offerings.iter().filter(|o| filter.admits(o)).collect();
        assert_eq!(admitted.len(), 2, "{admitted:?}");
        assert!(
            admitted
                .iter()
                .all(|o| o.capacity_type == CapacityType::Spot)
        );
    }
}
