"""lms: the course-platform core for asyncio hosts (FastAPI, Starlette...).

    import lms

    school = await lms.Lms.open("sqlite://./lms-data/lms.db", jwt_secret=SECRET)
    session = await school.register(email=..., password=..., display_name=...)
    actor = await school.authenticate(session.access_token)
    page = await school.catalog(q="rust")
    return page.to_dict()          # the HTTP API's JSON

Every method is a coroutine on the running loop; the work runs in Rust
without the GIL. Errors are ``LmsError`` subclasses carrying ``code``,
``message`` and ``fields``.
"""

from ._errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LmsError,
    NotFound,
    PaymentError,
    ProviderError,
    RateLimited,
    Unauthenticated,
)
from ._lms import Actor, Lms, __version__
from ._records import (
    AccessToken,
    AuthSession,
    CatalogPage,
    Course,
    CourseDetail,
    CourseExport,
    CourseProgress,
    UpdatedProgress,
    Enrollee,
    Enrollment,
    Event,
    GrantRow,
    ImportOutcome,
    LearnerEnrollment,
    Lecture,
    LectureView,
    LiveIngress,
    LiveSession,
    LiveToken,
    Record,
    Section,
    Stats,
    User,
    UploadTicket,
    Asset,
    Playback,
    Attachment,
    WebhookReceipt,
    Order,
    CheckoutAnswer,
    Coupon,
    CouponQuote,
    ReconcileReport,
)

__all__ = [
    "__version__",
    "Lms",
    "Actor",
    "LmsError",
    "InvalidInput",
    "Unauthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "RateLimited",
    "PaymentError",
    "ProviderError",
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
