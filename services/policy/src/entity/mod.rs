//! sea-orm entities of the policy service's tables. Times are unix milliseconds; policies and
//! templates are stored as their encoded `spot.policy.v1` messages (`data`).

pub mod node_templates;
pub mod policies;
pub mod policy_versions;
