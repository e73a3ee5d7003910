//! PolicyService end to end: the fallback from a cluster's policy to the tenant default to the
//! built-in, field-level validation (the previous policy stays in force), versions and rollback,
//! and the preview of what a policy admits.

mod common;

use common::*;
use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::common::v1::{Architecture, CapacityType, actor};
use spot_proto::policy::v1 as pb;
use spot_testkit::{TestServer, authed};

#[tokio::test]
async fn a_cluster_without_a_policy_gets_the_tenant_default_else_the_built_in() {
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await;
    let token = owner.access_token.clone();
    let cluster_id = cluster(&test, &token, "shop").await;

    let builtin = get(&test, &token, &cluster_id).await;
    assert_eq!(builtin.version, 0, "never saved");
    assert_eq!(
        (
            builtin.spot_percent,
            builtin.max_interruption_bucket,
            builtin.min_pools
        ),
        (100, 2, 3)
    );
    assert_eq!(builtin.consolidation_min_savings_percent, 5.0);

    let default = update(
        &test,
        &token,
        pb::Policy {
            spot_percent: 50,
            ..policy("")
        },
    )
    .await
    .unwrap();
    assert_eq!((default.version, default.cluster_id.as_str()), (1, ""));
    let inherited = get(&test, &token, &cluster_id).await;
    assert_eq!(inherited.cluster_id, "", "the tenant default applies");
    assert_eq!((inherited.version, inherited.spot_percent), (1, 50));

    let own = update(
        &test,
        &token,
        pb::Policy {
            spot_percent: 70,
            ..policy(&cluster_id)
        },
    )
    .await
    .unwrap();
    assert_eq!(own.version, 1);
    let read = get(&test, &token, &cluster_id).await;
    assert_eq!(
        (read.cluster_id.as_str(), read.spot_percent),
        (cluster_id.as_str(), 70)
    );
    assert_eq!(
        read.changed_by.and_then(|a| a.kind),
        Some(actor::Kind::UserId(owner.user.id.clone()))
    );
    assert!(read.changed_at.is_some());
    // The tenant default is untouched by the cluster's own policy.
    assert_eq!(get(&test, &token, "").await.spot_percent, 50);

    let unknown = policies(&test)
        .get_policy(authed(
            pb::GetPolicyRequest {
                cluster_id: "no-such-cluster".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    test.stop().await;
}

/// One broken policy per case, and the field it must be reported on.
fn broken(cluster_id: &str) -> Vec<(&'static str, pb::Policy)> {
    let base = policy(cluster_id);
    let budget = base.disruption_budget.clone().unwrap();
    vec![
        (
            "policy.spot_percent",
            pb::Policy {
                spot_percent: 101,
                ..base.clone()
            },
        ),
        (
            "policy.bare_pods_evictable_in",
            pb::Policy {
                bare_pods_evictable_in: vec!["ci".into(), "Not_A_Namespace".into()],
                ..base.clone()
            },
        ),
        (
            "policy.local_data_evictable_in",
            pb::Policy {
                local_data_evictable_in: vec!["-dash".into()],
                ..base.clone()
            },
        ),
        (
            "policy.denied_families",
            pb::Policy {
                allowed_families: vec!["m5".into(), "c5".into()],
                denied_families: vec!["m5".into()],
                ..base.clone()
            },
        ),
        (
            "policy.on_demand_base",
            pb::Policy {
                on_demand_base: 1001,
                ..base.clone()
            },
        ),
        (
            "policy.disruption_budget",
            pb::Policy {
                disruption_budget: Some(pb::DisruptionBudget {
                    max_nodes: 0,
                    max_percent: 0,
                    ..budget.clone()
                }),
                ..base.clone()
            },
        ),
        (
            "policy.disruption_budget.max_percent",
            pb::Policy {
                disruption_budget: Some(pb::DisruptionBudget {
                    max_percent: 101,
                    ..budget.clone()
                }),
                ..base.clone()
            },
        ),
        (
            "policy.disruption_budget.windows",
            pb::Policy {
                disruption_budget: Some(pb::DisruptionBudget {
                    windows: vec!["every night".into()],
                    ..budget.clone()
                }),
                ..base.clone()
            },
        ),
        (
            "policy.disruption_budget.time_zone",
            pb::Policy {
                disruption_budget: Some(pb::DisruptionBudget {
                    time_zone: "Mars/Olympus_Mons".into(),
                    ..budget
                }),
                ..base.clone()
            },
        ),
        (
            "policy.allowed_families",
            pb::Policy {
                allowed_families: vec!["zz9".into()],
                ..base.clone()
            },
        ),
        (
            "policy.allowed_categories",
            pb::Policy {
                allowed_categories: vec!["nope".into()],
                ..base.clone()
            },
        ),
        (
            "policy.allowed_generations",
            pb::Policy {
                allowed_generations: vec![99],
                ..base.clone()
            },
        ),
        (
            "policy.architectures",
            pb::Policy {
                architectures: vec![7],
                ..base.clone()
            },
        ),
        (
            "policy.max_interruption_bucket",
            pb::Policy {
                max_interruption_bucket: 5,
                ..base.clone()
            },
        ),
        (
            "policy.min_pools",
            pb::Policy {
                min_pools: 21,
                ..base.clone()
            },
        ),
        (
            "policy.max_usd_per_vcpu_hour",
            pb::Policy {
                max_usd_per_vcpu_hour: -1.0,
                ..base.clone()
            },
        ),
        (
            "policy.node_template_ids",
            pb::Policy {
                node_template_ids: vec!["no-such-template".into()],
                ..base.clone()
            },
        ),
        // Admits no instance type in us-east-1: the cap is below every price.
        (
            "policy.max_usd_per_vcpu_hour",
            pb::Policy {
                max_usd_per_vcpu_hour: 0.000_001,
                ..base.clone()
            },
        ),
        // m5 is amd64 only: each filter admits types alone, together they admit none.
        (
            "policy.architectures",
            pb::Policy {
                allowed_families: vec!["m5".into()],
                architectures: vec![Architecture::Arm64.into()],
                ..base
            },
        ),
    ]
}

#[tokio::test]
async fn each_violation_names_its_field_and_the_previous_policy_stays_in_force() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let cluster_id = cluster(&test, &token, "shop").await;
    let saved = update(&test, &token, policy(&cluster_id)).await.unwrap();
    assert_eq!(saved.version, 1);

    for (field, bad) in broken(&cluster_id) {
        let status = update(&test, &token, bad.clone()).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
        assert!(
            status.message().contains(&format!("invalid `{field}`: ")),
            "{field}: {}",
            status.message()
        );
        let violations = policies(&test)
            .validate_policy(authed(
                pb::ValidatePolicyRequest {
                    policy: Some(bad),
                    region: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .violations;
        assert!(
            violations.iter().any(|v| v.field == field),
            "{field}: {violations:?}"
        );
    }

    // Several at once: every one, in the convention the web app parses.
    let status = update(
        &test,
        &token,
        pb::Policy {
            spot_percent: 150,
            on_demand_base: 5000,
            ..policy(&cluster_id)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.message(),
        "invalid `policy.spot_percent`: must be at most 100; \
         invalid `policy.on_demand_base`: must be at most 1000"
    );

    let in_force = get(&test, &token, &cluster_id).await;
    assert_eq!(in_force, saved, "no rejected update changed anything");

    // A tenant default has no region: it must admit some type anywhere.
    let status = update(
        &test,
        &token,
        pb::Policy {
            allowed_families: vec!["m5".into()],
            architectures: vec![Architecture::Arm64.into()],
            ..policy("")
        },
    )
    .await
    .unwrap_err();
    assert!(
        status
            .message()
            .contains("invalid `policy.architectures`: together, allowed_families, architectures admit no instance type in any region"),
        "{}",
        status.message()
    );
    assert_eq!(get(&test, &token, "").await.version, 0, "nothing saved");
    let valid = policies(&test)
        .validate_policy(authed(
            pb::ValidatePolicyRequest {
                policy: Some(policy(&cluster_id)),
                region: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(valid.violations.is_empty(), "{:?}", valid.violations);
    test.stop().await;
}

#[tokio::test]
async fn versions_are_listed_newest_first_and_a_rollback_copies_an_old_one_forward() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let cluster_id = cluster(&test, &token, "shop").await;
    for spot_percent in [10, 20, 30] {
        update(
            &test,
            &token,
            pb::Policy {
                spot_percent,
                ..policy(&cluster_id)
            },
        )
        .await
        .unwrap();
    }
    let list = |token_in: String| {
        let mut client = policies(&test);
        let cluster_id = cluster_id.clone();
        let token = token.clone();
        async move {
            client
                .list_policy_versions(authed(
                    pb::ListPolicyVersionsRequest {
                        cluster_id,
                        page: Some(spot_proto::common::v1::PageRequest {
                            page_size: 2,
                            page_token: token_in,
                        }),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let first = list(String::new()).await;
    let versions: Vec<_> = first
        .versions
        .iter()
        .map(|p| (p.version, p.spot_percent))
        .collect();
    assert_eq!(versions, [(3, 30), (2, 20)]);
    let next = first.page.unwrap().next_page_token;
    assert!(!next.is_empty());
    let second = list(next).await;
    let versions: Vec<_> = second
        .versions
        .iter()
        .map(|p| (p.version, p.spot_percent))
        .collect();
    assert_eq!(versions, [(1, 10)]);
    assert!(second.page.unwrap().next_page_token.is_empty());

    let rolled = policies(&test)
        .rollback_policy(authed(
            pb::RollbackPolicyRequest {
                cluster_id: cluster_id.clone(),
                version: 1,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!((rolled.version, rolled.spot_percent), (4, 10));
    assert_eq!(get(&test, &token, &cluster_id).await, rolled);
    let missing = policies(&test)
        .rollback_policy(authed(
            pb::RollbackPolicyRequest {
                cluster_id: cluster_id.clone(),
                version: 99,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(get(&test, &token, &cluster_id).await.version, 4);

    // Every change is in the audit trail, with who and which version.
    let mut audit = AuditServiceClient::new(test.channel.clone());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events = audit
            .list_audit_events(authed(
                auth::ListAuditEventsRequest {
                    action_prefix: "spot.policy.v1.PolicyService/".into(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        let rollback = format!("policy/cluster/{cluster_id}@v4 (rollback to v1)");
        let updates = events
            .iter()
            .filter(|e| e.action.ends_with("/UpdatePolicy") && e.result == "ok")
            .count();
        if updates == 3 && events.iter().any(|e| e.target == rollback) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit trail: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    test.stop().await;
}

#[tokio::test]
async fn a_preview_lists_the_admitted_pools_cheapest_first_without_denied_families() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let cluster_id = cluster(&test, &token, "shop").await;
    let preview = policies(&test)
        .preview_policy(authed(
            pb::PreviewPolicyRequest {
                policy: Some(pb::Policy {
                    allowed_categories: vec!["m".into()],
                    denied_families: vec!["m5".into()],
                    max_interruption_bucket: 4,
                    ..policy(&cluster_id)
                }),
                // The cluster's region.
                region: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!preview.pools.is_empty() && !preview.instance_types.is_empty());
    assert!(
        preview.instance_types.iter().all(|t| t.starts_with('m')),
        "{:?}",
        preview.instance_types
    );
    assert!(
        !preview.instance_types.iter().any(|t| t.starts_with("m5.")),
        "m5 is denied"
    );
    // Naming no architecture, the policy keeps each cluster on the ones its nodes run, which a
    // list of amd64 and arm64 pools alone would not say.
    assert!(
        preview
            .notes
            .iter()
            .any(|n| n.starts_with("Architectures:")),
        "{:?}",
        preview.notes
    );
    let graviton = policies(&test)
        .preview_policy(authed(
            pb::PreviewPolicyRequest {
                policy: Some(pb::Policy {
                    allowed_categories: vec!["m".into()],
                    architectures: vec![spot_proto::common::v1::Architecture::Arm64.into()],
                    ..policy(&cluster_id)
                }),
                region: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!graviton.pools.is_empty() && graviton.notes.is_empty());
    let prices: Vec<f64> = preview.pools.iter().map(|p| p.usd_per_hour).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "cheapest first");
    assert!(prices.iter().all(|p| *p > 0.0));
    for pool in &preview.pools {
        let at = pool.pool.as_ref().unwrap();
        assert_eq!(at.region, "us-east-1");
        assert!(at.zone.starts_with("us-east-1"));
        match pool.capacity_type() {
            CapacityType::Spot => assert!((0..=4).contains(&pool.interruption_bucket)),
            _ => assert_eq!(pool.interruption_bucket, -1),
        }
    }
    assert!(
        preview
            .pools
            .iter()
            .any(|p| p.capacity_type() == CapacityType::Spot)
    );
    assert!(
        preview
            .pools
            .iter()
            .any(|p| p.capacity_type() == CapacityType::OnDemand)
    );

    // No spot at all: only on-demand pools.
    let on_demand = policies(&test)
        .preview_policy(authed(
            pb::PreviewPolicyRequest {
                policy: Some(pb::Policy {
                    spot_percent: 0,
                    ..policy("")
                }),
                region: "eu-west-1".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        on_demand
            .pools
            .iter()
            .all(|p| p.capacity_type() == CapacityType::OnDemand)
    );
    let no_region = policies(&test)
        .preview_policy(authed(
            pb::PreviewPolicyRequest {
                policy: Some(policy("")),
                region: String::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_region.code(), tonic::Code::InvalidArgument);
    test.stop().await;
}

#[tokio::test]
async fn concurrent_updates_each_get_their_own_version() {
    let test = TestServer::start(&[]).await;
    let token = test.sign_up("Acme").await.access_token;
    let cluster_id = cluster(&test, &token, "shop").await;
    update(&test, &token, policy(&cluster_id)).await.unwrap();
    let saves = (1..=6).map(|spot_percent| {
        update(
            &test,
            &token,
            pb::Policy {
                spot_percent,
                ..policy(&cluster_id)
            },
        )
    });
    let mut versions: Vec<u32> = futures::future::join_all(saves)
        .await
        .into_iter()
        .map(|saved| saved.unwrap().version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [2, 3, 4, 5, 6, 7]);
    assert_eq!(get(&test, &token, &cluster_id).await.version, 7);
    test.stop().await;
}
