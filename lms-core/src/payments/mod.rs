//! Selling courses: checkout with Stripe, Razorpay or a manual payment,
//! provider webhooks, refunds, coupons and reconciliation.
//!
//! The promise to the learner: pay once, get enrolled exactly once, however
//! often, late or out of order the provider reports it.
//!
//! - Every delivery is recorded by (provider, event id) in the transaction
//!   of its effect ([`PaymentStore::apply_payment`]); a redelivery answers
//!   `duplicate` and does nothing.
//! - Fulfillment is one store transaction: order paid, enrollment (source
//!   `purchase`), coupon use, event rows.
//! - Orders move forward only. A payment counts even after a failure or an
//!   expiry was reported (money received wins), and nothing undoes a
//!   payment but a refund.
//! - A refund reported before its payment is kept by payment id (the
//!   highest running total seen) and applied when the payment lands: a
//!   full one leaves the order `refunded` with no enrollment, a partial one
//!   `partially_refunded` with it. So the final state does not depend on
//!   the order events arrive in.
//! - A payment whose amount or currency differs from the order, or that
//!   would pass a coupon's limit, flags the order for review
//!   (`review_reason`) instead of fulfilling it; an admin settles it with
//!   [`Lms::mark_order_paid`] or [`Lms::refund_order`].
//!
//! [`PaymentStore::apply_payment`]: crate::store::PaymentStore::apply_payment

mod coupons;
mod model;
mod provider;
mod razorpay;
mod stripe;

pub use coupons::MAX_CODE_LEN;
pub use model::{
    CheckoutAnswer, CheckoutInput, Coupon, CouponCheck, CouponInput, CouponKind, CouponQuote,
    Order, OrderQuery, OrderStatus, Provider, RazorpayCheckout, RazorpayVerifyInput,
    ReconcileReport, RefundInput,
};
pub use provider::{CheckoutRequest, Manual, PaymentProvider, StartedCheckout};
pub use razorpay::Razorpay;
pub use stripe::Stripe;

use crate::Lms;
use crate::actor::Actor;
use crate::catalog::CourseStatus;
use crate::clock::Timestamp;
use crate::domain::{CourseId, OrderId, Price, page_limit};
use crate::enrollment::{RevokedBy, revoked_by_owner};
use crate::error::{Error, Result};
use crate::media::{WebhookOutcome, WebhookReceipt};
use crate::store::courses::CourseKey;
use crate::store::media::WebhookDelivery;
use crate::store::payments::{ApplyRules, NewOrder, OrderRef, PaymentChange};

/// Longest redirect URL accepted at checkout.
const MAX_URL_LEN: usize = 2048;

/// Orders asked about per reconciliation page.
const RECONCILE_PAGE: u32 = 100;

/// The configured providers of one installation.
#[derive(Debug, Default)]
pub(crate) struct Providers {
    pub(crate) stripe: Option<Stripe>,
    pub(crate) razorpay: Option<Razorpay>,
}

impl Providers {
    pub(crate) fn from_config(config: &crate::Config, http: &reqwest::Client) -> Self {
        Self {
            stripe: Stripe::from_config(config, http.clone()),
            razorpay: Razorpay::from_config(config, http.clone()),
        }
    }
}

fn check_url(field: &str, url: Option<&str>) -> Result<Option<String>> {
    match url.map(str::trim) {
        None | Some("") => Ok(None),
        Some(u)
            if (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= MAX_URL_LEN
                && !u.chars().any(char::is_whitespace) =>
        {
            Ok(Some(u.to_owned()))
        }
        Some(_) => Err(Error::invalid_field(
            field,
            "must be an http:// or https:// URL of at most 2048 characters",
        )),
    }
}

/// Whether a store step failed only because PostgreSQL ended it to break a
/// deadlock (40P01) or a serialization conflict (40001): its transaction
/// rolled back whole, so running it again is safe.
fn is_transient(err: &Error) -> bool {
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<sqlx::Error>())
        .and_then(|e| e.as_database_error())
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

impl Lms {
    /// `PaymentStore::apply_payment`, run again (a few times, after a
    /// short pause) when PostgreSQL broke a deadlock between concurrent
    /// fulfillments, whose order, coupon and enrollment locks can cross.
    async fn apply_payment_step(
        &self,
        provider: Provider,
        delivery: Option<WebhookDelivery>,
        change: Option<PaymentChange>,
        rules: ApplyRules,
        actor: Actor,
        at: Timestamp,
    ) -> Result<(WebhookOutcome, Option<Order>)> {
        let mut attempt: u32 = 0;
        loop {
            let result = self
                .store()
                .apply_payment(provider, delivery.clone(), change.clone(), rules, actor, at)
                .await;
            match result {
                Err(err) if attempt < 5 && is_transient(&err) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
                }
                other => return other,
            }
        }
    }
}

impl Lms {
    fn provider_api(&self, provider: Provider) -> Result<&dyn PaymentProvider> {
        let payments = &self.inner.payments;
        let configured: Option<&dyn PaymentProvider> = match provider {
            Provider::Stripe => payments.stripe.as_ref().map(|s| s as &dyn PaymentProvider),
            Provider::Razorpay => payments
                .razorpay
                .as_ref()
                .map(|r| r as &dyn PaymentProvider),
            Provider::Manual | Provider::Coupon => Some(&Manual),
        };
        configured.ok_or_else(|| {
            Error::invalid_field(
                "provider",
                format!("{} is not configured here", provider.as_str()),
            )
        })
    }

    /// Starts buying a course for the signed-in learner.
    ///
    /// Already enrolled, or the course's owner, is a `conflict`; a free
    /// course is `invalid_input` (enroll directly). A coupon bringing the price to zero enrolls at
    /// once with no provider (answer status `paid`). Otherwise the order
    /// is created first, so its id can be the provider's reference and
    /// idempotency key, then the provider's checkout is started: Stripe
    /// answers a `checkout_url`, Razorpay what its Checkout needs, manual
    /// nothing (an admin marks the order paid when the money arrives).
    pub async fn checkout(
        &self,
        actor: &Actor,
        course: CourseId,
        input: CheckoutInput,
    ) -> Result<CheckoutAnswer> {
        let user = actor.require_user()?;
        let provider = Provider::parse("provider", &input.provider);
        let success_url = check_url("success_url", input.success_url.as_deref());
        let cancel_url = check_url("cancel_url", input.cancel_url.as_deref());
        let mut errors = Vec::new();
        for e in [
            provider.as_ref().err(),
            success_url.as_ref().err(),
            cancel_url.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        {
            errors.extend(e.fields().iter().cloned());
        }
        if !errors.is_empty() {
            return Err(Error::invalid_fields(errors));
        }
        let (provider, success_url, cancel_url) = (provider?, success_url?, cancel_url?);
        let api = self.provider_api(provider)?;
        let course = self
            .store()
            .course(&CourseKey::Id(course))
            .await?
            .ok_or_else(|| Error::not_found("course not found"))?
            .course;
        match course.status {
            CourseStatus::Published => {}
            CourseStatus::Draft => return Err(Error::not_found("course not found")),
            CourseStatus::Archived => {
                return Err(Error::forbidden(
                    "this course is archived and takes no new learners",
                ));
            }
        }
        let Price::Paid {
            amount_minor,
            currency,
        } = course.price
        else {
            return Err(Error::invalid_field(
                "course",
                "is free; enroll without a checkout",
            ));
        };
        if course.owner_id == user {
            return Err(Error::conflict(
                "you own this course; there is nothing to buy",
            ));
        }
        match self.store().enrollment(course.id, user).await? {
            Some(e) if e.is_live(self.now()) => {
                return Err(Error::conflict("you are already enrolled in this course"));
            }
            // The owner took this learner out; buying back in would undo
            // that. One whose purchase was refunded may buy again.
            Some(e) if e.revoked_by == Some(RevokedBy::Owner) => {
                return Err(revoked_by_owner());
            }
            _ => {}
        }
        let quote = match input.coupon_code.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => {
                Some(self.quote(user, &course, code, "coupon_code").await?.1)
            }
            _ => None,
        };
        let discount = quote.as_ref().map_or(0, |q| q.discount_amount);
        let free_by_coupon = discount >= amount_minor;
        let new = NewOrder {
            id: OrderId::new(),
            user_id: user,
            course_id: course.id,
            provider: if free_by_coupon {
                Provider::Coupon
            } else {
                provider
            },
            list_amount: amount_minor,
            discount_amount: discount.min(amount_minor),
            currency,
            coupon_id: quote.as_ref().map(|q| q.coupon_id),
        };
        let now = self.now();
        let order = self.store().create_order(new, *actor, now).await?;
        if free_by_coupon {
            let paid = PaymentChange::Paid {
                order: OrderRef::Id(order.id),
                payment_id: format!("coupon:{}", order.id),
                amount: 0,
                currency: currency.code().to_owned(),
            };
            let (_, done) = self
                .apply_payment_step(
                    Provider::Coupon,
                    None,
                    Some(paid),
                    ApplyRules::default(),
                    *actor,
                    self.now(),
                )
                .await?;
            let done = done.ok_or_else(|| Error::internal("the coupon order went missing"))?;
            match done.status {
                OrderStatus::Paid => {}
                // Another checkout of this learner enrolled them meanwhile.
                OrderStatus::Failed => {
                    return Err(Error::conflict("you are already enrolled in this course"));
                }
                // Others used the last uses between the quote and now.
                _ => return Err(Error::conflict("this coupon has no uses left")),
            }
            return Ok(CheckoutAnswer {
                order_id: done.id,
                status: done.status,
                provider: done.provider,
                amount: 0,
                currency,
                checkout_url: None,
                razorpay: None,
            });
        }
        let public = self.config().public_url.trim_end_matches('/').to_owned();
        let success_url = success_url.unwrap_or_else(|| format!("{public}/orders/{}", order.id));
        let cancel_url = cancel_url.unwrap_or_else(|| format!("{public}/courses/{}", course.id));
        let started = api
            .start_checkout(
                &order,
                &CheckoutRequest {
                    course_title: &course.title,
                    success_url: &success_url,
                    cancel_url: &cancel_url,
                },
            )
            .await?;
        let order = match &started.provider_order_id {
            Some(reference) => {
                self.store()
                    .set_provider_order(
                        order.id,
                        reference,
                        started.checkout_url.as_deref(),
                        self.now(),
                    )
                    .await?
            }
            None => order,
        };
        Ok(CheckoutAnswer {
            order_id: order.id,
            status: order.status,
            provider: order.provider,
            amount: order.amount,
            currency,
            checkout_url: started.checkout_url,
            razorpay: started.razorpay,
        })
    }

    /// Confirms a Razorpay Checkout payment from the browser: the signature
    /// must be `HMAC-SHA256(key secret, razorpay_order_id|payment_id)` over
    /// the Razorpay order id stored with OUR order (never one the browser
    /// names). Fulfills the order; again changes nothing.
    pub async fn razorpay_verify(
        &self,
        actor: &Actor,
        input: RazorpayVerifyInput,
    ) -> Result<Order> {
        let user = actor.require_user()?;
        let razorpay = self
            .inner
            .payments
            .razorpay
            .as_ref()
            .ok_or_else(|| Error::not_found("Razorpay is not configured"))?;
        let order = self
            .store()
            .order(input.order_id)
            .await?
            .filter(|o| o.user_id == user || actor.is_admin())
            .ok_or_else(|| Error::not_found("order not found"))?;
        let razorpay_order = order
            .provider_order_id
            .as_deref()
            .filter(|_| order.provider == Provider::Razorpay)
            .ok_or_else(|| Error::invalid_field("order_id", "is not a Razorpay order"))?;
        if input
            .razorpay_order_id
            .as_deref()
            .is_some_and(|named| named.trim() != razorpay_order)
        {
            return Err(Error::invalid_field(
                "razorpay_order_id",
                "is not the Razorpay order of this order",
            ));
        }
        let payment_id = input.razorpay_payment_id.trim();
        if payment_id.is_empty() || payment_id.len() > 64 {
            return Err(Error::invalid_field(
                "razorpay_payment_id",
                "must be 1 to 64 characters",
            ));
        }
        if !razorpay.payment_signature_ok(razorpay_order, payment_id, &input.razorpay_signature) {
            return Err(Error::invalid_field(
                "razorpay_signature",
                "does not match this order's payment",
            ));
        }
        // The Razorpay order was made for exactly this amount, so a valid
        // signature is a payment of it.
        let paid = PaymentChange::Paid {
            order: OrderRef::ProviderOrder(razorpay_order.to_owned()),
            payment_id: payment_id.to_owned(),
            amount: order.amount,
            currency: order.currency.code().to_owned(),
        };
        let (_, done) = self
            .apply_payment_step(
                Provider::Razorpay,
                None,
                Some(paid),
                ApplyRules::default(),
                *actor,
                self.now(),
            )
            .await?;
        done.ok_or_else(|| Error::not_found("order not found"))
    }

    /// A Stripe webhook delivery: `Stripe-Signature` is checked (any `v1`,
    /// 300 s tolerance), then the event is applied once. Unknown types and
    /// unknown orders answer `ignored`.
    pub async fn stripe_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookReceipt> {
        let stripe = self
            .inner
            .payments
            .stripe
            .as_ref()
            .ok_or_else(|| Error::not_found("Stripe is not configured"))?;
        let now = self.now();
        let event = stripe.verify_webhook(signature, body, now)?;
        let change = stripe::stripe_change(&event);
        let delivery = WebhookDelivery {
            provider: "stripe",
            event_id: event.id,
            event_type: event.kind,
        };
        self.apply_delivery(Provider::Stripe, delivery, change)
            .await
    }

    /// A Razorpay webhook delivery: `X-Razorpay-Signature` is checked over
    /// the raw body; `event_id` is the `X-Razorpay-Event-Id` header (when
    /// absent, the event name and entity id stand in). Applied once.
    pub async fn razorpay_webhook(
        &self,
        signature: Option<&str>,
        event_id: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookReceipt> {
        let razorpay = self
            .inner
            .payments
            .razorpay
            .as_ref()
            .ok_or_else(|| Error::not_found("Razorpay is not configured"))?;
        let event = razorpay.verify_webhook(signature, event_id, body)?;
        let change = razorpay::razorpay_change(&event);
        let delivery = WebhookDelivery {
            provider: "razorpay",
            event_id: event.id,
            event_type: event.kind,
        };
        self.apply_delivery(Provider::Razorpay, delivery, change)
            .await
    }

    async fn apply_delivery(
        &self,
        provider: Provider,
        delivery: WebhookDelivery,
        change: Option<PaymentChange>,
    ) -> Result<WebhookReceipt> {
        if delivery.event_id.is_empty() || delivery.event_id.len() > 255 {
            return Err(Error::invalid_field("body", "has no usable event id"));
        }
        let (outcome, _) = self
            .apply_payment_step(
                provider,
                Some(delivery),
                change,
                ApplyRules::default(),
                Actor::System,
                self.now(),
            )
            .await?;
        Ok(WebhookReceipt { outcome })
    }

    /// Marks an order paid (admins): a manual order whose money arrived,
    /// or any order flagged for review that the admin accepts (then a
    /// coupon's limit does not stop it, and it is not counted as a use).
    /// An order paid already comes back as it is.
    pub async fn mark_order_paid(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        actor.require_admin()?;
        let order = self
            .store()
            .order(id)
            .await?
            .ok_or_else(|| Error::not_found("order not found"))?;
        if order.status.is_paid() {
            return Ok(order);
        }
        let flagged = order.review_reason.is_some();
        if order.provider != Provider::Manual && !flagged {
            return Err(Error::conflict(
                "only manual orders, or orders flagged for review, are marked paid by hand",
            ));
        }
        let payment_id = order
            .provider_payment_id
            .clone()
            .unwrap_or_else(|| format!("manual:{}", order.id));
        let paid = PaymentChange::Paid {
            order: OrderRef::Id(order.id),
            payment_id,
            amount: order.amount,
            currency: order.currency.code().to_owned(),
        };
        let rules = ApplyRules {
            admin_accepts: flagged,
        };
        let (_, done) = self
            .apply_payment_step(order.provider, None, Some(paid), rules, *actor, self.now())
            .await?;
        done.ok_or_else(|| Error::not_found("order not found"))
    }

    /// The signed-in learner's orders, oldest first, a page at a time (1 to
    /// 200, 50 by default): pass the last id as `after` for the next page.
    pub async fn my_orders(
        &self,
        actor: &Actor,
        after: Option<OrderId>,
        limit: Option<u32>,
    ) -> Result<Vec<Order>> {
        let user = actor.require_user()?;
        let limit = page_limit(limit, 50, 200)?;
        let query = OrderQuery {
            user_id: Some(user),
            after,
            ..OrderQuery::default()
        };
        self.store().list_orders(&query, limit).await
    }

    /// Orders matching a query (admins), in id order; pass the last id as
    /// `after` for the next page.
    pub async fn orders(&self, actor: &Actor, query: OrderQuery) -> Result<Vec<Order>> {
        actor.require_admin()?;
        let limit = page_limit(query.limit, 50, 200)?;
        let mut errors = Vec::new();
        if let Some(s) = &query.status
            && let Err(e) = OrderStatus::parse("status", s)
        {
            errors.extend(e.fields().iter().cloned());
        }
        if let Some(p) = &query.provider
            && let Err(e) = Provider::parse("provider", p).or_else(|e| {
                if p == "coupon" {
                    Ok(Provider::Coupon)
                } else {
                    Err(e)
                }
            })
        {
            errors.extend(e.fields().iter().cloned());
        }
        if !errors.is_empty() {
            return Err(Error::invalid_fields(errors));
        }
        self.store().list_orders(&query, limit).await
    }

    /// One order: its buyer and admins (others get `not_found`).
    pub async fn order(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated("sign in first"));
        }
        self.store()
            .order(id)
            .await?
            .filter(|o| actor.is_admin() || actor.user_id() == Some(o.user_id))
            .ok_or_else(|| Error::not_found("order not found"))
    }

    /// Refunds a paid order (admins) through its provider's refund API,
    /// all that is left or `amount` of it, then records it: all of it
    /// revokes the purchase enrollment, part of it is noted.
    pub async fn refund_order(
        &self,
        actor: &Actor,
        id: OrderId,
        input: RefundInput,
    ) -> Result<Order> {
        actor.require_admin()?;
        let order = self
            .store()
            .order(id)
            .await?
            .ok_or_else(|| Error::not_found("order not found"))?;
        if !matches!(
            order.status,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) {
            return Err(Error::conflict(format!(
                "a {} order cannot be refunded",
                order.status.as_str()
            )));
        }
        let left = order.amount - order.refunded_amount;
        let amount = input.amount.unwrap_or(left);
        if left <= 0 {
            return Err(Error::conflict("nothing is left to refund"));
        }
        if !(1..=left).contains(&amount) {
            return Err(Error::invalid_field(
                "amount",
                format!("must be between 1 and {left}"),
            ));
        }
        let payment_id = order
            .provider_payment_id
            .clone()
            .ok_or_else(|| Error::conflict("the order has no payment to refund"))?;
        self.provider_api(order.provider)?
            .refund(&order, amount)
            .await?;
        let refunded = PaymentChange::Refunded {
            payment_id,
            refunded_total: order.refunded_amount + amount,
        };
        let (_, done) = self
            .apply_payment_step(
                order.provider,
                None,
                Some(refunded),
                ApplyRules::default(),
                *actor,
                self.now(),
            )
            .await?;
        match done {
            Some(done) => Ok(done),
            None => self.order(actor, id).await,
        }
    }

    /// Asks the providers about every order still waiting for its payment
    /// and applies what they say (admins and the system actor): a payment
    /// the webhooks never delivered is fulfilled, an expired checkout
    /// closed. Run it on a schedule; a provider that cannot be reached is
    /// counted in `errors` and asked again next time.
    pub async fn reconcile_payments(&self, actor: &Actor) -> Result<ReconcileReport> {
        actor.require_admin()?;
        let mut report = ReconcileReport::default();
        for provider in [Provider::Stripe, Provider::Razorpay] {
            let Ok(api) = self.provider_api(provider) else {
                continue;
            };
            let mut after = None;
            loop {
                let page = self
                    .store()
                    .open_orders(provider, after, RECONCILE_PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                for order in &page {
                    report.checked += 1;
                    let change = match api.status(order).await {
                        Ok(Some(change)) => change,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(order = %order.id, error = %e, "reconciliation could not ask the provider");
                            report.errors += 1;
                            continue;
                        }
                    };
                    let (outcome, _) = self
                        .apply_payment_step(
                            provider,
                            None,
                            Some(change),
                            ApplyRules::default(),
                            *actor,
                            self.now(),
                        )
                        .await?;
                    if outcome == WebhookOutcome::Applied {
                        report.repaired += 1;
                    }
                }
                if page.len() < RECONCILE_PAGE as usize {
                    break;
                }
            }
        }
        Ok(report)
    }
}
