//! Quotas and retention: whole numbers, each with a default and a range, set in the file's
//! `[limits]` table (`clusters_per_tenant = 100`) or by `SPOT_LIMIT_<NAME>`
//! (`SPOT_LIMIT_CLUSTERS_PER_TENANT=100`). One table ([`LIMITS`]) declares them all, so a new limit
//! is one line here and one field of [`Limits`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ConfigError;

/// One limit as an operator sets it.
pub struct Limit {
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    pub meaning: &'static str,
}

/// Every limit, in the order the README lists them.
pub const LIMITS: &[Limit] = &[
    Limit {
        name: "clusters_per_tenant",
        default: 100,
        min: 1,
        max: 100_000,
        meaning: "clusters a tenant may register or adopt",
    },
    Limit {
        name: "nodes_per_cluster",
        default: 5_000,
        min: 1,
        max: 100_000,
        meaning: "nodes an agent may report for one cluster (Kubernetes' own tested limit)",
    },
    Limit {
        name: "pods_per_cluster",
        default: 150_000,
        min: 1,
        max: 1_000_000,
        meaning: "pods an agent may report for one cluster (Kubernetes' own tested limit)",
    },
    Limit {
        name: "plans_per_cluster",
        default: 100,
        min: 1,
        max: 100_000,
        meaning: "plans kept per cluster: a new plan prunes the oldest that are not applying",
    },
    Limit {
        name: "concurrent_requests_per_tenant",
        default: 64,
        min: 1,
        max: 100_000,
        meaning: "calls of one tenant a process serves at once (users and automation keys); more are RESOURCE_EXHAUSTED",
    },
    Limit {
        name: "concurrent_streams_per_tenant",
        default: 64,
        min: 1,
        max: 100_000,
        meaning: "server streams (WatchCluster, WatchActions, WatchPlan, WatchRiskFlags) one tenant may hold open on a process; agent sessions are bounded by clusters_per_tenant",
    },
    Limit {
        name: "flagged_pools_per_tenant_per_hour",
        default: 20,
        min: 1,
        max: 100_000,
        meaning: "distinct pools one tenant's interruption reports may flag in the hive mind an hour; reports for further pools still protect the tenant's own nodes but flag nothing",
    },
    Limit {
        name: "interruption_notices_per_tenant_per_minute",
        default: 1_000,
        min: 1,
        max: 100_000,
        meaning: "new interruption notices one tenant's agents and EventBridge relays may send a minute (each about one of its own spot nodes); a bulk reclaim of a large fleet must fit",
    },
    Limit {
        name: "keep_cluster_events_days",
        default: 30,
        min: 1,
        max: 3_650,
        meaning: "days a cluster's events are kept",
    },
    Limit {
        name: "keep_finished_actions_days",
        default: 30,
        min: 1,
        max: 3_650,
        meaning: "days a finished agent action is kept (pending ones are kept until they end)",
    },
    Limit {
        name: "keep_plans_days",
        default: 90,
        min: 1,
        max: 3_650,
        meaning: "days a finished or recommended plan is kept (a running one is kept)",
    },
    Limit {
        name: "keep_hibernation_runs_days",
        default: 90,
        min: 1,
        max: 3_650,
        meaning: "days a finished hibernation run (hibernate, wake, release) and its steps are kept (a running one is kept)",
    },
    Limit {
        name: "keep_cost_samples_days",
        default: 400,
        // Billing meters a closed month from its samples after the month ends.
        min: 35,
        max: 3_650,
        meaning: "days cost samples are kept (dashboards and savings reports read them, and billing meters a month from them after it ends)",
    },
    Limit {
        name: "lease_seconds",
        default: 15,
        min: 3,
        max: 300,
        meaning: "seconds a replica holds a lease without renewing it (renewed every third of it): on a running plan, hibernation or interruption response, and on a one-replica job (the autopilot, the interruption answerer, schedulers); what a replica that died held is taken over about this long after",
    },
    Limit {
        name: "billing_grace_days",
        default: 7,
        min: 0,
        max: 90,
        meaning: "days after a failed payment before the tenant's optimizer only recommends (interruption handling is never limited)",
    },
];

/// The limits in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub clusters_per_tenant: u64,
    pub nodes_per_cluster: u64,
    pub pods_per_cluster: u64,
    pub plans_per_cluster: u64,
    pub concurrent_requests_per_tenant: u64,
    pub concurrent_streams_per_tenant: u64,
    pub flagged_pools_per_tenant_per_hour: u64,
    pub interruption_notices_per_tenant_per_minute: u64,
    pub keep_cluster_events_days: u64,
    pub keep_finished_actions_days: u64,
    pub keep_plans_days: u64,
    pub keep_hibernation_runs_days: u64,
    pub keep_cost_samples_days: u64,
    pub lease_seconds: u64,
    pub billing_grace_days: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_overrides(&BTreeMap::new())
            .unwrap_or_else(|_| unreachable!("defaults are in range"))
    }
}

impl Limits {
    /// The defaults with `overrides` applied; an unknown name or a value out of range is an error
    /// naming `limits.<name>`.
    pub fn from_overrides(overrides: &BTreeMap<String, u64>) -> Result<Self, ConfigError> {
        if let Some(unknown) = overrides
            .keys()
            .find(|name| !LIMITS.iter().any(|limit| limit.name == name.as_str()))
        {
            return Err(ConfigError::new(
                format!("limits.{unknown}"),
                "unknown limit (see the limits table in README.md)",
            ));
        }
        let value = |name: &str| -> Result<u64, ConfigError> {
            let limit = LIMITS
                .iter()
                .find(|limit| limit.name == name)
                .unwrap_or_else(|| unreachable!("every field is in LIMITS"));
            let value = overrides.get(name).copied().unwrap_or(limit.default);
            if !(limit.min..=limit.max).contains(&value) {
                return Err(ConfigError::new(
                    format!("limits.{name}"),
                    format!("{value} is not between {} and {}", limit.min, limit.max),
                ));
            }
            Ok(value)
        };
        Ok(Self {
            clusters_per_tenant: value("clusters_per_tenant")?,
            nodes_per_cluster: value("nodes_per_cluster")?,
            pods_per_cluster: value("pods_per_cluster")?,
            plans_per_cluster: value("plans_per_cluster")?,
            concurrent_requests_per_tenant: value("concurrent_requests_per_tenant")?,
            concurrent_streams_per_tenant: value("concurrent_streams_per_tenant")?,
            flagged_pools_per_tenant_per_hour: value("flagged_pools_per_tenant_per_hour")?,
            interruption_notices_per_tenant_per_minute: value(
                "interruption_notices_per_tenant_per_minute",
            )?,
            keep_cluster_events_days: value("keep_cluster_events_days")?,
            keep_finished_actions_days: value("keep_finished_actions_days")?,
            keep_plans_days: value("keep_plans_days")?,
            keep_hibernation_runs_days: value("keep_hibernation_runs_days")?,
            keep_cost_samples_days: value("keep_cost_samples_days")?,
            lease_seconds: value("lease_seconds")?,
            billing_grace_days: value("billing_grace_days")?,
        })
    }

    /// Every limit by name, as the file's `[limits]` table shows them.
    pub fn by_name(&self) -> BTreeMap<String, u64> {
        let values = [
            self.clusters_per_tenant,
            self.nodes_per_cluster,
            self.pods_per_cluster,
            self.plans_per_cluster,
            self.concurrent_requests_per_tenant,
            self.concurrent_streams_per_tenant,
            self.flagged_pools_per_tenant_per_hour,
            self.interruption_notices_per_tenant_per_minute,
            self.keep_cluster_events_days,
            self.keep_finished_actions_days,
            self.keep_plans_days,
            self.keep_hibernation_runs_days,
            self.keep_cost_samples_days,
            self.lease_seconds,
            self.billing_grace_days,
        ];
        LIMITS
            .iter()
            .zip(values)
            .map(|(limit, value)| (limit.name.to_owned(), value))
            .collect()
    }
}

/// The limit a `SPOT_LIMIT_<NAME>` variable sets, if the variable has that shape.
pub(crate) fn limit_of_env_var(key: &str) -> Option<String> {
    key.strip_prefix("SPOT_LIMIT_")
        .map(str::to_ascii_lowercase)
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_bad_limits_are_named() {
        let defaults = Limits::default();
        assert_eq!(defaults.clusters_per_tenant, 100);
        assert_eq!(defaults.by_name().len(), LIMITS.len());
        let set =
            Limits::from_overrides(&BTreeMap::from([("keep_plans_days".to_owned(), 7)])).unwrap();
        assert_eq!(set.keep_plans_days, 7);
        let unknown =
            Limits::from_overrides(&BTreeMap::from([("clusters".to_owned(), 7)])).unwrap_err();
        assert_eq!(unknown.setting, "limits.clusters");
        let zero = Limits::from_overrides(&BTreeMap::from([("nodes_per_cluster".to_owned(), 0)]))
            .unwrap_err();
        assert_eq!(zero.setting, "limits.nodes_per_cluster");
        assert!(zero.problem.contains("between 1 and"), "{zero}");
        let before_billing_closes_the_month =
            Limits::from_overrides(&BTreeMap::from([("keep_cost_samples_days".to_owned(), 30)]))
                .unwrap_err();
        assert!(
            before_billing_closes_the_month
                .problem
                .contains("between 35 and"),
            "{before_billing_closes_the_month}"
        );
    }
}
