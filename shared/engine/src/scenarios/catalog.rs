//! The real embedded EC2 catalog in us-east-1 (the first three zones), every type with an
//! on-demand price offered on-demand in each zone and, where the spot advisor lists it, as spot at
//! the advisor's estimated price with its interruption bucket. GPU types carry the usual
//! `nvidia.com/gpu` NoSchedule taint. The policy: at least 20% of nodes on-demand
//! (`spot_share_percent: 80`), interruption bucket at most 2, spot spread over at least 3 pools.
//!
//! Pods (seeded): ~91% small services (100m-1 cpu, 128Mi-2Gi) in 40 deployments, every third with
//! a zone topology spread; ~4% large memory jobs (4-16 cpu, 32-128Gi); ~4.5% arm64 services
//! (nodeSelector kubernetes.io/arch=arm64); ~0.5% GPU pods (1 GPU, 2 cpu, 8Gi, tolerating the taint).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spot_cloud::zones_of;

use crate::model::{
    Pod, Policy, Problem, Resources, TaintEffect, Toleration, TolerationOperator, TopologyKey,
    TopologySpread, well_known,
};

pub const REGION: &str = "us-east-1";
const GPU_TAINT: &str = "nvidia.com/gpu";

pub fn catalog(pods: usize, seed: u64) -> Problem {
    Problem {
        offerings: crate::offerings_in(
            REGION,
            &zones_of(REGION).into_iter().take(3).collect::<Vec<_>>(),
        ),
        pods: pod_mix(pods, seed),
        policy: Policy {
            on_demand_base: 0,
            spot_share_percent: 80,
            max_interruption_bucket: Some(2),
            min_spot_pools: 3,
            max_price_per_vcpu_hour: None,
            min_savings_percent: 5.0,
        },
        risk_flags: Vec::new(),
        existing_nodes: Vec::new(),
    }
}

fn pod_mix(count: usize, seed: u64) -> Vec<Pod> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pods = Vec::with_capacity(count);
    for i in 0..count {
        let roll = rng.random_range(0..1000);
        let pod = if roll < 910 {
            let deployment = rng.random_range(0..40);
            // Each deployment has one shape, so its replicas form one class.
            let mut shape = ChaCha8Rng::seed_from_u64(seed ^ ((deployment as u64 + 1) * 0x9e37));
            let cpu = [100, 250, 500, 750, 1000][shape.random_range(0..5)];
            let memory = [128, 256, 512, 1024, 2048][shape.random_range(0..5)];
            let app = format!("svc-{deployment}");
            let labels = BTreeMap::from([("app".to_owned(), app.clone())]);
            let mut pod = service(format!("{app}-{i}"), cpu, memory, labels.clone());
            if deployment % 3 == 0 {
                pod.topology_spread.push(TopologySpread {
                    topology_key: TopologyKey::Zone,
                    max_skew: 1,
                    match_labels: labels,
                });
            }
            pod
        } else if roll < 950 {
            let cpu = [4000, 8000, 16000][rng.random_range(0..3)];
            let memory = [32768, 65536, 131072][rng.random_range(0..3)];
            let labels = BTreeMap::from([("app".to_owned(), "batch".to_owned())]);
            service(format!("batch-{i}"), cpu, memory, labels)
        } else if roll < 995 {
            let cpu = [250, 500, 1000][rng.random_range(0..3)];
            let memory = [256, 512, 1024][rng.random_range(0..3)];
            let labels = BTreeMap::from([("app".to_owned(), "arm".to_owned())]);
            let mut pod = service(format!("arm-{i}"), cpu, memory, labels);
            pod.node_selector
                .insert(well_known::ARCH.to_owned(), "arm64".to_owned());
            pod
        } else {
            let labels = BTreeMap::from([("app".to_owned(), "gpu".to_owned())]);
            let mut pod = service(format!("gpu-{i}"), 2000, 8192, labels);
            pod.requests.gpus = 1;
            pod.tolerations.push(Toleration {
                key: GPU_TAINT.into(),
                operator: TolerationOperator::Exists,
                value: String::new(),
                effect: Some(TaintEffect::NoSchedule),
            });
            pod
        };
        pods.push(pod);
    }
    pods
}

fn service(id: String, cpu_m: i64, memory_mib: i64, labels: BTreeMap<String, String>) -> Pod {
    Pod {
        id,
        requests: Resources::new(cpu_m, memory_mib, 1, 0),
        labels,
        ..Pod::default()
    }
}
