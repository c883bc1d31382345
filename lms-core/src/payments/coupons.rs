//! Coupons: who may make them, what they take off, and when they apply.
//!
//! A coupon's limits are checked twice: at checkout, so a learner hears at
//! once that a coupon is used up, and at fulfillment, under the coupon's row
//! lock, which is what makes them hold when many payments land at once.

use super::model::{Coupon, CouponCheck, CouponInput, CouponKind, CouponQuote};
use crate::Lms;
use crate::actor::Actor;
use crate::catalog::{Course, course_owner_role};
use crate::domain::{CouponId, Currency, Price, Role, UserId};
use crate::error::{Error, FieldError, Result};
use crate::store::courses::CourseKey;
use crate::store::payments::NewCoupon;

/// Longest coupon code.
pub const MAX_CODE_LEN: usize = 40;

/// A code as stored: trimmed and upper-cased, so codes match in any case.
pub(crate) fn normalize_code(field: &str, raw: &str) -> Result<String> {
    let code = raw.trim().to_ascii_uppercase();
    if !(3..=MAX_CODE_LEN).contains(&code.len())
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid_field(
            field,
            "must be 3 to 40 letters, digits, '-' or '_'",
        ));
    }
    Ok(code)
}

/// What `coupon` takes off `price` (capped at the price).
fn discount(coupon: &Coupon, amount: i64, currency: Currency, field: &str) -> Result<i64> {
    match coupon.kind {
        CouponKind::Percent => {
            let percent = i128::from(coupon.percent_off.unwrap_or(0));
            // Rounded down: the learner never pays less than the share says.
            Ok((i128::from(amount) * percent / 100) as i64)
        }
        CouponKind::Fixed => {
            if coupon.currency != Some(currency) {
                return Err(Error::invalid_field(
                    field,
                    "is for another currency than this course's price",
                ));
            }
            Ok(coupon.amount_off.unwrap_or(0).min(amount))
        }
    }
}

impl Lms {
    /// Creates a coupon: the owner for their own courses, admins for any
    /// (and for all courses of any owner).
    pub async fn create_coupon(&self, actor: &Actor, input: CouponInput) -> Result<Coupon> {
        match actor {
            Actor::Anonymous => return Err(Error::unauthenticated("sign in first")),
            Actor::User {
                role: Role::Student,
                ..
            } => return Err(Error::forbidden("only instructors and admins make coupons")),
            _ => {}
        }
        let now = self.now();
        let mut errors: Vec<FieldError> = Vec::new();
        let mut bad = |e: Error| errors.extend(e.fields().iter().cloned());
        let code = normalize_code("code", &input.code).map_err(&mut bad).ok();
        let (kind, currency) = match (input.percent_off, input.amount_off) {
            (Some(p), None) => {
                if !(1..=100).contains(&p) {
                    bad(Error::invalid_field(
                        "percent_off",
                        "must be between 1 and 100",
                    ));
                }
                if input.currency.is_some() {
                    bad(Error::invalid_field(
                        "currency",
                        "goes with amount_off, not percent_off",
                    ));
                }
                (Some(CouponKind::Percent), None)
            }
            (None, Some(a)) => {
                if !(1..=Price::MAX_AMOUNT_MINOR).contains(&a) {
                    bad(Error::invalid_field(
                        "amount_off",
                        "must be between 1 and 10000000000 minor units",
                    ));
                }
                let currency = match input.currency.as_deref() {
                    Some(c) => Currency::parse("currency", c).map_err(&mut bad).ok(),
                    None => {
                        bad(Error::invalid_field(
                            "currency",
                            "is required with amount_off",
                        ));
                        None
                    }
                };
                (Some(CouponKind::Fixed), currency)
            }
            _ => {
                bad(Error::invalid_field(
                    "percent_off",
                    "give exactly one of percent_off and amount_off",
                ));
                (None, None)
            }
        };
        if let (Some(s), Some(e)) = (input.starts_at, input.ends_at)
            && e <= s
        {
            bad(Error::invalid_field("ends_at", "must be after starts_at"));
        }
        if input.ends_at.is_some_and(|e| e <= now) {
            bad(Error::invalid_field("ends_at", "must be in the future"));
        }
        if input.max_redemptions.is_some_and(|n| n < 1) {
            bad(Error::invalid_field(
                "max_redemptions",
                "must be at least 1",
            ));
        }
        if input.max_per_user.is_some_and(|n| n < 1) {
            bad(Error::invalid_field("max_per_user", "must be at least 1"));
        }
        if !errors.is_empty() {
            return Err(Error::invalid_fields(errors));
        }
        let (Some(code), Some(kind)) = (code, kind) else {
            return Err(Error::internal("coupon checks passed without a code"));
        };
        let owner_id = match input.course_id {
            Some(course) => {
                let course = self.managed_course(actor, course).await?;
                if let (
                    Some(c),
                    Price::Paid {
                        currency: priced, ..
                    },
                ) = (currency, course.price)
                    && c != priced
                {
                    return Err(Error::invalid_field(
                        "currency",
                        "must be the course's price currency",
                    ));
                }
                // A course's coupon is its owner's; another owner named
                // beside it is a mistake to point out, not to drop.
                if input.owner_id.is_some_and(|o| o != course.owner_id) {
                    return Err(Error::invalid_field(
                        "owner_id",
                        "must be the course's owner, or left out when a course is named",
                    ));
                }
                course.owner_id
            }
            None => match (input.owner_id, actor.user_id()) {
                (Some(owner), _) if actor.is_admin() => {
                    let known = self.store().user(owner).await?;
                    let Some(known) = known.filter(|u| u.deleted_at.is_none()) else {
                        return Err(Error::invalid_field("owner_id", "is not a user"));
                    };
                    // A student owns no course for the coupon to apply to.
                    course_owner_role("owner_id", known.user.role)?;
                    owner
                }
                (Some(owner), Some(me)) if owner == me => me,
                (Some(_), _) => {
                    return Err(Error::forbidden(
                        "only an admin may make coupons for another owner's courses",
                    ));
                }
                (None, Some(me)) => me,
                (None, None) => {
                    return Err(Error::invalid_field(
                        "owner_id",
                        "is required when no course is named",
                    ));
                }
            },
        };
        let new = NewCoupon {
            id: CouponId::new(),
            code,
            owner_id,
            course_id: input.course_id,
            kind,
            percent_off: input.percent_off.filter(|_| kind == CouponKind::Percent),
            amount_off: input.amount_off.filter(|_| kind == CouponKind::Fixed),
            currency,
            starts_at: input.starts_at.map(crate::clock::stored),
            ends_at: input.ends_at.map(crate::clock::stored),
            max_redemptions: input.max_redemptions,
            max_per_user: input.max_per_user,
        };
        self.store().create_coupon(new, *actor, now).await
    }

    /// Coupons the caller may manage: their own, or for admins every one
    /// (or one owner's, with `owner`).
    pub async fn coupons(&self, actor: &Actor, owner: Option<UserId>) -> Result<Vec<Coupon>> {
        let me = match actor {
            Actor::Anonymous => return Err(Error::unauthenticated("sign in first")),
            _ if actor.is_admin() => owner,
            _ => Some(actor.require_user()?),
        };
        if owner.is_some() && owner != me {
            return Err(Error::forbidden(
                "only an admin may list another owner's coupons",
            ));
        }
        self.store().list_coupons(me).await
    }

    /// Disables a coupon: its owner and admins.
    pub async fn disable_coupon(&self, actor: &Actor, id: CouponId) -> Result<Coupon> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated("sign in first"));
        }
        let coupon = self
            .store()
            .coupon(id)
            .await?
            .ok_or_else(|| Error::not_found("coupon not found"))?;
        if !actor.is_admin() && actor.user_id() != Some(coupon.owner_id) {
            return Err(Error::not_found("coupon not found"));
        }
        self.store().disable_coupon(id, *actor, self.now()).await
    }

    /// What a coupon does to a course's price for the signed-in learner.
    pub async fn validate_coupon(&self, actor: &Actor, check: CouponCheck) -> Result<CouponQuote> {
        let user = actor.require_user()?;
        let course = self
            .store()
            .course(&CourseKey::Id(check.course_id))
            .await?
            .filter(|s| s.course.status == crate::catalog::CourseStatus::Published)
            .ok_or_else(|| Error::not_found("course not found"))?
            .course;
        Ok(self.quote(user, &course, &check.code, "code").await?.1)
    }

    /// The coupon `code` names and the price it gives `user` for
    /// `course`, or why it does not apply (naming `field`).
    pub(crate) async fn quote(
        &self,
        user: UserId,
        course: &Course,
        code: &str,
        field: &str,
    ) -> Result<(Coupon, CouponQuote)> {
        let code = normalize_code(field, code)?;
        let unusable = |why: &str| Error::invalid_field(field, why);
        let coupon = self
            .store()
            .coupon_by_code(&code)
            .await?
            .ok_or_else(|| unusable("is not a known coupon"))?;
        let now = self.now();
        if coupon.disabled {
            return Err(unusable("is no longer valid"));
        }
        if coupon.starts_at.is_some_and(|s| s > now) {
            return Err(unusable("is not valid yet"));
        }
        if coupon.ends_at.is_some_and(|e| e <= now) {
            return Err(unusable("has expired"));
        }
        let applies = match coupon.course_id {
            Some(c) => c == course.id,
            None => coupon.owner_id == course.owner_id,
        };
        if !applies {
            return Err(unusable("does not apply to this course"));
        }
        let Price::Paid {
            amount_minor,
            currency,
        } = course.price
        else {
            return Err(unusable("does not apply: the course is free"));
        };
        if coupon
            .max_redemptions
            .is_some_and(|max| coupon.redeemed >= max)
        {
            return Err(unusable("has no uses left"));
        }
        if let Some(max) = coupon.max_per_user
            && self.store().coupon_uses_by(coupon.id, user).await? >= max
        {
            return Err(unusable("was used as often as it may be by you"));
        }
        let off = discount(&coupon, amount_minor, currency, field)?;
        let quote = CouponQuote {
            coupon_id: coupon.id,
            code: coupon.code.clone(),
            course_id: course.id,
            list_amount: amount_minor,
            discount_amount: off,
            amount: amount_minor - off,
            currency,
        };
        Ok((coupon, quote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_in_any_case_and_must_be_plain() {
        assert_eq!(normalize_code("code", " spring-25 ").unwrap(), "SPRING-25");
        for bad in ["ab", "has space", "ünï", &"x".repeat(41)] {
            assert_eq!(
                normalize_code("code", bad).unwrap_err().fields()[0].field,
                "code"
            );
        }
    }
}
