use std::collections::BTreeMap;

use aws_sdk_ec2::types::{InstanceLifecycleType, InstanceStateName};
use spot_cloud::{CapacityType, Instance, InstanceState, Pool};

/// An EC2 instance as the platform sees it. The zone's region is the zone minus its letter.
pub fn instance(region: &str, ec2: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    let zone = ec2.placement()?.availability_zone()?.to_owned();
    let tags: BTreeMap<String, String> = ec2
        .tags()
        .iter()
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    Some(Instance {
        id: ec2.instance_id()?.to_owned(),
        pool: Pool {
            region: region.to_owned(),
            zone,
            instance_type: ec2.instance_type()?.as_str().to_owned(),
        },
        capacity_type: match ec2.instance_lifecycle() {
            Some(InstanceLifecycleType::Spot) => CapacityType::Spot,
            _ => CapacityType::OnDemand,
        },
        state: match ec2.state().and_then(|s| s.name()) {
            Some(InstanceStateName::Pending) => InstanceState::Pending,
            Some(InstanceStateName::Running) => InstanceState::Running,
            _ => InstanceState::Terminated,
        },
        tags,
        launched_at: ec2.launch_time().map_or(0, |t| t.secs()),
    })
}
