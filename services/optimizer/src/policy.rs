//! The policy a cluster is planned under, fetched from the policy service's contract
//! (ResolvePolicy: the cluster's own, else the tenant default, else the built-in) and turned into
//! the engine's terms. One place maps every knob; what the engine cannot express is noted here.
//!
//! - spot_percent, on_demand_base, max_interruption_bucket, min_pools, max_usd_per_vcpu_hour,
//!   consolidation_min_savings_percent: the engine's `Policy`.
//! - families, categories, generations, architectures: the engine's `PoolFilter` over offerings.
//! - disruption budget: the engine's `DisruptionBudget`; its cron windows gate when the autopilot
//!   may apply a consolidation (outside them it only recommends). Interruptions never wait.
//! - consolidation mode: OFF stops the autopilot's consolidation, WHEN_EMPTY only removes empty
//!   nodes, WHEN_UNDERUTILIZED re-packs. Recommend (a user asking) always shows the full plan.
//! - dry_run: plans are stored as recommendations; ApplyPlan refuses them.
//! - node_template_ids: a pool must meet all requirements of at least one template, and the
//!   first template a pool meets gives its nodes their labels and taints: the engine plans with
//!   them on the offering, and a plan puts them on each node it launches (once ready).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use chrono_tz::Tz;
use spot_config::ServiceName;
use spot_engine as engine;
use spot_kit::policy_terms;
use spot_proto::policy::v1 as pb;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use tonic::Status;

use crate::OptimizerApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consolidation {
    Off,
    WhenEmpty,
    WhenUnderutilized,
}

/// Everything the optimizer takes from a cluster's policy.
#[derive(Debug, Clone)]
pub struct Governing {
    pub version: u32,
    pub engine: engine::Policy,
    pub filter: engine::PoolFilter,
    pub budget: engine::DisruptionBudget,
    pub consolidation: Consolidation,
    pub dry_run: bool,
    /// What the node templates put on new nodes.
    pub node_setup: NodeSetup,
    /// Where consolidation may lose bare pods and local data.
    pub accepted_loss: spot_kit::kube_terms::AcceptedLoss,
    windows: Vec<croner::Cron>,
    zone: Tz,
}

fn nonzero<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// What one node template puts on the nodes it applies to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateSetup {
    requirements: Vec<engine::Requirement>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub taints: Vec<spot_proto::common::v1::Taint>,
}

/// Labels and taints for the nodes a plan launches. Each node gets those of the first of the
/// policy's templates whose requirements its pool meets (a pool is planned with only when it
/// meets one), never a blend: a GPU template's taint stays off the general nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSetup(Vec<TemplateSetup>);

impl NodeSetup {
    pub fn from_templates(templates: &[pb::NodeTemplate]) -> Self {
        Self(
            templates
                .iter()
                .map(|t| TemplateSetup {
                    requirements: policy_terms::requirements(&t.requirements),
                    labels: t
                        .labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    taints: t.taints.clone(),
                })
                .collect(),
        )
    }

    /// True when the policy names no template: new nodes get nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The template that sets up a node of `offering`, if any.
    pub fn for_offering(&self, offering: &engine::Offering) -> Option<&TemplateSetup> {
        self.0.iter().find(|t| {
            t.requirements
                .iter()
                .all(|r| engine::requirement_holds(r, offering))
        })
    }

    /// Gives the offering the labels and taints its nodes will get, so the plan puts on them
    /// only pods that tolerate the taints, and pods that select the labels find them.
    pub fn dress(&self, offering: &mut engine::Offering) {
        let Some(setup) = self.for_offering(offering) else {
            return;
        };
        offering.labels.extend(setup.labels.clone());
        for taint in setup.taints.iter().filter_map(spot_kit::kube_terms::taint) {
            if !offering.taints.contains(&taint) {
                offering.taints.push(taint);
            }
        }
    }
}

impl Governing {
    pub fn resolved(policy: &pb::Policy, templates: &[pb::NodeTemplate]) -> Self {
        let budget = policy.disruption_budget.clone().unwrap_or_default();
        Self {
            version: policy.version,
            engine: policy_terms::engine_policy(policy),
            filter: policy_terms::pool_filter(policy, templates),
            budget: engine::DisruptionBudget {
                max_nodes: nonzero(budget.max_nodes),
                max_percent: nonzero(budget.max_percent)
                    .map(|p| u8::try_from(p.min(100)).unwrap_or(100)),
            },
            consolidation: match policy.consolidation() {
                pb::ConsolidationMode::Off => Consolidation::Off,
                pb::ConsolidationMode::WhenEmpty => Consolidation::WhenEmpty,
                pb::ConsolidationMode::WhenUnderutilized | pb::ConsolidationMode::Unspecified => {
                    Consolidation::WhenUnderutilized
                }
            },
            dry_run: policy.dry_run,
            node_setup: NodeSetup::from_templates(templates),
            accepted_loss: spot_kit::kube_terms::AcceptedLoss {
                bare_pods_in: policy.bare_pods_evictable_in.clone(),
                local_data_in: policy.local_data_evictable_in.clone(),
            },
            // The policy service only saves valid windows; one that no longer parses is skipped.
            windows: budget
                .windows
                .iter()
                .filter_map(|w| spot_kit::cron::five_field_parser().parse(w).ok())
                .collect(),
            zone: Tz::from_str(&budget.time_zone).unwrap_or(Tz::UTC),
        }
    }

    /// True when a consolidation may disrupt nodes at `now`: no windows, or inside one. A window
    /// names minutes, so the whole of a matching minute is inside it.
    pub fn in_window(&self, now: DateTime<Utc>) -> bool {
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let local = minute.with_timezone(&self.zone);
        self.windows.is_empty()
            || self
                .windows
                .iter()
                .any(|w| w.is_time_matching(&local).unwrap_or(false))
    }
}

/// The last policy the policy service gave for each (tenant, cluster): an interruption must be
/// answered within two minutes even while the policy service is unreachable.
#[derive(Clone, Default)]
pub struct LastKnown(Arc<Mutex<HashMap<(String, String), pb::ResolvePolicyResponse>>>);

impl LastKnown {
    fn remember(&self, tenant_id: &str, cluster_id: &str, policy: &pb::ResolvePolicyResponse) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(
            (tenant_id.to_owned(), cluster_id.to_owned()),
            policy.clone(),
        );
    }

    fn recall(&self, tenant_id: &str, cluster_id: &str) -> Option<pb::ResolvePolicyResponse> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(&(tenant_id.to_owned(), cluster_id.to_owned()))
            .cloned()
    }
}

impl OptimizerApi {
    async fn resolve(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<pb::ResolvePolicyResponse, Status> {
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Policy)
            .ok_or_else(|| Status::unavailable("the policy service is not reachable"))?;
        PolicyServiceClient::new(channel)
            .resolve_policy(pb::ResolvePolicyRequest {
                tenant_id: tenant_id.to_owned(),
                cluster_id: cluster_id.to_owned(),
                region: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// The policy in force for the cluster, else the last one known; without either nothing is
    /// planned (the policy may say dry-run).
    pub(crate) async fn policy_for(
        &self,
        tenant_id: &str,
        cluster_id: &str,
    ) -> Result<Governing, Status> {
        let governing = |resolved: &pb::ResolvePolicyResponse| {
            resolved
                .policy
                .as_ref()
                .map(|policy| Governing::resolved(policy, &resolved.templates))
                .ok_or_else(|| Status::internal("the policy service answered without a policy"))
        };
        match self.resolve(tenant_id, cluster_id).await {
            Ok(resolved) => {
                self.policies.remember(tenant_id, cluster_id, &resolved);
                governing(&resolved)
            }
            Err(status) => match self.policies.recall(tenant_id, cluster_id) {
                Some(resolved) => {
                    tracing::warn!(%status, cluster = %cluster_id, "policy service unreachable; planning under the last policy known");
                    governing(&resolved)
                }
                None => Err(status),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_in_the_budgets_zone() {
        let policy = pb::Policy {
            disruption_budget: Some(pb::DisruptionBudget {
                max_percent: 10,
                windows: vec!["* 1-4 * * *".into()],
                time_zone: "Europe/Berlin".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let governing = Governing::resolved(&policy, &[]);
        // 01:30 UTC in winter is 02:30 in Berlin: inside; 04:30 UTC is 05:30: outside.
        let at = |h, m| {
            DateTime::parse_from_rfc3339(&format!("2026-01-15T{h:02}:{m:02}:00Z"))
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(governing.in_window(at(1, 30)));
        assert!(!governing.in_window(at(4, 30)));
        // Every second of a matching minute is inside, not only its first.
        let late_in_the_minute = at(1, 30) + TimeDelta::seconds(37);
        assert!(governing.in_window(late_in_the_minute));
        let just_after = at(3, 59) + TimeDelta::seconds(59);
        assert!(governing.in_window(just_after));
        assert!(!governing.in_window(just_after + TimeDelta::seconds(1)));
        assert_eq!(governing.budget.max_percent, Some(10));
        assert_eq!(governing.budget.max_nodes, None);
        assert_eq!(governing.engine.max_interruption_bucket, Some(0));
    }

    #[test]
    fn each_new_node_gets_the_labels_and_taints_of_the_first_template_its_pool_meets() {
        use spot_proto::common::v1::{NodeSelectorRequirement, Taint, TaintEffect};
        let requirement = |key: &str, values: &[&str]| NodeSelectorRequirement {
            key: key.into(),
            operator: "In".into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let gpu = pb::NodeTemplate {
            id: "gpu".into(),
            requirements: vec![requirement("karpenter.k8s.aws/instance-family", &["g5"])],
            labels: [("example.com/pool".into(), "gpu".into())].into(),
            taints: vec![Taint {
                key: "nvidia.com/gpu".into(),
                value: "true".into(),
                effect: TaintEffect::NoSchedule.into(),
            }],
            ..Default::default()
        };
        let general = pb::NodeTemplate {
            id: "general".into(),
            requirements: vec![requirement("kubernetes.io/arch", &["amd64"])],
            labels: [("example.com/pool".into(), "general".into())].into(),
            ..Default::default()
        };
        let setup = NodeSetup::from_templates(&[gpu, general]);
        let offering = |instance_type: &str| {
            engine::offerings_in("us-east-1", &["us-east-1a".to_owned()])
                .into_iter()
                .find(|o| o.instance_type == instance_type)
                .unwrap()
        };

        let mut g5 = offering("g5.xlarge");
        setup.dress(&mut g5);
        assert_eq!(
            g5.labels.get("example.com/pool").map(String::as_str),
            Some("gpu")
        );
        assert_eq!(g5.taints.len(), 1);
        assert_eq!(g5.taints[0].key, "nvidia.com/gpu");

        let mut m5 = offering("m5.large");
        assert!(m5.taints.is_empty());
        setup.dress(&mut m5);
        assert_eq!(
            m5.labels.get("example.com/pool").map(String::as_str),
            Some("general")
        );
        assert!(
            m5.taints.is_empty(),
            "the GPU taint stays off general nodes"
        );

        let mut graviton = offering("m7g.large");
        setup.dress(&mut graviton);
        assert!(setup.for_offering(&graviton).is_none());
        assert!(!graviton.labels.contains_key("example.com/pool"));
    }
}
