//! Ranking pods for scale-downs: which pods get which deletion cost, what is left alone, and the
//! patches sent to the API server.

mod common;

use std::collections::BTreeMap;

use common::{Seen, serve};
use serde_json::{Value, json};
use spot_agent::scale_down_order::{
    Change, MANAGED_ANNOTATION, POD_DELETION_COST_ANNOTATION, apply, changes,
};
use spot_proto::agent::v1::Snapshot;
use spot_proto::common::v1 as pb;

const NOW: i64 = 1_800_000_000_000;

fn node(name: &str, age_minutes: i64) -> pb::Node {
    pb::Node {
        name: name.into(),
        instance_type: "m5.large".into(),
        zone: "us-east-1a".into(),
        created_at: Some(spot_proto::time::timestamp(NOW - age_minutes * 60_000)),
        ..Default::default()
    }
}

fn pod(name: &str, node: &str, owner: &str) -> pb::Pod {
    pb::Pod {
        namespace: "shop".into(),
        name: name.into(),
        node_name: node.into(),
        owner_kind: owner.into(),
        ..Default::default()
    }
}

fn change(name: &str, cost: Option<i32>) -> Change {
    Change {
        namespace: "shop".into(),
        name: name.into(),
        cost,
    }
}

fn ours(cost: i32) -> BTreeMap<String, String> {
    [
        (POD_DELETION_COST_ANNOTATION.to_owned(), cost.to_string()),
        (MANAGED_ANNOTATION.to_owned(), "true".to_owned()),
    ]
    .into()
}

#[test]
fn a_scale_down_takes_its_pods_from_the_node_consolidation_would_take_first() {
    let mut guarded = pod("db-1", "guarded", "StatefulSet");
    guarded.do_not_disrupt = true;
    let cluster = Snapshot {
        nodes: vec![
            node("full", 600),
            node("light", 600),
            node("new", 2),
            node("guarded", 600),
        ],
        pods: vec![
            pod("web-1", "full", "ReplicaSet"),
            pod("web-2", "full", "ReplicaSet"),
            pod("api-1", "full", "ReplicaSet"),
            pod("proxy-full", "full", "DaemonSet"),
            pod("web-3", "light", "ReplicaSet"),
            pod("proxy-light", "light", "DaemonSet"),
            pod("web-4", "new", "ReplicaSet"),
            guarded,
            pod("web-5", "guarded", "ReplicaSet"),
        ],
        ..Default::default()
    };
    let annotations = BTreeMap::from([
        // Already ranked as it should be: nothing to send.
        ("shop/web-1".to_owned(), ours(-1)),
        // The user's own cost is never touched.
        (
            "shop/api-1".to_owned(),
            [(POD_DELETION_COST_ANNOTATION.to_owned(), "100".to_owned())].into(),
        ),
        // A new node is left alone, so the agent's old cost goes.
        ("shop/web-4".to_owned(), ours(-3)),
    ]);
    let mut got = changes(&cluster, &annotations, NOW);
    got.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        got,
        vec![
            change("web-2", Some(-1)),
            change("web-3", Some(-2)),
            change("web-4", None),
        ],
        "the lighter node's pods go first; the new and the guarded nodes' pods keep the default"
    );
}

#[tokio::test]
async fn costs_are_merge_patched_and_a_pod_gone_meanwhile_is_skipped() {
    let (client, handle) = common::client();
    let task = tokio::spawn(async move {
        apply(
            &client,
            &[
                change("web-2", Some(-1)),
                change("gone", Some(-1)),
                change("web-4", None),
            ],
        )
        .await
    });
    let (applied, seen) = serve(task, handle, |request: &Seen, _: &[Seen]| {
        if request.path.ends_with("/gone") {
            common::not_found("pods", "gone")
        } else {
            (
                200,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}),
            )
        }
    })
    .await;
    assert_eq!(applied, 2);
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].line(), "PATCH /api/v1/namespaces/shop/pods/web-2");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        seen[0].body,
        json!({"metadata": {"annotations": {
            POD_DELETION_COST_ANNOTATION: "-1", MANAGED_ANNOTATION: "true"}}})
    );
    assert_eq!(
        seen[2].body,
        json!({"metadata": {"annotations": {
            POD_DELETION_COST_ANNOTATION: Value::Null, MANAGED_ANNOTATION: Value::Null}}}),
        "removing the agent's cost removes its mark too"
    );
}
