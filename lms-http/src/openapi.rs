//! The OpenAPI 3.1 document of the HTTP API, served at
//! `GET /api/v1/openapi.json`.
//!
//! The document is built from what the server runs, so the two cannot
//! drift apart:
//!
//! - its paths are the route table itself, iterated, so every routed
//!   operation is in it and nothing else is;
//! - `spec` matches every `Route` without a wildcard arm: a route added
//!   to the table does not compile until it is documented here;
//! - bodies are the `utoipa::ToSchema` of the very structs serde reads and
//!   writes (lms-core's `openapi` feature, the handlers' own request
//!   structs, the problem body), so a renamed or added field changes the
//!   document with it;
//! - query parameters are the handlers' own allow-lists, and a name without
//!   a description here fails the build of the document (and its tests);
//! - the HTTP tests validate every answer they get against this document:
//!   an undocumented status or a body that does not match fails them.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use http::{Method, StatusCode};
use hyper::body::Bytes;
use lms_core::media::{Asset, Attachment, Playback, UploadTicket};
use lms_core::{
    AccessToken, AuthSession, CatalogPage, Course, CourseDetail, CourseInput, CourseProgress,
    CourseUpdate, Credentials, Enrollee, Enrollment, GrantRow, LearnerEnrollment, Lecture,
    LectureInput, LectureMove, LectureUpdate, LectureView, PasswordChange, ProfileUpdate,
    ProgressUpdate, Registration, Role, Section, SectionInput, UpdatedProgress, UploadInput, User,
    UserQuery, domain::Level,
};
use lms_core::{
    CheckoutAnswer, CheckoutInput, Coupon, CouponCheck, CouponInput, CouponQuote, Order,
    OrderStatus, Provider, RazorpayVerifyInput, ReconcileReport, RefundInput,
};
use lms_core::{
    IngressInput, LiveIngress, LiveSession, LiveSessionInput, LiveSessionUpdate, LiveToken,
    WebhookReceipt,
};
use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, ComponentsBuilder, KnownFormat, ObjectBuilder, OneOfBuilder,
    SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, Header, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, ResponsesBuilder, Schema,
};

use crate::handlers::{Ctx, Reply, auth, enrollments, me, sections};
use crate::problem::{self, Problem};
use crate::routes::{Lookup, Route, Routes, TABLE};

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

/// The media types of answers.
const JSON: &str = "application/json";
const PROBLEM_JSON: &str = "application/problem+json";
/// Files, in whatever media type they were stored with.
const ANY: &str = "*/*";

/// The problem answers, as reusable responses (`#/components/responses/`).
const PROBLEMS: &[(u16, &str, &str)] = &[
    (400, "BadRequest", "The body is not JSON (`bad_request`)."),
    (
        401,
        "Unauthenticated",
        "No valid bearer token, or wrong credentials (`unauthenticated`).",
    ),
    (
        402,
        "PaymentRequired",
        "The course is paid: buy it through checkout (`payment`).",
    ),
    (
        403,
        "Forbidden",
        "The caller may not do this (`forbidden`).",
    ),
    (
        404,
        "NotFound",
        "No such resource, or one the caller may not see (`not_found`).",
    ),
    (
        405,
        "MethodNotAllowed",
        "The path exists but not with this method (`method_not_allowed`); `Allow` lists the methods it takes.",
    ),
    (
        408,
        "RequestTimeout",
        "The body did not arrive in time (`request_timeout`).",
    ),
    (
        409,
        "Conflict",
        "The change conflicts with the current state (`conflict`).",
    ),
    (
        413,
        "PayloadTooLarge",
        "The body is over the size limit (`payload_too_large`).",
    ),
    (
        415,
        "UnsupportedMediaType",
        "The body is not `application/json` (`unsupported_media_type`).",
    ),
    (
        422,
        "InvalidInput",
        "A body member, path or query parameter is invalid (`invalid_input`); `errors` names each field.",
    ),
    (
        429,
        "TooManyRequests",
        "Too many attempts (`rate_limited`); `Retry-After` says when to try again.",
    ),
    (
        500,
        "Internal",
        "Something failed on the server (`internal`); quote the request id.",
    ),
    (
        502,
        "BadGateway",
        "A provider (storage, Mux, LiveKit, Stripe, Razorpay) failed or refused the call (`provider`).",
    ),
    (
        503,
        "Unavailable",
        "The store does not answer (`unavailable`).",
    ),
];

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Nobody's identity matters; an `Authorization` header is ignored.
    None,
    /// Anonymous callers too, but a bearer token that is sent must be valid.
    Optional,
    /// A valid bearer token (the core answers 401 without one).
    Required,
}

/// What one operation takes and answers, beyond what its path says.
struct Spec {
    tag: &'static str,
    summary: &'static str,
    auth: Auth,
    body: Option<RefOr<Schema>>,
    status: StatusCode,
    /// The success body; `None` for a 204.
    answer: Option<RefOr<Schema>>,
    /// The answer's media type.
    media: &'static str,
    /// Answers with an `ETag` and honours `If-None-Match` (304).
    cached: bool,
    /// A 201 that says where the new resource lives.
    location: bool,
    /// Problem statuses the core can answer, besides those every operation
    /// of its shape has (401 with an actor, 400/408/413/415/422 with a
    /// body, 422 with an id or query, 429, 500).
    errors: &'static [u16],
    /// The request body is a file's raw bytes, not JSON.
    file_body: bool,
    /// The answer is a stored file, whole or one byte range.
    file_answer: bool,
}

impl Spec {
    fn new(tag: &'static str, summary: &'static str, auth: Auth) -> Self {
        Self {
            tag,
            summary,
            auth,
            body: None,
            status: StatusCode::OK,
            answer: None,
            media: JSON,
            cached: false,
            location: false,
            errors: &[],
            file_body: false,
            file_answer: false,
        }
    }

    /// Takes a file's bytes as the body (any media type: the signed one).
    fn file_body(mut self) -> Self {
        self.file_body = true;
        self
    }

    /// Answers a stored file in its own media type; `Range` gives 206/416.
    fn file_answer(mut self) -> Self {
        self.answer = Some(binary().into());
        self.media = ANY;
        self.file_answer = true;
        self
    }

    fn ok(mut self, answer: RefOr<Schema>) -> Self {
        self.answer = Some(answer);
        self
    }

    fn created(mut self, answer: RefOr<Schema>, location: bool) -> Self {
        self.status = StatusCode::CREATED;
        self.answer = Some(answer);
        self.location = location;
        self
    }

    /// A 200 whose body is text of `media`, not JSON.
    fn text(mut self, media: &'static str) -> Self {
        self.answer = Some(ObjectBuilder::new().schema_type(Type::String).into());
        self.media = media;
        self
    }

    fn no_content(mut self) -> Self {
        self.status = StatusCode::NO_CONTENT;
        self.answer = None;
        self
    }

    fn body(mut self, body: RefOr<Schema>) -> Self {
        self.body = Some(body);
        self
    }

    fn cached(mut self) -> Self {
        self.cached = true;
        self
    }

    fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
}

/// The component schemas the operations refer to, collected as they are
/// named so that only used types (and all their dependencies) are listed.
#[derive(Default)]
struct Schemas(Vec<(String, RefOr<Schema>)>);

impl Schemas {
    /// A reference to `T`'s schema, adding it and what it refers to.
    fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.0.iter().any(|(n, _)| *n == name) {
            self.0.push((name.clone(), T::schema()));
            T::schemas(&mut self.0);
        }
        Ref::from_schema_name(name).into()
    }

    /// `{"items": [T...]}`, what `Reply::items` sends.
    fn items<T: ToSchema>(&mut self) -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("items", ArrayBuilder::new().items(self.of::<T>()))
            .required("items")
            .into()
    }
}

/// `{"status": "ok"}`, the health answers.
fn status_ok() -> RefOr<Schema> {
    ObjectBuilder::new()
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["ok"])),
        )
        .required("status")
        .into()
}

/// Everything the document does not spell out per path: tag, summary,
/// caller, query, body, answers. No wildcard arm, on purpose.
fn spec(route: Route, s: &mut Schemas) -> Spec {
    use Auth::{None as Anyone, Optional, Required as Signed};
    match route {
        Route::Healthz => Spec::new("health", "The process is up", Anyone).ok(status_ok()),
        // 404 where they are served on their own address instead.
        Route::Metrics => Spec::new("health", "Prometheus metrics (OpenMetrics text)", Anyone)
            .text(crate::metrics::CONTENT_TYPE_BASE)
            .errors(&[404]),
        Route::Readyz => Spec::new("health", "The store answers", Anyone)
            .ok(status_ok())
            .errors(&[503]),
        Route::Register => Spec::new("auth", "Sign up as a student and start a session", Anyone)
            .body(s.of::<Registration>())
            .created(s.of::<AuthSession>(), true)
            .errors(&[409]),
        Route::Login => Spec::new("auth", "Log in and start a session", Anyone)
            .body(s.of::<Credentials>())
            .ok(s.of::<AuthSession>())
            .errors(&[401, 403]),
        Route::Refresh => Spec::new("auth", "Trade a refresh token for new tokens", Anyone)
            .body(s.of::<auth::RefreshToken>())
            .ok(s.of::<AuthSession>())
            .errors(&[401]),
        Route::Logout => Spec::new("auth", "End the session of a refresh token", Anyone)
            .body(s.of::<auth::RefreshToken>())
            .no_content(),
        Route::Me => Spec::new("me", "The signed-in user", Signed).ok(s.of::<User>()),
        Route::UpdateMe => Spec::new("me", "Change one's own profile", Signed)
            .body(s.of::<ProfileUpdate>())
            .ok(s.of::<User>()),
        Route::DeleteMe => Spec::new("me", "Delete one's own account", Signed)
            .body(s.of::<me::Confirmation>())
            .no_content(),
        Route::ChangePassword => Spec::new("me", "Change one's own password", Signed)
            .body(s.of::<PasswordChange>())
            .ok(s.of::<AccessToken>()),
        Route::MyEnrollments => Spec::new("enrollments", "The signed-in learner's courses", Signed)
            .ok(s.items::<LearnerEnrollment>()),
        Route::ListUsers => Spec::new("users", "List accounts (admins)", Signed)
            .ok(s.items::<User>())
            .errors(&[403]),
        Route::GetUser => Spec::new("users", "One account (admins)", Signed)
            .ok(s.of::<User>())
            .errors(&[403, 404]),
        Route::UpdateUser => Spec::new(
            "users",
            "Change a role or disable an account (admins)",
            Signed,
        )
        .body(s.of::<lms_core::AccountUpdate>())
        .ok(s.of::<User>())
        .errors(&[403, 404]),
        Route::Catalog => Spec::new("courses", "The catalog of published courses", Anyone)
            .ok(s.of::<CatalogPage>())
            .cached(),
        Route::CreateCourse => Spec::new("courses", "Create a draft course", Signed)
            .body(s.of::<CourseInput>())
            .created(s.of::<Course>(), true)
            .errors(&[403, 404, 409]),
        Route::GetCourse => Spec::new(
            "courses",
            "A course and its outline, by id or slug",
            Optional,
        )
        .ok(s.of::<CourseDetail>())
        .cached()
        .errors(&[404]),
        Route::UpdateCourse => Spec::new("courses", "Change a course's fields", Signed)
            .body(s.of::<CourseUpdate>())
            .ok(s.of::<Course>())
            .errors(&[403, 404, 409]),
        Route::DeleteCourse => Spec::new("courses", "Delete a course without enrollments", Signed)
            .no_content()
            .errors(&[403, 404, 409]),
        Route::PublishCourse => Spec::new("courses", "Publish a course", Signed)
            .ok(s.of::<Course>())
            .errors(&[403, 404]),
        Route::UnpublishCourse => Spec::new(
            "courses",
            "Take a course without learners back to draft",
            Signed,
        )
        .ok(s.of::<Course>())
        .errors(&[403, 404, 409]),
        Route::ArchiveCourse => Spec::new("courses", "Archive a course", Signed)
            .ok(s.of::<Course>())
            .errors(&[403, 404]),
        Route::InstructorCourses => {
            Spec::new("courses", "An instructor's courses in every status", Signed)
                .ok(s.of::<CatalogPage>())
                .errors(&[403])
        }
        Route::CreateSection => Spec::new("sections", "Add a section to a course", Signed)
            .body(s.of::<SectionInput>())
            .created(s.of::<Section>(), false)
            .errors(&[403, 404]),
        Route::RenameSection => Spec::new("sections", "Rename a section", Signed)
            .body(s.of::<sections::Rename>())
            .ok(s.of::<Section>())
            .errors(&[403, 404]),
        Route::DeleteSection => Spec::new("sections", "Delete a section and its lectures", Signed)
            .no_content()
            .errors(&[403, 404, 409]),
        Route::MoveSection => Spec::new("sections", "Move a section within its course", Signed)
            .body(s.of::<sections::Position>())
            .ok(s.of::<Section>())
            .errors(&[403, 404]),
        Route::CreateLecture => Spec::new("lectures", "Add a lecture to a section", Signed)
            .body(s.of::<LectureInput>())
            .created(s.of::<Lecture>(), true)
            .errors(&[403, 404]),
        Route::GetLecture => Spec::new(
            "lectures",
            "A lecture with its content and neighbours",
            Optional,
        )
        .ok(s.of::<LectureView>())
        .errors(&[403, 404]),
        Route::UpdateLecture => Spec::new("lectures", "Change a lecture", Signed)
            .body(s.of::<LectureUpdate>())
            .ok(s.of::<Lecture>())
            .errors(&[403, 404]),
        Route::DeleteLecture => Spec::new("lectures", "Delete a lecture", Signed)
            .no_content()
            .errors(&[403, 404, 409]),
        Route::MoveLecture => Spec::new("lectures", "Move a lecture within its course", Signed)
            .body(s.of::<LectureMove>())
            .ok(s.of::<Lecture>())
            .errors(&[403, 404]),
        Route::Enroll => Spec::new("enrollments", "Enroll in a free published course", Signed)
            .ok(s.of::<Enrollment>())
            .errors(&[402, 403, 404]),
        Route::CourseEnrollments => {
            Spec::new("enrollments", "A course's learners (owner, admins)", Signed)
                .ok(s.items::<Enrollee>())
                .errors(&[403, 404])
        }
        Route::GrantEnrollments => {
            let one = s.of::<Enrollment>();
            let rows = s.items::<GrantRow>();
            Spec::new(
                "enrollments",
                "Grant access by user id, or by e-mail in bulk (admins)",
                Signed,
            )
            .body(s.of::<enrollments::Grant>())
            .ok(OneOfBuilder::new()
                .description(Some(
                    "The enrollment for `user_id`; one row per address for `emails`.",
                ))
                .item(one)
                .item(rows)
                .into())
            .errors(&[403, 404])
        }
        Route::RevokeEnrollment => Spec::new(
            "enrollments",
            "Revoke a learner's access, keeping progress",
            Signed,
        )
        .ok(s.of::<Enrollment>())
        .errors(&[403, 404]),
        Route::CourseProgress => Spec::new(
            "progress",
            "The signed-in learner's progress in a course",
            Signed,
        )
        .ok(s.of::<CourseProgress>())
        .errors(&[403, 404]),
        Route::ResetProgress => Spec::new("progress", "Forget one's progress in a course", Signed)
            .ok(s.of::<CourseProgress>())
            .errors(&[403, 404]),
        Route::UpdateProgress => Spec::new(
            "progress",
            "Complete a lecture or record a resume position",
            Signed,
        )
        .body(s.of::<ProgressUpdate>())
        .ok(s.of::<UpdatedProgress>())
        .errors(&[403, 404]),
        Route::CreateUpload => Spec::new(
            "media",
            "An upload ticket: a presigned PUT of exactly the declared type and size",
            Signed,
        )
        .body(s.of::<UploadInput>())
        .created(s.of::<UploadTicket>(), true)
        .errors(&[403, 404]),
        Route::GetUpload => Spec::new("media", "An upload (its uploader, admins)", Signed)
            .ok(s.of::<Asset>())
            .errors(&[404]),
        Route::CompleteUpload => Spec::new(
            "media",
            "Check the uploaded file (size, type) and attach it; again is a no-op",
            Signed,
        )
        .ok(s.of::<Asset>())
        .errors(&[403, 404, 502]),
        Route::LecturePlayback => Spec::new(
            "media",
            "How to play a lecture's video: signed HLS (Mux), with the images asked for, or a link to the file",
            Optional,
        )
        .ok(s.of::<Playback>())
        .errors(&[403, 404, 409]),
        Route::LectureAttachments => Spec::new(
            "media",
            "A lecture's files, with short-lived links",
            Optional,
        )
        .ok(s.items::<Attachment>())
        .errors(&[403, 404]),
        Route::MuxWebhook => Spec::new(
            "webhooks",
            "Mux events, signed with `mux-signature`",
            Anyone,
        )
        .file_body()
        .ok(s.of::<WebhookReceipt>())
        .errors(&[401, 404]),
        Route::UploadFile => Spec::new(
            "media",
            "Send a file to a signed local-storage link (`url` of an upload ticket)",
            Anyone,
        )
        .file_body()
        .errors(&[403, 404]),
        Route::DownloadFile => Spec::new(
            "media",
            "A stored file by its signed link (public images need no signature)",
            Anyone,
        )
        .file_answer()
        .errors(&[403, 404]),
        Route::OpenApi => Spec::new("meta", "This document", Anyone)
            .ok(ObjectBuilder::new()
                .description(Some("An OpenAPI 3.1 document"))
                .into())
            .cached(),
        Route::CreateLiveSession => Spec::new("live", "Schedule a live class on a course", Signed)
            .body(s.of::<LiveSessionInput>())
            .created(s.of::<LiveSession>(), true)
            .errors(&[403, 404]),
        Route::CourseLiveSessions => Spec::new(
            "live",
            "A course's live classes (owner, admins, enrolled learners)",
            Optional,
        )
        .ok(s.items::<LiveSession>())
        .errors(&[403, 404]),
        Route::GetLiveSession => Spec::new("live", "A live class", Optional)
            .ok(s.of::<LiveSession>())
            .errors(&[403, 404]),
        Route::UpdateLiveSession => Spec::new("live", "Change a scheduled live class", Signed)
            .body(s.of::<LiveSessionUpdate>())
            .ok(s.of::<LiveSession>())
            .errors(&[403, 404, 409]),
        Route::CancelLiveSession => Spec::new("live", "Cancel a scheduled live class", Signed)
            .ok(s.of::<LiveSession>())
            .errors(&[403, 404, 409]),
        Route::LiveToken => Spec::new(
            "live",
            "A LiveKit room token: hosts publish, enrolled learners watch",
            Signed,
        )
        .ok(s.of::<LiveToken>())
        .errors(&[403, 404, 409]),
        Route::CreateIngress => Spec::new(
            "live",
            "An RTMP or WHIP ingress for streaming software (owner, admins)",
            Signed,
        )
        .body(s.of::<IngressInput>())
        .ok(s.of::<LiveIngress>())
        .errors(&[403, 404, 409, 502]),
        Route::LiveKitWebhook => Spec::new(
            "live",
            "LiveKit's webhook (`Authorization`: its JWT with the body's sha256)",
            Anyone,
        )
        .body(
            ObjectBuilder::new()
                .description(Some(
                    "A LiveKit webhook event (`application/webhook+json`), checked as signed",
                ))
                .property("event", string())
                .property("id", string())
                .property("room", ObjectBuilder::new())
                .required("event")
                .required("id")
                .into(),
        )
        .ok(s.of::<WebhookReceipt>())
        .errors(&[401, 404]),
        Route::Checkout => Spec::new(
            "payments",
            "Start buying a course: Stripe's checkout URL, what Razorpay Checkout needs, or a manual order",
            Signed,
        )
        .body(s.of::<CheckoutInput>())
        .created(s.of::<CheckoutAnswer>(), true)
        .errors(&[403, 404, 409, 502]),
        Route::RazorpayVerify => Spec::new(
            "payments",
            "Confirm a Razorpay Checkout payment by its signature; fulfills the order",
            Signed,
        )
        .body(s.of::<RazorpayVerifyInput>())
        .ok(s.of::<Order>())
        .errors(&[404]),
        Route::StripeWebhook => Spec::new(
            "webhooks",
            "Stripe events, signed with `Stripe-Signature`; each applied once",
            Anyone,
        )
        .file_body()
        .ok(s.of::<WebhookReceipt>())
        .errors(&[401, 404, 422]),
        Route::RazorpayWebhook => Spec::new(
            "webhooks",
            "Razorpay events, signed with `X-Razorpay-Signature`, named by `X-Razorpay-Event-Id`; each applied once",
            Anyone,
        )
        .file_body()
        .ok(s.of::<WebhookReceipt>())
        .errors(&[401, 404, 422]),
        Route::ReconcilePayments => Spec::new(
            "payments",
            "Ask the providers about open orders and repair what webhooks missed (admins)",
            Signed,
        )
        .ok(s.of::<ReconcileReport>())
        .errors(&[403]),
        Route::MyOrders => {
            Spec::new("payments", "The signed-in user's orders, oldest first", Signed)
                .ok(s.items::<Order>())
        }
        Route::ListOrders => Spec::new("payments", "Orders matching filters (admins)", Signed)
            .ok(s.items::<Order>())
            .errors(&[403]),
        Route::GetOrder => Spec::new("payments", "An order (its buyer, admins)", Signed)
            .ok(s.of::<Order>())
            .errors(&[404]),
        Route::RefundOrder => Spec::new(
            "payments",
            "Refund a paid order through its provider, all or part (admins)",
            Signed,
        )
        .body(s.of::<RefundInput>())
        .ok(s.of::<Order>())
        .errors(&[403, 404, 409, 502]),
        Route::MarkOrderPaid => Spec::new(
            "payments",
            "Mark a manual or flagged order paid, enrolling its buyer (admins)",
            Signed,
        )
        .ok(s.of::<Order>())
        .errors(&[403, 404, 409]),
        Route::CreateCoupon => Spec::new(
            "payments",
            "Make a coupon for one course or all of an owner's courses",
            Signed,
        )
        .body(s.of::<CouponInput>())
        .created(s.of::<Coupon>(), false)
        .errors(&[403, 404, 409]),
        Route::ListCoupons => Spec::new(
            "payments",
            "The caller's coupons (admins: all, or one owner's)",
            Signed,
        )
        .ok(s.items::<Coupon>())
        .errors(&[403]),
        Route::ValidateCoupon => Spec::new(
            "payments",
            "A course's price with a coupon, for the signed-in user",
            Signed,
        )
        .body(s.of::<CouponCheck>())
        .ok(s.of::<CouponQuote>())
        .errors(&[404]),
        Route::DisableCoupon => Spec::new("payments", "Disable a coupon (its owner, admins)", Signed)
            .ok(s.of::<Coupon>())
            .errors(&[404]),
    }
}

/// The names of a pattern's `{parameters}`, in order.
fn path_params(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
}

/// A route pattern as an OpenAPI path: a catch-all `{*key}` is `{key}`.
pub fn doc_path(pattern: &str) -> String {
    pattern.replace("{*", "{")
}

/// Any bytes.
fn binary() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
}

fn uuid() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn enumeration(values: &[&str]) -> ObjectBuilder {
    string().enum_values(Some(values.iter().copied()))
}

fn page_size(max: u32, default: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .default(Some(default.into()))
}

/// A path parameter, and whether it is an id the server parses (a
/// malformed one is a 422).
fn path_param(route: Route, name: &str) -> (Parameter, bool) {
    let (description, schema, parsed) = match (route, name) {
        (Route::GetCourse, "course") => ("The course id, or its slug", string(), false),
        (_, "course") => ("The course id", uuid(), true),
        (_, "section") => ("The section id", uuid(), true),
        (_, "lecture") => ("The lecture id", uuid(), true),
        (_, "user") => ("The user id", uuid(), true),
        (_, "upload") => ("The upload id", uuid(), true),
        (_, "key") => (
            "The object key (it contains `/`), as the link names it",
            string(),
            false,
        ),
        (_, "live_session") => ("The live session id", uuid(), true),
        (_, "order") => ("The order id", uuid(), true),
        (_, "coupon") => ("The coupon id", uuid(), true),
        _ => panic!("path parameter {name} of {route:?} is not documented"),
    };
    let parameter = ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build();
    (parameter, parsed)
}

/// A query parameter the handler of `route` takes.
fn query_param(route: Route, name: &str, s: &mut Schemas) -> Parameter {
    use lms_core::catalog::{DEFAULT_PAGE, MAX_PAGE};
    let (description, schema): (&str, RefOr<Schema>) = match (route, name) {
        (Route::Catalog, "q") => (
            "Search words over title, subtitle, description and tags; every word must match, each as a prefix",
            string().into(),
        ),
        (Route::Catalog, "level") => ("Only courses of this level", s.of::<Level>()),
        (Route::Catalog, "language") => (
            "Only courses in this language (`en` also matches `en-GB`)",
            string().into(),
        ),
        (Route::Catalog, "price") => (
            "Only free or only paid courses",
            enumeration(&["free", "paid"]).into(),
        ),
        (Route::Catalog, "instructor") => ("Only courses of this instructor", uuid().into()),
        (Route::Catalog, "tag") => ("Only courses with this tag", string().into()),
        (Route::Catalog, "sort") => (
            "The order (default `newest`)",
            enumeration(&["newest", "title", "popular"]).into(),
        ),
        (Route::Catalog | Route::InstructorCourses, "cursor") => {
            ("`next_cursor` of the previous page", string().into())
        }
        (Route::Catalog | Route::InstructorCourses, "limit") => {
            ("Page size", page_size(MAX_PAGE, DEFAULT_PAGE).into())
        }
        (Route::InstructorCourses, "instructor") => (
            "Another instructor's courses (admins; default: the caller's)",
            uuid().into(),
        ),
        (Route::ListUsers, "role") => ("Only accounts with this role", s.of::<Role>()),
        (Route::ListUsers, "q") => (
            "Part of the e-mail address or display name, in any case",
            string().into(),
        ),
        (Route::ListUsers, "after") => ("The last user id of the previous page", uuid().into()),
        (Route::ListUsers, "limit") => (
            "Page size (default 50; larger values are capped)",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some(format!(
                    "At most {} are answered",
                    UserQuery::MAX_LIMIT
                )))
                .into(),
        ),
        (Route::CourseEnrollments, "after") => {
            ("The last enrollment id of the previous page", uuid().into())
        }
        (Route::CourseEnrollments, "limit") => (
            "Page size",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .into(),
        ),
        (Route::LecturePlayback, "thumbnail") => (
            "`true`: add a signed poster image (`thumbnail_url`, Mux only)",
            ObjectBuilder::new().schema_type(Type::Boolean).into(),
        ),
        (Route::LecturePlayback, "storyboard") => (
            "`true`: add signed timeline previews (`storyboard_url`, Mux only)",
            ObjectBuilder::new().schema_type(Type::Boolean).into(),
        ),
        (Route::ListOrders, "status") => ("Only orders in this state", s.of::<OrderStatus>()),
        (Route::ListOrders, "provider") => ("Only orders of this provider", s.of::<Provider>()),
        (Route::ListOrders, "user_id") => ("Only this buyer's orders", uuid().into()),
        (Route::ListOrders, "course_id") => ("Only orders for this course", uuid().into()),
        (Route::ListOrders, "flagged") => (
            "`true`: only orders flagged for review (`review_reason`)",
            ObjectBuilder::new().schema_type(Type::Boolean).into(),
        ),
        (Route::ListOrders | Route::MyOrders, "after") => {
            ("The last order id of the previous page", uuid().into())
        }
        (Route::ListOrders | Route::MyOrders, "limit") => ("Page size", page_size(200, 50).into()),
        (Route::ListCoupons, "owner") => (
            "Only this owner's coupons (admins; others see their own)",
            uuid().into(),
        ),
        _ => panic!("query parameter {name} of {route:?} is not documented"),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn header(description: &str, schema: ObjectBuilder) -> Header {
    let mut header = Header::new(schema);
    header.description = Some(description.to_owned());
    header
}

/// `route`'s operation at `pattern`.
fn operation(method: &Method, route: Route, pattern: &str, s: &mut Schemas) -> Operation {
    let spec = spec(route, s);
    let mut errors: BTreeSet<u16> = spec.errors.iter().copied().collect();
    // Limits can apply to any request, and any request can fail inside.
    errors.extend([429, 500]);
    let mut op = OperationBuilder::new()
        .operation_id(Some(operation_id(route)))
        .tag(spec.tag)
        .summary(Some(spec.summary));
    for name in path_params(pattern) {
        let (parameter, parsed) = path_param(route, name);
        if parsed {
            errors.insert(422);
        }
        op = op.parameter(parameter);
    }
    // The route table says which parameters a route takes; where it
    // checks them, an unknown one is a 422 even on a route that takes none.
    if let Some(query) = route.query_params() {
        for name in query {
            op = op.parameter(query_param(route, name, s));
        }
        errors.insert(422);
    }
    if spec.cached {
        op = op.parameter(
            ParameterBuilder::new()
                .name("If-None-Match")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "An `ETag` of an earlier answer: 304 while it still holds",
                ))
                .schema(Some(string())),
        );
    }
    // A JSON body is read; so is a body sent to a change that takes none,
    // to see that it says nothing.
    if spec.body.is_some() || route.wants_no_body(method) {
        errors.extend([400, 408, 413, 415, 422]);
    }
    if let Some(body) = spec.body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(JSON, ContentBuilder::new().schema(Some(body)).build())
                .build(),
        ));
    }
    if spec.file_body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(ANY, ContentBuilder::new().schema(Some(binary())).build())
                .build(),
        ));
        errors.extend([400, 408, 413]);
    }
    match spec.auth {
        Auth::None => {}
        Auth::Optional => {
            op = op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::default());
            errors.insert(401);
        }
        Auth::Required => {
            op = op.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
            errors.insert(401);
        }
    }

    let mut success = ResponseBuilder::new().description(
        spec.status
            .canonical_reason()
            .unwrap_or("Success")
            .to_owned(),
    );
    if let Some(answer) = spec.answer {
        success = success.content(
            spec.media,
            ContentBuilder::new().schema(Some(answer)).build(),
        );
    }
    if spec.location {
        success = success.header("Location", header("Where the new resource lives", string()));
    }
    if spec.cached {
        success = success.header("ETag", header("A strong tag of this answer", string()));
    }
    if spec.file_answer {
        success = success.header("Accept-Ranges", header("Always `bytes`", string()));
    }
    let mut responses = ResponsesBuilder::new().response(spec.status.as_str(), success.build());
    if spec.file_answer {
        responses = responses
            .response(
                "206",
                ResponseBuilder::new()
                    .description("The byte range a `Range` header asked for")
                    .header("Content-Range", header("`bytes first-last/size`", string()))
                    .content(ANY, ContentBuilder::new().schema(Some(binary())).build())
                    .build(),
            )
            .response(
                "416",
                ResponseBuilder::new()
                    .description("The range starts past the end; no body")
                    .header("Content-Range", header("`bytes */size`", string()))
                    .build(),
            );
    }
    if spec.cached {
        responses = responses.response(
            "304",
            ResponseBuilder::new()
                .description("Unchanged since the `If-None-Match` tag; no body")
                .header("ETag", header("The tag that still holds", string()))
                .build(),
        );
    }
    for status in errors {
        let name = problem_name(status);
        responses = responses.response(status.to_string(), Ref::from_response_name(name));
    }
    op.responses(responses.build()).build()
}

/// The component name of the problem response for `status`.
fn problem_name(status: u16) -> &'static str {
    PROBLEMS
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, name, _)| *name)
        .unwrap_or_else(|| panic!("no problem response for {status}"))
}

/// The stable operation id: the route's name in snake_case.
fn operation_id(route: Route) -> String {
    let mut id = String::new();
    for (i, c) in format!("{route:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                id.push('_');
            }
            id.push(c.to_ascii_lowercase());
        } else {
            id.push(c);
        }
    }
    id
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => panic!("the route table has a method OpenAPI paths do not: {method}"),
    }
}

/// The problem response for `status`: the `Problem` schema with the status
/// pinned, and the 422's `errors` required.
fn problem_response(status: u16, description: &str, s: &mut Schemas) -> utoipa::openapi::Response {
    let mut pinned = ObjectBuilder::new().property(
        "status",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some([status])),
    );
    if status == 422 {
        pinned = pinned.required("errors");
    }
    let schema = AllOfBuilder::new()
        .item(s.of::<problem::Body<'static>>())
        .item(pinned);
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new().schema(Some(schema)).build(),
    );
    match status {
        401 => {
            response = response.header(
                "WWW-Authenticate",
                header("Always `Bearer`", enumeration(&["Bearer"])),
            );
        }
        405 => {
            response = response.header("Allow", header("The methods the path takes", string()));
        }
        429 => {
            response = response.header(
                "Retry-After",
                header(
                    "Seconds to wait before trying again",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                ),
            );
        }
        _ => {}
    }
    response.build()
}

fn build() -> OpenApi {
    let mut s = Schemas::default();
    let mut paths = Paths::new();
    for (method, pattern, route) in TABLE {
        paths.add_path_operation(
            doc_path(pattern),
            vec![http_method(method)],
            operation(method, *route, pattern, &mut s),
        );
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An access token from `/api/v1/auth/register`, `login` or `refresh`",
                ))
                .build(),
        ),
    );
    for (status, name, description) in PROBLEMS {
        components = components.response(*name, problem_response(*status, description, &mut s));
    }
    let components = components.schemas_from_iter(s.0).build();
    let tags = [
        ("health", "Liveness and readiness"),
        ("auth", "Sign-up, log-in and sessions"),
        ("me", "The signed-in user's own account"),
        ("users", "Accounts, for admins"),
        ("courses", "The catalog and courses"),
        ("sections", "Sections of a course"),
        ("lectures", "Lectures of a section"),
        ("enrollments", "Who may open a course's lectures"),
        ("progress", "Completed lectures and resume positions"),
        ("media", "Uploads, files and video playback"),
        ("webhooks", "Events from providers, checked by signature"),
        ("live", "Live classes in LiveKit rooms"),
        ("payments", "Checkout, orders, refunds and coupons"),
        ("meta", "About the API itself"),
    ]
    .map(|(name, description)| {
        TagBuilder::new()
            .name(name)
            .description(Some(description))
            .build()
    });
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("lms")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The HTTP API of lms, an embeddable course-platform backend. Every answer \
                     carries `x-request-id`; errors are RFC 9457 problem documents \
                     (`application/problem+json`) with a stable `code`.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .tags(Some(tags))
        .build()
}

/// The document.
pub fn document() -> &'static OpenApi {
    static DOCUMENT: OnceLock<OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// The document as the JSON that is served, built once.
pub fn json() -> Bytes {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    JSON.get_or_init(|| {
        Bytes::from(serde_json::to_vec(document()).expect("the document serializes"))
    })
    .clone()
}

/// The pattern of the route that `method` and `path` reach, through the
/// server's own router; `None` when the answer is a 404 or 405. For tests
/// that check answers against the document.
#[doc(hidden)]
pub fn route_pattern(method: &Method, path: &str) -> Option<String> {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    match ROUTES.get_or_init(Routes::new).find(method, path) {
        Lookup::Found { entry, .. } => Some(doc_path(entry.pattern)),
        Lookup::MethodNotAllowed(_) | Lookup::Options(_) | Lookup::NotFound => None,
    }
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn serve(_ctx: Ctx<'_>) -> Result<Reply, Problem> {
    Ok(Reply {
        status: StatusCode::OK,
        body: Some(json()),
        content_type: crate::handlers::JSON,
        etag: true,
        tag: None,
        location: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_slice(&json()).unwrap()
    }

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = doc();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1."),
            "{}",
            doc["openapi"]
        );
        assert_eq!(doc["info"]["title"], "lms");
    }

    #[test]
    fn every_reference_points_into_the_document() {
        let doc = doc();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("remote ref {r}"));
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn every_table_route_is_one_operation_with_a_unique_id() {
        let doc = doc();
        let mut ids = BTreeSet::new();
        for (method, pattern, route) in TABLE {
            let op = &doc["paths"][doc_path(pattern)][method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{method} {pattern} is missing");
            let id = op["operationId"].as_str().unwrap();
            assert_eq!(id, operation_id(*route));
            assert!(ids.insert(id.to_owned()), "operation id {id} twice");
            assert!(op["responses"]["500"].is_object(), "{id}");
        }
    }

    #[test]
    fn path_parameters_are_those_of_the_pattern() {
        let doc = doc();
        for (method, pattern, _) in TABLE {
            let op = &doc["paths"][doc_path(pattern)][method.as_str().to_ascii_lowercase()];
            let documented: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(
                documented,
                path_params(pattern).collect::<Vec<_>>(),
                "{pattern}"
            );
        }
    }

    #[test]
    fn request_bodies_refuse_unknown_members_as_the_server_does() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        for name in [
            "Registration",
            "CourseInput",
            "ProfileUpdate",
            "RefreshToken",
            "EnrollmentGrant",
            "CheckoutInput",
            "CouponInput",
            "RefundInput",
            "RazorpayVerifyInput",
        ] {
            assert_eq!(schemas[name]["additionalProperties"], false, "{name}");
        }
    }

    #[test]
    fn the_routes_that_read_a_body_are_those_documented_with_one() {
        let doc = doc();
        for (method, pattern, route) in TABLE {
            let op = &doc["paths"][doc_path(pattern)][method.as_str().to_ascii_lowercase()];
            assert_eq!(
                op["requestBody"].is_object(),
                route.takes_body(),
                "{method} {pattern}"
            );
        }
    }

    #[test]
    fn operation_ids_are_snake_case_route_names() {
        assert_eq!(operation_id(Route::CourseEnrollments), "course_enrollments");
        assert_eq!(operation_id(Route::Me), "me");
    }
}
