//! The catalog as the engine sees it: offerings (type x zone x capacity type) with prices and
//! interruption buckets, from the embedded EC2 data.

use std::collections::BTreeMap;

use spot_cloud::Catalog;

use crate::model::{CapacityType, Offering, Resources, Taint, TaintEffect};

const GPU_TAINT: &str = "nvidia.com/gpu";

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
        let a = t.allocatable;
        let allocatable = Resources::new(a.cpu_millis, a.memory_mib, a.pods, a.gpus);
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
