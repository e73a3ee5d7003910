//! What the agent reports about its cluster: nodes, pods and PDBs, replaced by a snapshot and
//! patched by deltas. Stored as the protobuf messages the agent sent, keyed by name.

use prost::Message;
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use spot_db::Database;
use spot_proto::agent::v1::{Delta, Snapshot};
use spot_proto::common::v1::{Node, Pod, PodDisruptionBudget};
use tonic::Status;

use crate::common::db_status;
use crate::entity::cluster_objects;

const NODE: &str = "node";
const POD: &str = "pod";
const PDB: &str = "pdb";
/// Rows per INSERT: well under SQLite's bound-variable limit.
const INSERT_CHUNK: usize = 500;

/// What a snapshot or delta changed, for the event log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub nodes: usize,
    pub pods: usize,
    pub pdbs: usize,
    /// Entries left out, each with why (`nodes[3]: empty name`).
    pub rejected: Vec<String>,
}

#[derive(Clone)]
pub struct Inventory {
    db: Database,
    quota: Quota,
}

/// The most nodes and pods one cluster's agent may report (`limits.nodes_per_cluster`,
/// `limits.pods_per_cluster`): one tenant's agent cannot fill the platform's database.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub nodes: u64,
    pub pods: u64,
}

impl Quota {
    fn check(&self, kind: &str, count: u64) -> Result<(), Status> {
        // PodDisruptionBudgets are bounded by the pod limit: there is never one per pod more.
        let (limit, setting) = match kind {
            NODE => (self.nodes, "nodes_per_cluster"),
            POD | PDB => (self.pods, "pods_per_cluster"),
            _ => return Ok(()),
        };
        if count > limit {
            return Err(Status::resource_exhausted(format!(
                "the cluster would have {count} {kind}s; at most {limit} are allowed (limits.{setting}): nothing of this report was stored"
            )));
        }
        Ok(())
    }
}

pub fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

struct Row {
    kind: &'static str,
    key: String,
    data: Vec<u8>,
}

/// A kind of object the inventory stores, and the key it is stored under.
trait Stored: Message {
    const KIND: &'static str;
    /// The key, or why the object cannot be stored.
    fn key(&self) -> Result<String, &'static str>;
}

fn namespaced(namespace: &str, name: &str) -> Result<String, &'static str> {
    if namespace.is_empty() || name.is_empty() {
        Err("empty namespace or name")
    } else {
        Ok(pod_key(namespace, name))
    }
}

impl Stored for Node {
    const KIND: &'static str = NODE;
    fn key(&self) -> Result<String, &'static str> {
        if self.name.is_empty() {
            Err("empty name")
        } else {
            Ok(self.name.clone())
        }
    }
}

impl Stored for Pod {
    const KIND: &'static str = POD;
    fn key(&self) -> Result<String, &'static str> {
        namespaced(&self.namespace, &self.name)
    }
}

impl Stored for PodDisruptionBudget {
    const KIND: &'static str = PDB;
    fn key(&self) -> Result<String, &'static str> {
        namespaced(&self.namespace, &self.name)
    }
}

/// The rows for `items` (the `field` of the message they came in); invalid ones are named in
/// `rejected` and left out.
fn rows<T: Stored>(items: &[T], field: &str, rejected: &mut Vec<String>) -> Vec<Row> {
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| match item.key() {
            Ok(key) => Some(Row {
                kind: T::KIND,
                key,
                data: item.encode_to_vec(),
            }),
            Err(why) => {
                rejected.push(format!("{field}[{index}]: {why}"));
                None
            }
        })
        .collect()
}

/// The rows of a snapshot or delta's upserts, counted per kind.
fn upserts(
    (nodes, pods, pdbs): (&[Node], &[Pod], &[PodDisruptionBudget]),
    fields: [&str; 3],
) -> (Vec<Row>, Applied) {
    let mut applied = Applied::default();
    let mut all = rows(nodes, fields[0], &mut applied.rejected);
    applied.nodes = all.len();
    let pod_rows = rows(pods, fields[1], &mut applied.rejected);
    applied.pods = pod_rows.len();
    let pdb_rows = rows(pdbs, fields[2], &mut applied.rejected);
    applied.pdbs = pdb_rows.len();
    all.extend(pod_rows);
    all.extend(pdb_rows);
    (all, applied)
}

impl Inventory {
    pub fn new(db: Database, quota: Quota) -> Self {
        Self { db, quota }
    }

    /// Refuses (and so rolls back) a change that leaves the cluster over its quota.
    async fn check_quota(
        &self,
        transaction: &sea_orm::DatabaseTransaction,
        cluster_id: &str,
    ) -> Result<(), Status> {
        for kind in [NODE, POD, PDB] {
            let count = cluster_objects::Entity::find()
                .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
                .filter(cluster_objects::Column::Kind.eq(kind))
                .count(transaction)
                .await
                .map_err(db_status)?;
            self.quota.check(kind, count)?;
        }
        Ok(())
    }

    /// Replaces everything known about the cluster, in one transaction.
    pub async fn replace(&self, cluster_id: &str, snapshot: &Snapshot) -> Result<Applied, Status> {
        // Counted before anything is written: a snapshot over the quota is refused whole.
        self.quota.check(NODE, snapshot.nodes.len() as u64)?;
        self.quota.check(POD, snapshot.pods.len() as u64)?;
        self.quota.check(PDB, snapshot.pdbs.len() as u64)?;
        let (rows, applied) = upserts(
            (&snapshot.nodes, &snapshot.pods, &snapshot.pdbs),
            ["nodes", "pods", "pdbs"],
        );
        let transaction = self.db.connection().begin().await.map_err(db_status)?;
        cluster_objects::Entity::delete_many()
            .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
            .exec(&transaction)
            .await
            .map_err(db_status)?;
        insert(&transaction, cluster_id, rows).await?;
        transaction.commit().await.map_err(db_status)?;
        Ok(applied)
    }

    /// Upserts and removes what the delta names, in one transaction.
    pub async fn patch(&self, cluster_id: &str, delta: &Delta) -> Result<Applied, Status> {
        let (rows, applied) = upserts(
            (
                &delta.upserted_nodes,
                &delta.upserted_pods,
                &delta.upserted_pdbs,
            ),
            ["upserted_nodes", "upserted_pods", "upserted_pdbs"],
        );
        let mut removed: Vec<(&str, String)> = Vec::new();
        removed.extend(delta.removed_nodes.iter().map(|n| (NODE, n.clone())));
        removed.extend(delta.removed_pods.iter().map(|p| (POD, p.clone())));
        removed.extend(delta.removed_pdbs.iter().map(|p| (PDB, p.clone())));
        for (kind, key) in rows.iter().map(|row| (row.kind, row.key.clone())) {
            removed.push((kind, key));
        }
        let transaction = self.db.connection().begin().await.map_err(db_status)?;
        for chunk in removed.chunks(INSERT_CHUNK) {
            for kind in [NODE, POD, PDB] {
                let keys: Vec<&String> = chunk
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, key)| key)
                    .collect();
                if keys.is_empty() {
                    continue;
                }
                cluster_objects::Entity::delete_many()
                    .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
                    .filter(cluster_objects::Column::Kind.eq(kind))
                    .filter(cluster_objects::Column::Key.is_in(keys))
                    .exec(&transaction)
                    .await
                    .map_err(db_status)?;
            }
        }
        insert(&transaction, cluster_id, rows).await?;
        if !(delta.upserted_nodes.is_empty()
            && delta.upserted_pods.is_empty()
            && delta.upserted_pdbs.is_empty())
        {
            self.check_quota(&transaction, cluster_id).await?;
        }
        transaction.commit().await.map_err(db_status)?;
        Ok(applied)
    }

    pub async fn nodes(
        &self,
        cluster_id: &str,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> Result<Vec<Node>, Status> {
        self.list(cluster_id, NODE, after, limit).await
    }

    /// The node as last reported, if the cluster still has it.
    pub async fn node(&self, cluster_id: &str, name: &str) -> Result<Option<Node>, Status> {
        let row = cluster_objects::Entity::find()
            .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
            .filter(cluster_objects::Column::Kind.eq(NODE))
            .filter(cluster_objects::Column::Key.eq(name))
            .one(self.db.connection())
            .await
            .map_err(db_status)?;
        row.map(|row| {
            Node::decode(row.data.as_slice())
                .map_err(|e| Status::internal(format!("stored node is unreadable: {e}")))
        })
        .transpose()
    }

    pub async fn pods(
        &self,
        cluster_id: &str,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> Result<Vec<Pod>, Status> {
        self.list(cluster_id, POD, after, limit).await
    }

    pub async fn pdbs(&self, cluster_id: &str) -> Result<Vec<PodDisruptionBudget>, Status> {
        self.list(cluster_id, PDB, None, None).await
    }

    async fn list<T: Message + Default>(
        &self,
        cluster_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> Result<Vec<T>, Status> {
        let mut query = cluster_objects::Entity::find()
            .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
            .filter(cluster_objects::Column::Kind.eq(kind))
            .order_by_asc(cluster_objects::Column::Key)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(cluster_objects::Column::Key.gt(after));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter()
            .map(|row| {
                T::decode(row.data.as_slice())
                    .map_err(|e| Status::internal(format!("stored {kind} is unreadable: {e}")))
            })
            .collect()
    }
}

async fn insert(
    transaction: &sea_orm::DatabaseTransaction,
    cluster_id: &str,
    rows: Vec<Row>,
) -> Result<(), Status> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut rows = rows;
    // A delta may name one object twice; the last one wins, as it would in Kubernetes.
    rows.reverse();
    let mut seen = std::collections::HashSet::new();
    rows.retain(|row| seen.insert((row.kind, row.key.clone())));
    for chunk in rows.chunks(INSERT_CHUNK) {
        let models = chunk.iter().map(|row| cluster_objects::ActiveModel {
            cluster_id: Set(cluster_id.to_owned()),
            kind: Set(row.kind.to_owned()),
            key: Set(row.key.clone()),
            data: Set(row.data.clone()),
            updated_at: Set(now),
        });
        cluster_objects::Entity::insert_many(models)
            .exec(transaction)
            .await
            .map_err(db_status)?;
    }
    Ok(())
}
