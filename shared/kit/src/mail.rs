//! Outbound email: what the platform tells a person at an address (verify your email, someone
//! tried to sign up with it, an invitation). Mail leaves the process in one place, so a real
//! transport (SMTP, SES) is one implementation of [`Mailer::send`] away.
//!
//! The embedded default has no mail server: each mail is written to the log as ONE line naming
//! the recipient, the subject and the link to follow (`spot demo` users copy it from there), and
//! is offered to in-process watchers ([`Mailer::watch`]): the demo verifies its own user with it,
//! and tests read tokens back the moment they are sent, without polling or sleeping.

use tokio::sync::broadcast;

/// One outbound email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The link the reader is asked to follow, if any (it carries a one-time token).
    pub link: Option<String>,
}

impl Mail {
    /// The `token` query parameter of the link, if any.
    pub fn token(&self) -> Option<&str> {
        let query = self.link.as_deref()?.split_once('?')?.1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    }
}

/// Sends mail: the embedded default writes it to the log.
#[derive(Clone)]
pub struct Mailer {
    watchers: broadcast::Sender<Mail>,
}

impl Default for Mailer {
    fn default() -> Self {
        Self::log()
    }
}

impl Mailer {
    /// The embedded default: one log line per mail.
    pub fn log() -> Self {
        // Watchers that fall this far behind lose the oldest mail, never block a sender.
        let (watchers, _) = broadcast::channel(1024);
        Self { watchers }
    }

    pub fn send(&self, mail: Mail) {
        match &mail.link {
            Some(link) => tracing::info!(
                target: "spot::mail",
                "mail to {}: {} -- open {link}",
                mail.to,
                mail.subject
            ),
            None => tracing::info!(target: "spot::mail", "mail to {}: {}", mail.to, mail.subject),
        }
        // No watcher is the normal case.
        let _ = self.watchers.send(mail);
    }

    /// Every mail sent from now on, in this process.
    pub fn watch(&self) -> broadcast::Receiver<Mail> {
        self.watchers.subscribe()
    }
}
