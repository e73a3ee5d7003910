pub mod billing_invoices;
pub mod billing_subscriptions;
pub mod billing_terms;
pub mod billing_usage;
pub mod stripe_events;
