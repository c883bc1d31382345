-- Payments: coupons, orders, and the refund totals providers report.
-- Provider deliveries are recorded once in webhook_events (0005).

CREATE TABLE coupons (
    id                  BLOB PRIMARY KEY NOT NULL,
    -- Upper-cased, so codes compare without regard to case.
    code                TEXT NOT NULL UNIQUE,
    owner_id            BLOB NOT NULL REFERENCES users (id),
    -- One course, or (NULL) every course of the owner.
    course_id           BLOB REFERENCES courses (id) ON DELETE CASCADE,
    kind                TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_off         INTEGER CHECK (percent_off BETWEEN 1 AND 100),
    amount_off          INTEGER CHECK (amount_off > 0),
    currency            TEXT,
    starts_at           TEXT,
    ends_at             TEXT,
    max_redemptions     INTEGER CHECK (max_redemptions > 0),
    max_per_user        INTEGER CHECK (max_per_user > 0),
    redeemed            INTEGER NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK ((kind = 'percent') = (percent_off IS NOT NULL)),
    CHECK ((kind = 'fixed') = (amount_off IS NOT NULL AND currency IS NOT NULL)),
    -- The total limit holds whatever writes the row.
    CHECK (max_redemptions IS NULL OR redeemed <= max_redemptions)
);
CREATE INDEX coupons_owner_idx ON coupons (owner_id, id);

CREATE TABLE orders (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users (id),
    course_id           BLOB NOT NULL REFERENCES courses (id),
    provider            TEXT NOT NULL CHECK (provider IN ('stripe', 'razorpay', 'manual', 'coupon')),
    status              TEXT NOT NULL CHECK (status IN
                        ('created', 'paid', 'refunded', 'partially_refunded', 'failed', 'expired')),
    list_amount         INTEGER NOT NULL CHECK (list_amount >= 0),
    discount_amount     INTEGER NOT NULL CHECK (discount_amount >= 0),
    amount              INTEGER NOT NULL CHECK (amount >= 0),
    currency            TEXT NOT NULL,
    coupon_id           BLOB REFERENCES coupons (id),
    -- Stripe Checkout Session id, Razorpay order id.
    provider_order_id   TEXT,
    -- Stripe PaymentIntent id, Razorpay payment id.
    provider_payment_id TEXT,
    refunded_amount     INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    -- Set when a payment did not match the order (amount, currency,
    -- coupon limit): the order waits for an admin instead of fulfilling.
    review_reason       TEXT,
    checkout_url        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    paid_at             TEXT,
    closed_at           TEXT,
    CHECK (amount = list_amount - discount_amount),
    UNIQUE (provider, provider_order_id)
);
CREATE INDEX orders_user_idx ON orders (user_id, id);
CREATE INDEX orders_status_idx ON orders (status, id);
CREATE INDEX orders_payment_idx ON orders (provider, provider_payment_id);

-- What a provider says was refunded of one payment, the highest total
-- seen. Kept apart from the order so a refund reported before its payment
-- is applied when the payment lands.
CREATE TABLE payment_refunds (
    provider            TEXT NOT NULL,
    payment_id          TEXT NOT NULL,
    refunded_amount     INTEGER NOT NULL CHECK (refunded_amount >= 0),
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (provider, payment_id)
);

CREATE TABLE coupon_redemptions (
    coupon_id           BLOB NOT NULL REFERENCES coupons (id),
    order_id            BLOB NOT NULL REFERENCES orders (id),
    user_id             BLOB NOT NULL REFERENCES users (id),
    created_at          TEXT NOT NULL,
    PRIMARY KEY (coupon_id, order_id)
);
CREATE INDEX coupon_redemptions_user_idx ON coupon_redemptions (coupon_id, user_id);
