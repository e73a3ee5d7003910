//! The packer's working state: open nodes and the pod counts every constraint needs, kept
//! incrementally so that each "may this pod go here?" question is answered in constant time.

use crate::classes::{Class, Classes};
use crate::model::{Problem, Resources};

#[derive(Debug, Clone)]
pub struct PackNode {
    /// The offering (problem index) the node is sized as now: its envelope while packing, the
    /// cheapest fitting offering after shrinking.
    pub offering: usize,
    pub zone: usize,
    pub used: Resources,
    pub pods: Vec<usize>,
    /// (class, pods of it on this node).
    pub classes: Vec<(usize, u32)>,
    /// (group, pods of it on this node).
    pub groups: Vec<(usize, u32)>,
    /// Groups some pod on this node keeps away by hostname anti-affinity.
    pub anti_held: Vec<usize>,
    pub alive: bool,
}

impl PackNode {
    pub fn group_count(&self, group: usize) -> u32 {
        self.groups
            .iter()
            .find(|(g, _)| *g == group)
            .map_or(0, |(_, c)| *c)
    }
}

/// Why a pod may not go to a node or zone; the packer turns it into a readable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Incompatible,
    NoRoom,
    AntiAffinity,
    Affinity,
    HostSpread,
    ZoneSpread,
    ZoneAntiAffinity,
    ZoneAffinity,
}

#[derive(Clone)]
pub struct State<'a> {
    pub problem: &'a Problem,
    pub cx: &'a Classes,
    pub nodes: Vec<PackNode>,
    /// Node indices per zone, in opening order.
    pub nodes_in_zone: Vec<Vec<usize>>,
    /// [zone][group] pod counts.
    pub zone_groups: Vec<Vec<u32>>,
    /// [zone][group]: a pod in the zone keeps the group away by zone anti-affinity.
    pub zone_anti_held: Vec<Vec<bool>>,
    pub group_total: Vec<u32>,
    /// [host rule][count] = how many eligible nodes have that many pods of the rule's group.
    pub host_hist: Vec<Vec<u32>>,
}

impl<'a> State<'a> {
    pub fn new(problem: &'a Problem, cx: &'a Classes) -> Self {
        let zones = cx.zone_names.len();
        let groups = cx.groups.selectors.len();
        State {
            problem,
            cx,
            nodes: Vec::new(),
            nodes_in_zone: vec![Vec::new(); zones],
            zone_groups: vec![vec![0; groups]; zones],
            zone_anti_held: vec![vec![false; groups]; zones],
            group_total: vec![0; groups],
            host_hist: vec![vec![0]; cx.host_rules.len()],
        }
    }

    pub fn class(&self, c: usize) -> &'a Class {
        &self.cx.classes[c]
    }

    pub fn allocatable(&self, n: usize) -> &Resources {
        &self.problem.offerings[self.nodes[n].offering].allocatable
    }

    pub fn open(&mut self, offering: usize) -> usize {
        let zone = self.cx.offering_zone[offering];
        for (r, rule) in self.cx.host_rules.iter().enumerate() {
            if rule.eligible.contains(offering) {
                self.host_hist[r][0] += 1;
            }
        }
        self.nodes.push(PackNode {
            offering,
            zone,
            used: Resources::default(),
            pods: Vec::new(),
            classes: Vec::new(),
            groups: Vec::new(),
            anti_held: Vec::new(),
            alive: true,
        });
        let n = self.nodes.len() - 1;
        self.nodes_in_zone[zone].push(n);
        n
    }

    /// Removes an empty node (no-op for a node with pods).
    pub fn close_if_empty(&mut self, n: usize) {
        let node = &self.nodes[n];
        if !node.alive || !node.pods.is_empty() {
            return;
        }
        let offering = node.offering;
        for (r, rule) in self.cx.host_rules.iter().enumerate() {
            if rule.eligible.contains(offering) {
                self.host_hist[r][0] = self.host_hist[r][0].saturating_sub(1);
            }
        }
        self.nodes[n].alive = false;
    }

    /// Whether a node of `offering` is an eligible domain of exactly the same hostname rules as
    /// one of `current`: resizing a node must not change any spread's domain set.
    pub fn same_host_eligibility(&self, current: usize, offering: usize) -> bool {
        self.cx
            .host_rules
            .iter()
            .all(|r| r.eligible.contains(current) == r.eligible.contains(offering))
    }

    pub fn host_min(&self, rule: usize) -> u32 {
        self.host_hist[rule]
            .iter()
            .position(|&c| c > 0)
            .unwrap_or(0) as u32
    }

    pub fn host_max(&self, rule: usize) -> u32 {
        self.host_hist[rule]
            .iter()
            .rposition(|&c| c > 0)
            .unwrap_or(0) as u32
    }

    /// Zone-level constraints for one more pod of class `c` in zone `z`.
    pub fn zone_refusal(&self, c: usize, z: usize) -> Option<Refusal> {
        let class = self.class(c);
        let counts = &self.zone_groups[z];
        if class.anti_zone.iter().any(|&g| counts[g] > 0)
            || class.member_of.iter().any(|&g| self.zone_anti_held[z][g])
        {
            return Some(Refusal::ZoneAntiAffinity);
        }
        for &g in &class.affinity_zone {
            let first_of_self = class.member_of.contains(&g) && self.group_total[g] == 0;
            if counts[g] == 0 && !first_of_self {
                return Some(Refusal::ZoneAffinity);
            }
        }
        for &r in &class.zone_rules {
            let rule = &self.cx.zone_rules[r];
            if !rule.zones.contains(&z) {
                continue;
            }
            let min = rule
                .zones
                .iter()
                .map(|&zz| self.zone_groups[zz][rule.group])
                .min()
                .unwrap_or(0);
            if counts[rule.group] + 1 > min + rule.max_skew {
                return Some(Refusal::ZoneSpread);
            }
        }
        None
    }

    /// Node-level constraints (compatibility, room, hostname terms) for one more pod of `c` on `n`.
    pub fn node_refusal(&self, c: usize, n: usize) -> Option<Refusal> {
        let class = self.class(c);
        let node = &self.nodes[n];
        if !node.alive || !class.compat.contains(node.offering) {
            return Some(Refusal::Incompatible);
        }
        if !node.used.plus(&class.requests).fits_in(self.allocatable(n)) {
            return Some(Refusal::NoRoom);
        }
        if class.anti_host.iter().any(|&g| node.group_count(g) > 0)
            || class.member_of.iter().any(|g| node.anti_held.contains(g))
        {
            return Some(Refusal::AntiAffinity);
        }
        for &g in &class.affinity_host {
            let first_of_self = class.member_of.contains(&g) && self.group_total[g] == 0;
            if node.group_count(g) == 0 && !first_of_self {
                return Some(Refusal::Affinity);
            }
        }
        for &r in &class.host_rules {
            let rule = &self.cx.host_rules[r];
            if rule.eligible.contains(node.offering)
                && node.group_count(rule.group) + 1 > self.host_min(r) + rule.max_skew
            {
                return Some(Refusal::HostSpread);
            }
        }
        None
    }

    pub fn refusal(&self, c: usize, n: usize) -> Option<Refusal> {
        self.node_refusal(c, n)
            .or_else(|| self.zone_refusal(c, self.nodes[n].zone))
    }

    pub fn place(&mut self, c: usize, pod: usize, n: usize) {
        let cx = self.cx;
        let class = &cx.classes[c];
        let z = self.nodes[n].zone;
        let offering = self.nodes[n].offering;
        for &g in &class.member_of {
            let before = self.nodes[n].group_count(g);
            bump(&mut self.nodes[n].groups, g, 1);
            self.zone_groups[z][g] += 1;
            self.group_total[g] += 1;
            for &r in &class.host_rules {
                let rule = &cx.host_rules[r];
                if rule.group == g && rule.eligible.contains(offering) {
                    shift(&mut self.host_hist[r], before, before + 1);
                }
            }
        }
        let node = &mut self.nodes[n];
        for &g in &class.anti_host {
            if !node.anti_held.contains(&g) {
                node.anti_held.push(g);
            }
        }
        for &g in &class.anti_zone {
            self.zone_anti_held[z][g] = true;
        }
        node.used = node.used.plus(&class.requests);
        node.pods.push(pod);
        bump(&mut node.classes, c, 1);
    }

    /// Takes a pod off its node. Only for pods whose class holds no anti-affinity (the packer
    /// moves and unplaces only such pods), so `anti_held` stays exact.
    pub fn unplace(&mut self, c: usize, pod: usize, n: usize) {
        let cx = self.cx;
        let class = &cx.classes[c];
        let z = self.nodes[n].zone;
        let offering = self.nodes[n].offering;
        let Some(position) = self.nodes[n].pods.iter().position(|&p| p == pod) else {
            return;
        };
        for &g in &class.member_of {
            let before = self.nodes[n].group_count(g);
            bump(&mut self.nodes[n].groups, g, -1);
            self.zone_groups[z][g] = self.zone_groups[z][g].saturating_sub(1);
            self.group_total[g] = self.group_total[g].saturating_sub(1);
            for &r in &class.host_rules {
                let rule = &cx.host_rules[r];
                if rule.group == g && rule.eligible.contains(offering) && before > 0 {
                    shift(&mut self.host_hist[r], before, before - 1);
                }
            }
        }
        let node = &mut self.nodes[n];
        node.pods.swap_remove(position);
        node.used = node.used.minus(&class.requests);
        bump(&mut node.classes, c, -1);
    }

    /// Whether offering `o` could replace node `n`'s offering: same zone, every class on the node
    /// compatible, the pods fit, hostname-spread domains unchanged.
    pub fn can_resize_to(&self, n: usize, o: usize) -> bool {
        let node = &self.nodes[n];
        self.cx.offering_zone[o] == node.zone
            && node.used.fits_in(&self.problem.offerings[o].allocatable)
            && node
                .classes
                .iter()
                .all(|(c, _)| self.cx.classes[*c].compat.contains(o))
            && self.same_host_eligibility(node.offering, o)
    }
}

fn bump(list: &mut Vec<(usize, u32)>, key: usize, delta: i32) {
    match list.iter().position(|(k, _)| *k == key) {
        Some(i) => {
            let count = list[i].1.saturating_add_signed(delta);
            if count == 0 {
                list.swap_remove(i);
            } else {
                list[i].1 = count;
            }
        }
        None if delta > 0 => list.push((key, delta as u32)),
        None => {}
    }
}

fn shift(hist: &mut Vec<u32>, from: u32, to: u32) {
    let (from, to) = (from as usize, to as usize);
    if hist.len() <= to {
        hist.resize(to + 1, 0);
    }
    hist[from] = hist[from].saturating_sub(1);
    hist[to] += 1;
}
