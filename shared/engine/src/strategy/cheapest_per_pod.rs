//! A simple candidate: open every node as the cheapest offering that fits one pod of the class and
//! fill it first-fit, with no resizing or slack use. It obeys the same constraints and policy, so
//! it is a fair baseline for what pool choice and shrinking buy.

use super::Strategy;
use crate::model::{Problem, Solution};
use crate::pack::{EnvelopeChoice, PackOptions, pack};

#[derive(Debug, Clone, Copy, Default)]
pub struct CheapestPerPod;

impl Strategy for CheapestPerPod {
    fn name(&self) -> &'static str {
        "cheapest-per-pod"
    }

    fn solve(&self, problem: &Problem) -> Solution {
        let options = PackOptions {
            envelope: EnvelopeChoice::CheapestFit,
            shrink: false,
            use_slack: false,
        };
        pack(problem, options, self.name())
    }
}
