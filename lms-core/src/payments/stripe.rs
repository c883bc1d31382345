//! Stripe: Checkout Sessions, refunds, and `Stripe-Signature` webhooks. The
//! API base URL comes from the configuration, so tests point it at a fake
//! on loopback.

use async_trait::async_trait;
use serde_json::Value;

use super::model::{Order, Provider};
use super::provider::{CheckoutRequest, PaymentProvider, StartedCheckout, call, text};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::{OrderId, Secret};
use crate::error::{Error, Result};
use crate::signing::{WEBHOOK_TOLERANCE_SECS, verify_timestamped};
use crate::store::payments::{OrderRef, PaymentChange};

/// The Stripe client of one installation.
pub struct Stripe {
    http: reqwest::Client,
    api: String,
    secret_key: Secret,
    webhook_secret: Secret,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// A verified Stripe event.
#[derive(Debug, Clone)]
pub(crate) struct StripeEvent {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) object: Value,
}

impl Stripe {
    /// The client `config` describes, or `None` when Stripe is not configured.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Option<Self> {
        if config.stripe_secret_key.is_empty() {
            return None;
        }
        Some(Self {
            http,
            api: config.stripe_api_url.trim_end_matches('/').to_owned(),
            secret_key: config.stripe_secret_key.clone(),
            webhook_secret: config.stripe_webhook_secret.clone(),
        })
    }

    /// A form-encoded POST, as Stripe's API takes them, with an
    /// idempotency key so a retry never makes a second session or refund.
    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
        what: &str,
    ) -> Result<Value> {
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (name, value) in form {
                body.append_pair(name, value);
            }
            body.finish()
        };
        let request = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(self.secret_key.expose())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", key)
            .body(body);
        call(request, "Stripe", what, "/error/message").await
    }

    /// Checks a delivery's `Stripe-Signature` header and reads the event.
    pub(crate) fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<StripeEvent> {
        let header = signature
            .ok_or_else(|| Error::unauthenticated("Stripe-Signature: the header is missing"))?;
        verify_timestamped(
            header,
            body,
            self.webhook_secret.expose().as_bytes(),
            now,
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(|p| Error::unauthenticated(format!("Stripe-Signature: {}", p.message())))?;
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid_field("body", format!("is not a Stripe event: {e}")))?;
        let id = text(&event, "id")
            .ok_or_else(|| Error::invalid_field("body", "is a Stripe event without an id"))?;
        Ok(StripeEvent {
            id: id.to_owned(),
            kind: text(&event, "type").unwrap_or_default().to_owned(),
            object: event
                .pointer("/data/object")
                .cloned()
                .unwrap_or(Value::Null),
        })
    }
}

/// The order a Checkout Session belongs to: ours from
/// `client_reference_id` or `metadata.order_id`, else the session id.
fn session_order(session: &Value) -> Option<OrderRef> {
    let ours = text(session, "client_reference_id")
        .or_else(|| {
            session
                .pointer("/metadata/order_id")
                .and_then(Value::as_str)
        })
        .and_then(|id| OrderId::parse("order_id", id).ok());
    match ours {
        Some(id) => Some(OrderRef::Id(id)),
        None => text(session, "id").map(|id| OrderRef::ProviderOrder(id.to_owned())),
    }
}

/// An expandable field: the id, or the expanded object's id.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        object @ Value::Object(_) => text(object, "id").map(str::to_owned),
        _ => None,
    }
}

/// A paid Checkout Session as a payment.
fn session_paid(session: &Value) -> Option<PaymentChange> {
    if text(session, "payment_status") != Some("paid") {
        return None;
    }
    Some(PaymentChange::Paid {
        order: session_order(session)?,
        // A session always has its PaymentIntent once paid; its own id
        // stands in if an older API version left it out.
        payment_id: id_of(session.get("payment_intent"))
            .or_else(|| text(session, "id").map(str::to_owned))?,
        amount: session.get("amount_total")?.as_i64()?,
        currency: text(session, "currency")?.to_owned(),
    })
}

/// What an event says about one of our orders, if anything.
pub(crate) fn stripe_change(event: &StripeEvent) -> Option<PaymentChange> {
    let object = &event.object;
    match event.kind.as_str() {
        // Completed without payment yet (delayed methods): wait for
        // async_payment_succeeded.
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            session_paid(object)
        }
        "checkout.session.async_payment_failed" => Some(PaymentChange::Failed {
            order: session_order(object)?,
        }),
        "checkout.session.expired" => Some(PaymentChange::Expired {
            order: session_order(object)?,
        }),
        "charge.refunded" => Some(PaymentChange::Refunded {
            payment_id: id_of(object.get("payment_intent"))?,
            refunded_total: object.get("amount_refunded")?.as_i64()?,
        }),
        _ => None,
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    async fn start_checkout(
        &self,
        order: &Order,
        request: &CheckoutRequest<'_>,
    ) -> Result<StartedCheckout> {
        let id = order.id.to_string();
        let form = [
            ("mode", "payment".to_owned()),
            ("success_url", request.success_url.to_owned()),
            ("cancel_url", request.cancel_url.to_owned()),
            ("client_reference_id", id.clone()),
            ("metadata[order_id]", id.clone()),
            // On the PaymentIntent too, so its charges and refunds say
            // which order they belong to.
            ("payment_intent_data[metadata][order_id]", id.clone()),
            ("line_items[0][quantity]", "1".to_owned()),
            (
                "line_items[0][price_data][currency]",
                order.currency.code().to_ascii_lowercase(),
            ),
            (
                "line_items[0][price_data][unit_amount]",
                order.amount.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                request.course_title.to_owned(),
            ),
        ];
        let session = self
            .post(
                "/v1/checkout/sessions",
                &form,
                &format!("lms-checkout-{id}"),
                "create the checkout session",
            )
            .await?;
        let session_id = text(&session, "id")
            .ok_or_else(|| Error::provider("Stripe sent a checkout session without an id"))?;
        let url = text(&session, "url")
            .ok_or_else(|| Error::provider("Stripe sent a checkout session without a url"))?;
        Ok(StartedCheckout {
            provider_order_id: Some(session_id.to_owned()),
            checkout_url: Some(url.to_owned()),
            razorpay: None,
        })
    }

    async fn refund(&self, order: &Order, amount: i64) -> Result<()> {
        let payment = order
            .provider_payment_id
            .as_deref()
            .ok_or_else(|| Error::conflict("the order has no payment to refund"))?;
        let id = order.id.to_string();
        let form = [
            ("payment_intent", payment.to_owned()),
            ("amount", amount.to_string()),
            ("metadata[order_id]", id.clone()),
        ];
        // One key per refunded total: a retry of this refund is recognized,
        // a later refund of another part is not mistaken for it.
        let key = format!("lms-refund-{id}-{}", order.refunded_amount + amount);
        self.post("/v1/refunds", &form, &key, "refund the payment")
            .await?;
        Ok(())
    }

    async fn status(&self, order: &Order) -> Result<Option<PaymentChange>> {
        let Some(session) = order.provider_order_id.as_deref() else {
            return Ok(None);
        };
        let request = self
            .http
            .get(format!("{}/v1/checkout/sessions/{session}", self.api))
            .bearer_auth(self.secret_key.expose());
        let session = call(
            request,
            "Stripe",
            "read the checkout session",
            "/error/message",
        )
        .await?;
        if let Some(paid) = session_paid(&session) {
            return Ok(Some(paid));
        }
        Ok(match text(&session, "status") {
            Some("expired") => Some(PaymentChange::Expired {
                order: OrderRef::Id(order.id),
            }),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value) -> StripeEvent {
        StripeEvent {
            id: "evt_1".into(),
            kind: kind.into(),
            object,
        }
    }

    #[test]
    fn a_completed_session_pays_only_when_its_payment_status_is_paid() {
        let order = OrderId::new();
        let session = |status: &str| {
            json!({
                "id": "cs_1", "client_reference_id": order.to_string(),
                "payment_status": status, "payment_intent": "pi_1",
                "amount_total": 4999, "currency": "usd",
            })
        };
        assert_eq!(
            stripe_change(&event("checkout.session.completed", session("paid"))),
            Some(PaymentChange::Paid {
                order: OrderRef::Id(order),
                payment_id: "pi_1".into(),
                amount: 4999,
                currency: "usd".into(),
            })
        );
        assert_eq!(
            stripe_change(&event("checkout.session.completed", session("unpaid"))),
            None
        );
    }

    #[test]
    fn a_refunded_charge_gives_the_running_total_of_its_payment_intent() {
        let charge = json!({"amount": 4999, "amount_refunded": 1000, "refunded": false,
            "payment_intent": {"id": "pi_9"}});
        assert_eq!(
            stripe_change(&event("charge.refunded", charge)),
            Some(PaymentChange::Refunded {
                payment_id: "pi_9".into(),
                refunded_total: 1000
            })
        );
        assert_eq!(stripe_change(&event("invoice.paid", json!({}))), None);
    }
}
