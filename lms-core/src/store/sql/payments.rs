//! The payment steps both SQL backends share; expanded by `sql_store!` into
//! each backend's module, next to the enrollment steps whose helpers
//! (`enroll_in`, `enrollment_in`, `lock_course`) fulfillment uses.
//!
//! Lock order, the same in every step so PostgreSQL never deadlocks: the
//! delivery's `webhook_events` key, the order row, the payment's
//! `payment_refunds` row, the coupon row, the course row, the enrollment
//! row, the event-order lock. A refund step takes the `payment_refunds` row
//! before the order, but it only finds (and locks) an order whose payment
//! is committed, so no fulfillment of that order is then in flight.

/// Columns of `orders`, in the order `order_from` reads them.
pub(crate) const ORDER_COLUMNS: &str = "id, user_id, course_id, provider, status, list_amount, \
     discount_amount, amount, currency, coupon_id, provider_order_id, provider_payment_id, \
     refunded_amount, review_reason, checkout_url, created_at, updated_at, paid_at, closed_at";

/// Columns of `coupons`.
pub(crate) const COUPON_COLUMNS: &str = "id, code, owner_id, course_id, kind, percent_off, \
     amount_off, currency, starts_at, ends_at, max_redemptions, max_per_user, redeemed, disabled, \
     created_at, updated_at";

macro_rules! payments_sql {
    ($store:ty, $db:ty, $row:ty) => {
        use $crate::domain::{CouponId, OrderId};
        use $crate::payments::{Coupon, CouponKind, Order, OrderQuery, OrderStatus, Provider};
        use $crate::store::payments::{
            ApplyRules, NewCoupon, NewOrder, OrderRef, PaymentChange, PaymentStore,
        };
        use $crate::store::sql::payments::{COUPON_COLUMNS, ORDER_COLUMNS};

        fn order_from(row: &$row) -> Result<Order> {
            let provider: String = row.try_get("provider")?;
            let status: String = row.try_get("status")?;
            let currency: String = row.try_get("currency")?;
            Ok(Order {
                id: OrderId(row.try_get("id")?),
                user_id: UserId(row.try_get("user_id")?),
                course_id: CourseId(row.try_get("course_id")?),
                provider: Provider::from_stored(&provider)?,
                status: OrderStatus::parse("status", &status)
                    .map_err(|_| Error::internal(format!("unknown order status {status:?}")))?,
                list_amount: row.try_get("list_amount")?,
                discount_amount: row.try_get("discount_amount")?,
                amount: row.try_get("amount")?,
                currency: Currency::parse("currency", &currency)
                    .map_err(|_| Error::internal(format!("unknown currency {currency:?}")))?,
                coupon_id: row.try_get::<Option<Uuid>, _>("coupon_id")?.map(CouponId),
                provider_order_id: row.try_get("provider_order_id")?,
                provider_payment_id: row.try_get("provider_payment_id")?,
                refunded_amount: row.try_get("refunded_amount")?,
                review_reason: row.try_get("review_reason")?,
                checkout_url: row.try_get("checkout_url")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                paid_at: row.try_get("paid_at")?,
                closed_at: row.try_get("closed_at")?,
            })
        }

        fn coupon_from(row: &$row) -> Result<Coupon> {
            let kind: String = row.try_get("kind")?;
            let currency: Option<String> = row.try_get("currency")?;
            Ok(Coupon {
                id: CouponId(row.try_get("id")?),
                code: row.try_get("code")?,
                owner_id: UserId(row.try_get("owner_id")?),
                course_id: row.try_get::<Option<Uuid>, _>("course_id")?.map(CourseId),
                kind: match kind.as_str() {
                    "percent" => CouponKind::Percent,
                    "fixed" => CouponKind::Fixed,
                    other => return Err(Error::internal(format!("unknown coupon kind {other:?}"))),
                },
                percent_off: row.try_get("percent_off")?,
                amount_off: row.try_get("amount_off")?,
                currency: currency
                    .map(|c| {
                        Currency::parse("currency", &c)
                            .map_err(|_| Error::internal(format!("unknown currency {c:?}")))
                    })
                    .transpose()?,
                starts_at: row.try_get("starts_at")?,
                ends_at: row.try_get("ends_at")?,
                max_redemptions: row.try_get("max_redemptions")?,
                max_per_user: row.try_get("max_per_user")?,
                redeemed: row.try_get("redeemed")?,
                disabled: row.try_get("disabled")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        fn order_event(
            kind: &'static str,
            order: &Order,
            actor: Actor,
            payload: serde_json::Value,
        ) -> NewEvent {
            NewEvent::course(
                kind,
                "order",
                order.id.0,
                order.course_id.0,
                Some(order.user_id.0),
                actor,
                payload,
            )
        }

        fn coupon_event(kind: &'static str, coupon: &Coupon, actor: Actor) -> NewEvent {
            let (actor_kind, actor_id) = actor.log_parts();
            NewEvent {
                kind,
                subject_type: "coupon",
                subject_id: coupon.id.0,
                user_id: Some(coupon.owner_id.0),
                course_id: coupon.course_id.map(|c| c.0),
                actor_kind,
                actor_id,
                payload: json!({ "code": coupon.code }),
            }
        }

        /// The order an event names, locked until the transaction ends. The
        /// provider must match: a Stripe event never touches a Razorpay order.
        async fn order_locked(
            tx: &mut WriteTx,
            provider: Provider,
            order: &OrderRef,
        ) -> Result<Option<Order>> {
            let row = match order {
                OrderRef::Id(id) => {
                    let sql = format!(
                        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND provider = $2{FOR_UPDATE}"
                    );
                    sqlx::query(&sql)
                        .bind(id.0)
                        .bind(provider.as_str())
                        .fetch_optional(&mut **tx)
                        .await?
                }
                OrderRef::ProviderOrder(reference) => {
                    let sql = format!(
                        "SELECT {ORDER_COLUMNS} FROM orders \
                         WHERE provider = $1 AND provider_order_id = $2{FOR_UPDATE}"
                    );
                    sqlx::query(&sql)
                        .bind(provider.as_str())
                        .bind(reference)
                        .fetch_optional(&mut **tx)
                        .await?
                }
            };
            row.as_ref().map(order_from).transpose()
        }

        /// Raises the refund total kept for a payment to `total` (never
        /// lowers it) and returns the total now kept. Writing the row locks
        /// it, so a refund and the payment it belongs to, applied at once,
        /// take turns.
        async fn raise_refund_total(
            tx: &mut WriteTx,
            provider: Provider,
            payment_id: &str,
            total: i64,
            at: Timestamp,
        ) -> Result<i64> {
            let row = sqlx::query(
                "INSERT INTO payment_refunds (provider, payment_id, refunded_amount, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (provider, payment_id) DO UPDATE SET \
                 refunded_amount = CASE WHEN excluded.refunded_amount > payment_refunds.refunded_amount \
                 THEN excluded.refunded_amount ELSE payment_refunds.refunded_amount END, \
                 updated_at = excluded.updated_at \
                 RETURNING refunded_amount",
            )
            .bind(provider.as_str())
            .bind(payment_id)
            .bind(total.max(0))
            .bind(ts(at))
            .fetch_one(&mut **tx)
            .await?;
            Ok(row.try_get("refunded_amount")?)
        }

        /// Flags an open order for review, noting the payment seen.
        async fn flag_order(
            tx: &mut WriteTx,
            order: &Order,
            reason: &str,
            payment_id: &str,
            paid: (i64, &str),
            actor: Actor,
            at: Timestamp,
        ) -> Result<Order> {
            let sql = format!(
                "UPDATE orders SET review_reason = $2, provider_payment_id = $3, updated_at = $4 \
                 WHERE id = $1 RETURNING {ORDER_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(order.id.0)
                .bind(reason)
                .bind(payment_id)
                .bind(ts(at))
                .fetch_one(&mut **tx)
                .await?;
            let flagged = order_from(&row)?;
            let payload = json!({
                "reason": reason,
                "payment_id": payment_id,
                "paid_amount": paid.0,
                "paid_currency": paid.1,
                "amount": order.amount,
                "currency": order.currency,
            });
            append(tx, order_event(kinds::ORDER_FLAGGED, &flagged, actor, payload), at).await?;
            Ok(flagged)
        }

        /// Closes an open, locked order unpaid (`failed` or `expired`), with
        /// its event carrying `payload`.
        async fn close_order(
            tx: &mut WriteTx,
            order: &Order,
            status: OrderStatus,
            payload: serde_json::Value,
            actor: Actor,
            at: Timestamp,
        ) -> Result<Order> {
            let kind = match status {
                OrderStatus::Expired => kinds::ORDER_EXPIRED,
                _ => kinds::ORDER_FAILED,
            };
            let sql = format!(
                "UPDATE orders SET status = $2, closed_at = $3, updated_at = $3 \
                 WHERE id = $1 RETURNING {ORDER_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(order.id.0)
                .bind(status.as_str())
                .bind(ts(at))
                .fetch_one(&mut **tx)
                .await?;
            let closed = order_from(&row)?;
            append(tx, order_event(kind, &closed, actor, payload), at).await?;
            Ok(closed)
        }

        /// Fulfills an open, locked order in the caller's transaction (see
        /// `PaymentStore::apply_payment`).
        #[allow(clippy::too_many_arguments)]
        async fn fulfill(
            tx: &mut WriteTx,
            order: Order,
            payment_id: &str,
            amount: i64,
            currency: &str,
            rules: ApplyRules,
            actor: Actor,
            at: Timestamp,
        ) -> Result<Order> {
            let paid = (amount, currency);
            if !currency.eq_ignore_ascii_case(order.currency.code()) {
                return flag_order(tx, &order, "currency_mismatch", payment_id, paid, actor, at)
                    .await;
            }
            if amount != order.amount {
                return flag_order(tx, &order, "amount_mismatch", payment_id, paid, actor, at).await;
            }
            // The owner took the learner out after this checkout: the money
            // came, the access does not come back by itself. An admin
            // decides (a refund, or accepting it).
            if !rules.admin_accepts
                && enrollment_in(tx, order.course_id, order.user_id)
                    .await?
                    .is_some_and(|e| e.revoked_by == Some(RevokedBy::Owner))
            {
                return flag_order(tx, &order, "learner_revoked", payment_id, paid, actor, at).await;
            }
            let refunded = raise_refund_total(tx, order.provider, payment_id, 0, at)
                .await?
                .min(order.amount);
            let mut counts_coupon = false;
            if let Some(coupon) = order.coupon_id {
                let sql = format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE id = $1{FOR_UPDATE}");
                let row = sqlx::query(&sql).bind(coupon.0).fetch_one(&mut **tx).await?;
                let coupon = coupon_from(&row)?;
                // An order the coupon pays whole takes no money, so nothing
                // obliges it to go through: with two at once for the same
                // learner (they wait on the coupon's lock), the second finds
                // the first's enrollment and closes as failed, its use of
                // the coupon not counted.
                if order.provider == Provider::Coupon
                    && enrollment_in(tx, order.course_id, order.user_id)
                        .await?
                        .is_some_and(|e| e.is_live(at))
                {
                    let reason = json!({ "reason": "already_enrolled" });
                    return close_order(tx, &order, OrderStatus::Failed, reason, actor, at).await;
                }
                let total_full = coupon.max_redemptions.is_some_and(|max| coupon.redeemed >= max);
                let user_full = match coupon.max_per_user {
                    Some(max) => {
                        let row = sqlx::query(
                            "SELECT COUNT(*) AS n FROM coupon_redemptions \
                             WHERE coupon_id = $1 AND user_id = $2",
                        )
                        .bind(coupon.id.0)
                        .bind(order.user_id.0)
                        .fetch_one(&mut **tx)
                        .await?;
                        row.try_get::<i64, _>("n")? >= max
                    }
                    None => false,
                };
                if !rules.admin_accepts && (total_full || user_full) {
                    return flag_order(tx, &order, "coupon_limit_reached", payment_id, paid, actor, at)
                        .await;
                }
                // An admin accepting an order over the limit does not count
                // it as a use: the limit stays what it says.
                counts_coupon = !(total_full || user_full);
            }
            let status = if order.amount > 0 && refunded >= order.amount {
                OrderStatus::Refunded
            } else if refunded > 0 {
                OrderStatus::PartiallyRefunded
            } else {
                OrderStatus::Paid
            };
            let sql = format!(
                "UPDATE orders SET status = $2, provider_payment_id = $3, refunded_amount = $4, \
                 review_reason = NULL, paid_at = $5, closed_at = $6, updated_at = $5 \
                 WHERE id = $1 RETURNING {ORDER_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(order.id.0)
                .bind(status.as_str())
                .bind(payment_id)
                .bind(refunded)
                .bind(ts(at))
                .bind((status == OrderStatus::Refunded).then(|| ts(at)))
                .fetch_one(&mut **tx)
                .await?;
            let paid_order = order_from(&row)?;
            if counts_coupon && let Some(coupon) = order.coupon_id {
                let counted = sqlx::query(
                    "UPDATE coupons SET redeemed = redeemed + 1, updated_at = $2 WHERE id = $1 \
                     AND (max_redemptions IS NULL OR redeemed < max_redemptions)",
                )
                .bind(coupon.0)
                .bind(ts(at))
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if counted != 1 {
                    return Err(Error::internal("coupon use not counted under its lock"));
                }
                sqlx::query(
                    "INSERT INTO coupon_redemptions (coupon_id, order_id, user_id, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(coupon.0)
                .bind(order.id.0)
                .bind(order.user_id.0)
                .bind(ts(at))
                .execute(&mut **tx)
                .await?;
            }
            lock_course(tx, order.course_id).await?;
            // A payment refunded in full before it landed gives no access.
            if status != OrderStatus::Refunded {
                let request = EnrollRequest {
                    course: order.course_id,
                    user: order.user_id,
                    source: EnrollmentSource::Purchase,
                    expires_at: None,
                };
                enroll_in(tx, &request, actor, at).await?;
            }
            let payload = json!({
                "provider": order.provider,
                "payment_id": payment_id,
                "amount": order.amount,
                "currency": order.currency,
                "coupon_id": order.coupon_id,
            });
            append(tx, order_event(kinds::ORDER_PAID, &paid_order, actor, payload), at).await?;
            if status != OrderStatus::Paid {
                let kind = if status == OrderStatus::Refunded {
                    kinds::ORDER_REFUNDED
                } else {
                    kinds::ORDER_PARTIALLY_REFUNDED
                };
                let payload = json!({ "refunded_amount": refunded, "before_payment": true });
                append(tx, order_event(kind, &paid_order, actor, payload), at).await?;
            }
            Ok(paid_order)
        }

        /// Applies a refund total to a paid, locked order: all of it
        /// refunds the order and revokes its purchase enrollment. `None`
        /// when nothing changes.
        async fn refund_paid(
            tx: &mut WriteTx,
            order: &Order,
            total: i64,
            actor: Actor,
            at: Timestamp,
        ) -> Result<Option<Order>> {
            let total = total.min(order.amount);
            if total <= order.refunded_amount || order.status == OrderStatus::Refunded {
                return Ok(None);
            }
            let status = if total >= order.amount {
                OrderStatus::Refunded
            } else {
                OrderStatus::PartiallyRefunded
            };
            let sql = format!(
                "UPDATE orders SET status = $2, refunded_amount = $3, closed_at = $4, \
                 updated_at = $5 WHERE id = $1 RETURNING {ORDER_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(order.id.0)
                .bind(status.as_str())
                .bind(total)
                .bind((status == OrderStatus::Refunded).then(|| ts(at)))
                .bind(ts(at))
                .fetch_one(&mut **tx)
                .await?;
            let refunded = order_from(&row)?;
            let mut events = Vec::new();
            if status == OrderStatus::Refunded {
                lock_course(tx, order.course_id).await?;
                let enrollment = enrollment_in(tx, order.course_id, order.user_id).await?;
                // Only access this purchase gave is taken back: a grant
                // made since stays.
                if let Some(e) = enrollment.filter(|e| {
                    e.status == EnrollmentStatus::Active && e.source == EnrollmentSource::Purchase
                }) {
                    let sql = format!(
                        "UPDATE enrollments SET status = 'revoked', revoked_at = $2, \
                         revoked_by = 'refund', updated_at = $2 WHERE id = $1 RETURNING {}",
                        enrollment_columns("")
                    );
                    let row = sqlx::query(&sql)
                        .bind(e.id.0)
                        .bind(ts(at))
                        .fetch_one(&mut **tx)
                        .await?;
                    sqlx::query(
                        "UPDATE courses SET enrollment_count = enrollment_count - 1 WHERE id = $1",
                    )
                    .bind(order.course_id.0)
                    .execute(&mut **tx)
                    .await?;
                    let revoked = enrollment_from(&row)?;
                    events.push(enrollment_event(
                        kinds::ENROLLMENT_REVOKED,
                        &revoked,
                        actor,
                        json!({ "order_id": order.id }),
                    ));
                }
            }
            let kind = if status == OrderStatus::Refunded {
                kinds::ORDER_REFUNDED
            } else {
                kinds::ORDER_PARTIALLY_REFUNDED
            };
            events.push(order_event(
                kind,
                &refunded,
                actor,
                json!({ "refunded_amount": total, "before_payment": false }),
            ));
            for event in events {
                append(tx, event, at).await?;
            }
            Ok(Some(refunded))
        }

        #[async_trait]
        impl PaymentStore for $store {
            async fn create_order(&self, new: NewOrder, actor: Actor, at: Timestamp) -> Result<Order> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "INSERT INTO orders (id, user_id, course_id, provider, status, list_amount, \
                     discount_amount, amount, currency, coupon_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'created', $5, $6, $7, $8, $9, $10, $10) \
                     RETURNING {ORDER_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(new.id.0)
                    .bind(new.user_id.0)
                    .bind(new.course_id.0)
                    .bind(new.provider.as_str())
                    .bind(new.list_amount)
                    .bind(new.discount_amount)
                    .bind(new.list_amount - new.discount_amount)
                    .bind(new.currency.code())
                    .bind(new.coupon_id.map(|c| c.0))
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await;
                let row = match row {
                    Ok(row) => row,
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("the course or coupon no longer exists"));
                    }
                    Err(e) => return Err(e.into()),
                };
                let order = order_from(&row)?;
                let payload = json!({
                    "provider": order.provider,
                    "list_amount": order.list_amount,
                    "discount_amount": order.discount_amount,
                    "amount": order.amount,
                    "currency": order.currency,
                    "coupon_id": order.coupon_id,
                });
                append(&mut tx, order_event(kinds::ORDER_CREATED, &order, actor, payload), at)
                    .await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(order)
            }

            async fn set_provider_order(
                &self,
                id: OrderId,
                provider_order_id: &str,
                checkout_url: Option<&str>,
                at: Timestamp,
            ) -> Result<Order> {
                let sql = format!(
                    "UPDATE orders SET provider_order_id = $2, checkout_url = $3, updated_at = $4 \
                     WHERE id = $1 RETURNING {ORDER_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(id.0)
                    .bind(provider_order_id)
                    .bind(checkout_url)
                    .bind(ts(at))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| unique_as(e, "that provider order belongs to another order"))?
                    .ok_or_else(|| Error::not_found("order not found"))?;
                order_from(&row)
            }

            async fn order(&self, id: OrderId) -> Result<Option<Order>> {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(order_from).transpose()
            }

            async fn list_orders(&self, query: &OrderQuery, limit: u32) -> Result<Vec<Order>> {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE ($1 IS NULL OR status = $1) \
                     AND ($2 IS NULL OR provider = $2) AND ($3 IS NULL OR user_id = $3) \
                     AND ($4 IS NULL OR course_id = $4) \
                     AND ($5 IS NULL OR (review_reason IS NOT NULL) = $5) \
                     AND ($6 IS NULL OR id > $6) ORDER BY id LIMIT $7"
                );
                let rows = sqlx::query(&sql)
                    .bind(query.status.as_deref())
                    .bind(query.provider.as_deref())
                    .bind(query.user_id.map(|u| u.0))
                    .bind(query.course_id.map(|c| c.0))
                    .bind(query.flagged)
                    .bind(query.after.map(|o| o.0))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(order_from).collect()
            }

            async fn open_orders(
                &self,
                provider: Provider,
                after: Option<OrderId>,
                limit: u32,
            ) -> Result<Vec<Order>> {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE provider = $1 AND status = 'created' \
                     AND provider_order_id IS NOT NULL AND review_reason IS NULL \
                     AND ($2 IS NULL OR id > $2) \
                     ORDER BY id LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(provider.as_str())
                    .bind(after.map(|o| o.0))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(order_from).collect()
            }

            async fn apply_payment(
                &self,
                provider: Provider,
                delivery: Option<WebhookDelivery>,
                change: Option<PaymentChange>,
                rules: ApplyRules,
                actor: Actor,
                at: Timestamp,
            ) -> Result<(WebhookOutcome, Option<Order>)> {
                let mut tx = self.write().await?;
                if let Some(delivery) = &delivery {
                    if !record_delivery(&mut tx, delivery, at).await? {
                        return Ok((WebhookOutcome::Duplicate, None));
                    }
                }
                let outcome = match change {
                    None => (WebhookOutcome::Ignored, None),
                    Some(PaymentChange::Paid { order, payment_id, amount, currency }) => {
                        match order_locked(&mut tx, provider, &order).await? {
                            None => (WebhookOutcome::Ignored, None),
                            Some(order) if order.status.is_paid() => {
                                (WebhookOutcome::Ignored, Some(order))
                            }
                            Some(order) => {
                                let order = fulfill(
                                    &mut tx, order, &payment_id, amount, &currency, rules, actor, at,
                                )
                                .await?;
                                (WebhookOutcome::Applied, Some(order))
                            }
                        }
                    }
                    Some(change @ (PaymentChange::Failed { .. } | PaymentChange::Expired { .. })) => {
                        let (order, status) = match change {
                            PaymentChange::Failed { order } => (order, OrderStatus::Failed),
                            PaymentChange::Expired { order } => (order, OrderStatus::Expired),
                            _ => unreachable!("matched above"),
                        };
                        match order_locked(&mut tx, provider, &order).await? {
                            // Only an order still waiting closes: a payment
                            // already seen (paid, or flagged with its
                            // payment noted) is never undone.
                            Some(order)
                                if order.status == OrderStatus::Created
                                    && order.provider_payment_id.is_none() =>
                            {
                                let closed =
                                    close_order(&mut tx, &order, status, json!({}), actor, at)
                                        .await?;
                                (WebhookOutcome::Applied, Some(closed))
                            }
                            other => (WebhookOutcome::Ignored, other),
                        }
                    }
                    Some(PaymentChange::Refunded { payment_id, refunded_total }) => {
                        let total =
                            raise_refund_total(&mut tx, provider, &payment_id, refunded_total, at)
                                .await?;
                        let sql = format!(
                            "SELECT {ORDER_COLUMNS} FROM orders WHERE provider = $1 \
                             AND provider_payment_id = $2 ORDER BY id LIMIT 1{FOR_UPDATE}"
                        );
                        let row = sqlx::query(&sql)
                            .bind(provider.as_str())
                            .bind(&payment_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        match row.as_ref().map(order_from).transpose()? {
                            Some(order) if order.status.is_paid() => {
                                match refund_paid(&mut tx, &order, total, actor, at).await? {
                                    Some(changed) => (WebhookOutcome::Applied, Some(changed)),
                                    None => (WebhookOutcome::Ignored, Some(order)),
                                }
                            }
                            // Kept for the payment: applied when it lands.
                            other => (WebhookOutcome::Applied, other),
                        }
                    }
                };
                self.commit(tx).await?;
                Ok(outcome)
            }

            async fn create_coupon(
                &self,
                new: NewCoupon,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Coupon> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "INSERT INTO coupons (id, code, owner_id, course_id, kind, percent_off, \
                     amount_off, currency, starts_at, ends_at, max_redemptions, max_per_user, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) \
                     RETURNING {COUPON_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(new.id.0)
                    .bind(&new.code)
                    .bind(new.owner_id.0)
                    .bind(new.course_id.map(|c| c.0))
                    .bind(match new.kind {
                        CouponKind::Percent => "percent",
                        CouponKind::Fixed => "fixed",
                    })
                    .bind(new.percent_off)
                    .bind(new.amount_off)
                    .bind(new.currency.map(|c| c.code()))
                    .bind(new.starts_at.map(ts))
                    .bind(new.ends_at.map(ts))
                    .bind(new.max_redemptions)
                    .bind(new.max_per_user)
                    .bind(ts(at))
                    .fetch_one(&mut *tx)
                    .await;
                let row = match row {
                    Ok(row) => row,
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("the coupon's course or owner no longer exists"));
                    }
                    Err(e) => return Err(unique_as(e, "a coupon with this code already exists")),
                };
                let coupon = coupon_from(&row)?;
                append(&mut tx, coupon_event(kinds::COUPON_CREATED, &coupon, actor), at).await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(coupon)
            }

            async fn coupon(&self, id: CouponId) -> Result<Option<Coupon>> {
                let sql = format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.0).fetch_optional(&self.pool).await?;
                row.as_ref().map(coupon_from).transpose()
            }

            async fn coupon_by_code(&self, code: &str) -> Result<Option<Coupon>> {
                let sql = format!("SELECT {COUPON_COLUMNS} FROM coupons WHERE code = $1");
                let row = sqlx::query(&sql).bind(code).fetch_optional(&self.pool).await?;
                row.as_ref().map(coupon_from).transpose()
            }

            async fn list_coupons(&self, owner: Option<UserId>) -> Result<Vec<Coupon>> {
                let sql = format!(
                    "SELECT {COUPON_COLUMNS} FROM coupons WHERE ($1 IS NULL OR owner_id = $1) \
                     ORDER BY id DESC"
                );
                let rows = sqlx::query(&sql)
                    .bind(owner.map(|u| u.0))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(coupon_from).collect()
            }

            async fn disable_coupon(
                &self,
                id: CouponId,
                actor: Actor,
                at: Timestamp,
            ) -> Result<Coupon> {
                let mut tx = self.write().await?;
                let sql = format!(
                    "UPDATE coupons SET disabled = TRUE, updated_at = $2 \
                     WHERE id = $1 AND NOT disabled RETURNING {COUPON_COLUMNS}"
                );
                let row = sqlx::query(&sql).bind(id.0).bind(ts(at)).fetch_optional(&mut *tx).await?;
                let Some(row) = row else {
                    drop(tx);
                    return self
                        .coupon(id)
                        .await?
                        .ok_or_else(|| Error::not_found("coupon not found"));
                };
                let coupon = coupon_from(&row)?;
                append(&mut tx, coupon_event(kinds::COUPON_DISABLED, &coupon, actor), at).await?;
                // Changes nothing the read cache holds: not counted.
                tx.commit().await?;
                Ok(coupon)
            }

            async fn coupon_uses_by(&self, coupon: CouponId, user: UserId) -> Result<i64> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM coupon_redemptions WHERE coupon_id = $1 AND user_id = $2",
                )
                .bind(coupon.0)
                .bind(user.0)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("n")?)
            }
        }
    };
}

pub(crate) use payments_sql;
