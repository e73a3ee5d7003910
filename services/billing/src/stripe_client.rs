//! What billing tells Stripe: a customer per paying tenant and each closed invoice that has
//! something to pay, behind a trait. Every object carries `metadata.tenant_id` (and invoices
//! `metadata.invoice_id`), which is how Stripe's events find their way back. The one
//! implementation is Stripe's HTTP API (`stripe_http`); tests run it against a recording peer.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceToCollect {
    pub invoice_id: String,
    pub tenant_id: String,
    pub customer_id: String,
    pub total_minor_units: i64,
    pub currency: String,
    pub description: String,
}

#[async_trait::async_trait]
pub trait StripeApi: Send + Sync {
    /// A new customer for the tenant; its id.
    async fn create_customer(&self, tenant_id: &str) -> Result<String, String>;
    /// An invoice Stripe collects; its id.
    async fn create_invoice(&self, invoice: &InvoiceToCollect) -> Result<String, String>;
}
