use sea_orm::entity::prelude::*;

/// A node, pod or PDB as the agent last reported it (`data` is the protobuf message).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cluster_id: String,
    /// `node`, `pod` or `pdb`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The node name, or `namespace/name`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub data: Vec<u8>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
