use sea_orm::entity::prelude::*;

/// What the scheduler last did to a cluster, and the capacity a wake restores.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hibernation_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cluster_id: String,
    pub tenant_id: String,
    /// awake, hibernating, asleep or waking.
    pub state: String,
    /// The capacity before the cluster hibernated: a `HibernationRun` message with only its
    /// `capacity` set (empty while awake).
    pub capacity: Vec<u8>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
