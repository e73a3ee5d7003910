//! What billing tells Stripe: a customer per paying tenant and each closed invoice that has
//! something to pay, behind a trait. Every object carries `metadata.tenant_id` (and invoices
//! `metadata.invoice_id`), which is how Stripe's events find their way back.

use std::sync::Mutex;

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

/// A call billing made, as the recording fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    CreateCustomer { tenant_id: String },
    CreateInvoice(InvoiceToCollect),
}

/// Records every call and answers with made-up ids (tests).
#[derive(Default)]
pub struct RecordingStripe {
    calls: Mutex<Vec<Call>>,
}

impl RecordingStripe {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: Call) -> usize {
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        calls.push(call);
        calls.len()
    }
}

#[async_trait::async_trait]
impl StripeApi for RecordingStripe {
    async fn create_customer(&self, tenant_id: &str) -> Result<String, String> {
        let n = self.record(Call::CreateCustomer {
            tenant_id: tenant_id.to_owned(),
        });
        Ok(format!("cus_test{n}"))
    }

    async fn create_invoice(&self, invoice: &InvoiceToCollect) -> Result<String, String> {
        let n = self.record(Call::CreateInvoice(invoice.clone()));
        Ok(format!("in_test{n}"))
    }
}
