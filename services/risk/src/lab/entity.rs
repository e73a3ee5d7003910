//! The lab's tables (migration 000011).

pub mod experiments {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "experiments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        /// `risk-model` or `optimizer-strategy`.
        pub kind: String,
        pub candidate: String,
        pub live: String,
        /// A JSON array of cluster ids.
        pub cluster_ids: String,
        pub duration_hours: i32,
        /// `running`, `stopped` or `archived`.
        pub state: String,
        pub stop_reason: String,
        pub created_by: String,
        pub started_at: i64,
        pub ends_at: i64,
        pub stopped_at: Option<i64>,
        /// The latest `spot.risk.v1.ExperimentReport`, encoded.
        pub report: Vec<u8>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod experiment_decisions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "experiment_decisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub experiment_id: String,
        pub cluster_id: String,
        /// `region/zone/instance-type` or `plan`.
        pub subject: String,
        pub at: i64,
        /// When a risk prediction's horizon ends (= `at` for strategies).
        pub matures_at: i64,
        pub live_value: f64,
        pub candidate_value: f64,
        pub live_risk: f64,
        pub candidate_risk: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
