//! Every schema change of the platform, one migration per change, the same on SQLite and PostgreSQL.
//! Run at start by `spot serve` and on demand by `spot migrate`.
//!
//! SQLite cannot add foreign keys or alter columns after the fact (sea-orm-migration panics), so
//! foreign keys are declared inside `create_table` and columns are added, never modified.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_system_config;
mod m20261128_000002_accounts;
mod m20261128_000003_aws_accounts;
mod m20261128_000004_clusters;
mod m20261128_000005_agents;
mod m20261128_000006_plans;
mod m20261128_000007_cost_samples;
mod m20261129_000008_policies;
mod m20261129_000009_hibernation;
mod m20261129_000010_risk_events;
mod m20261129_000011_experiments;
mod m20261129_000012_spot_price_samples;
mod m20261204_000013_risk_event_reporters;
mod m20261204_000014_api_key_scopes;
mod m20261204_000015_email_verification;
mod m20261204_000016_step_runs;
mod m20261205_000017_memberships;
mod m20261205_000018_node_classes;
mod m20261206_000019_plan_problems;
mod m20261206_000020_billing;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_system_config::Migration),
            Box::new(m20261128_000002_accounts::Migration),
            Box::new(m20261128_000003_aws_accounts::Migration),
            Box::new(m20261128_000004_clusters::Migration),
            Box::new(m20261128_000005_agents::Migration),
            Box::new(m20261128_000006_plans::Migration),
            Box::new(m20261128_000007_cost_samples::Migration),
            Box::new(m20261129_000008_policies::Migration),
            Box::new(m20261129_000009_hibernation::Migration),
            Box::new(m20261129_000010_risk_events::Migration),
            Box::new(m20261129_000011_experiments::Migration),
            Box::new(m20261129_000012_spot_price_samples::Migration),
            Box::new(m20261204_000013_risk_event_reporters::Migration),
            Box::new(m20261204_000014_api_key_scopes::Migration),
            Box::new(m20261204_000015_email_verification::Migration),
            Box::new(m20261204_000016_step_runs::Migration),
            Box::new(m20261205_000017_memberships::Migration),
            Box::new(m20261205_000018_node_classes::Migration),
            Box::new(m20261206_000019_plan_problems::Migration),
            Box::new(m20261206_000020_billing::Migration),
        ]
    }
}
