//! Which actions this agent has seen. The control plane redelivers every open action after a
//! reconnect or its own restart; the ledger makes that harmless: a running action is only
//! acknowledged again, a finished one has its result re-sent, and nothing runs twice.

use std::collections::{HashMap, VecDeque};

use spot_proto::agent::v1::ActionResult;

/// Finished actions remembered for redelivery; older ones are forgotten first.
const REMEMBERED: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    New,
    Running,
    Finished(ActionResult),
}

#[derive(Debug, Default)]
pub struct Ledger {
    running: HashMap<String, ()>,
    finished: HashMap<String, ActionResult>,
    order: VecDeque<String>,
}

impl Ledger {
    /// What to do with an action that arrived; a new one is marked running.
    pub fn arrive(&mut self, id: &str) -> Seen {
        if let Some(result) = self.finished.get(id) {
            return Seen::Finished(result.clone());
        }
        if self.running.contains_key(id) {
            return Seen::Running;
        }
        self.running.insert(id.to_owned(), ());
        Seen::New
    }

    pub fn finish(&mut self, result: ActionResult) {
        self.running.remove(&result.action_id);
        self.order.push_back(result.action_id.clone());
        self.finished.insert(result.action_id.clone(), result);
        while self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.finished.remove(&oldest);
            }
        }
    }

    /// The newest finished action, where redelivery may resume after.
    pub fn last_finished(&self) -> Option<&str> {
        self.order.back().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str) -> ActionResult {
        ActionResult {
            action_id: id.to_owned(),
            outcome: 1,
            message: String::new(),
        }
    }

    #[test]
    fn an_action_runs_once_and_its_result_is_repeated_on_redelivery() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.arrive("a"), Seen::New);
        assert_eq!(ledger.arrive("a"), Seen::Running);
        ledger.finish(result("a"));
        assert_eq!(ledger.arrive("a"), Seen::Finished(result("a")));
        assert_eq!(ledger.last_finished(), Some("a"));
    }

    #[test]
    fn memory_is_bounded() {
        let mut ledger = Ledger::default();
        for i in 0..REMEMBERED + 10 {
            let id = i.to_string();
            ledger.arrive(&id);
            ledger.finish(result(&id));
        }
        assert_eq!(ledger.finished.len(), REMEMBERED);
        assert_eq!(ledger.arrive("0"), Seen::New, "the oldest is forgotten");
    }
}
