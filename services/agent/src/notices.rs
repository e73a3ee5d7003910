//! Interruption notices until the control plane acts on them. A notice sent on a session that
//! then broke may never have arrived, or may have reached a replica that died before answering;
//! nothing tells the agent. So a notice is sent again on every new session and every
//! [`RESEND_EVERY`] while one is open, until the control plane sends an action for its node (the
//! response's cordon or drain) or the node's time is up. The control plane records and counts a
//! notice once and answers a node once, so a repeat costs nothing.

use std::time::Duration;

use spot_proto::agent::v1::InterruptionNotice;
use tokio::time::Instant;

/// How often a notice nobody acted on is sent again.
pub const RESEND_EVERY: Duration = Duration::from_secs(10);
/// The longest a notice is kept: a spot interruption's two minutes, and as long for one without
/// a time (a rebalance recommendation), so a bulk of them does not keep the agent resending.
const KEEP_UNTIMED: Duration = Duration::from_secs(120);

struct Pending {
    notice: InterruptionNotice,
    /// After this the node is gone (or the advice stale): nothing to send any more.
    until: Instant,
    /// When it was last sent on the current session; None: not yet on this one.
    sent_at: Option<Instant>,
}

#[derive(Default)]
pub struct PendingNotices {
    pending: Vec<Pending>,
}

impl PendingNotices {
    /// A new notice (a repeat of one kept replaces it), to be sent now.
    pub fn add(&mut self, notice: InterruptionNotice, now: Instant) {
        let now_millis = chrono::Utc::now().timestamp_millis();
        let until = match notice.action_at.as_ref().map(spot_proto::time::millis) {
            Some(at) => now + Duration::from_millis(at.saturating_sub(now_millis).max(0) as u64),
            None => now + KEEP_UNTIMED,
        };
        self.pending
            .retain(|p| p.notice.event_id != notice.event_id);
        self.pending.push(Pending {
            notice,
            until: until.min(now + KEEP_UNTIMED),
            sent_at: None,
        });
    }

    /// The control plane sent an action for `node`: its notices were heard and answered.
    pub fn answered(&mut self, node: &str) {
        self.pending.retain(|p| p.notice.node_name != node);
    }

    /// A new session: every kept notice is due on it.
    pub fn session_started(&mut self) {
        for pending in &mut self.pending {
            pending.sent_at = None;
        }
    }

    /// The notices to send now (marked sent); expired ones are dropped.
    pub fn due(&mut self, now: Instant) -> Vec<InterruptionNotice> {
        self.pending.retain(|p| p.until > now);
        self.pending
            .iter_mut()
            .filter(|p| {
                p.sent_at
                    .is_none_or(|at| now.duration_since(at) >= RESEND_EVERY)
            })
            .map(|p| {
                p.sent_at = Some(now);
                p.notice.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(event: &str, node: &str, in_seconds: Option<i64>) -> InterruptionNotice {
        InterruptionNotice {
            event_id: event.into(),
            node_name: node.into(),
            action_at: in_seconds.map(|s| {
                spot_proto::time::timestamp(chrono::Utc::now().timestamp_millis() + s * 1_000)
            }),
            ..Default::default()
        }
    }

    fn events(notices: &[InterruptionNotice]) -> Vec<&str> {
        notices.iter().map(|n| n.event_id.as_str()).collect()
    }

    #[test]
    fn a_notice_is_sent_again_on_every_session_and_while_open_until_its_node_is_acted_on() {
        let start = Instant::now();
        let mut pending = PendingNotices::default();
        pending.add(notice("e1", "spot-a", Some(120)), start);
        assert_eq!(events(&pending.due(start)), ["e1"]);
        assert!(pending.due(start + Duration::from_secs(1)).is_empty());
        // The session broke: the next one gets it at once.
        pending.session_started();
        let reconnected = start + Duration::from_secs(2);
        assert_eq!(events(&pending.due(reconnected)), ["e1"]);
        // Still nothing acted on the node: again after RESEND_EVERY.
        assert!(pending.due(reconnected + Duration::from_secs(5)).is_empty());
        assert_eq!(events(&pending.due(reconnected + RESEND_EVERY)), ["e1"]);
        // An action for another node changes nothing; one for this node ends it.
        pending.answered("spot-b");
        pending.session_started();
        assert_eq!(events(&pending.due(reconnected + RESEND_EVERY)), ["e1"]);
        pending.answered("spot-a");
        pending.session_started();
        assert!(pending.due(reconnected + RESEND_EVERY).is_empty());
    }

    #[test]
    fn a_notice_is_dropped_once_its_node_is_gone() {
        let start = Instant::now();
        let mut pending = PendingNotices::default();
        pending.add(notice("soon", "spot-a", Some(30)), start);
        pending.add(notice("advice", "spot-b", None), start);
        pending.session_started();
        assert_eq!(
            events(&pending.due(start + Duration::from_secs(31))),
            ["advice"]
        );
        pending.session_started();
        assert!(pending.due(start + Duration::from_secs(121)).is_empty());
    }
}
