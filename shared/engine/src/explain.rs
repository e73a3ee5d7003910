//! Why no admitted offering can run a pod, in words a user can act on. Checked in the order a user
//! would fix things: nothing offered, nothing admitted, labels, taints, then size.

use crate::admission::Admission;
use crate::labels::{
    fits_empty, in_volume_zone, node_labels_match, taint_text, term_holds, untolerated_taint,
};
use crate::model::{NodeSelectorTerm, Offering, Pod, Problem, well_known};

pub fn no_offering_reason(problem: &Problem, admission: &Admission, pod: &Pod) -> String {
    if problem.offerings.is_empty() {
        return "empty catalog: no offerings were given".into();
    }
    if admission.admitted.is_empty() {
        let reasons: Vec<String> = admission
            .rejected
            .iter()
            .map(|(r, count)| format!("{count} rejected: {}", r.text()))
            .collect();
        return format!(
            "policy admits no instance type ({} offerings given; {})",
            problem.offerings.len(),
            reasons.join("; ")
        );
    }
    let admitted: Vec<&Offering> = admission
        .admitted
        .iter()
        .map(|&o| &problem.offerings[o])
        .collect();
    let labelled: Vec<&Offering> = admitted
        .iter()
        .copied()
        .filter(|o| node_labels_match(pod, o))
        .collect();
    if labelled.is_empty() {
        if !admitted
            .iter()
            .any(|o| in_volume_zone(pod, |key| o.label(key)))
        {
            return format!(
                "its volume is in {}, where no admitted instance type is offered (a volume cannot move to another zone)",
                pod.volume_zones.join(" or ")
            );
        }
        if let Some(resource) = pod
            .node_selector
            .keys()
            .find_map(|key| key.strip_prefix(well_known::EXTENDED_RESOURCE_PREFIX))
        {
            return format!(
                "it requests {resource}, which no instance type the platform launches is known to offer: only a node that already offers it can run the pod"
            );
        }
        for (key, value) in &pod.node_selector {
            if !admitted
                .iter()
                .any(|o| o.label(key) == Some(value.as_str()))
            {
                return format!(
                    "no admitted offering has the label {key}={value} its node selector asks for"
                );
            }
        }
        if !pod.required_node_affinity.is_empty()
            && !admitted
                .iter()
                .any(|o| pod.required_node_affinity.iter().any(|t| term_holds(t, o)))
        {
            return format!(
                "no admitted offering satisfies its required node affinity ({})",
                affinity_text(&pod.required_node_affinity)
            );
        }
        return "no admitted offering satisfies its node selector and required node affinity together (contradictory constraints)".into();
    }
    let tolerated: Vec<&Offering> = labelled
        .iter()
        .copied()
        .filter(|o| untolerated_taint(pod, o).is_none())
        .collect();
    if tolerated.is_empty() {
        let taint = labelled
            .iter()
            .find_map(|o| untolerated_taint(pod, o))
            .map(taint_text)
            .unwrap_or_default();
        return format!(
            "no admitted offering tolerates its taints: every matching offering has a taint it does not tolerate (e.g. {taint})"
        );
    }
    let r = &pod.requests;
    let max = |f: fn(&Offering) -> i64| tolerated.iter().map(|o| f(o)).max().unwrap_or(0);
    let cpu = max(|o| o.allocatable.cpu_m);
    if r.cpu_m > cpu {
        return format!(
            "needs {}m cpu but the largest admitted instance type allows {cpu}m",
            r.cpu_m
        );
    }
    let memory = max(|o| o.allocatable.memory_mib);
    if r.memory_mib > memory {
        return format!(
            "needs {}Mi memory but the largest admitted instance type allows {memory}Mi",
            r.memory_mib
        );
    }
    let gpus = max(|o| o.allocatable.gpus);
    if r.gpus > gpus {
        return format!(
            "needs {} GPUs but the admitted instance types it can run on have at most {gpus}",
            r.gpus
        );
    }
    let storage = max(|o| o.allocatable.ephemeral_storage_mib);
    if r.ephemeral_storage_mib > storage {
        return format!(
            "needs {}Mi ephemeral-storage but the admitted instance types it can run on allow at most {storage}Mi (their root volume less the kubelet's reserve)",
            r.ephemeral_storage_mib
        );
    }
    if !tolerated.iter().any(|o| fits_empty(pod, o)) {
        return "no single admitted instance type has enough cpu, memory, GPUs and ephemeral-storage together".into();
    }
    "no admitted offering can run it".into()
}

fn affinity_text(terms: &[NodeSelectorTerm]) -> String {
    terms
        .iter()
        .map(|t| {
            t.requirements
                .iter()
                .map(|r| format!("{} {:?} [{}]", r.key, r.operator, r.values.join(",")))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use crate::model::{Pod, Problem, Resources};

    fn with_volume_in(zone: &str) -> Pod {
        Pod {
            id: format!("db/{zone}"),
            requests: Resources::new(500, 512, 1, 0),
            volume_zones: vec![zone.to_owned()],
            ..Default::default()
        }
    }

    #[test]
    fn a_pod_runs_only_where_its_volume_is_and_is_told_why_when_nothing_is_offered_there() {
        let problem = Problem {
            offerings: crate::offerings_in(
                "us-east-1",
                &["us-east-1a".to_owned(), "us-east-1b".to_owned()],
            ),
            pods: vec![with_volume_in("us-east-1b"), with_volume_in("us-east-1f")],
            ..Default::default()
        };
        let solution = crate::solve(&problem);
        assert_eq!(solution.unschedulable.len(), 1, "{solution:?}");
        assert_eq!(solution.unschedulable[0].id, "db/us-east-1f");
        assert!(
            solution.unschedulable[0]
                .reason
                .starts_with("its volume is in us-east-1f, where no admitted instance type"),
            "{}",
            solution.unschedulable[0].reason
        );
        let placed = &solution.nodes[0];
        assert_eq!(placed.zone, "us-east-1b", "{solution:?}");
    }
}
