//! Label, selector and taint matching with Kubernetes semantics, shared by the solver and the
//! validator so both agree on what "compatible" means.

use std::collections::BTreeMap;

use crate::model::{
    NodeSelectorTerm, Offering, Operator, Pod, Requirement, Taint, TaintEffect, Toleration,
    TolerationOperator,
};

/// Whether a pod's labels satisfy a `match_labels` selector (empty selects every pod).
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub fn requirement_holds(requirement: &Requirement, offering: &Offering) -> bool {
    requirement_holds_on(requirement, |key| offering.label(key))
}

/// A requirement against any source of node labels (an offering's, or a real node's).
pub(crate) fn requirement_holds_on<'a>(
    requirement: &Requirement,
    label: impl Fn(&str) -> Option<&'a str>,
) -> bool {
    let value = label(&requirement.key);
    match requirement.operator {
        Operator::In => value.is_some_and(|v| requirement.values.iter().any(|x| x == v)),
        Operator::NotIn => value.is_none_or(|v| requirement.values.iter().all(|x| x != v)),
        Operator::Exists => value.is_some(),
        Operator::DoesNotExist => value.is_none(),
        Operator::Gt | Operator::Lt => {
            let (Some(value), Some(bound)) = (value, requirement.values.first()) else {
                return false;
            };
            match (value.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) if requirement.operator == Operator::Gt => v > b,
                (Ok(v), Ok(b)) => v < b,
                _ => false,
            }
        }
    }
}

/// A required node-affinity term holds on the offering (an empty term matches nothing).
pub fn term_holds(term: &NodeSelectorTerm, offering: &Offering) -> bool {
    !term.requirements.is_empty()
        && term
            .requirements
            .iter()
            .all(|r| requirement_holds(r, offering))
}

/// Node selector and required node affinity (terms ORed).
pub fn node_labels_match(pod: &Pod, offering: &Offering) -> bool {
    node_labels_match_on(pod, |key| offering.label(key))
}

/// Node selector and required node affinity against any source of node labels.
pub(crate) fn node_labels_match_on<'a>(
    pod: &Pod,
    label: impl Fn(&str) -> Option<&'a str> + Copy,
) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| label(k) == Some(v.as_str()))
        && in_volume_zone(pod, label)
        && (pod.required_node_affinity.is_empty()
            || pod.required_node_affinity.iter().any(|t| {
                !t.requirements.is_empty()
                    && t.requirements
                        .iter()
                        .all(|r| requirement_holds_on(r, label))
            }))
}

/// A pod with zonal volumes runs only in their zones.
pub(crate) fn in_volume_zone<'a>(pod: &Pod, label: impl Fn(&str) -> Option<&'a str>) -> bool {
    pod.volume_zones.is_empty()
        || label(crate::model::well_known::ZONE)
            .is_some_and(|zone| pod.volume_zones.iter().any(|v| v == zone))
}

fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    match toleration.operator {
        TolerationOperator::Exists => toleration.key.is_empty() || toleration.key == taint.key,
        TolerationOperator::Equal => toleration.key == taint.key && toleration.value == taint.value,
    }
}

/// The first taint (NoSchedule/NoExecute) of the offering the pod does not tolerate.
pub fn untolerated_taint<'a>(pod: &Pod, offering: &'a Offering) -> Option<&'a Taint> {
    first_untolerated(pod, &offering.taints)
}

/// The first NoSchedule/NoExecute taint of `taints` the pod does not tolerate.
pub(crate) fn first_untolerated<'a>(pod: &Pod, taints: &'a [Taint]) -> Option<&'a Taint> {
    taints.iter().find(|taint| {
        taint.effect != TaintEffect::PreferNoSchedule
            && !pod.tolerations.iter().any(|t| tolerates(t, taint))
    })
}

/// How many of the node's `PreferNoSchedule` taints the pod does not tolerate (kube-scheduler's
/// `TaintToleration` score counts them).
pub(crate) fn untolerated_preferences(pod: &Pod, taints: &[Taint]) -> usize {
    taints
        .iter()
        .filter(|taint| {
            taint.effect == TaintEffect::PreferNoSchedule
                && !pod.tolerations.iter().any(|t| tolerates(t, taint))
        })
        .count()
}

/// Labels and taints both allow the pod on a node of this offering (resources not considered).
pub fn placement_allowed(pod: &Pod, offering: &Offering) -> bool {
    node_labels_match(pod, offering) && untolerated_taint(pod, offering).is_none()
}

/// The pod's requests fit an empty node of the offering (one pod slot included).
pub fn fits_empty(pod: &Pod, offering: &Offering) -> bool {
    let a = &offering.allocatable;
    pod.requests.cpu_m <= a.cpu_m
        && pod.requests.memory_mib <= a.memory_mib
        && pod.requests.gpus <= a.gpus
        && pod.requests.ephemeral_storage_mib <= a.ephemeral_storage_mib
        && a.pods >= 1
}

pub fn taint_text(taint: &Taint) -> String {
    if taint.value.is_empty() {
        format!("{}:{:?}", taint.key, taint.effect)
    } else {
        format!("{}={}:{:?}", taint.key, taint.value, taint.effect)
    }
}
