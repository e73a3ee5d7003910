//! Which offering a new node opens as. Nodes are opened large and cost-efficient (they are shrunk
//! to the cheapest fitting offering once packed), where cost-efficiency is the price divided by
//! the value of the node's resources at the LP's dual prices: offerings in the LP optimum score
//! exactly 1, everything else worse.

use crate::classes::Classes;
use crate::lower_bound::ResourcePrices;
use crate::model::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeChoice {
    /// The most cost-efficient compatible offering, ties to the largest (the live strategy).
    Efficient,
    /// The cheapest offering that fits one pod (the naive candidate).
    CheapestFit,
    /// The least price per pod of the class when the node holds only that class.
    PerPod,
}

/// Per class: the envelope overall and per zone.
#[derive(Debug, Clone)]
pub struct Envelopes {
    pub best: Vec<Option<usize>>,
    pub best_in_zone: Vec<Vec<Option<usize>>>,
    /// Score (lower is better) of every problem offering.
    pub score: Vec<f64>,
}

pub fn choose(
    problem: &Problem,
    cx: &Classes,
    prices: &ResourcePrices,
    choice: EnvelopeChoice,
) -> Envelopes {
    let score: Vec<f64> = problem
        .offerings
        .iter()
        .map(|o| {
            let value = prices.value(&o.allocatable);
            if value > 0.0 {
                o.price_per_hour / value
            } else {
                f64::INFINITY
            }
        })
        .collect();
    let value: Vec<f64> = problem
        .offerings
        .iter()
        .map(|o| prices.value(&o.allocatable))
        .collect();
    let zones = cx.zone_names.len();
    let mut best = Vec::with_capacity(cx.classes.len());
    let mut best_in_zone = Vec::with_capacity(cx.classes.len());
    for class in &cx.classes {
        let per_pod = |o: usize| {
            let a = &problem.offerings[o].allocatable;
            let r = &class.requests;
            let mut k = a.pods;
            for (have, need) in [
                (a.cpu_m, r.cpu_m),
                (a.memory_mib, r.memory_mib),
                (a.gpus, r.gpus),
                (a.ephemeral_storage_mib, r.ephemeral_storage_mib),
            ] {
                if need > 0 {
                    k = k.min(have / need);
                }
            }
            if k > 0 {
                problem.offerings[o].price_per_hour / k as f64
            } else {
                f64::INFINITY
            }
        };
        let mut per_zone: Vec<Option<usize>> = vec![None; zones];
        for o in class.compat.iter() {
            let z = cx.offering_zone[o];
            let better = match per_zone[z] {
                None => true,
                Some(b) => match choice {
                    EnvelopeChoice::Efficient => {
                        let (s, sb) = (score[o], score[b]);
                        s < sb * (1.0 - 1e-9) || (s <= sb * (1.0 + 1e-9) && value[o] > value[b])
                    }
                    EnvelopeChoice::CheapestFit => {
                        problem.offerings[o].price_per_hour < problem.offerings[b].price_per_hour
                    }
                    EnvelopeChoice::PerPod => {
                        let (s, sb) = (per_pod(o), per_pod(b));
                        s < sb * (1.0 - 1e-9) || (s <= sb * (1.0 + 1e-9) && value[o] > value[b])
                    }
                },
            };
            if better {
                per_zone[z] = Some(o);
            }
        }
        let overall = per_zone
            .iter()
            .flatten()
            .copied()
            .fold(None, |acc: Option<usize>, o| match acc {
                None => Some(o),
                Some(b) => {
                    let better = match choice {
                        EnvelopeChoice::Efficient => score[o] < score[b] * (1.0 - 1e-9),
                        EnvelopeChoice::CheapestFit => {
                            problem.offerings[o].price_per_hour
                                < problem.offerings[b].price_per_hour
                        }
                        EnvelopeChoice::PerPod => per_pod(o) < per_pod(b) * (1.0 - 1e-9),
                    };
                    Some(if better { o } else { b })
                }
            });
        best.push(overall);
        best_in_zone.push(per_zone);
    }
    Envelopes {
        best,
        best_in_zone,
        score,
    }
}
