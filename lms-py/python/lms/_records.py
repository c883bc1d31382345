"""Results of lms operations: read-only records over the JSON the core
serializes, so their shapes are exactly the HTTP API's.

A record gives attribute access (nested objects are records too, lists are
lists), ``record["field"]`` and ``keys()`` (so ``dict(record)`` and
FastAPI's encoder work), and ``to_dict()``: a fresh JSON-ready dict equal to
the HTTP answer's body. Ids and times are the strings the API sends (UUIDs,
RFC 3339 UTC). The subclasses only name the shapes; attributes they do not
annotate are still there (see the HTTP API's OpenAPI document for all).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, KeysView, List, Mapping, Optional, Type, Union

__all__ = [
    "Record",
    "User",
    "AuthSession",
    "AccessToken",
    "Course",
    "CourseDetail",
    "CatalogPage",
    "Section",
    "Lecture",
    "LectureView",
    "Enrollment",
    "LearnerEnrollment",
    "Enrollee",
    "GrantRow",
    "CourseProgress",
    "UpdatedProgress",
    "CourseExport",
    "ImportOutcome",
    "Event",
    "Stats",
    "UploadTicket",
    "Asset",
    "Playback",
    "Attachment",
    "LiveSession",
    "LiveToken",
    "LiveIngress",
    "WebhookReceipt",
    "Order",
    "CheckoutAnswer",
    "Coupon",
    "CouponQuote",
    "ReconcileReport",
]


def _view(value: Any) -> Any:
    """Nested JSON as records and lists of them; scalars as they are."""
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [_view(item) for item in value]
    return value


class Record:
    """A read-only JSON object with attribute access."""

    __slots__ = ("_data",)
    _data: Dict[str, Any]

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getattr__(self, name: str) -> Any:
        try:
            return _view(self._data[name])
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> KeysView[str]:
        return self._data.keys()

    def to_dict(self) -> Dict[str, Any]:
        """A fresh JSON-ready dict: what the HTTP API answers."""
        return copy.deepcopy(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._data == other._data
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._data))


class User(Record):
    """An account as its owner and admins see it."""

    id: str
    email: str
    display_name: str
    bio: Optional[str]
    avatar_key: Optional[str]
    role: str
    disabled: bool
    created_at: str
    updated_at: str


def _masked(record: Record) -> str:
    """A repr without the tokens, so a logged result leaks no credential."""
    shown = {k: ("***" if k.endswith("_token") else v) for k, v in record.to_dict().items()}
    return f"{type(record).__name__}({shown!r})"


class AuthSession(Record):
    """What register, login and refresh answer (the repr hides the tokens)."""

    __repr__ = _masked

    user: Record
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class AccessToken(Record):
    """A new access token for the current session (the repr hides it)."""

    __repr__ = _masked

    access_token: str
    token_type: str
    expires_in: int


class Course(Record):
    """A course's own fields."""

    id: str
    slug: str
    title: str
    subtitle: str
    description: str
    level: str
    language: str
    tags: List[str]
    price: Record
    owner_id: str
    status: str
    enrollment_count: int
    created_at: str
    updated_at: str
    published_at: Optional[str]


class CourseDetail(Record):
    """A course with its instructor, figures and outline (``sections``)."""

    sections: List[Record]


class CatalogPage(Record):
    """One page of courses and the cursor of the next (None at the end)."""

    items: List[Record]
    next_cursor: Optional[str]


class Section(Record):
    id: str
    course_id: str
    title: str
    position: int


class Lecture(Record):
    id: str
    course_id: str
    section_id: str
    title: str
    kind: str
    body: str
    duration_secs: int
    free_preview: bool
    position: int


class LectureView(Record):
    """A lecture with its content and its neighbours."""


class Enrollment(Record):
    id: str
    course_id: str
    user_id: str
    source: str
    status: str
    expires_at: Optional[str]
    revoked_by: Optional[str]
    completed_at: Optional[str]


class LearnerEnrollment(Record):
    """An enrollment of the caller with its course and figures."""

    enrollment: Record
    course: Record
    progress: Record


class Enrollee(Record):
    """A learner of a course, as its owner sees them."""


class GrantRow(Record):
    """The result of a bulk grant for one address."""


class CourseProgress(Record):
    course_id: str
    completed_lectures: int
    total_lectures: int
    percent: int
    completed_at: Optional[str]
    next_lecture_id: Optional[str]
    last_lecture_id: Optional[str]
    lectures: List[Record]


class UpdatedProgress(Record):
    """What recording progress answers: the lecture and the course's figures."""

    course_id: str
    completed_lectures: int
    total_lectures: int
    percent: int
    completed_at: Optional[str]
    next_lecture_id: Optional[str]
    last_lecture_id: Optional[str]
    lecture: Record


class CourseExport(Record):
    """A course as one ``lms.course/1`` document; ``import_course`` takes it."""


class ImportOutcome(Record):
    """What an import created or changed."""


class Event(Record):
    """A row of the append-only event log."""


class Stats(Record):
    """Counts for operators."""


class UploadTicket(Record):
    """Where and how to send a file: a presigned request until ``expires_at``."""

    upload_id: str
    method: str
    url: str
    headers: Dict[str, str]
    expires_at: str


class Asset(Record):
    """An uploaded file and what it is attached to."""

    id: str
    owner_id: str
    purpose: str
    course_id: Optional[str]
    lecture_id: Optional[str]
    object_key: str
    file_name: str
    content_type: str
    size: int
    status: str
    video_status: Optional[str]
    mux_asset_id: Optional[str]
    playback_id: Optional[str]
    duration_secs: Optional[int]
    public_url: Optional[str]


class Playback(Record):
    """How to play a lecture's video: ``kind`` is ``mux`` or ``file``."""

    lecture_id: str
    kind: str
    url: str
    playback_id: Optional[str]
    token: Optional[str]
    thumbnail_url: Optional[str]
    thumbnail_token: Optional[str]
    storyboard_url: Optional[str]
    storyboard_token: Optional[str]
    content_type: Optional[str]
    expires_at: str


class Attachment(Record):
    """A lecture's file with a short-lived link."""

    id: str
    file_name: str
    content_type: str
    size: int
    url: str
    expires_at: str


class WebhookReceipt(Record):
    """What a webhook delivery did: ``applied``, ``ignored`` or ``duplicate``."""

    outcome: str


class LiveSession(Record):
    """A live class in a LiveKit room; ``ingress`` only for its hosts."""

    id: str
    course_id: str
    title: str
    starts_at: str
    status: str
    room_name: str
    created_by: str
    ingress: Optional[Record]
    started_at: Optional[str]
    ended_at: Optional[str]


class LiveToken(Record):
    """A LiveKit access token, the server URL and the room it joins."""

    live_session_id: str
    url: str
    room_name: str
    identity: str
    role: str
    token: str
    expires_at: str


class LiveIngress(Record):
    """Where streaming software sends a class: keep the stream key secret."""

    ingress_id: str
    input_type: str
    url: str
    stream_key: str


class Order(Record):
    """One attempt to buy one course; amounts are integer minor units."""

    id: str
    user_id: str
    course_id: str
    provider: str
    status: str
    list_amount: int
    discount_amount: int
    amount: int
    currency: str
    coupon_id: Optional[str]
    provider_order_id: Optional[str]
    provider_payment_id: Optional[str]
    refunded_amount: int
    review_reason: Optional[str]
    checkout_url: Optional[str]
    created_at: str
    updated_at: str
    paid_at: Optional[str]
    closed_at: Optional[str]


class CheckoutAnswer(Record):
    """A started checkout: Stripe's ``checkout_url``, or in ``razorpay``
    what Razorpay Checkout needs (``key_id``, ``order_id``, ``amount``,
    ``currency``). ``status`` is ``paid`` when a coupon made it free."""

    order_id: str
    status: str
    provider: str
    amount: int
    currency: str
    checkout_url: Optional[str]
    razorpay: Optional[Record]


class Coupon(Record):
    """A percent or fixed-amount coupon on one course or all of an owner's."""

    id: str
    code: str
    owner_id: str
    course_id: Optional[str]
    kind: str
    percent_off: Optional[int]
    amount_off: Optional[int]
    currency: Optional[str]
    starts_at: Optional[str]
    ends_at: Optional[str]
    max_redemptions: Optional[int]
    max_per_user: Optional[int]
    redeemed: int
    disabled: bool
    created_at: str
    updated_at: str


class CouponQuote(Record):
    """A course's price with a coupon."""

    coupon_id: str
    code: str
    course_id: str
    list_amount: int
    discount_amount: int
    amount: int
    currency: str


class ReconcileReport(Record):
    """What a reconciliation run did: orders ``checked``, ``repaired``, and
    those whose provider could not be asked (``errors``)."""

    checked: int
    repaired: int
    errors: int


_KINDS: Dict[str, Type[Record]] = {name: globals()[name] for name in __all__}


def _wrap(kind: str, data: Union[Dict[str, Any], List[Dict[str, Any]]]) -> Any:
    """Called by the native module with a result's JSON and its type name."""
    cls = _KINDS.get(kind, Record)
    if isinstance(data, list):
        return [cls(item) for item in data]
    return cls(data)
