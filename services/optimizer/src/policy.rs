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
//!   templates' labels and taints (merged) go onto every node a plan launches (once ready).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
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
    windows: Vec<croner::Cron>,
    zone: Tz,
}

fn nonzero<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// Labels and taints for the nodes a plan launches, merged from the policy's node templates in
/// order (a later template's label wins; taints are collected once each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSetup {
    pub labels: std::collections::BTreeMap<String, String>,
    pub taints: Vec<spot_proto::common::v1::Taint>,
}

impl NodeSetup {
    pub fn from_templates(templates: &[pb::NodeTemplate]) -> Self {
        let mut setup = Self::default();
        for template in templates {
            setup
                .labels
                .extend(template.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            for taint in &template.taints {
                if !setup.taints.contains(taint) {
                    setup.taints.push(taint.clone());
                }
            }
        }
        setup
    }
}

impl Governing {
    pub fn resolved(policy: &pb::Policy, templates: &[pb::NodeTemplate]) -> Self {
        let budget = policy.disruption_budget.clone().unwrap_or_default();
        Self {
            version: policy.version,
            engine: policy_terms::engine_policy(policy),
            filter: engine::PoolFilter {
                templates: templates
                    .iter()
                    .map(|t| {
                        t.requirements
                            .iter()
                            .filter_map(|r| {
                                Some(engine::Requirement {
                                    key: r.key.clone(),
                                    operator: crate::problem::operator(&r.operator)?,
                                    values: r.values.clone(),
                                })
                            })
                            .collect()
                    })
                    .collect(),
                ..policy_terms::pool_filter(policy)
            },
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
            // The policy service only saves valid windows; one that no longer parses is skipped.
            windows: budget
                .windows
                .iter()
                .filter_map(|w| croner::Cron::from_str(w).ok())
                .collect(),
            zone: Tz::from_str(&budget.time_zone).unwrap_or(Tz::UTC),
        }
    }

    /// True when a consolidation may disrupt nodes at `now`: no windows, or inside one.
    pub fn in_window(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.zone);
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
        assert_eq!(governing.budget.max_percent, Some(10));
        assert_eq!(governing.budget.max_nodes, None);
        assert_eq!(governing.engine.max_interruption_bucket, Some(0));
    }
}
