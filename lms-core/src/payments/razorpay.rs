//! Razorpay: orders, the Checkout payment signature, refunds and
//! `X-Razorpay-Signature` webhooks. The API base URL comes from the
//! configuration, so tests point it at a fake on loopback.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::model::{Order, Provider, RazorpayCheckout};
use super::provider::{CheckoutRequest, PaymentProvider, StartedCheckout, call, text};
use crate::config::Config;
use crate::domain::Secret;
use crate::error::{Error, Result};
use crate::signing::verify_hmac_hex;
use crate::store::payments::{OrderRef, PaymentChange};

/// The Razorpay client of one installation.
pub struct Razorpay {
    http: reqwest::Client,
    api: String,
    key_id: String,
    key_secret: Secret,
    webhook_secret: Secret,
}

impl std::fmt::Debug for Razorpay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Razorpay")
            .field("api", &self.api)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A verified Razorpay event.
#[derive(Debug, Clone)]
pub(crate) struct RazorpayEvent {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) payload: Value,
}

impl Razorpay {
    /// The client `config` describes, or `None` when Razorpay is not configured.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Option<Self> {
        let key_id = config.razorpay_key_id.clone()?;
        Some(Self {
            http,
            api: config.razorpay_api_url.trim_end_matches('/').to_owned(),
            key_id,
            key_secret: config.razorpay_key_secret.clone(),
            webhook_secret: config.razorpay_webhook_secret.clone(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .basic_auth(&self.key_id, Some(self.key_secret.expose()))
    }

    /// Whether Checkout's `razorpay_signature` is
    /// `hex(HMAC-SHA256(key secret, order_id|payment_id))` for the
    /// Razorpay order id we stored (constant time).
    pub(crate) fn payment_signature_ok(
        &self,
        razorpay_order_id: &str,
        payment_id: &str,
        signature: &str,
    ) -> bool {
        verify_hmac_hex(
            self.key_secret.expose().as_bytes(),
            &[razorpay_order_id.as_bytes(), b"|", payment_id.as_bytes()],
            signature,
        )
    }

    /// Checks a delivery's `X-Razorpay-Signature` (HMAC of the raw body)
    /// and reads the event. Razorpay signs no timestamp, so replays are
    /// stopped by the event id alone: `X-Razorpay-Event-Id`, else the
    /// event name and its entity's id.
    pub(crate) fn verify_webhook(
        &self,
        signature: Option<&str>,
        event_id: Option<&str>,
        body: &[u8],
    ) -> Result<RazorpayEvent> {
        let signature = signature
            .ok_or_else(|| Error::unauthenticated("X-Razorpay-Signature: the header is missing"))?;
        if !verify_hmac_hex(self.webhook_secret.expose().as_bytes(), &[body], signature) {
            return Err(Error::unauthenticated(
                "X-Razorpay-Signature: no signature matches the body",
            ));
        }
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid_field("body", format!("is not a Razorpay event: {e}")))?;
        let kind = text(&event, "event").unwrap_or_default().to_owned();
        let payload = event.get("payload").cloned().unwrap_or(Value::Null);
        let id = match event_id.map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => {
                let entity = ["refund", "payment", "order"]
                    .iter()
                    .find_map(|e| payload.pointer(&format!("/{e}/entity/id")))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::invalid_field("body", "names no event id and no entity")
                    })?;
                format!("{kind}:{entity}")
            }
        };
        Ok(RazorpayEvent { id, kind, payload })
    }
}

/// A payment entity as a payment of its order.
fn payment_paid(payment: &Value) -> Option<PaymentChange> {
    Some(PaymentChange::Paid {
        order: OrderRef::ProviderOrder(text(payment, "order_id")?.to_owned()),
        payment_id: text(payment, "id")?.to_owned(),
        amount: payment.get("amount")?.as_i64()?,
        currency: text(payment, "currency")?.to_owned(),
    })
}

/// What an event says about one of our orders, if anything.
pub(crate) fn razorpay_change(event: &RazorpayEvent) -> Option<PaymentChange> {
    let payment = event.payload.pointer("/payment/entity");
    match event.kind.as_str() {
        "payment.captured" | "order.paid" => payment_paid(payment?),
        "payment.failed" => Some(PaymentChange::Failed {
            order: OrderRef::ProviderOrder(text(payment?, "order_id")?.to_owned()),
        }),
        "refund.processed" | "refund.created" => {
            let refund = event.payload.pointer("/refund/entity")?;
            let this = refund.get("amount")?.as_i64()?;
            // The payment's running total when the event carries it, so
            // several partial refunds add up; else this refund's amount.
            let total = payment
                .and_then(|p| p.get("amount_refunded"))
                .and_then(Value::as_i64)
                .map_or(this, |t| t.max(this));
            Some(PaymentChange::Refunded {
                payment_id: text(refund, "payment_id")?.to_owned(),
                refunded_total: total,
            })
        }
        _ => None,
    }
}

#[async_trait]
impl PaymentProvider for Razorpay {
    fn provider(&self) -> Provider {
        Provider::Razorpay
    }

    async fn start_checkout(
        &self,
        order: &Order,
        _request: &CheckoutRequest<'_>,
    ) -> Result<StartedCheckout> {
        let body = json!({
            "amount": order.amount,
            "currency": order.currency.code(),
            "receipt": order.id.to_string(),
            "notes": { "order_id": order.id.to_string() },
        });
        let request = self
            .request(reqwest::Method::POST, "/v1/orders")
            .json(&body);
        let answer = call(
            request,
            "Razorpay",
            "create the order",
            "/error/description",
        )
        .await?;
        let id = text(&answer, "id")
            .ok_or_else(|| Error::provider("Razorpay sent an order without an id"))?;
        Ok(StartedCheckout {
            provider_order_id: Some(id.to_owned()),
            checkout_url: None,
            razorpay: Some(RazorpayCheckout {
                key_id: self.key_id.clone(),
                order_id: id.to_owned(),
                amount: order.amount,
                currency: order.currency,
            }),
        })
    }

    async fn refund(&self, order: &Order, amount: i64) -> Result<()> {
        let payment = order
            .provider_payment_id
            .as_deref()
            .ok_or_else(|| Error::conflict("the order has no payment to refund"))?;
        let body = json!({
            "amount": amount,
            "notes": { "order_id": order.id.to_string() },
        });
        let request = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/payments/{payment}/refund"),
            )
            .json(&body);
        call(
            request,
            "Razorpay",
            "refund the payment",
            "/error/description",
        )
        .await?;
        Ok(())
    }

    async fn status(&self, order: &Order) -> Result<Option<PaymentChange>> {
        let Some(razorpay_order) = order.provider_order_id.as_deref() else {
            return Ok(None);
        };
        let request = self.request(
            reqwest::Method::GET,
            &format!("/v1/orders/{razorpay_order}/payments"),
        );
        let answer = call(
            request,
            "Razorpay",
            "list the order's payments",
            "/error/description",
        )
        .await?;
        let captured = answer
            .get("items")
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find(|p| text(p, "status") == Some("captured")));
        Ok(captured.and_then(|p| {
            let mut paid = payment_paid(p)?;
            // The payment may not repeat its order id; it is this one.
            if let PaymentChange::Paid { order: o, .. } = &mut paid {
                *o = OrderRef::ProviderOrder(razorpay_order.to_owned());
            }
            Some(paid)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: Value) -> RazorpayEvent {
        RazorpayEvent {
            id: "e".into(),
            kind: kind.into(),
            payload,
        }
    }

    #[test]
    fn a_captured_payment_pays_its_razorpay_order() {
        let payload = json!({"payment": {"entity": {"id": "pay_1", "order_id": "order_1",
            "amount": 29935, "currency": "INR", "status": "captured"}}});
        assert_eq!(
            razorpay_change(&event("payment.captured", payload)),
            Some(PaymentChange::Paid {
                order: OrderRef::ProviderOrder("order_1".into()),
                payment_id: "pay_1".into(),
                amount: 29935,
                currency: "INR".into(),
            })
        );
    }

    #[test]
    fn a_refund_uses_the_payments_running_total_when_given() {
        let payload = json!({
            "refund": {"entity": {"id": "rfnd_2", "payment_id": "pay_1", "amount": 100}},
            "payment": {"entity": {"id": "pay_1", "amount": 1000, "amount_refunded": 300}},
        });
        assert_eq!(
            razorpay_change(&event("refund.processed", payload)),
            Some(PaymentChange::Refunded {
                payment_id: "pay_1".into(),
                refunded_total: 300
            })
        );
    }
}
