//! What a payment provider does for us, behind one trait: start a
//! checkout, refund, and say where a payment stands (for reconciliation).
//! Webhook formats differ too much to share a signature, so each provider
//! reads its own deliveries.

use async_trait::async_trait;
use serde_json::Value;

use super::model::{Order, Provider, RazorpayCheckout};
use crate::error::{Error, Result};
use crate::store::payments::PaymentChange;

/// What a checkout needs besides the order.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// The course's title, shown on the payment page.
    pub course_title: &'a str,
    /// Where to send the learner after paying.
    pub success_url: &'a str,
    /// Where to send the learner on cancel.
    pub cancel_url: &'a str,
}

/// What a provider answered to a new checkout.
#[derive(Debug, Clone, Default)]
pub struct StartedCheckout {
    /// The provider's order (Checkout Session id, Razorpay order id).
    pub provider_order_id: Option<String>,
    /// Where the learner pays (Stripe).
    pub checkout_url: Option<String>,
    /// What Razorpay Checkout needs.
    pub razorpay: Option<RazorpayCheckout>,
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// Which one.
    fn provider(&self) -> Provider;

    /// Starts paying for `order` at the provider.
    async fn start_checkout(
        &self,
        order: &Order,
        request: &CheckoutRequest<'_>,
    ) -> Result<StartedCheckout>;

    /// Refunds `amount` of the order's payment.
    async fn refund(&self, order: &Order, amount: i64) -> Result<()>;

    /// What the provider says about an open order now, if anything.
    async fn status(&self, order: &Order) -> Result<Option<PaymentChange>>;
}

/// Marked paid by an admin once the money arrived outside the platform
/// (bank transfer, cash): nothing to call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Manual;

#[async_trait]
impl PaymentProvider for Manual {
    fn provider(&self) -> Provider {
        Provider::Manual
    }

    async fn start_checkout(&self, _: &Order, _: &CheckoutRequest<'_>) -> Result<StartedCheckout> {
        Ok(StartedCheckout::default())
    }

    /// The money goes back the way it came, outside the platform; the
    /// refund is only recorded.
    async fn refund(&self, _: &Order, _: i64) -> Result<()> {
        Ok(())
    }

    async fn status(&self, _: &Order) -> Result<Option<PaymentChange>> {
        Ok(None)
    }
}

/// Sends a provider request and reads its JSON answer; a refusal becomes a
/// `provider` error carrying the provider's own message, found at `detail`
/// (a JSON pointer).
pub(crate) async fn call(
    request: reqwest::RequestBuilder,
    who: &str,
    what: &str,
    detail: &str,
) -> Result<Value> {
    let response = request
        .send()
        .await
        .map_err(|e| Error::unreachable(who, e))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Error::unreachable(who, e))?;
    let body: Option<Value> = serde_json::from_str(&text).ok();
    if !status.is_success() {
        let message = body
            .as_ref()
            .and_then(|v| v.pointer(detail))
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(Error::provider(format!(
            "{who} refused to {what} ({status}): {message}"
        )));
    }
    body.ok_or_else(|| Error::provider(format!("{who} sent an unreadable answer to {what}")))
}

/// A string member of a JSON object.
pub(crate) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}
