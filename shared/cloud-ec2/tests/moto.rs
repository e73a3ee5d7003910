//! Ec2Provider against a real wire peer: moto's EC2 and STS server (PyPI `moto[server]`).

use std::collections::BTreeMap;

use spot_cloud::{
    AmiFamily, Architecture, CLUSTER_ID_TAG, CapacityType, CloudProvider, LaunchRequest,
    MANAGED_TAG, NodeClass, NodeClassError, Pool, RoleArn, Selector,
};
use spot_cloud_ec2::Ec2Provider;
use spot_cloud_ec2::testing::{
    AL2_IMAGE_NAME, AL2023_IMAGE_NAME, ARM_IMAGE, MotoServer, X86_IMAGE,
};

fn pool(zone: &str, instance_type: &str) -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: instance_type.into(),
    }
}

#[tokio::test]
async fn assume_role_verify_describe_launch_discover_terminate() {
    let moto = MotoServer::start();
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/SpotOptimizer").unwrap();
    let cloud = Ec2Provider::assume_role(&moto.platform().await, &role, "tenant-external-id").await;

    let zones = cloud.verify("us-east-1").await.unwrap();
    assert!(zones.iter().any(|z| z == "us-east-1a"), "{zones:?}");

    let types = cloud.instance_types("us-east-1").await.unwrap();
    assert!(types.len() > 1000, "{}", types.len());
    let catalog = spot_cloud::Catalog::embedded();
    let known = types.iter().filter(|t| catalog.get(t).is_ok()).count();
    assert!(
        known * 10 > types.len() * 8,
        "most live types are in the embedded catalog: {known} of {}",
        types.len()
    );

    let offerings = cloud.offerings("us-east-1").await.unwrap();
    assert!(
        offerings
            .iter()
            .any(|o| o.instance_type == "m5.large" && o.zone == "us-east-1a")
    );
    let prices = cloud.spot_prices("us-east-1").await.unwrap();
    assert!(!prices.is_empty());
    assert!(
        prices
            .iter()
            .all(|p| p.usd_per_hour > 0.0 && p.pool.region == "us-east-1")
    );

    for (cluster, count, capacity_type) in [
        ("shop", 3, CapacityType::Spot),
        ("batch", 2, CapacityType::OnDemand),
    ] {
        moto.seed_nodes(
            cluster,
            pool("us-east-1a", "m5.large"),
            capacity_type,
            count,
        )
        .await;
    }
    let shop = cloud
        .instances_tagged("us-east-1", "kubernetes.io/cluster/shop")
        .await
        .unwrap();
    assert_eq!(shop.len(), 3);
    assert!(
        shop.iter()
            .all(|i| i.capacity_type == CapacityType::Spot && i.pool.instance_type == "m5.large")
    );
    let all = cloud
        .instances_tagged("us-east-1", "eks:cluster-name")
        .await
        .unwrap();
    assert_eq!(all.len(), 5);

    let ids: Vec<String> = shop.iter().map(|i| i.id.clone()).collect();
    cloud.terminate("us-east-1", &ids).await.unwrap();
    let left = cloud
        .instances_tagged("us-east-1", "eks:cluster-name")
        .await
        .unwrap();
    assert_eq!(left.len(), 2, "terminated instances are no longer listed");
}

async fn customer_account(moto: &MotoServer) -> Ec2Provider {
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/SpotOptimizer").unwrap();
    Ec2Provider::assume_role(&moto.platform().await, &role, "tenant-external-id").await
}

fn field_errors(error: NodeClassError) -> Vec<(String, String)> {
    match error {
        NodeClassError::Invalid(errors) => {
            errors.into_iter().map(|e| (e.field, e.reason)).collect()
        }
        other => panic!("expected field errors, got {other}"),
    }
}

#[tokio::test]
async fn a_node_class_imported_from_the_nodes_launches_into_its_subnets_with_its_template() {
    let moto = MotoServer::start();
    let shop = moto
        .seed_eks_cluster(
            "shop",
            &["us-east-1a", "us-east-1b"],
            "m5.large",
            1,
            AL2023_IMAGE_NAME,
        )
        .await;
    let cloud = customer_account(&moto).await;

    let class = cloud.import_node_class("us-east-1", "shop").await.unwrap();
    let mut subnet_ids: Vec<String> = shop.subnets.values().cloned().collect();
    subnet_ids.sort();
    assert_eq!(class.subnets.ids, subnet_ids);
    assert_eq!(
        class.security_groups.ids,
        std::slice::from_ref(&shop.security_group)
    );
    assert_eq!(class.instance_profile, shop.instance_profile_arn);
    assert_eq!(class.ami_family, AmiFamily::Al2023);
    assert_eq!(
        class.ami_ids,
        BTreeMap::from([("amd64".to_owned(), shop.image_id.clone())])
    );

    // Nodes on an image whose bootstrap the platform cannot write (Amazon Linux 2's
    // bootstrap.sh) give a class of AWS's recommended AL2023 images instead of theirs.
    moto.seed_eks_cluster("legacy", &["us-east-1a"], "m5.large", 1, AL2_IMAGE_NAME)
        .await;
    let legacy = cloud
        .import_node_class("us-east-1", "legacy")
        .await
        .unwrap();
    assert_eq!(legacy.ami_family, AmiFamily::Al2023);
    assert!(legacy.ami_ids.is_empty(), "{:?}", legacy.ami_ids);

    let spec = cloud
        .resolve_node_class("us-east-1", "shop", &class)
        .await
        .unwrap();
    assert_eq!(spec.subnets, shop.subnets);
    assert_eq!(spec.images.get(&Architecture::Amd64), Some(&shop.image_id));
    assert!(spec.user_data.contains("name: shop"), "{}", spec.user_data);
    assert!(spec.user_data.contains("apiServerEndpoint: https://"));

    // By discovery tags, with the family's images from SSM: both architectures.
    let discovered = cloud
        .resolve_node_class(
            "us-east-1",
            "shop",
            &NodeClass::discovery_default("shop", "shop-node"),
        )
        .await
        .unwrap();
    assert_eq!(discovered.subnets, shop.subnets);
    assert_eq!(
        discovered.security_group_ids,
        std::slice::from_ref(&shop.security_group)
    );
    assert_eq!(
        discovered
            .images
            .get(&Architecture::Arm64)
            .map(String::as_str),
        Some(ARM_IMAGE)
    );

    let launched = cloud
        .launch(LaunchRequest {
            region: "us-east-1".into(),
            pools: vec![
                pool("us-east-1a", "m5.large"),
                pool("us-east-1c", "m5.large"),
            ],
            capacity_type: CapacityType::Spot,
            count: 2,
            tags: BTreeMap::from([(CLUSTER_ID_TAG.to_owned(), "cluster-1".to_owned())]),
            spec: Some(spec.clone()),
            client_token: None,
        })
        .await
        .unwrap();
    assert_eq!(launched.instances.len(), 2, "{launched:?}");
    assert_eq!(launched.failures.len(), 1);
    assert_eq!(launched.failures[0].code, "NoSubnetInZone");
    assert_eq!(launched.failures[0].pool, pool("us-east-1c", "m5.large"));

    let ec2 = aws_sdk_ec2::Client::new(&moto.platform().await);
    let ids: Vec<String> = launched.instances.iter().map(|i| i.id.clone()).collect();
    let described = ec2
        .describe_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .unwrap();
    for instance in described.reservations().iter().flat_map(|r| r.instances()) {
        assert_eq!(
            instance.subnet_id(),
            Some(shop.subnets["us-east-1a"].as_str())
        );
        assert_eq!(instance.image_id(), Some(shop.image_id.as_str()));
        assert!(
            instance
                .tags()
                .iter()
                .any(|t| t.key() == Some(MANAGED_TAG) && t.value() == Some("true"))
        );
        assert!(
            instance
                .tags()
                .iter()
                .any(|t| t.key() == Some(CLUSTER_ID_TAG))
        );
    }
    // moto does not copy a template's metadata options onto instances: the template holds them.
    let templates = ec2
        .describe_launch_template_versions()
        .launch_template_id(
            ec2.describe_launch_templates()
                .send()
                .await
                .unwrap()
                .launch_templates()
                .iter()
                .find(|t| {
                    t.launch_template_name()
                        .is_some_and(|n| n.starts_with("spot-optimizer-"))
                })
                .and_then(|t| t.launch_template_id())
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let data = templates.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    let metadata = data.metadata_options().unwrap();
    assert_eq!(metadata.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(metadata.http_put_response_hop_limit(), Some(1));
    assert_eq!(
        data.security_group_ids(),
        std::slice::from_ref(&shop.security_group)
    );
    assert_eq!(
        data.iam_instance_profile().and_then(|p| p.arn()),
        Some(shop.instance_profile_arn.as_str())
    );

    // The same class launches again from the same template.
    cloud
        .launch(LaunchRequest {
            region: "us-east-1".into(),
            pools: vec![pool("us-east-1b", "m5.large")],
            capacity_type: CapacityType::OnDemand,
            count: 1,
            tags: BTreeMap::from([(CLUSTER_ID_TAG.to_owned(), "cluster-1".to_owned())]),
            spec: Some(spec),
            client_token: None,
        })
        .await
        .unwrap();
    // One template per capacity type: spot requests are tagged only where there are some (EC2
    // refuses their tags on an on-demand launch).
    let mut tagged: Vec<Vec<String>> = Vec::new();
    for template in ec2
        .describe_launch_templates()
        .send()
        .await
        .unwrap()
        .launch_templates()
        .iter()
        .filter(|t| {
            t.launch_template_name()
                .is_some_and(|n| n.starts_with("spot-optimizer-"))
        })
    {
        let versions = ec2
            .describe_launch_template_versions()
            .launch_template_id(template.launch_template_id().unwrap())
            .send()
            .await
            .unwrap();
        let data = versions.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        tagged.push(
            data.tag_specifications()
                .iter()
                .filter_map(|t| t.resource_type().map(|r| r.as_str().to_owned()))
                // moto shows the template's own tags among them.
                .filter(|r| r != "launch-template")
                .collect(),
        );
    }
    tagged.sort();
    assert_eq!(
        tagged,
        [
            vec!["volume", "network-interface"],
            vec!["volume", "network-interface", "spot-instances-request"],
        ]
    );
}

#[tokio::test]
async fn a_node_class_the_account_cannot_honour_names_each_setting() {
    let moto = MotoServer::start();
    let shop = moto
        .seed_eks_cluster("shop", &["us-east-1a"], "m5.large", 1, AL2023_IMAGE_NAME)
        .await;
    moto.seed_eks_cluster("other", &["us-east-1a"], "m5.large", 1, AL2023_IMAGE_NAME)
        .await;
    let cloud = customer_account(&moto).await;
    let other = cloud.import_node_class("us-east-1", "other").await.unwrap();

    let mut wrong = NodeClass::discovery_default("shop", "no-such-profile");
    wrong.subnets = other.subnets.clone();
    wrong.security_groups = Selector {
        ids: vec!["sg-0123456789abcdef0".into()],
        tags: BTreeMap::new(),
    };
    wrong.ami_ids = BTreeMap::from([("arm64".to_owned(), X86_IMAGE.to_owned())]);
    let errors = field_errors(
        cloud
            .resolve_node_class("us-east-1", "shop", &wrong)
            .await
            .unwrap_err(),
    );
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "node_class.subnets",
            "node_class.security_groups.ids",
            "node_class.instance_profile",
            "node_class.ami_ids.arm64",
        ],
        "{errors:?}"
    );
    assert!(errors[0].1.contains(&shop.vpc_id), "{errors:?}");
    assert!(errors[3].1.contains("amd64"), "{errors:?}");

    let unknown = field_errors(
        cloud
            .resolve_node_class(
                "us-east-1",
                "nowhere",
                &NodeClass::discovery_default("nowhere", "x"),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(unknown[0].0, "cluster");
    let nothing = field_errors(
        cloud
            .import_node_class("us-east-1", "nowhere")
            .await
            .unwrap_err(),
    );
    assert!(nothing[0].1.contains("no running node"), "{nothing:?}");
}

#[tokio::test]
async fn a_node_of_an_eks_node_group_leaves_it_one_smaller_instead_of_coming_back() {
    let moto = MotoServer::start();
    let shop = moto
        .seed_eks_cluster("shop", &["us-east-1a"], "m5.large", 1, AL2023_IMAGE_NAME)
        .await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&moto.platform().await);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("eks-shop-nodes")
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name("eks-shop-nodes")
                .build(),
        )
        .min_size(0)
        .max_size(5)
        .desired_capacity(3)
        .vpc_zone_identifier(&shop.subnets["us-east-1a"])
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .key("eks:cluster-name")
                .value("shop")
                .propagate_at_launch(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let group = || async {
        autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("eks-shop-nodes")
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()[0]
            .clone()
    };
    let before = group().await;
    let members: Vec<String> = before
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    assert_eq!(members.len(), 3);

    // One node of the group and one launched alone, terminated together.
    let cloud = customer_account(&moto).await;
    let alone = shop.instance_ids[0].clone();
    cloud
        .terminate("us-east-1", &[members[0].clone(), alone.clone()])
        .await
        .unwrap();
    let after = group().await;
    assert_eq!(
        after.desired_capacity(),
        Some(2),
        "the group is one smaller"
    );
    let left: Vec<&str> = after
        .instances()
        .iter()
        .filter_map(|i| i.instance_id())
        .collect();
    assert_eq!(left.len(), 2);
    assert!(
        !left.contains(&members[0].as_str()),
        "and launches nothing in its place"
    );
    let states: BTreeMap<String, String> = moto
        .peer()
        .instances_tagged("eks:cluster-name", "shop")
        .await
        .into_iter()
        .map(|i| (i.id, i.state))
        .collect();
    for id in [&members[0], &alone] {
        assert!(
            matches!(states[id].as_str(), "terminated" | "shutting-down"),
            "{states:?}"
        );
    }
}
