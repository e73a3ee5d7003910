//! What the agent reports about its cluster: nodes, pods and PDBs, replaced by a snapshot and
//! patched by deltas. Stored as the protobuf messages the agent sent, keyed by name.

use prost::Message;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
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
}

pub fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

struct Row {
    kind: &'static str,
    key: String,
    data: Vec<u8>,
}

fn node_rows(nodes: &[Node], field: &str, applied: &mut Applied) -> Vec<Row> {
    let mut rows = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        if node.name.is_empty() {
            applied
                .rejected
                .push(format!("{field}[{index}]: empty name"));
            continue;
        }
        rows.push(Row {
            kind: NODE,
            key: node.name.clone(),
            data: node.encode_to_vec(),
        });
    }
    applied.nodes += rows.len();
    rows
}

fn pod_rows(pods: &[Pod], field: &str, applied: &mut Applied) -> Vec<Row> {
    let mut rows = Vec::with_capacity(pods.len());
    for (index, pod) in pods.iter().enumerate() {
        if pod.namespace.is_empty() || pod.name.is_empty() {
            applied
                .rejected
                .push(format!("{field}[{index}]: empty namespace or name"));
            continue;
        }
        rows.push(Row {
            kind: POD,
            key: pod_key(&pod.namespace, &pod.name),
            data: pod.encode_to_vec(),
        });
    }
    applied.pods += rows.len();
    rows
}

fn pdb_rows(pdbs: &[PodDisruptionBudget], applied: &mut Applied) -> Vec<Row> {
    let mut rows = Vec::with_capacity(pdbs.len());
    for (index, pdb) in pdbs.iter().enumerate() {
        if pdb.namespace.is_empty() || pdb.name.is_empty() {
            applied
                .rejected
                .push(format!("pdbs[{index}]: empty namespace or name"));
            continue;
        }
        rows.push(Row {
            kind: PDB,
            key: pod_key(&pdb.namespace, &pdb.name),
            data: pdb.encode_to_vec(),
        });
    }
    applied.pdbs += rows.len();
    rows
}

impl Inventory {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Replaces everything known about the cluster, in one transaction.
    pub async fn replace(&self, cluster_id: &str, snapshot: &Snapshot) -> Result<Applied, Status> {
        let mut applied = Applied::default();
        let mut rows = node_rows(&snapshot.nodes, "nodes", &mut applied);
        rows.extend(pod_rows(&snapshot.pods, "pods", &mut applied));
        rows.extend(pdb_rows(&snapshot.pdbs, &mut applied));
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
        let mut applied = Applied::default();
        let mut rows = node_rows(&delta.upserted_nodes, "upserted_nodes", &mut applied);
        rows.extend(pod_rows(
            &delta.upserted_pods,
            "upserted_pods",
            &mut applied,
        ));
        rows.extend(pdb_rows(&delta.upserted_pdbs, &mut applied));
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
        transaction.commit().await.map_err(db_status)?;
        Ok(applied)
    }

    pub async fn nodes(
        &self,
        cluster_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Node>, Status> {
        self.list(cluster_id, NODE, after, limit).await
    }

    pub async fn pods(
        &self,
        cluster_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Pod>, Status> {
        self.list(cluster_id, POD, after, limit).await
    }

    pub async fn pdbs(&self, cluster_id: &str) -> Result<Vec<PodDisruptionBudget>, Status> {
        self.list(cluster_id, PDB, None, u64::MAX).await
    }

    async fn list<T: Message + Default>(
        &self,
        cluster_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<T>, Status> {
        let mut query = cluster_objects::Entity::find()
            .filter(cluster_objects::Column::ClusterId.eq(cluster_id))
            .filter(cluster_objects::Column::Kind.eq(kind))
            .order_by_asc(cluster_objects::Column::Key);
        if limit != u64::MAX {
            query = query.limit(limit);
        }
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
