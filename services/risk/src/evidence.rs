//! The interruptions the risk service accepted, by pool: the evidence risk scores are computed
//! from. Each keeps an opaque name of its reporter (never the tenant id), and a reporter's
//! evidence about a pool counts for at most [`MAX_EVENTS_PER_REPORTER`] interruptions, so one
//! tenant, however many notices it sends, cannot dominate a score that every tenant plans by.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryFilter, Set, sea_query::OnConflict};
use spot_db::Database;

use crate::notice::{Notice, reporter_name};

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
        /// See [`crate::notice::reporter_name`].
        pub reporter: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How far back scores look.
pub const MEMORY_MILLIS: i64 = 7 * 24 * 3_600 * 1_000;
/// The most interruptions of one pool that one reporter's evidence counts for (its latest).
pub const MAX_EVENTS_PER_REPORTER: usize = 3;

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
            reporter: Set(reporter_name(&notice.reporter)),
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

    /// Interruptions in `region` since `since_millis`, with their pools, weighed by reporter.
    pub async fn recent(
        &self,
        region: &str,
        since_millis: i64,
    ) -> Result<Vec<risk_events::Model>, DbErr> {
        let events = risk_events::Entity::find()
            .filter(risk_events::Column::Region.eq(region))
            .filter(risk_events::Column::At.gte(since_millis))
            .all(self.db.connection())
            .await?;
        Ok(weighed_by_reporter(events))
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

/// Keeps each reporter's [`MAX_EVENTS_PER_REPORTER`] latest interruptions of each pool.
pub fn weighed_by_reporter(mut events: Vec<risk_events::Model>) -> Vec<risk_events::Model> {
    events.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.event_id.cmp(&b.event_id)));
    let mut counted: std::collections::HashMap<(String, String, String), usize> =
        std::collections::HashMap::new();
    events.retain(|event| {
        let seen = counted
            .entry((
                event.zone.clone(),
                event.instance_type.clone(),
                event.reporter.clone(),
            ))
            .or_default();
        *seen += 1;
        *seen <= MAX_EVENTS_PER_REPORTER
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: usize, zone: &str, reporter: &str) -> risk_events::Model {
        risk_events::Model {
            event_id: format!("e{id}"),
            region: "us-east-1".into(),
            zone: zone.into(),
            instance_type: "m5.large".into(),
            at: i64::try_from(id).unwrap(),
            reporter: reporter.into(),
        }
    }

    #[test]
    fn one_reporter_counts_for_its_latest_few_interruptions_of_a_pool() {
        let mut events: Vec<_> = (0..50).map(|i| event(i, "us-east-1a", "flooder")).collect();
        events.push(event(60, "us-east-1a", "other"));
        events.push(event(61, "us-east-1b", "flooder"));
        let kept = weighed_by_reporter(events);
        let ids: Vec<&str> = kept.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, ["e61", "e60", "e49", "e48", "e47"]);
    }
}
