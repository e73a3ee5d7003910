//! Nodes left to empty by attrition (see [`spot_engine::nodes_to_empty`]). At each re-plan the
//! autopilot keeps the `PreferNoSchedule` taint `spot-optimizer.io/emptying` on exactly the nodes
//! the cluster could do without: kube-scheduler binds new pods elsewhere while the other nodes
//! have room, scale-downs take these nodes' pods first (the agent's deletion costs), and a node
//! that has emptied is removed with no pod moved. Nothing is evicted: a consolidation that pays
//! still moves pods, and a pod with nowhere else to go still lands on a tainted node. The taint
//! is taken off a node that is needed again, and off every node when consolidation is off.

use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1 as common;

use crate::OptimizerApi;

/// The taint actions that leave the taint on exactly the `emptying` nodes: set where it is
/// missing, removed where it no longer belongs.
pub fn taint_changes(nodes: &[common::Node], emptying: &[String]) -> Vec<Action> {
    let key = spot_engine::EMPTYING_TAINT_KEY;
    nodes
        .iter()
        .filter_map(|node| {
            let tainted = node.taints.iter().any(|t| t.key == key);
            let wanted = emptying.contains(&node.name);
            let mut action = Action {
                kind: ActionKind::Taint.into(),
                node_name: node.name.clone(),
                ..Default::default()
            };
            match (wanted, tainted) {
                (true, false) => {
                    action.taints = vec![common::Taint {
                        key: key.to_owned(),
                        value: String::new(),
                        effect: common::TaintEffect::PreferNoSchedule.into(),
                    }]
                }
                (false, true) => action.remove_taint_keys = vec![key.to_owned()],
                _ => return None,
            }
            Some(action)
        })
        .collect()
}

impl OptimizerApi {
    /// Sends the taint changes through the execution router. Nothing is sent in safe mode: the
    /// router would refuse each one, with an event and an audit record, at every re-plan. A
    /// change that fails is made again at the next re-plan.
    pub(crate) async fn mark_emptying(&self, cluster_id: &str, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        let safe_mode = spot_db::SystemSettingsStore::new(self.ctx.db.clone())
            .get()
            .await
            .map(|settings| settings.safe_mode);
        if !matches!(safe_mode, Ok(false)) {
            return;
        }
        let Some(channel) = self.ctx.clients.channel(spot_config::ServiceName::Cluster) else {
            return;
        };
        let mut router = ExecutionServiceClient::new(channel);
        for action in actions {
            let node = action.node_name.clone();
            let request = cluster::ExecuteStepRequest {
                cluster_id: cluster_id.to_owned(),
                plan_id: String::new(),
                step: Some(cluster::execute_step_request::Step::Action(action)),
            };
            if let Err(status) = router.execute_step(request).await {
                tracing::warn!(%status, cluster = %cluster_id, %node, "emptying taint not changed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, tainted: bool) -> common::Node {
        common::Node {
            name: name.into(),
            taints: if tainted {
                vec![common::Taint {
                    key: spot_engine::EMPTYING_TAINT_KEY.into(),
                    value: String::new(),
                    effect: common::TaintEffect::PreferNoSchedule.into(),
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_taint_is_set_where_missing_and_removed_where_no_longer_wanted() {
        let nodes = [
            node("a", false),
            node("b", true),
            node("c", true),
            node("d", false),
        ];
        let changes = taint_changes(&nodes, &["a".to_owned(), "c".to_owned()]);
        let summary: Vec<(&str, usize, usize)> = changes
            .iter()
            .map(|a| {
                (
                    a.node_name.as_str(),
                    a.taints.len(),
                    a.remove_taint_keys.len(),
                )
            })
            .collect();
        assert_eq!(summary, vec![("a", 1, 0), ("b", 0, 1)]);
        assert_eq!(
            changes[0].taints[0].effect(),
            common::TaintEffect::PreferNoSchedule
        );
    }
}
