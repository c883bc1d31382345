//! Payments: checkout, Razorpay's browser confirmation, the Stripe and
//! Razorpay webhooks, and reconciliation. Orders and coupons have their
//! own modules.

use lms_core::{CheckoutInput, CourseId, RazorpayVerifyInput};

use super::{Ctx, Reply};
use crate::problem::Problem;

/// `POST /courses/{course}/checkout`: 201 with what the provider's checkout
/// needs; the order lives at `/orders/{id}`.
pub async fn checkout(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let course = ctx.id("course", CourseId::parse)?;
    let input: CheckoutInput = ctx.json().await?;
    let answer = ctx.lms().checkout(&actor, course, input).await?;
    let location = format!("/api/v1/orders/{}", answer.order_id);
    Reply::created(&answer, Some(location))
}

/// `POST /payments/razorpay/verify`: the signature Razorpay Checkout gave
/// the browser; answers with the order, paid.
pub async fn razorpay_verify(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    let input: RazorpayVerifyInput = ctx.json().await?;
    Reply::ok(&ctx.lms().razorpay_verify(&actor, input).await?)
}

/// `POST /webhooks/stripe`: `Stripe-Signature` covers the raw body, so it
/// is read as bytes whatever its content type. Duplicates and event types
/// we do not act on are answered 200 too, so Stripe stops retrying them.
pub async fn stripe_webhook(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let body = ctx.raw_body().await?;
    let receipt = ctx
        .lms()
        .stripe_webhook(ctx.header("stripe-signature"), &body)
        .await?;
    Reply::ok(&receipt)
}

/// `POST /webhooks/razorpay`: `X-Razorpay-Signature` over the raw body;
/// `X-Razorpay-Event-Id` names the delivery, since Razorpay signs no
/// timestamp and retries for a day.
pub async fn razorpay_webhook(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let body = ctx.raw_body().await?;
    let receipt = ctx
        .lms()
        .razorpay_webhook(
            ctx.header("x-razorpay-signature"),
            ctx.header("x-razorpay-event-id"),
            &body,
        )
        .await?;
    Reply::ok(&receipt)
}

/// `POST /payments/reconcile` (admins): asks the providers about open
/// orders and repairs what the webhooks missed.
pub async fn reconcile(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let actor = ctx.actor().await?;
    Reply::ok(&ctx.lms().reconcile_payments(&actor).await?)
}
