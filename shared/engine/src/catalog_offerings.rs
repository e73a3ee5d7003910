//! The catalog as the engine sees it: offerings (type x zone x capacity type) with prices and
//! interruption buckets, from the embedded EC2 data.

use std::collections::BTreeMap;

use spot_cloud::Catalog;

use crate::model::{CapacityType, Offering, Resources, Taint, TaintEffect};

const GPU_TAINT: &str = "nvidia.com/gpu";

/// The root volume a node gets unless its node class asks for more (the least a class may ask).
pub const DEFAULT_ROOT_VOLUME_GIB: u32 = 20;

/// The `ephemeral-storage` pods can request on a node whose root volume is `root_volume_gib`, as
/// the EKS AMIs' kubelet leaves it (and Karpenter counts it): the volume less 1 GiB reserved for
/// the kubelet and the 10 % kept free before it evicts pods (`nodefs.available`).
pub fn ephemeral_storage_allocatable_mib(root_volume_gib: u32) -> i64 {
    let capacity = i64::from(root_volume_gib) * 1024;
    capacity - 1024 - capacity / 10
}

/// What pods can use on a node of catalog type `t` with the default root volume.
pub fn allocatable(t: &spot_cloud::InstanceType) -> Resources {
    let a = t.allocatable;
    Resources::new(a.cpu_millis, a.memory_mib, a.pods, a.gpus)
        .with_ephemeral_storage(ephemeral_storage_allocatable_mib(DEFAULT_ROOT_VOLUME_GIB))
}

/// Every catalog type with an on-demand price, offered on-demand in each zone and, where the spot
/// advisor lists it, as spot at the advisor's estimated price with its interruption bucket. GPU
/// types carry the usual `nvidia.com/gpu` NoSchedule taint.
pub fn offerings_in(region: &str, zones: &[String]) -> Vec<Offering> {
    let catalog = Catalog::embedded();
    let mut offerings = Vec::new();
    for t in catalog.types() {
        let Some(on_demand) = t.on_demand_usd_per_hour else {
            continue;
        };
        let allocatable = allocatable(t);
        let labels = BTreeMap::from([
            (
                "karpenter.k8s.aws/instance-family".to_owned(),
                t.family.clone(),
            ),
            (
                "karpenter.k8s.aws/instance-category".to_owned(),
                t.category.clone(),
            ),
            (
                "karpenter.k8s.aws/instance-generation".to_owned(),
                t.generation.to_string(),
            ),
        ]);
        let taints = if t.gpu_count > 0 {
            vec![Taint {
                key: GPU_TAINT.into(),
                value: "true".into(),
                effect: TaintEffect::NoSchedule,
            }]
        } else {
            Vec::new()
        };
        let advice = catalog.advice(region, &t.name).ok().flatten();
        let spot = catalog.estimated_spot_price(region, &t.name).ok().flatten();
        for zone in zones {
            let mut push = |capacity_type, price, bucket| {
                offerings.push(Offering {
                    instance_type: t.name.clone(),
                    zone: zone.clone(),
                    capacity_type,
                    price_per_hour: price,
                    on_demand_price_per_hour: on_demand,
                    vcpus: t.vcpu,
                    architecture: t.architecture.into(),
                    allocatable,
                    labels: labels.clone(),
                    taints: taints.clone(),
                    interruption_bucket: bucket,
                });
            };
            push(CapacityType::OnDemand, on_demand, None);
            if let (Some(advice), Some(price)) = (advice, spot)
                && price > 0.0
            {
                push(CapacityType::Spot, price, Some(advice.interruption_bucket));
            }
        }
    }
    offerings
}
