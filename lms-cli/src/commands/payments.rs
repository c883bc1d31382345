//! `lms orders`, `lms coupons`, `lms payments`: what learners bought, the
//! discounts they may use, and keeping orders in step with the providers.
//! Refunds and reconciliation call the providers' APIs, configured with
//! the server's `LMS_STRIPE_*` and `LMS_RAZORPAY_*` settings.

use lms_core::domain::Price;
use lms_core::{
    Coupon, CouponId, CouponInput, Error, Lms, Order, OrderId, OrderQuery, RefundInput,
};

use super::{Result, SYSTEM, course_id, printed, time, user, when};
use crate::cli::{Coupons, Orders, Payments};
use crate::output::{Output, table};

/// Orders read per page of a listing (the core's largest page).
const ORDER_PAGE: u32 = 200;

/// Minor units for people: `49.99 USD`.
fn money(amount_minor: i64, currency: lms_core::domain::Currency) -> String {
    Price::Paid {
        amount_minor,
        currency,
    }
    .display()
}

const ORDER_HEADERS: &[&str] = &[
    "ID", "CREATED", "STATUS", "PROVIDER", "AMOUNT", "REFUNDED", "REVIEW",
];

fn order_row(o: &Order) -> Vec<String> {
    vec![
        o.id.to_string(),
        when(&o.created_at),
        o.status.as_str().to_owned(),
        o.provider.as_str().to_owned(),
        money(o.amount, o.currency),
        money(o.refunded_amount, o.currency),
        o.review_reason.clone().unwrap_or_default(),
    ]
}

fn describe_order(o: &Order) -> String {
    let mut text = table(ORDER_HEADERS, &[order_row(o)]);
    text.push_str(&format!("buyer: {}\ncourse: {}\n", o.user_id, o.course_id));
    if o.discount_amount > 0 {
        text.push_str(&format!(
            "list price: {}, discount: {}\n",
            money(o.list_amount, o.currency),
            money(o.discount_amount, o.currency)
        ));
    }
    for (what, value) in [
        ("provider order", &o.provider_order_id),
        ("provider payment", &o.provider_payment_id),
    ] {
        if let Some(value) = value {
            text.push_str(&format!("{what}: {value}\n"));
        }
    }
    text.trim_end().to_owned()
}

fn order_id(raw: &str) -> Result<OrderId> {
    OrderId::parse("order", raw)
}

pub async fn orders(lms: &Lms, command: Orders, out: Output) -> Result<()> {
    match command {
        Orders::List {
            status,
            provider,
            user: buyer,
            course,
            flagged,
            limit,
        } => {
            let user_id = match buyer {
                Some(key) => Some(user(lms, &key).await?.id),
                None => None,
            };
            let course_id = match course {
                Some(key) => Some(course_id(lms, &key).await?),
                None => None,
            };
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let query = OrderQuery {
                    status: status.clone(),
                    provider: provider.clone(),
                    user_id,
                    course_id,
                    flagged: flagged.then_some(true),
                    after,
                    limit: Some(ORDER_PAGE),
                };
                let page = lms.orders(&SYSTEM, query).await?;
                let full = page.len() == ORDER_PAGE as usize;
                after = page.last().map(|o| o.id);
                all.extend(page);
                if !full || limit.is_some_and(|l| all.len() >= l) {
                    break;
                }
            }
            if let Some(limit) = limit {
                all.truncate(limit);
            }
            out.list(&all, ORDER_HEADERS, order_row).map_err(printed)
        }
        Orders::Show { order } => {
            let o = lms.order(&SYSTEM, order_id(&order)?).await?;
            out.one(&o, || describe_order(&o)).map_err(printed)
        }
        Orders::Refund { order, amount } => {
            let id = order_id(&order)?;
            let o = lms
                .refund_order(&SYSTEM, id, RefundInput { amount })
                .await?;
            out.one(&o, || describe_order(&o)).map_err(printed)
        }
        Orders::MarkPaid { order } => {
            let o = lms.mark_order_paid(&SYSTEM, order_id(&order)?).await?;
            out.one(&o, || describe_order(&o)).map_err(printed)
        }
    }
}

const COUPON_HEADERS: &[&str] = &["ID", "CODE", "OFF", "APPLIES TO", "USES", "STATE"];

fn coupon_row(c: &Coupon) -> Vec<String> {
    let off = match (c.percent_off, c.amount_off, c.currency) {
        (Some(p), _, _) => format!("{p}%"),
        (None, Some(a), Some(currency)) => money(a, currency),
        _ => String::new(),
    };
    let applies = match c.course_id {
        Some(course) => format!("course {course}"),
        None => format!("courses of {}", c.owner_id),
    };
    let uses = match c.max_redemptions {
        Some(max) => format!("{}/{max}", c.redeemed),
        None => c.redeemed.to_string(),
    };
    vec![
        c.id.to_string(),
        c.code.clone(),
        off,
        applies,
        uses,
        if c.disabled { "disabled" } else { "active" }.to_owned(),
    ]
}

fn describe_coupon(c: &Coupon) -> String {
    table(COUPON_HEADERS, &[coupon_row(c)])
        .trim_end()
        .to_owned()
}

pub async fn coupons(lms: &Lms, command: Coupons, out: Output) -> Result<()> {
    match command {
        Coupons::Create {
            code,
            course,
            owner,
            percent_off,
            amount_off,
            currency,
            starts_at,
            ends_at,
            max_redemptions,
            max_per_user,
        } => {
            let starts_at = starts_at
                .as_deref()
                .map(|t| time("starts_at", t))
                .transpose()?;
            let ends_at = ends_at.as_deref().map(|t| time("ends_at", t)).transpose()?;
            let course_id = match course {
                Some(key) => Some(course_id(lms, &key).await?),
                None => None,
            };
            let owner_id = match owner {
                Some(key) => Some(user(lms, &key).await?.id),
                None => None,
            };
            let input = CouponInput {
                code,
                course_id,
                owner_id,
                percent_off,
                amount_off,
                currency,
                starts_at,
                ends_at,
                max_redemptions,
                max_per_user,
            };
            let c = lms.create_coupon(&SYSTEM, input).await?;
            out.one(&c, || describe_coupon(&c)).map_err(printed)
        }
        Coupons::List { owner } => {
            let owner_id = match owner {
                Some(key) => Some(user(lms, &key).await?.id),
                None => None,
            };
            let all = lms.coupons(&SYSTEM, owner_id).await?;
            out.list(&all, COUPON_HEADERS, coupon_row).map_err(printed)
        }
        Coupons::Disable { coupon } => {
            let id = CouponId::parse("coupon", &coupon)?;
            let c = lms.disable_coupon(&SYSTEM, id).await?;
            out.one(&c, || format!("{} is disabled", c.code))
                .map_err(printed)
        }
    }
}

pub async fn payments(lms: &Lms, command: Payments, out: Output) -> Result<()> {
    match command {
        Payments::Reconcile => {
            let report = lms.reconcile_payments(&SYSTEM).await?;
            out.one(&report, || {
                format!(
                    "checked {} open order(s): {} repaired, {} could not be asked",
                    report.checked, report.repaired, report.errors
                )
            })
            .map_err(printed)?;
            // A scheduled run must notice a provider it could not reach.
            if report.errors > 0 {
                return Err(Error::provider(format!(
                    "{} order(s) could not be checked with their provider; \
                     the next run asks again",
                    report.errors
                )));
            }
            Ok(())
        }
    }
}
