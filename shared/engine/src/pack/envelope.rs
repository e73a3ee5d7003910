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
