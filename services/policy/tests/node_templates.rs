//! NodeTemplateService end to end: create, read, list, update and delete within a tenant;
//! Kubernetes syntax checked field by field; a template a policy uses cannot be deleted.

mod common;

use std::collections::HashMap;

use common::*;
use spot_proto::common::v1::{NodeSelectorRequirement, PageRequest, Taint, TaintEffect};
use spot_proto::policy::v1 as pb;
use spot_testkit::{TestServer, authed};

fn gpu_template() -> pb::NodeTemplate {
    pb::NodeTemplate {
        id: String::new(),
        name: "gpu-workers".into(),
        requirements: vec![
            NodeSelectorRequirement {
                key: "karpenter.k8s.aws/instance-family".into(),
                operator: "In".into(),
                values: vec!["g5".into(), "g6".into()],
            },
            NodeSelectorRequirement {
                key: "karpenter.k8s.aws/instance-generation".into(),
                operator: "Gt".into(),
                values: vec!["4".into()],
            },
        ],
        labels: HashMap::from([("example.com/team".into(), "ml".into())]),
        taints: vec![Taint {
            key: "nvidia.com/gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule.into(),
        }],
    }
}

#[tokio::test]
async fn node_templates_are_validated_listed_updated_and_kept_while_a_policy_uses_them() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let mut client = templates(&test);

    let created = client
        .create_node_template(authed(
            pb::CreateNodeTemplateRequest {
                template: Some(gpu_template()),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert!(!created.id.is_empty());
    let read = client
        .get_node_template(authed(
            pb::GetNodeTemplateRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(read, created);

    let duplicate = client
        .create_node_template(authed(
            pb::CreateNodeTemplateRequest {
                template: Some(gpu_template()),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), tonic::Code::AlreadyExists);

    // Every wrong field is named at once.
    let broken = pb::NodeTemplate {
        name: "Bad_Name".into(),
        requirements: vec![
            NodeSelectorRequirement {
                key: "zone".into(),
                operator: "Maybe".into(),
                values: vec![],
            },
            NodeSelectorRequirement {
                key: "cpu".into(),
                operator: "Gt".into(),
                values: vec!["lots".into()],
            },
        ],
        labels: HashMap::from([("bad key".into(), "ok".into())]),
        taints: vec![Taint {
            key: "dedicated".into(),
            value: "x".into(),
            effect: TaintEffect::Unspecified.into(),
        }],
        ..Default::default()
    };
    let status = client
        .create_node_template(authed(
            pb::CreateNodeTemplateRequest {
                template: Some(broken),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    for field in [
        "template.name",
        "template.requirements[0].operator",
        "template.requirements[1].values",
        "template.labels",
        "template.taints[0].effect",
    ] {
        assert!(
            status.message().contains(&format!("invalid `{field}`: ")),
            "{field}: {}",
            status.message()
        );
    }

    let second = client
        .create_node_template(authed(
            pb::CreateNodeTemplateRequest {
                template: Some(pb::NodeTemplate {
                    name: "batch".into(),
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let page = client
        .list_node_templates(authed(
            pb::ListNodeTemplatesRequest {
                page: Some(PageRequest {
                    page_size: 1,
                    page_token: String::new(),
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.templates, std::slice::from_ref(&created));
    let rest = client
        .list_node_templates(authed(
            pb::ListNodeTemplatesRequest {
                page: Some(PageRequest {
                    page_size: 1,
                    page_token: page.page.unwrap().next_page_token,
                }),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.templates, std::slice::from_ref(&second));

    let mut changed = created.clone();
    changed.labels.insert("tier".into(), "gpu".into());
    let updated = client
        .update_node_template(authed(
            pb::UpdateNodeTemplateRequest {
                template: Some(changed.clone()),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(updated, changed);

    // A policy uses it: it stays until the policy lets go.
    let cluster_id = cluster(&test, &token, "shop").await;
    update(
        &test,
        &token,
        pb::Policy {
            node_template_ids: vec![created.id.clone()],
            ..policy(&cluster_id)
        },
    )
    .await
    .unwrap();
    let refused = client
        .delete_node_template(authed(
            pb::DeleteNodeTemplateRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains(&cluster_id),
        "{}",
        refused.message()
    );
    update(&test, &token, policy(&cluster_id)).await.unwrap();
    client
        .delete_node_template(authed(
            pb::DeleteNodeTemplateRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap();
    let gone = client
        .get_node_template(authed(
            pb::GetNodeTemplateRequest {
                id: created.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);

    // Another tenant sees none of it.
    let other = test.sign_up("Other").await.access_token;
    let theirs = client
        .list_node_templates(authed(pb::ListNodeTemplatesRequest { page: None }, &other))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.templates.is_empty());
    test.stop().await;
}

#[tokio::test]
async fn a_policys_templates_narrow_its_preview_and_one_that_admits_nothing_is_refused() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let cluster_id = cluster(&test, &token, "shop").await;
    let mut client = templates(&test);
    let create = |template: pb::NodeTemplate| {
        authed(
            pb::CreateNodeTemplateRequest {
                template: Some(template),
            },
            &token,
        )
    };
    let gpu = client
        .create_node_template(create(gpu_template()))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let preview = policies(&test)
        .preview_policy(authed(
            pb::PreviewPolicyRequest {
                policy: Some(pb::Policy {
                    node_template_ids: vec![gpu.id.clone()],
                    ..policy(&cluster_id)
                }),
                region: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!preview.instance_types.is_empty());
    assert!(
        preview
            .instance_types
            .iter()
            .all(|t| t.starts_with("g5.") || t.starts_with("g6.")),
        "only the template's families: {:?}",
        preview.instance_types
    );

    // A template no instance type of the region meets: the policy naming it admits nothing.
    let nowhere = client
        .create_node_template(create(pb::NodeTemplate {
            name: "nowhere".into(),
            requirements: vec![NodeSelectorRequirement {
                key: "node.kubernetes.io/instance-type".into(),
                operator: "In".into(),
                values: vec!["x99.huge".into()],
            }],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let before = get(&test, &token, &cluster_id).await;
    let refused = update(
        &test,
        &token,
        pb::Policy {
            node_template_ids: vec![nowhere.id.clone()],
            ..policy(&cluster_id)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("invalid `policy.node_template_ids`: admits no instance type in us-east-1"),
        "{}",
        refused.message()
    );
    assert_eq!(get(&test, &token, &cluster_id).await, before, "unchanged");
    test.stop().await;
}
