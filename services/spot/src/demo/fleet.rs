//! The three clusters `spot demo` starts with: different sizes and workloads, all on on-demand
//! capacity sized the way teams size it by hand (roomy), so the optimizer has real savings to find.

use std::collections::BTreeMap;

use spot_proto::common::v1::{Pod, PodPhase, Resources};

pub struct Workload {
    pub namespace: &'static str,
    pub app: &'static str,
    pub replicas: u32,
    pub cpu_millis: i64,
    pub memory_mib: i64,
}

pub struct ClusterShape {
    pub name: &'static str,
    pub region: &'static str,
    /// (zone, instance type, count), all on-demand.
    pub nodes: &'static [(&'static str, &'static str, u32)],
    pub workloads: &'static [Workload],
}

const fn workload(
    namespace: &'static str,
    app: &'static str,
    replicas: u32,
    cpu_millis: i64,
    memory_mib: i64,
) -> Workload {
    Workload {
        namespace,
        app,
        replicas,
        cpu_millis,
        memory_mib,
    }
}

pub const FLEET: &[ClusterShape] = &[
    ClusterShape {
        name: "checkout-web",
        region: "us-east-1",
        nodes: &[
            ("us-east-1a", "m5.xlarge", 2),
            ("us-east-1b", "m5.xlarge", 2),
        ],
        workloads: &[
            workload("shop", "storefront", 6, 250, 512),
            workload("shop", "cart", 4, 250, 384),
            workload("shop", "checkout", 4, 500, 768),
            workload("shop", "search", 2, 500, 1_024),
        ],
    },
    ClusterShape {
        name: "data-pipeline",
        region: "us-east-1",
        nodes: &[
            ("us-east-1a", "r5.2xlarge", 3),
            ("us-east-1b", "r5.2xlarge", 3),
            ("us-east-1c", "r5.2xlarge", 2),
        ],
        workloads: &[
            workload("etl", "ingest", 8, 500, 2_048),
            workload("etl", "transform", 6, 1_000, 6_144),
            workload("etl", "warehouse-loader", 3, 1_000, 8_192),
            workload("etl", "scheduler", 2, 250, 512),
        ],
    },
    ClusterShape {
        name: "ml-platform",
        region: "us-east-1",
        nodes: &[
            ("us-east-1a", "c5.4xlarge", 4),
            ("us-east-1b", "c5.4xlarge", 4),
            ("us-east-1c", "m5.4xlarge", 4),
        ],
        workloads: &[
            workload("ml", "feature-store", 6, 1_000, 4_096),
            workload("ml", "trainer", 8, 4_000, 8_192),
            workload("ml", "inference", 12, 1_000, 2_048),
            workload("ml", "notebook", 6, 500, 2_048),
        ],
    },
];

impl ClusterShape {
    /// Every replica as a pending pod of a ReplicaSet.
    pub fn pods(&self) -> Vec<Pod> {
        self.workloads
            .iter()
            .flat_map(|w| {
                (0..w.replicas).map(move |i| Pod {
                    namespace: w.namespace.to_owned(),
                    name: format!("{}-{:05x}", w.app, 0x1a2b3 + i * 7_919),
                    uid: format!("{}-{}-{i}", w.namespace, w.app),
                    requests: Some(Resources {
                        cpu_millis: w.cpu_millis,
                        memory_mib: w.memory_mib,
                        pods: 1,
                        ..Default::default()
                    }),
                    owner_kind: "ReplicaSet".to_owned(),
                    phase: PodPhase::Pending.into(),
                    labels: BTreeMap::from([("app".to_owned(), w.app.to_owned())])
                        .into_iter()
                        .collect(),
                    ..Default::default()
                })
            })
            .collect()
    }
}
