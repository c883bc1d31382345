//! The authorization matrix: every routed operation, taken from the router
//! itself, called by each kind of principal, with the status each must get.
//!
//! Each (route, principal) call runs against a fresh course, so one call's
//! success (a delete, a publish) cannot change what the next one sees.
//! Routes that end or change the caller's own account get fresh users too.
//! The expectations are a `match` over [`Route`] without a catch-all, so a
//! new route without a row does not compile.

mod common;

use std::collections::BTreeSet;

use common::payments::{self as pay, RZP_KEY_ID};
use common::{PASSWORD, Session, TestApp, http_config};
use http::Method;
use lms_core::{Lms, Role};
use lms_http::{App, Route};
use lms_tests::fake::FakeApi;
use serde_json::{Value, json};

on_both_stores!(every_route_answers_each_principal_as_the_rules_say);

/// Who calls, in the order of the expectation arrays.
const PRINCIPALS: [&str; 6] = [
    "anonymous",
    "student not enrolled",
    "enrolled student",
    "owning instructor",
    "other instructor",
    "admin",
];

/// The statuses one route gives each principal.
type Row = [u16; 6];

fn expected(route: Route) -> Row {
    use Route::*;
    // anonymous, student, enrolled, owner, other instructor, admin
    match route {
        Healthz | Readyz | Metrics | OpenApi | Catalog | GetCourse => [200; 6],
        Register => [201; 6],
        Login | Refresh => [200; 6],
        Logout => [204; 6],
        Me | UpdateMe | ChangePassword | MyEnrollments => [401, 200, 200, 200, 200, 200],
        DeleteMe => [401, 204, 204, 204, 204, 204],
        ListUsers | GetUser | UpdateUser => [401, 403, 403, 403, 403, 200],
        CreateCourse => [401, 403, 403, 201, 201, 201],
        InstructorCourses => [401, 403, 403, 200, 200, 200],
        UpdateCourse | PublishCourse | ArchiveCourse | RenameSection | MoveSection
        | UpdateLecture | MoveLecture | CourseEnrollments | GrantEnrollments | RevokeEnrollment => {
            [401, 403, 403, 200, 403, 200]
        }
        CreateSection | CreateLecture => [401, 403, 403, 201, 403, 201],
        // A course with a learner keeps its history: deleting it is refused
        // after the authorization check passed.
        DeleteCourse => [401, 403, 403, 409, 403, 409],
        // Nor back to a draft, which would shut the learner out.
        UnpublishCourse => [401, 403, 403, 409, 403, 409],
        DeleteSection | DeleteLecture => [401, 403, 403, 204, 403, 204],
        GetLecture => [401, 403, 200, 200, 403, 200],
        // Anyone signed in may join a published free course.
        Enroll => [401, 200, 200, 200, 200, 200],
        // Progress is one's own: without an enrollment there is none.
        CourseProgress | ResetProgress => [401, 404, 200, 404, 404, 404],
        UpdateProgress => [401, 403, 200, 403, 403, 403],
        // Files for a lecture are its course's managers' to upload.
        CreateUpload => [401, 403, 403, 201, 403, 201],
        // An upload is its uploader's (the owner here) and admins'; to
        // others it does not exist.
        GetUpload | CompleteUpload => [401, 404, 404, 200, 404, 200],
        // Whoever may open the lecture may play it and get its files.
        LecturePlayback | LectureAttachments => [401, 403, 200, 200, 403, 200],
        // Without Mux configured there is no endpoint; with it, callers are
        // told apart by signature (tests/media.rs), not by token.
        MuxWebhook => [404; 6],
        // Storage links are opened by their signature alone: no bearer token
        // opens a private file, an admin's neither.
        UploadFile | DownloadFile => [403; 6],
        CreateLiveSession => [401, 403, 403, 201, 403, 201],
        // Live classes are for those who may open the course's lectures.
        CourseLiveSessions | GetLiveSession | LiveToken => [401, 403, 200, 200, 403, 200],
        UpdateLiveSession | CancelLiveSession | CreateIngress => [401, 403, 403, 200, 403, 200],
        // Only LiveKit's signature admits a delivery, never a user's token.
        LiveKitWebhook => [401; 6],
        // The enrolled student bought the paid course already, and its
        // owner has nothing to buy; anyone else signed in may buy it.
        Checkout => [401, 201, 409, 409, 201, 201],
        // An order is its buyer's (the enrolled student) and admins'; to
        // others it does not exist.
        RazorpayVerify | GetOrder => [401, 404, 200, 404, 404, 200],
        // Providers' signatures admit deliveries, never a user's token.
        StripeWebhook | RazorpayWebhook => [401; 6],
        ReconcilePayments | ListOrders | RefundOrder | MarkOrderPaid => {
            [401, 403, 403, 403, 403, 200]
        }
        // Everyone signed in has orders and coupons of their own (maybe none).
        MyOrders | ListCoupons | ValidateCoupon => [401, 200, 200, 200, 200, 200],
        // Coupons for a course are its managers' to make and disable.
        CreateCoupon => [401, 403, 403, 201, 403, 201],
        DisableCoupon => [401, 404, 404, 200, 404, 200],
    }
}

/// Routes that end, re-password or otherwise spend the caller's account.
fn needs_fresh_users(route: Route) -> bool {
    matches!(route, Route::DeleteMe | Route::ChangePassword)
}

/// The signed-in principals (index 1..6 of [`PRINCIPALS`]).
struct People {
    student: Session,
    enrolled: Session,
    owner: Session,
    other: Session,
    admin: Session,
    /// Someone only admins may look at or change.
    victim: Session,
    victim_email: String,
}

impl People {
    async fn new(t: &TestApp) -> Self {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let email = |who: &str| format!("{who}-{tag}@example.com");
        Self {
            student: t.register(&email("student")).await,
            enrolled: t.register(&email("enrolled")).await,
            owner: t.staff(&email("owner"), Role::Instructor).await,
            other: t.staff(&email("other"), Role::Instructor).await,
            admin: t.staff(&email("admin"), Role::Admin).await,
            victim: t.register(&email("victim")).await,
            victim_email: email("victim"),
        }
    }

    fn token(&self, principal: usize) -> Option<&str> {
        let session = match principal {
            0 => return None,
            1 => &self.student,
            2 => &self.enrolled,
            3 => &self.owner,
            4 => &self.other,
            _ => &self.admin,
        };
        Some(&session.token)
    }
}

/// A published free course of the owner with one section of two lectures,
/// the enrolled student enrolled.
struct Course {
    id: String,
    section: String,
    lecture: String,
    /// The owner's attachment upload for the lecture, sent, not completed.
    upload: String,
    /// The storage key of the lecture's video.
    video_key: String,
}

/// The path and query of a local-storage link, to call in process.
fn link_path(url: &str) -> &str {
    &url[url.find("/media/").expect("a local media link")..]
}

/// An upload for `lecture` by `token`, the file sent; completed when asked.
/// Returns the ticket's upload id and the stored object's key.
async fn upload(
    t: &TestApp,
    token: &str,
    lecture: &str,
    (purpose, name, content_type): (&str, &str, &str),
    complete: bool,
) -> (String, String) {
    let bytes = b"0123456789";
    let ticket = t
        .post("/api/v1/uploads")
        .token(token)
        .json(json!({
            "purpose": purpose,
            "file_name": name,
            "content_type": content_type,
            "size": bytes.len(),
            "lecture_id": lecture,
        }))
        .send()
        .await;
    assert_eq!(ticket.status, 201, "{:?}", ticket.body);
    let ticket = ticket.json();
    let url = ticket["url"].as_str().unwrap();
    let sent = t
        .call(Method::PUT, link_path(url))
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    let id = ticket["upload_id"].as_str().unwrap().to_owned();
    let asset = if complete {
        t.post(&format!("/api/v1/uploads/{id}/complete"))
            .token(token)
            .send()
            .await
    } else {
        t.get(&format!("/api/v1/uploads/{id}"))
            .token(token)
            .send()
            .await
    };
    assert_eq!(asset.status, 200, "{:?}", asset.body);
    let key = asset.json()["object_key"].as_str().unwrap().to_owned();
    (id, key)
}

async fn course(t: &TestApp, people: &People) -> Course {
    let owner = &people.owner.token;
    let created = t
        .post("/api/v1/courses")
        .token(owner)
        // Unique titles: each derives its own slug at once.
        .json(json!({"title": format!("Matrix {}", uuid::Uuid::now_v7().simple())}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let section = t
        .post(&format!("/api/v1/courses/{id}/sections"))
        .token(owner)
        .json(json!({"title": "Basics"}))
        .send()
        .await;
    assert_eq!(section.status, 201, "{:?}", section.body);
    let section = section.json()["id"].as_str().unwrap().to_owned();
    let mut lectures = Vec::new();
    for title in ["One", "Two"] {
        let lecture = t
            .post(&format!("/api/v1/sections/{section}/lectures"))
            .token(owner)
            .json(json!({"title": title, "kind": "video", "duration_secs": 300}))
            .send()
            .await;
        assert_eq!(lecture.status, 201, "{:?}", lecture.body);
        lectures.push(lecture.json()["id"].as_str().unwrap().to_owned());
    }
    // A lecture elsewhere, so the published course keeps one when
    // `section` is deleted.
    let more = t
        .post(&format!("/api/v1/courses/{id}/sections"))
        .token(owner)
        .json(json!({"title": "More"}))
        .send()
        .await;
    assert_eq!(more.status, 201, "{:?}", more.body);
    let more = more.json()["id"].as_str().unwrap().to_owned();
    let kept = t
        .post(&format!("/api/v1/sections/{more}/lectures"))
        .token(owner)
        .json(json!({"title": "Kept", "kind": "article"}))
        .send()
        .await;
    assert_eq!(kept.status, 201, "{:?}", kept.body);
    let published = t
        .post(&format!("/api/v1/courses/{id}/publish"))
        .token(owner)
        .send()
        .await;
    assert_eq!(published.status, 200, "{:?}", published.body);
    let granted = t
        .post(&format!("/api/v1/courses/{id}/enrollments"))
        .token(owner)
        .json(json!({"user_id": people.enrolled.id}))
        .send()
        .await;
    assert_eq!(granted.status, 200, "{:?}", granted.body);
    let lecture = lectures.swap_remove(0);
    let video = ("lecture_video", "intro.mp4", "video/mp4");
    let (_, video_key) = upload(t, owner, &lecture, video, true).await;
    let notes = ("lecture_attachment", "notes.pdf", "application/pdf");
    let (upload, _) = upload(t, owner, &lecture, notes, false).await;
    Course {
        id,
        section,
        lecture,
        upload,
        video_key,
    }
}

/// A scheduled live class on the course, by the operator.
async fn live_session(t: &TestApp, course: &Course) -> String {
    let course = lms_core::CourseId::parse("course", &course.id).unwrap();
    let input = lms_core::LiveSessionInput {
        title: "Matrix class".into(),
        starts_at: t.lms.now() + chrono::Duration::hours(1),
    };
    let session = t
        .lms
        .create_live_session(&lms_core::Actor::System, course, input)
        .await
        .unwrap();
    session.id.to_string()
}

/// Payment routes' world: a paid course of the owner that the enrolled
/// student bought through Razorpay, and a coupon of the owner for it.
struct Sale {
    course: String,
    order: String,
    razorpay_order: String,
    payment: String,
    coupon: String,
    code: String,
}

fn sells(route: Route) -> bool {
    use Route::*;
    matches!(
        route,
        Checkout
            | RazorpayVerify
            | GetOrder
            | RefundOrder
            | MarkOrderPaid
            | CreateCoupon
            | ValidateCoupon
            | DisableCoupon
    )
}

async fn sale(t: &TestApp, people: &People) -> Sale {
    let course = pay::paid_course(t, &people.owner, 2500, "INR").await;
    let checkout = t
        .post(&format!("/api/v1/courses/{course}/checkout"))
        .token(&people.enrolled.token)
        .json(json!({"provider": "razorpay"}))
        .send()
        .await;
    assert_eq!(checkout.status, 201, "{:?}", checkout.body);
    let checkout = checkout.json();
    assert_eq!(checkout["razorpay"]["key_id"], RZP_KEY_ID);
    let order = checkout["order_id"].as_str().unwrap().to_owned();
    let razorpay_order = checkout["razorpay"]["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let payment = format!("pay_{}", uuid::Uuid::now_v7().simple());
    let paid = t
        .post("/api/v1/payments/razorpay/verify")
        .token(&people.enrolled.token)
        .json(json!({
            "order_id": order,
            "razorpay_payment_id": payment,
            "razorpay_signature": pay::razorpay_payment_signature(&razorpay_order, &payment),
        }))
        .send()
        .await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    let code = format!("M{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let coupon = t
        .post("/api/v1/coupons")
        .token(&people.owner.token)
        .json(json!({"code": code, "course_id": course, "percent_off": 10}))
        .send()
        .await;
    assert_eq!(coupon.status, 201, "{:?}", coupon.body);
    Sale {
        course,
        order,
        razorpay_order,
        payment,
        coupon: coupon.json()["id"].as_str().unwrap().to_owned(),
        code,
    }
}

/// The body a route needs to succeed for someone allowed to call it.
async fn body(
    t: &TestApp,
    route: Route,
    people: &People,
    course: &Course,
    sale: Option<&Sale>,
) -> Option<Value> {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    Some(match route {
        Route::Register => json!({
            "email": format!("new-{unique}@example.com"),
            "password": PASSWORD,
            "display_name": "Newcomer",
        }),
        Route::Login => json!({"email": people.victim_email, "password": PASSWORD}),
        // A session of its own, so the shared ones stay live.
        Route::Refresh | Route::Logout => {
            let session = t.login(&people.victim_email).await;
            json!({"refresh_token": session.refresh})
        }
        Route::UpdateMe => json!({"display_name": "Renamed"}),
        Route::DeleteMe => json!({"password": PASSWORD}),
        Route::ChangePassword => json!({
            "current_password": PASSWORD,
            "new_password": "another long passphrase 43",
        }),
        Route::UpdateUser => json!({"role": "instructor"}),
        Route::CreateCourse => json!({"title": format!("Another {unique}")}),
        Route::UpdateCourse => json!({"title": format!("Renamed {unique}")}),
        Route::CreateSection | Route::RenameSection => json!({"title": "Section"}),
        Route::MoveSection | Route::MoveLecture => json!({"position": 0}),
        Route::CreateLecture => json!({"title": "Three", "kind": "article"}),
        Route::UpdateLecture => json!({"title": "Renamed lecture"}),
        Route::GrantEnrollments => json!({"user_id": people.student.id}),
        Route::UpdateProgress => json!({"completed": true}),
        Route::CreateUpload => json!({
            "purpose": "lecture_attachment",
            "file_name": "slides.pdf",
            "content_type": "application/pdf",
            "size": 1000,
            "lecture_id": course.lecture,
        }),
        Route::MuxWebhook => json!({"type": "video.asset.ready", "id": unique}),
        Route::CreateLiveSession => json!({
            "title": "Office hours",
            "starts_at": (t.lms.now() + chrono::Duration::hours(1)).to_rfc3339(),
        }),
        Route::UpdateLiveSession => json!({"title": "Office hours, moved"}),
        Route::CreateIngress => json!({"input_type": "rtmp"}),
        Route::LiveKitWebhook => json!({"event": "room_started", "id": unique}),
        Route::Checkout => json!({"provider": "manual"}),
        Route::RazorpayVerify => {
            let sale = sale?;
            json!({
                "order_id": sale.order,
                "razorpay_payment_id": sale.payment,
                "razorpay_signature":
                    pay::razorpay_payment_signature(&sale.razorpay_order, &sale.payment),
            })
        }
        Route::StripeWebhook => json!({"id": format!("evt_{unique}"), "type": "charge.refunded"}),
        Route::RazorpayWebhook => json!({"event": "payment.captured", "payload": {}}),
        Route::RefundOrder => json!({}),
        Route::CreateCoupon => json!({
            "code": format!("N{}", &unique[20..]),
            "course_id": sale?.course,
            "percent_off": 20,
        }),
        Route::ValidateCoupon => json!({"code": sale?.code, "course_id": sale?.course}),
        _ => return None,
    })
}

/// The pattern with its parameters filled in from the world.
fn path(
    pattern: &str,
    route: Route,
    people: &People,
    course: &Course,
    sale: Option<&Sale>,
) -> String {
    let user = match route {
        Route::RevokeEnrollment => &people.enrolled.id,
        _ => &people.victim.id,
    };
    let mut path = pattern.to_owned();
    if let Some(sale) = sale {
        path = path
            .replace("{course}", &sale.course)
            .replace("{order}", &sale.order)
            .replace("{coupon}", &sale.coupon);
    }
    path.replace("{course}", &course.id)
        .replace("{section}", &course.section)
        .replace("{lecture}", &course.lecture)
        .replace("{user}", user)
        .replace("{upload}", &course.upload)
        .replace("{*key}", &course.video_key)
}

async fn every_route_answers_each_principal_as_the_rules_say(t: TestApp) {
    // Limits would turn repeated logins into 429s; this test is about who
    // may do what.
    let mut config = common::core_config();
    config.auth_rate_per_minute = 0;
    config.auth_account_rate_per_minute = 0;
    // LiveKit on a loopback fake, so hosts' ingresses succeed; ingress ids
    // are unique at LiveKit, so the fake numbers them.
    let made = std::sync::atomic::AtomicU64::new(0);
    let livekit = FakeApi::start(move |_| {
        let n = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (
            http::StatusCode::OK,
            json!({"ingress_id": format!("IN_{n}"), "url": "rtmp://x", "stream_key": "k"}),
        )
    })
    .await;
    config.livekit_url = Some(livekit.url.replacen("http://", "ws://", 1));
    config.livekit_api_key = Some("APImatrix".into());
    config.livekit_api_secret = "matrix-livekit-secret".into();
    // Stripe and Razorpay on loopback fakes, so the buyer's order is paid
    // and an admin's refund goes through.
    let (stripe, razorpay) = (pay::fake_stripe().await, pay::fake_razorpay().await);
    let config = pay::with_providers(config, &stripe, &razorpay);
    let lms = Lms::builder(config)
        .store(t.lms.store().clone())
        .build()
        .unwrap();
    let t = TestApp {
        app: App::new(lms.clone(), http_config()),
        lms,
    };

    let shared = People::new(&t).await;
    let mut covered = BTreeSet::new();
    let mut wrong = Vec::new();
    for (method, pattern, route) in lms_http::routes::operations() {
        covered.insert(format!("{route:?}"));
        let row = expected(route);
        for (principal, &want) in row.iter().enumerate() {
            let fresh;
            let people = if needs_fresh_users(route) {
                fresh = People::new(&t).await;
                &fresh
            } else {
                &shared
            };
            let course = course(&t, people).await;
            let sale = if sells(route) {
                Some(sale(&t, people).await)
            } else {
                None
            };
            let sale = sale.as_ref();
            let mut path = path(pattern, route, people, &course, sale);
            if pattern.contains("{live_session}") {
                path = path.replace("{live_session}", &live_session(&t, &course).await);
            }
            let mut call = t.call(method.clone(), &path);
            if let Some(token) = people.token(principal) {
                call = call.token(token);
            }
            if let Some(body) = body(&t, route, people, &course, sale).await {
                call = call.json(body);
            }
            let reply = call.send().await;
            if reply.status != want {
                wrong.push(format!(
                    "{method} {pattern} ({route:?}) as {}: got {}, want {want}: {}",
                    PRINCIPALS[principal],
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let routes = lms_http::routes::operations().count();
    assert_eq!(covered.len(), routes, "two table rows share a route");
}
