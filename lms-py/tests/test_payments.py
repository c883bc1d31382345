"""Payments through the bindings, on SQLite and PostgreSQL.

Stripe and Razorpay are loopback servers that refuse a wrong key, a wrong
encoding or (Stripe) a missing idempotency key, and record what they are
sent. Webhook deliveries are signed by the providers' own Python
libraries: stripe's ``WebhookSignature.generate_signature_header``, and
for Razorpay, which signs no timestamp and ships only a verifier, the
HMAC its ``Utility`` checks, which must accept exactly what we accept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qsl

import pytest
import razorpay
import stripe

import lms

from conftest import PASSWORD, Database, unique_email

STRIPE_KEY = "sk_test_python_4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_WHSEC = "whsec_python_test_secret_0123456789"
RZP_KEY_ID = "rzp_test_python1DP5mm"
RZP_KEY_SECRET = "python-razorpay-key-secret"
RZP_WHSEC = "python-razorpay-webhook-secret"

Answer = Tuple[int, Dict[str, Any]]


class FakeApi:
    """A provider's REST API on loopback: ``handle(request)`` answers each
    request; every request is recorded with its raw body."""

    def __init__(self, handle: Callable[[Dict[str, Any]], Answer]) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.remote: Dict[str, Any] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length),
                }
                fake.requests.append(request)
                status, body = handle(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sent(self, method: str, prefix: str) -> List[Dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(prefix)]


def form(request: Dict[str, Any]) -> Dict[str, str]:
    return dict(parse_qsl(request["body"].decode(), strict_parsing=True))


def fake_stripe() -> FakeApi:
    fake: FakeApi

    def handle(request: Dict[str, Any]) -> Answer:
        headers = request["headers"]
        if headers.get("authorization") != f"Bearer {STRIPE_KEY}":
            return 401, {"error": {"message": "Invalid API Key provided"}}
        if request["method"] == "GET" and request["path"].startswith("/v1/checkout/sessions/"):
            session = fake.remote.get(request["path"].rsplit("/", 1)[1])
            if session is None:
                return 404, {"error": {"message": "No such checkout.session"}}
            return 200, session
        # Stripe takes forms; a retry with the same key must not pay twice.
        if headers.get("content-type") != "application/x-www-form-urlencoded":
            return 400, {"error": {"message": "Stripe takes form-encoded bodies"}}
        if not headers.get("idempotency-key"):
            return 400, {"error": {"message": "an Idempotency-Key is expected"}}
        f = form(request)
        if request["path"] == "/v1/checkout/sessions":
            sid = "cs_test_" + f["client_reference_id"].replace("-", "")
            return 200, {
                "id": sid,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/{sid}",
                "status": "open",
                "payment_status": "unpaid",
            }
        if request["path"] == "/v1/refunds":
            return 200, {"id": "re_py", "object": "refund", "status": "succeeded", "amount": int(f["amount"])}
        return 404, {"error": {"message": "Unrecognized request URL"}}

    fake = FakeApi(handle)
    return fake


def fake_razorpay() -> FakeApi:
    fake: FakeApi
    basic = "Basic " + base64.b64encode(f"{RZP_KEY_ID}:{RZP_KEY_SECRET}".encode()).decode()

    def handle(request: Dict[str, Any]) -> Answer:
        if request["headers"].get("authorization") != basic:
            return 401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}
        path = request["path"]
        if request["method"] == "GET" and path.endswith("/payments"):
            items = fake.remote.get(path.split("/")[3], [])
            return 200, {"entity": "collection", "count": len(items), "items": items}
        if not request["headers"].get("content-type", "").startswith("application/json"):
            return 400, {"error": {"description": "Razorpay takes JSON bodies"}}
        body = json.loads(request["body"])
        if path == "/v1/orders":
            oid = "order_" + body["receipt"].replace("-", "")
            return 200, {"id": oid, "entity": "order", "amount": body["amount"], "currency": body["currency"],
                         "receipt": body["receipt"], "status": "created"}
        if path.startswith("/v1/payments/") and path.endswith("/refund"):
            return 200, {"id": "rfnd_py", "entity": "refund", "amount": body["amount"], "payment_id": path.split("/")[3]}
        return 400, {"error": {"description": "The requested URL was not found"}}

    fake = FakeApi(handle)
    return fake


@pytest.fixture
def providers() -> Iterator[Tuple[FakeApi, FakeApi]]:
    fakes = (fake_stripe(), fake_razorpay())
    yield fakes
    for fake in fakes:
        fake.server.shutdown()


async def open_shop(database: Database, fakes: Tuple[FakeApi, FakeApi]) -> lms.Lms:
    stripe_api, razorpay_api = fakes
    return await lms.Lms.open(
        database.url,
        stripe_secret_key=STRIPE_KEY,
        stripe_webhook_secret=STRIPE_WHSEC,
        stripe_api_url=stripe_api.url,
        razorpay_key_id=RZP_KEY_ID,
        razorpay_key_secret=RZP_KEY_SECRET,
        razorpay_webhook_secret=RZP_WHSEC,
        razorpay_api_url=razorpay_api.url,
        **database.config(),
    )


async def person(school: lms.Lms, name: str, role: str = "student") -> lms.Actor:
    email = unique_email(name)
    await school.create_user(lms.Actor.system(), email=email, password=PASSWORD, display_name=name, role=role)
    session = await school.login(email=email, password=PASSWORD)
    return await school.authenticate(session.access_token)


async def paid_course(school: lms.Lms, owner: lms.Actor, amount: int, currency: str) -> lms.Course:
    course = await school.create_course(owner, title=f"Course {uuid.uuid4().hex[:8]}", price={"amount": amount, "currency": currency})
    section = await school.create_section(owner, course.id, title="One")
    await school.create_lecture(owner, section.id, title="Notes", kind="article", body="text", duration_secs=10)
    return await school.publish_course(owner, course.id)


async def enrolled(school: lms.Lms, learner: lms.Actor, course_id: str) -> bool:
    return any(
        e.course.id == course_id and e.enrollment.status == "active" for e in await school.my_enrollments(learner)
    )


async def count_events(school: lms.Lms, event_type: str) -> int:
    return len(await school.events(lms.Actor.system(), event_type=event_type, limit=1000))


def stripe_event(event_id: str, kind: str, obj: Dict[str, Any]) -> str:
    return json.dumps(
        {"id": event_id, "object": "event", "api_version": "2024-06-20", "created": int(time.time()),
         "type": kind, "livemode": False, "data": {"object": obj}}
    )


def stripe_session(order_id: str, session_id: str, payment_status: str, amount: int, currency: str) -> Dict[str, Any]:
    return {"id": session_id, "object": "checkout.session", "client_reference_id": order_id,
            "metadata": {"order_id": order_id}, "payment_status": payment_status,
            "payment_intent": "pi_" + session_id[-12:], "amount_total": amount, "currency": currency,
            "status": "complete"}


def signed(payload: str, secret: str = STRIPE_WHSEC, timestamp: Optional[int] = None) -> str:
    """``Stripe-Signature`` exactly as stripe-python makes it for tests."""
    header: str = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return header


def rzp_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def razorpay_event(kind: str, payload: Dict[str, Any]) -> str:
    return json.dumps({"entity": "event", "account_id": "acc_py", "event": kind, "contains": list(payload),
                       "payload": payload, "created_at": int(time.time())})


def fields_of(error: pytest.ExceptionInfo[lms.LmsError]) -> List[str]:
    return [f["field"] for f in error.value.fields]


async def test_stripe_checkout_then_its_signed_webhook_enrolls_exactly_once(
    database: Database, providers: Tuple[FakeApi, FakeApi]
) -> None:
    stripe_api, _ = providers
    school = await open_shop(database, providers)
    owner = await person(school, "grace", "instructor")
    learner = await person(school, "ada")
    course = await paid_course(school, owner, 4999, "USD")

    answer = await school.checkout(
        learner, course.id, provider="stripe", success_url="https://school.example/thanks",
        cancel_url="https://school.example/cancel"
    )
    assert isinstance(answer, lms.CheckoutAnswer)
    session_id = "cs_test_" + answer.order_id.replace("-", "")
    assert (answer.status, answer.provider, answer.amount, answer.currency) == ("created", "stripe", 4999, "USD")
    assert answer.checkout_url == f"https://checkout.stripe.com/c/pay/{session_id}"
    assert answer.razorpay is None
    [sent] = stripe_api.requests
    assert (sent["method"], sent["path"]) == ("POST", "/v1/checkout/sessions")
    assert sent["headers"]["idempotency-key"] == f"lms-checkout-{answer.order_id}"
    f = form(sent)
    assert (f["mode"], f["client_reference_id"], f["metadata[order_id]"]) == ("payment", answer.order_id, answer.order_id)
    assert (f["line_items[0][price_data][unit_amount]"], f["line_items[0][price_data][currency]"]) == ("4999", "usd")
    assert f["line_items[0][price_data][product_data][name]"] == course.title
    assert (f["success_url"], f["cancel_url"]) == ("https://school.example/thanks", "https://school.example/cancel")

    order = await school.order(learner, answer.order_id)
    assert isinstance(order, lms.Order)
    assert (order.status, order.provider_order_id, order.checkout_url) == ("created", session_id, answer.checkout_url)
    assert not await enrolled(school, learner, course.id)

    payload = stripe_event("evt_py_paid", "checkout.session.completed",
                           stripe_session(answer.order_id, session_id, "paid", 4999, "usd"))
    header = signed(payload)
    # The library's own verifier agrees the header is Stripe's.
    assert stripe.Webhook.construct_event(payload, header, STRIPE_WHSEC).id == "evt_py_paid"
    receipt = await school.stripe_webhook(payload.encode(), header)
    assert isinstance(receipt, lms.WebhookReceipt)
    assert receipt.outcome == "applied"
    # A redelivery, even freshly signed, does nothing.
    assert (await school.stripe_webhook(payload.encode(), signed(payload))).outcome == "duplicate"

    order = await school.order(learner, answer.order_id)
    assert (order.status, order.provider_payment_id) == ("paid", "pi_" + session_id[-12:])
    assert order.paid_at is not None
    assert await enrolled(school, learner, course.id)
    assert await count_events(school, "order.paid") == 1
    assert await count_events(school, "enrollment.created") == 1
    assert [o.id for o in await school.my_orders(learner)] == [answer.order_id]
    # A late expiry never undoes the payment; unknown types are acknowledged.
    late = stripe_event("evt_py_late", "checkout.session.expired",
                        stripe_session(answer.order_id, session_id, "unpaid", 4999, "usd"))
    assert (await school.stripe_webhook(late.encode(), signed(late))).outcome == "ignored"
    other = stripe_event("evt_py_other", "customer.created", {"id": "cus_1"})
    assert (await school.stripe_webhook(other.encode(), signed(other))).outcome == "ignored"
    assert (await school.order(learner, answer.order_id)).status == "paid"
    with pytest.raises(lms.Conflict):
        await school.checkout(learner, course.id, provider="stripe")
    assert len(stripe_api.requests) == 1


async def test_tampered_wrongly_signed_or_stale_stripe_deliveries_change_nothing(
    database: Database, providers: Tuple[FakeApi, FakeApi]
) -> None:
    school = await open_shop(database, providers)
    owner = await person(school, "grace", "instructor")
    learner = await person(school, "ada")
    course = await paid_course(school, owner, 4999, "USD")
    answer = await school.checkout(learner, course.id, provider="stripe")
    session_id = "cs_test_" + answer.order_id.replace("-", "")
    payload = stripe_event("evt_py_sig", "checkout.session.completed",
                           stripe_session(answer.order_id, session_id, "paid", 4999, "usd"))
    now = int(time.time())
    tampered = payload.replace("4999", "1")
    cases = [
        (tampered, signed(payload)),
        (payload, signed(payload, "whsec_not_this_endpoints")),
        (payload, signed(payload, timestamp=now - 301)),
        (payload, f"t={now}"),
    ]
    for body, header in cases:
        # stripe-python refuses each one too.
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(body, header, STRIPE_WHSEC, tolerance=300)
        with pytest.raises(lms.Unauthenticated):
            await school.stripe_webhook(body.encode(), header)
    with pytest.raises(lms.Unauthenticated):
        await school.stripe_webhook(payload.encode())

    assert (await school.order(learner, answer.order_id)).status == "created"
    assert not await enrolled(school, learner, course.id)
    assert await count_events(school, "order.paid") == 0
    # The refusals did not use up the event id; within the tolerance is fine.
    recent = signed(payload, timestamp=now - 200)
    assert (await school.stripe_webhook(payload.encode(), recent)).outcome == "applied"
    assert await enrolled(school, learner, course.id)


async def test_razorpay_checkout_verify_and_webhooks_agree_with_razorpays_library(
    database: Database, providers: Tuple[FakeApi, FakeApi]
) -> None:
    _, razorpay_api = providers
    school = await open_shop(database, providers)
    owner = await person(school, "grace", "instructor")
    learner = await person(school, "ada")
    second = await person(school, "alan")
    course = await paid_course(school, owner, 29935, "INR")
    client = razorpay.Client(auth=(RZP_KEY_ID, RZP_KEY_SECRET))

    answer = await school.checkout(learner, course.id, provider="razorpay")
    assert (answer.status, answer.provider, answer.checkout_url) == ("created", "razorpay", None)
    details = answer.razorpay
    assert (details.key_id, details.amount, details.currency) == (RZP_KEY_ID, 29935, "INR")
    [sent] = razorpay_api.requests
    assert (sent["method"], sent["path"]) == ("POST", "/v1/orders")
    assert json.loads(sent["body"]) == {"amount": 29935, "currency": "INR", "receipt": answer.order_id,
                                        "notes": {"order_id": answer.order_id}}
    assert (await school.order(learner, answer.order_id)).provider_order_id == details.order_id

    payment = "pay_py29QQoUBi66xm"
    good = rzp_hmac(RZP_KEY_SECRET, f"{details.order_id}|{payment}")
    bad = [rzp_hmac(RZP_KEY_SECRET, f"order_someone_else|{payment}"), rzp_hmac("wrong", f"{details.order_id}|{payment}")]
    for signature in bad:
        with pytest.raises(razorpay.errors.SignatureVerificationError):
            client.utility.verify_payment_signature(
                {"razorpay_order_id": details.order_id, "razorpay_payment_id": payment, "razorpay_signature": signature}
            )
        with pytest.raises(lms.InvalidInput) as refused:
            await school.razorpay_verify(learner, order_id=answer.order_id, razorpay_payment_id=payment,
                                         razorpay_signature=signature)
        assert fields_of(refused) == ["razorpay_signature"]
    with pytest.raises(lms.NotFound):
        await school.razorpay_verify(second, order_id=answer.order_id, razorpay_payment_id=payment, razorpay_signature=good)
    assert not await enrolled(school, learner, course.id)
    assert client.utility.verify_payment_signature(
        {"razorpay_order_id": details.order_id, "razorpay_payment_id": payment, "razorpay_signature": good}
    )
    # Checkout's handler answer, sent whole beside our order id.
    handler = {"razorpay_order_id": details.order_id, "razorpay_payment_id": payment, "razorpay_signature": good}
    paid = await school.razorpay_verify(learner, order_id=answer.order_id, **handler)
    assert isinstance(paid, lms.Order)
    assert (paid.status, paid.provider_payment_id) == ("paid", payment)
    assert await enrolled(school, learner, course.id)
    again = await school.razorpay_verify(learner, order_id=answer.order_id, razorpay_payment_id=payment,
                                         razorpay_signature=good)
    assert again.to_dict() == paid.to_dict()

    # The second learner pays through the order.paid webhook.
    answer = await school.checkout(second, course.id, provider="razorpay")
    rzp_order = answer.razorpay.order_id
    body = razorpay_event("order.paid", {
        "payment": {"entity": {"id": "pay_py2", "entity": "payment", "amount": 29935, "currency": "INR",
                               "status": "captured", "order_id": rzp_order}},
        "order": {"entity": {"id": rzp_order, "status": "paid"}},
    })
    signature = rzp_hmac(RZP_WHSEC, body)
    for wrong_body, wrong_signature in [(body + " ", signature), (body, rzp_hmac("not-the-secret", body))]:
        with pytest.raises(razorpay.errors.SignatureVerificationError):
            client.utility.verify_webhook_signature(wrong_body, wrong_signature, RZP_WHSEC)
        with pytest.raises(lms.Unauthenticated):
            await school.razorpay_webhook(wrong_body.encode(), wrong_signature, "evt_py_r1")
    with pytest.raises(lms.Unauthenticated):
        await school.razorpay_webhook(body.encode(), None, "evt_py_r1")
    assert not await enrolled(school, second, course.id)
    assert client.utility.verify_webhook_signature(body, signature, RZP_WHSEC)
    receipt = await school.razorpay_webhook(body.encode(), signature, "evt_py_r1")
    assert receipt.outcome == "applied"
    assert (await school.razorpay_webhook(body.encode(), signature, "evt_py_r1")).outcome == "duplicate"
    assert await enrolled(school, second, course.id)
    assert (await school.order(second, answer.order_id)).status == "paid"
    assert await count_events(school, "order.paid") == 2
    assert await count_events(school, "enrollment.created") == 2


async def test_coupons_are_made_checked_listed_and_disabled(
    database: Database, providers: Tuple[FakeApi, FakeApi]
) -> None:
    stripe_api, _ = providers
    school = await open_shop(database, providers)
    owner = await person(school, "grace", "instructor")
    rival = await person(school, "linus", "instructor")
    learner = await person(school, "ada")
    course = await paid_course(school, owner, 5000, "USD")

    with pytest.raises(lms.InvalidInput) as refused:
        await school.create_coupon(owner, code="a b", percent_off=150, currency="USD", max_redemptions=0)
    assert fields_of(refused) == ["code", "percent_off", "currency", "max_redemptions"]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.create_coupon(owner, code="SPRING", percent_off=10, course_id="not-a-uuid")
    assert fields_of(refused) == ["course_id"]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.create_coupon(owner, code="SPRING", percent="10")
    assert fields_of(refused) == ["percent"]
    for who in (learner, rival):
        with pytest.raises(lms.Forbidden):
            await school.create_coupon(who, code="SPRING", percent_off=10, course_id=course.id)
    assert await school.coupons(owner) == []

    coupon = await school.create_coupon(owner, code="spring-25", percent_off=25, course_id=course.id, max_per_user=1)
    assert isinstance(coupon, lms.Coupon)
    assert (coupon.code, coupon.kind, coupon.percent_off, coupon.redeemed, coupon.disabled) == ("SPRING-25", "percent", 25, 0, False)
    free = await school.create_coupon(owner, code="FREE-ALL", amount_off=5000, currency="USD")
    assert (free.kind, free.course_id, free.currency) == ("fixed", None, "USD")
    # Newest first.
    assert [c.id for c in await school.coupons(owner)] == [free.id, coupon.id]
    assert await school.coupons(rival) == []
    assert {c.id for c in await school.coupons(lms.Actor.system(), owner_id=owner.user_id)} == {coupon.id, free.id}
    with pytest.raises(lms.Forbidden):
        await school.coupons(rival, owner_id=owner.user_id)

    quote = await school.validate_coupon(learner, code=" Spring-25 ", course_id=course.id)
    assert isinstance(quote, lms.CouponQuote)
    assert (quote.coupon_id, quote.list_amount, quote.discount_amount, quote.amount, quote.currency) == (
        coupon.id, 5000, 1250, 3750, "USD")
    with pytest.raises(lms.InvalidInput) as refused:
        await school.validate_coupon(learner, code="NOPE123", course_id=course.id)
    assert fields_of(refused) == ["code"]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.validate_coupon(learner, code="SPRING-25")
    assert fields_of(refused) == ["course_id"]

    # A coupon priced checkout charges the discounted amount.
    answer = await school.checkout(learner, course.id, provider="stripe", coupon_code="spring-25")
    assert answer.amount == 3750
    assert form(stripe_api.requests[-1])["line_items[0][price_data][unit_amount]"] == "3750"
    order = await school.order(learner, answer.order_id)
    assert (order.list_amount, order.discount_amount, order.amount, order.coupon_id) == (5000, 1250, 3750, coupon.id)

    with pytest.raises(lms.NotFound):
        await school.disable_coupon(rival, coupon.id)
    disabled = await school.disable_coupon(owner, coupon.id)
    assert disabled.disabled is True
    with pytest.raises(lms.InvalidInput) as refused:
        await school.validate_coupon(learner, code="SPRING-25", course_id=course.id)
    assert fields_of(refused) == ["code"]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.disable_coupon(owner, "nope")
    assert fields_of(refused) == ["coupon_id"]

    # A coupon that takes the whole price enrolls at once, no provider asked.
    calls = len(stripe_api.requests)
    answer = await school.checkout(learner, course.id, provider="stripe", coupon_code="free-all")
    assert (answer.status, answer.provider, answer.amount, answer.checkout_url) == ("paid", "coupon", 0, None)
    assert len(stripe_api.requests) == calls
    assert await enrolled(school, learner, course.id)
    assert [c.redeemed for c in await school.coupons(owner) if c.id == free.id] == [1]


async def test_manual_orders_refunds_and_reconciliation(database: Database, providers: Tuple[FakeApi, FakeApi]) -> None:
    stripe_api, razorpay_api = providers
    school = await open_shop(database, providers)
    admin = lms.Actor.system()
    owner = await person(school, "grace", "instructor")
    learner = await person(school, "ada")
    late = await person(school, "alan")
    course = await paid_course(school, owner, 4999, "USD")
    inr = await paid_course(school, owner, 50000, "INR")

    # Manual: an admin marks it paid when the bank transfer arrives.
    manual = await school.checkout(learner, inr.id, provider="manual")
    assert (manual.status, manual.checkout_url, manual.razorpay) == ("created", None, None)
    with pytest.raises(lms.Forbidden):
        await school.mark_order_paid(learner, manual.order_id)
    assert [o.id for o in await school.orders(admin, provider="manual", status="created")] == [manual.order_id]
    marked = await school.mark_order_paid(admin, manual.order_id)
    assert (marked.status, marked.provider) == ("paid", "manual")
    assert await enrolled(school, learner, inr.id)
    assert (await school.mark_order_paid(admin, manual.order_id)).to_dict() == marked.to_dict()

    # Stripe paid, then refunded through Stripe's API in two steps.
    answer = await school.checkout(learner, course.id, provider="stripe")
    session_id = "cs_test_" + answer.order_id.replace("-", "")
    payload = stripe_event("evt_py_refundable", "checkout.session.completed",
                           stripe_session(answer.order_id, session_id, "paid", 4999, "usd"))
    await school.stripe_webhook(payload.encode(), signed(payload))
    for amount in (0, 5000):
        with pytest.raises(lms.InvalidInput) as refused:
            await school.refund_order(admin, answer.order_id, amount=amount)
        assert fields_of(refused) == ["amount"]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.refund_order(admin, answer.order_id, amount="lots")
    assert fields_of(refused) == ["amount"]
    with pytest.raises(lms.Forbidden):
        await school.refund_order(learner, answer.order_id)
    part = await school.refund_order(admin, answer.order_id, amount=999)
    assert (part.status, part.refunded_amount) == ("partially_refunded", 999)
    assert await enrolled(school, learner, course.id)
    rest = await school.refund_order(admin, answer.order_id)
    assert (rest.status, rest.refunded_amount) == ("refunded", 4999)
    assert not await enrolled(school, learner, course.id)
    refunds = stripe_api.sent("POST", "/v1/refunds")
    assert [form(r)["amount"] for r in refunds] == ["999", "4000"]
    assert {form(r)["payment_intent"] for r in refunds} == {"pi_" + session_id[-12:]}
    assert [r["headers"]["idempotency-key"] for r in refunds] == [
        f"lms-refund-{answer.order_id}-999", f"lms-refund-{answer.order_id}-4999"]
    with pytest.raises(lms.Conflict):
        await school.refund_order(admin, answer.order_id)

    # Drift: webhooks that never came. Stripe's session is paid, Razorpay
    # holds a failed and a captured payment; reconciliation fulfills both.
    lost = await school.checkout(late, course.id, provider="stripe")
    lost_session = "cs_test_" + lost.order_id.replace("-", "")
    stripe_api.remote[lost_session] = stripe_session(lost.order_id, lost_session, "paid", 4999, "usd")
    rzp = await school.checkout(late, inr.id, provider="razorpay")
    rzp_order = rzp.razorpay.order_id
    razorpay_api.remote[rzp_order] = [
        {"id": "pay_py_f", "status": "failed", "amount": 50000, "currency": "INR", "order_id": rzp_order},
        {"id": "pay_py_ok", "status": "captured", "amount": 50000, "currency": "INR", "order_id": rzp_order},
    ]
    with pytest.raises(lms.Forbidden):
        await school.reconcile_payments(late)
    assert not await enrolled(school, late, course.id)
    report = await school.reconcile_payments(admin)
    assert isinstance(report, lms.ReconcileReport)
    assert (report.checked, report.repaired, report.errors) == (2, 2, 0)
    assert await enrolled(school, late, course.id)
    assert await enrolled(school, late, inr.id)
    assert stripe_api.sent("GET", f"/v1/checkout/sessions/{lost_session}")
    assert razorpay_api.sent("GET", f"/v1/orders/{rzp_order}/payments")
    assert (await school.order(late, rzp.order_id)).provider_payment_id == "pay_py_ok"
    assert (await school.reconcile_payments(admin)).to_dict() == {"checked": 0, "repaired": 0, "errors": 0}

    # Razorpay refund: POST /v1/payments/{id}/refund, JSON, Basic auth.
    await school.refund_order(admin, rzp.order_id, amount=10000)
    refund = razorpay_api.requests[-1]
    assert (refund["path"], json.loads(refund["body"])["amount"]) == ("/v1/payments/pay_py_ok/refund", 10000)

    # History: the learner sees their own orders; admins filter all.
    mine = await school.my_orders(late)
    assert [o.id for o in mine] == [lost.order_id, rzp.order_id]
    assert all(isinstance(o, lms.Order) for o in mine)
    # A page at a time, as over HTTP.
    assert [o.id for o in await school.my_orders(late, limit=1)] == [lost.order_id]
    assert [o.id for o in await school.my_orders(late, after=lost.order_id)] == [rzp.order_id]
    with pytest.raises(lms.InvalidInput) as refused:
        await school.my_orders(late, limit=0)
    assert fields_of(refused) == ["limit"]
    with pytest.raises(lms.NotFound):
        await school.order(learner, lost.order_id)
    with pytest.raises(lms.Forbidden):
        await school.orders(learner)
    assert [o.id for o in await school.orders(admin, user_id=late.user_id, status="partially_refunded")] == [rzp.order_id]
    page = await school.orders(admin, limit=2)
    assert [o.id for o in page + await school.orders(admin, after=page[-1].id)] == [
        o.id for o in await school.orders(admin)]


async def test_bad_payment_input_names_the_field_and_stores_nothing(
    database: Database, providers: Tuple[FakeApi, FakeApi]
) -> None:
    stripe_api, razorpay_api = providers
    school = await open_shop(database, providers)
    admin = lms.Actor.system()
    owner = await person(school, "grace", "instructor")
    learner = await person(school, "ada")
    course = await paid_course(school, owner, 4999, "USD")

    with pytest.raises(lms.InvalidInput) as refused:
        await school.checkout(learner, course.id, provider="paypal", success_url="javascript:alert(1)", cancel_url="ftp://x")
    assert fields_of(refused) == ["provider", "success_url", "cancel_url"]
    # Each call is made inside the loop, so one refusal at a time.
    cases: List[Tuple[Callable[[], Awaitable[Any]], List[str]]] = [
        (lambda: school.checkout(learner, "nope", provider="stripe"), ["course_id"]),
        (lambda: school.checkout(learner, course.id), ["provider"]),
        (lambda: school.checkout(learner, course.id, provider="stripe", colour="red"), ["colour"]),
        (lambda: school.checkout(learner, course.id, provider="stripe", coupon_code="NOPE123"), ["coupon_code"]),
        (lambda: school.razorpay_verify(learner, order_id="nope", razorpay_payment_id="pay_1", razorpay_signature="00"), ["order_id"]),
        (lambda: school.razorpay_verify(learner, order_id=str(uuid.uuid4()), razorpay_payment_id="pay_1"), ["razorpay_signature"]),
        (lambda: school.order(learner, "nope"), ["order_id"]),
        (lambda: school.mark_order_paid(admin, "nope"), ["order_id"]),
        (lambda: school.refund_order(admin, "nope"), ["order_id"]),
        (lambda: school.orders(admin, status="lost"), ["status"]),
        (lambda: school.orders(admin, status="lost", provider="paypal"), ["status", "provider"]),
        (lambda: school.orders(admin, limit=0), ["limit"]),
        (lambda: school.orders(admin, user_id="nope"), ["user_id"]),
        (lambda: school.orders(admin, sort="id"), ["sort"]),
        (lambda: school.coupons(admin, owner_id="nope"), ["owner_id"]),
    ]
    for call, fields in cases:
        with pytest.raises(lms.InvalidInput) as refused:
            await call()
        assert fields_of(refused) == fields
    with pytest.raises(lms.Unauthenticated):
        await school.checkout(lms.Actor.anonymous(), course.id, provider="stripe")
    with pytest.raises(lms.InvalidInput) as refused:
        await school.stripe_webhook(b"not json", signed("not json"))
    assert fields_of(refused) == ["body"]

    assert await school.my_orders(learner) == []
    assert await school.orders(admin) == []
    assert stripe_api.requests == [] and razorpay_api.requests == []
    assert await count_events(school, "order.created") == 0

    # The providers' settings are checked when the school opens.
    with pytest.raises(lms.InvalidInput) as refused:
        await lms.Lms.open(database.url, stripe_secret_key=STRIPE_KEY, razorpay_key_id=RZP_KEY_ID, **database.config())
    assert fields_of(refused) == ["stripe_webhook_secret", "razorpay_key_secret", "razorpay_webhook_secret"]
    # Without them, checkout says the provider is not set up; a wrong key
    # is the provider's refusal, with its message.
    bare = await lms.Lms.open(database.url, **database.config())
    with pytest.raises(lms.InvalidInput) as refused:
        await bare.checkout(learner, course.id, provider="razorpay")
    assert fields_of(refused) == ["provider"]
    with pytest.raises(lms.NotFound):
        await bare.stripe_webhook(b"{}", signed("{}"))
    wrong = await lms.Lms.open(database.url, stripe_secret_key="sk_test_wrong", stripe_webhook_secret=STRIPE_WHSEC,
                               stripe_api_url=stripe_api.url, **database.config())
    with pytest.raises(lms.ProviderError) as provider_error:
        await wrong.checkout(learner, course.id, provider="stripe")
    assert "Invalid API Key" in provider_error.value.message
    assert stripe_api.requests[-1]["headers"]["authorization"] == "Bearer sk_test_wrong"
