//! The interruptions the risk service accepted, by pool (never by tenant): the evidence risk
//! scores are computed from.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryFilter, Set, sea_query::OnConflict};
use spot_db::Database;

use crate::intake::Notice;

pub mod risk_events {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "risk_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub region: String,
        pub zone: String,
        pub instance_type: String,
        /// Unix milliseconds.
        pub at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How far back scores look.
pub const MEMORY_MILLIS: i64 = 7 * 24 * 3_600 * 1_000;

#[derive(Clone)]
pub struct EvidenceStore {
    db: Database,
}

impl EvidenceStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records an accepted interruption (an event id counts once).
    pub async fn record(&self, notice: &Notice, at_millis: i64) -> Result<(), DbErr> {
        let row = risk_events::ActiveModel {
            event_id: Set(notice.event_id.clone()),
            region: Set(notice.region.clone()),
            zone: Set(notice.zone.clone()),
            instance_type: Set(notice.instance_type.clone()),
            at: Set(at_millis),
        };
        risk_events::Entity::insert(row)
            .on_conflict(
                OnConflict::column(risk_events::Column::EventId)
                    .do_nothing()
                    .to_owned(),
            )
            .do_nothing()
            .exec(self.db.connection())
            .await
            .map(|_| ())
    }

    /// Interruption times in `region` since `since_millis`, with their pools.
    pub async fn recent(
        &self,
        region: &str,
        since_millis: i64,
    ) -> Result<Vec<risk_events::Model>, DbErr> {
        risk_events::Entity::find()
            .filter(risk_events::Column::Region.eq(region))
            .filter(risk_events::Column::At.gte(since_millis))
            .all(self.db.connection())
            .await
    }

    /// Forgets what scores no longer look at, so the table stays bounded.
    pub async fn forget_before(&self, before_millis: i64) -> Result<u64, DbErr> {
        risk_events::Entity::delete_many()
            .filter(risk_events::Column::At.lt(before_millis))
            .exec(self.db.connection())
            .await
            .map(|r| r.rows_affected)
    }
}
