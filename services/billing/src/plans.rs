//! The plans a tenant can be on, and the terms (share, minimum) each charges.

use spot_proto::billing::v1 as pb;

pub const CURRENCY: &str = "USD";
pub const FREE: &str = "free";
pub const SAVINGS_SHARE: &str = "savings_share";
pub const ENTERPRISE: &str = "enterprise";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub share_basis_points: u32,
    pub minimum_minor_units: i64,
    /// 0 = no limit.
    pub max_clusters: u32,
    /// 0 = no limit.
    pub max_nodes_per_cluster: u32,
    pub by_arrangement: bool,
}

pub const PLANS: [PlanSpec; 3] = [
    PlanSpec {
        id: FREE,
        name: "Free",
        description: "Recommendations and automation for up to 5 clusters of up to 100 nodes each; no fee.",
        share_basis_points: 0,
        minimum_minor_units: 0,
        max_clusters: 5,
        max_nodes_per_cluster: 100,
        by_arrangement: false,
    },
    PlanSpec {
        id: SAVINGS_SHARE,
        name: "Savings share",
        description: "20 % of the savings the platform realises, with a monthly minimum of $100; no limits.",
        share_basis_points: 2_000,
        minimum_minor_units: 10_000,
        max_clusters: 0,
        max_nodes_per_cluster: 0,
        by_arrangement: false,
    },
    PlanSpec {
        id: ENTERPRISE,
        name: "Enterprise",
        description: "A share and minimum agreed with us, invoiced; no limits.",
        share_basis_points: 1_500,
        minimum_minor_units: 0,
        max_clusters: 0,
        max_nodes_per_cluster: 0,
        by_arrangement: true,
    },
];

pub fn plan(id: &str) -> Option<&'static PlanSpec> {
    PLANS.iter().find(|plan| plan.id == id)
}

pub fn money(minor_units: i64) -> pb::Money {
    pb::Money {
        minor_units,
        currency: CURRENCY.to_owned(),
    }
}

/// The plan as the contract shows it, with the tenant's own terms where they differ (enterprise).
pub fn to_proto(plan: &PlanSpec, share_basis_points: u32, minimum_minor_units: i64) -> pb::Plan {
    pb::Plan {
        id: plan.id.to_owned(),
        name: plan.name.to_owned(),
        description: plan.description.to_owned(),
        share_basis_points,
        monthly_minimum: Some(money(minimum_minor_units)),
        max_clusters: plan.max_clusters,
        max_nodes_per_cluster: plan.max_nodes_per_cluster,
        by_arrangement: plan.by_arrangement,
    }
}
