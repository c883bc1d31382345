//! Store steps of orders, coupons and payment-provider deliveries.

use async_trait::async_trait;

use crate::actor::Actor;
use crate::clock::Timestamp;
use crate::domain::{CouponId, CourseId, Currency, OrderId, UserId};
use crate::error::Result;
use crate::media::WebhookOutcome;
use crate::payments::{Coupon, CouponKind, Order, OrderQuery, Provider};
use crate::store::media::WebhookDelivery;

/// An order to record at checkout.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Fresh id.
    pub id: OrderId,
    /// The buyer.
    pub user_id: UserId,
    /// The course.
    pub course_id: CourseId,
    /// Who takes the money.
    pub provider: Provider,
    /// The course's price now.
    pub list_amount: i64,
    /// What the coupon takes off.
    pub discount_amount: i64,
    /// The currency.
    pub currency: Currency,
    /// The coupon applied.
    pub coupon_id: Option<CouponId>,
}

/// A new coupon, already validated.
#[derive(Debug, Clone)]
pub struct NewCoupon {
    /// Fresh id.
    pub id: CouponId,
    /// Upper-cased code.
    pub code: String,
    /// Whose courses.
    pub owner_id: UserId,
    /// The one course.
    pub course_id: Option<CourseId>,
    /// Percent or fixed.
    pub kind: CouponKind,
    /// Percent off.
    pub percent_off: Option<i64>,
    /// Amount off.
    pub amount_off: Option<i64>,
    /// Its currency.
    pub currency: Option<Currency>,
    /// Usable from.
    pub starts_at: Option<Timestamp>,
    /// Usable until.
    pub ends_at: Option<Timestamp>,
    /// Uses in total.
    pub max_redemptions: Option<i64>,
    /// Uses per learner.
    pub max_per_user: Option<i64>,
}

/// How a provider event names the order it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// Our order id (Stripe `client_reference_id`, Razorpay `receipt`).
    Id(OrderId),
    /// The provider's order id (Checkout Session id, Razorpay order id).
    ProviderOrder(String),
}

/// What a provider says happened to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// The money arrived.
    Paid {
        /// The order.
        order: OrderRef,
        /// The provider's payment id (PaymentIntent, Razorpay payment).
        payment_id: String,
        /// The amount paid, in minor units.
        amount: i64,
        /// The currency code as the provider spells it.
        currency: String,
    },
    /// The payment failed.
    Failed {
        /// The order.
        order: OrderRef,
    },
    /// The checkout expired.
    Expired {
        /// The order.
        order: OrderRef,
    },
    /// The provider refunded `refunded_total` of the payment so far (the
    /// running total, so events may come in any order and twice).
    Refunded {
        /// The provider's payment id.
        payment_id: String,
        /// Refunded so far, in minor units.
        refunded_total: i64,
    },
}

/// How a payment is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyRules {
    /// An admin accepts a flagged order after review: what flags an order
    /// at fulfillment (a coupon's limits, the owner's revocation of the
    /// learner) is theirs to override, and is not checked.
    pub admin_accepts: bool,
}

/// Orders, coupons and payment deliveries.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Records an order at checkout. Event `order.created`.
    async fn create_order(&self, new: NewOrder, actor: Actor, at: Timestamp) -> Result<Order>;

    /// Notes the provider's order id and checkout URL of a created order.
    async fn set_provider_order(
        &self,
        id: OrderId,
        provider_order_id: &str,
        checkout_url: Option<&str>,
        at: Timestamp,
    ) -> Result<Order>;

    /// An order by id.
    async fn order(&self, id: OrderId) -> Result<Option<Order>>;

    /// Orders matching the query, in id order after its cursor.
    async fn list_orders(&self, query: &OrderQuery, limit: u32) -> Result<Vec<Order>>;

    /// Orders of `provider` still waiting for their payment (not flagged)
    /// that have a provider order, oldest first, after `after`.
    async fn open_orders(
        &self,
        provider: Provider,
        after: Option<OrderId>,
        limit: u32,
    ) -> Result<Vec<Order>>;

    /// Applies what a provider says, once: with a delivery, it is recorded
    /// by (provider, event id) in the same transaction as its effect, so a
    /// redelivery is a `Duplicate` that changes nothing.
    ///
    /// A payment on an order still open (created, failed or expired)
    /// fulfills it in this one transaction when its amount and currency
    /// match: the order becomes paid, the learner is enrolled (source
    /// `purchase`), the coupon use is counted (within its total and
    /// per-learner limits), a refund already reported for the payment is
    /// applied, and the events are logged. A payment that does not match,
    /// or would pass a coupon's limit, flags the order for review instead.
    /// Failure and expiry close only a `created` order. A refund total is
    /// kept per payment (the highest seen) and applied to its order when
    /// the order is paid, now or when the payment lands: all of it
    /// refunds the order and revokes the purchase enrollment, part of it
    /// marks the order partially refunded.
    async fn apply_payment(
        &self,
        provider: Provider,
        delivery: Option<WebhookDelivery>,
        change: Option<PaymentChange>,
        rules: ApplyRules,
        actor: Actor,
        at: Timestamp,
    ) -> Result<(WebhookOutcome, Option<Order>)>;

    /// Records a coupon; a code taken (in any case) is a conflict.
    /// Event `coupon.created`.
    async fn create_coupon(&self, new: NewCoupon, actor: Actor, at: Timestamp) -> Result<Coupon>;

    /// A coupon by id.
    async fn coupon(&self, id: CouponId) -> Result<Option<Coupon>>;

    /// A coupon by upper-cased code.
    async fn coupon_by_code(&self, code: &str) -> Result<Option<Coupon>>;

    /// Coupons of an owner (or all, for `None`), newest first.
    async fn list_coupons(&self, owner: Option<UserId>) -> Result<Vec<Coupon>>;

    /// Disables a coupon (again is a no-op). Event `coupon.disabled`.
    async fn disable_coupon(&self, id: CouponId, actor: Actor, at: Timestamp) -> Result<Coupon>;

    /// How many paid orders of `user` used the coupon.
    async fn coupon_uses_by(&self, coupon: CouponId, user: UserId) -> Result<i64>;
}
