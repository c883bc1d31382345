//! The route table: one matchit router per method, as in matchit's hyper
//! example. A path that some other method's router knows is a 405 with
//! `Allow`; a path nobody knows is a 404.
//!
//! Path parameters are named after what they hold (`course`, `section`,
//! `lecture`, `user`, `order`, `coupon`...), and the same segment has the
//! same name on every route, which matchit requires and which keeps error
//! messages uniform.

use http::Method;

use crate::handlers::{
    Ctx, Reply, auth, coupons, courses, enrollments, health, lectures, live, me, media, orders,
    payments, progress, sections, users,
};
use crate::metrics;
use crate::problem::Problem;

/// Every operation the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Readyz,
    Metrics,
    Register,
    Login,
    Refresh,
    Logout,
    Me,
    UpdateMe,
    DeleteMe,
    ChangePassword,
    MyEnrollments,
    ListUsers,
    GetUser,
    UpdateUser,
    Catalog,
    CreateCourse,
    GetCourse,
    UpdateCourse,
    DeleteCourse,
    PublishCourse,
    UnpublishCourse,
    ArchiveCourse,
    InstructorCourses,
    CreateSection,
    RenameSection,
    DeleteSection,
    MoveSection,
    CreateLecture,
    GetLecture,
    UpdateLecture,
    DeleteLecture,
    MoveLecture,
    Enroll,
    CourseEnrollments,
    GrantEnrollments,
    RevokeEnrollment,
    CourseProgress,
    ResetProgress,
    UpdateProgress,
    CreateUpload,
    GetUpload,
    CompleteUpload,
    LecturePlayback,
    LectureAttachments,
    MuxWebhook,
    UploadFile,
    DownloadFile,
    OpenApi,
    CreateLiveSession,
    CourseLiveSessions,
    GetLiveSession,
    UpdateLiveSession,
    CancelLiveSession,
    LiveToken,
    CreateIngress,
    LiveKitWebhook,
    Checkout,
    RazorpayVerify,
    StripeWebhook,
    RazorpayWebhook,
    ReconcilePayments,
    MyOrders,
    ListOrders,
    GetOrder,
    RefundOrder,
    MarkOrderPaid,
    CreateCoupon,
    ListCoupons,
    ValidateCoupon,
    DisableCoupon,
}

/// (method, path pattern, route). The patterns are what request logs show.
pub(crate) const TABLE: &[(Method, &str, Route)] = &[
    (Method::GET, "/healthz", Route::Healthz),
    (Method::GET, "/readyz", Route::Readyz),
    (Method::GET, "/metrics", Route::Metrics),
    (Method::POST, "/api/v1/auth/register", Route::Register),
    (Method::POST, "/api/v1/auth/login", Route::Login),
    (Method::POST, "/api/v1/auth/refresh", Route::Refresh),
    (Method::POST, "/api/v1/auth/logout", Route::Logout),
    (Method::GET, "/api/v1/me", Route::Me),
    (Method::PATCH, "/api/v1/me", Route::UpdateMe),
    (Method::DELETE, "/api/v1/me", Route::DeleteMe),
    (Method::POST, "/api/v1/me/password", Route::ChangePassword),
    (Method::GET, "/api/v1/me/enrollments", Route::MyEnrollments),
    (Method::GET, "/api/v1/users", Route::ListUsers),
    (Method::GET, "/api/v1/users/{user}", Route::GetUser),
    (Method::PATCH, "/api/v1/users/{user}", Route::UpdateUser),
    (Method::GET, "/api/v1/courses", Route::Catalog),
    (Method::POST, "/api/v1/courses", Route::CreateCourse),
    (Method::GET, "/api/v1/courses/{course}", Route::GetCourse),
    (
        Method::PATCH,
        "/api/v1/courses/{course}",
        Route::UpdateCourse,
    ),
    (
        Method::DELETE,
        "/api/v1/courses/{course}",
        Route::DeleteCourse,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/publish",
        Route::PublishCourse,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/unpublish",
        Route::UnpublishCourse,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/archive",
        Route::ArchiveCourse,
    ),
    (
        Method::GET,
        "/api/v1/instructor/courses",
        Route::InstructorCourses,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/sections",
        Route::CreateSection,
    ),
    (
        Method::PATCH,
        "/api/v1/sections/{section}",
        Route::RenameSection,
    ),
    (
        Method::DELETE,
        "/api/v1/sections/{section}",
        Route::DeleteSection,
    ),
    (
        Method::POST,
        "/api/v1/sections/{section}/move",
        Route::MoveSection,
    ),
    (
        Method::POST,
        "/api/v1/sections/{section}/lectures",
        Route::CreateLecture,
    ),
    (Method::GET, "/api/v1/lectures/{lecture}", Route::GetLecture),
    (
        Method::PATCH,
        "/api/v1/lectures/{lecture}",
        Route::UpdateLecture,
    ),
    (
        Method::DELETE,
        "/api/v1/lectures/{lecture}",
        Route::DeleteLecture,
    ),
    (
        Method::POST,
        "/api/v1/lectures/{lecture}/move",
        Route::MoveLecture,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/enroll",
        Route::Enroll,
    ),
    (
        Method::GET,
        "/api/v1/courses/{course}/enrollments",
        Route::CourseEnrollments,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/enrollments",
        Route::GrantEnrollments,
    ),
    (
        Method::DELETE,
        "/api/v1/courses/{course}/enrollments/{user}",
        Route::RevokeEnrollment,
    ),
    (
        Method::GET,
        "/api/v1/courses/{course}/progress",
        Route::CourseProgress,
    ),
    (
        Method::DELETE,
        "/api/v1/courses/{course}/progress",
        Route::ResetProgress,
    ),
    (
        Method::PUT,
        "/api/v1/lectures/{lecture}/progress",
        Route::UpdateProgress,
    ),
    (Method::POST, "/api/v1/uploads", Route::CreateUpload),
    (Method::GET, "/api/v1/uploads/{upload}", Route::GetUpload),
    (
        Method::POST,
        "/api/v1/uploads/{upload}/complete",
        Route::CompleteUpload,
    ),
    (
        Method::GET,
        "/api/v1/lectures/{lecture}/playback",
        Route::LecturePlayback,
    ),
    (
        Method::GET,
        "/api/v1/lectures/{lecture}/attachments",
        Route::LectureAttachments,
    ),
    (Method::POST, "/api/v1/webhooks/mux", Route::MuxWebhook),
    // Local storage's signed links (crate::files); answered outside
    // `dispatch` because their bodies are streamed.
    (Method::PUT, "/media/{*key}", Route::UploadFile),
    (Method::GET, "/media/{*key}", Route::DownloadFile),
    (Method::GET, "/api/v1/openapi.json", Route::OpenApi),
    (
        Method::POST,
        "/api/v1/courses/{course}/live-sessions",
        Route::CreateLiveSession,
    ),
    (
        Method::GET,
        "/api/v1/courses/{course}/live-sessions",
        Route::CourseLiveSessions,
    ),
    (
        Method::GET,
        "/api/v1/live-sessions/{live_session}",
        Route::GetLiveSession,
    ),
    (
        Method::PATCH,
        "/api/v1/live-sessions/{live_session}",
        Route::UpdateLiveSession,
    ),
    (
        Method::DELETE,
        "/api/v1/live-sessions/{live_session}",
        Route::CancelLiveSession,
    ),
    (
        Method::POST,
        "/api/v1/live-sessions/{live_session}/token",
        Route::LiveToken,
    ),
    (
        Method::POST,
        "/api/v1/live-sessions/{live_session}/ingress",
        Route::CreateIngress,
    ),
    (
        Method::POST,
        "/api/v1/webhooks/livekit",
        Route::LiveKitWebhook,
    ),
    (
        Method::POST,
        "/api/v1/courses/{course}/checkout",
        Route::Checkout,
    ),
    (
        Method::POST,
        "/api/v1/payments/razorpay/verify",
        Route::RazorpayVerify,
    ),
    (
        Method::POST,
        "/api/v1/webhooks/stripe",
        Route::StripeWebhook,
    ),
    (
        Method::POST,
        "/api/v1/webhooks/razorpay",
        Route::RazorpayWebhook,
    ),
    (
        Method::POST,
        "/api/v1/payments/reconcile",
        Route::ReconcilePayments,
    ),
    (Method::GET, "/api/v1/me/orders", Route::MyOrders),
    (Method::GET, "/api/v1/orders", Route::ListOrders),
    (Method::GET, "/api/v1/orders/{order}", Route::GetOrder),
    (
        Method::POST,
        "/api/v1/orders/{order}/refund",
        Route::RefundOrder,
    ),
    (
        Method::POST,
        "/api/v1/orders/{order}/mark-paid",
        Route::MarkOrderPaid,
    ),
    (Method::POST, "/api/v1/coupons", Route::CreateCoupon),
    (Method::GET, "/api/v1/coupons", Route::ListCoupons),
    (
        Method::POST,
        "/api/v1/coupons/validate",
        Route::ValidateCoupon,
    ),
    (
        Method::POST,
        "/api/v1/coupons/{coupon}/disable",
        Route::DisableCoupon,
    ),
];

/// The order methods are listed in an `Allow` header.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Every routed operation: (method, path pattern, route), in table order.
/// `HEAD` and `OPTIONS` are answered for every path and are not listed.
pub fn operations() -> impl Iterator<Item = (&'static Method, &'static str, Route)> {
    TABLE
        .iter()
        .map(|(method, pattern, route)| (method, *pattern, *route))
}

/// A matched route and its pattern.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// What to run.
    pub route: Route,
    /// The pattern it matched, for logs.
    pub pattern: &'static str,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    /// A route, with the path parameters.
    Found {
        entry: Entry,
        params: Vec<(String, String)>,
    },
    /// `OPTIONS` on a path that exists: the methods it takes.
    Options(String),
    /// The path exists for these other methods.
    MethodNotAllowed(String),
    /// No route has this path.
    NotFound,
}

/// One router per method.
#[derive(Debug)]
pub struct Routes {
    by_method: Vec<(Method, matchit::Router<Entry>)>,
}

impl Routes {
    /// Builds the routers from [`TABLE`]. A conflicting table is a bug in
    /// this file, caught by the tests, so it panics.
    pub fn new() -> Self {
        let mut by_method: Vec<(Method, matchit::Router<Entry>)> = Vec::new();
        for (method, pattern, route) in TABLE {
            let at = match by_method.iter().position(|(m, _)| m == method) {
                Some(at) => at,
                None => {
                    by_method.push((method.clone(), matchit::Router::new()));
                    by_method.len() - 1
                }
            };
            let entry = Entry {
                route: *route,
                pattern,
            };
            by_method[at]
                .1
                .insert(*pattern, entry)
                .unwrap_or_else(|e| panic!("route {method} {pattern}: {e}"));
        }
        Self { by_method }
    }

    /// Finds the route for `method` and `path`. `HEAD` is answered as `GET`
    /// (the body is dropped later).
    pub fn find(&self, method: &Method, path: &str) -> Lookup {
        let as_method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if let Some((_, router)) = self.by_method.iter().find(|(m, _)| m == as_method)
            && let Ok(matched) = router.at(path)
        {
            // Ids and slugs are compared decoded (`%2D` is `-`); a file key
            // is kept as sent, since its link was signed over those bytes.
            let keep_as_sent = matched.value.pattern.contains("{*");
            let params = matched
                .params
                .iter()
                .map(|(k, v)| {
                    let decoded = percent_encoding::percent_decode_str(v).decode_utf8();
                    let value = match decoded {
                        Ok(text) if !keep_as_sent => text.into_owned(),
                        _ => v.to_owned(),
                    };
                    (k.to_owned(), value)
                })
                .collect();
            return Lookup::Found {
                entry: *matched.value,
                params,
            };
        }
        let mut allow: Vec<&str> = Vec::new();
        for m in &METHODS {
            let routed = self
                .by_method
                .iter()
                .any(|(method, router)| method == m && router.at(path).is_ok());
            if routed {
                allow.push(m.as_str());
                if m == Method::GET {
                    allow.push(Method::HEAD.as_str());
                }
            }
        }
        if allow.is_empty() {
            return Lookup::NotFound;
        }
        allow.push(Method::OPTIONS.as_str());
        let allow = allow.join(", ");
        if method == Method::OPTIONS {
            Lookup::Options(allow)
        } else {
            Lookup::MethodNotAllowed(allow)
        }
    }
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /metrics`: the Prometheus exposition.
fn metrics_text(ctx: Ctx<'_>) -> Result<Reply, Problem> {
    let text = ctx.app().metrics().encode(ctx.lms().store().pool_stats());
    Ok(Reply::text(metrics::CONTENT_TYPE, text))
}

impl Route {
    /// The query parameters the route takes, checked before its handler
    /// runs, so that a parameter a route does not know is a 422 there too
    /// rather than silently ignored (`/me/enrollments?limit=1` answering
    /// every enrollment). `None`: the query is not ours to judge (probes with
    /// cache-busting parameters, provider webhooks at a URL the operator
    /// chose, signed file links).
    pub(crate) fn query_params(self) -> Option<&'static [&'static str]> {
        match self {
            Route::Healthz
            | Route::Readyz
            | Route::Metrics
            | Route::MuxWebhook
            | Route::LiveKitWebhook
            | Route::StripeWebhook
            | Route::RazorpayWebhook
            | Route::UploadFile
            | Route::DownloadFile => None,
            Route::ListUsers => Some(users::LIST_QUERY),
            Route::Catalog => Some(courses::CATALOG_QUERY),
            Route::InstructorCourses => Some(courses::INSTRUCTOR_QUERY),
            Route::CourseEnrollments => Some(enrollments::LIST_QUERY),
            Route::LecturePlayback => Some(media::PLAYBACK_QUERY),
            Route::MyOrders => Some(orders::MINE_QUERY),
            Route::ListOrders => Some(orders::LIST_QUERY),
            Route::ListCoupons => Some(coupons::LIST_QUERY),
            _ => Some(&[]),
        }
    }

    /// Whether the route reads a request body: the operations whose
    /// OpenAPI entry has one (a test holds the two together).
    pub(crate) fn takes_body(self) -> bool {
        matches!(
            self,
            Route::Register
                | Route::Login
                | Route::Refresh
                | Route::Logout
                | Route::UpdateMe
                | Route::DeleteMe
                | Route::ChangePassword
                | Route::UpdateUser
                | Route::CreateCourse
                | Route::UpdateCourse
                | Route::CreateSection
                | Route::RenameSection
                | Route::MoveSection
                | Route::CreateLecture
                | Route::UpdateLecture
                | Route::MoveLecture
                | Route::GrantEnrollments
                | Route::UpdateProgress
                | Route::CreateUpload
                | Route::MuxWebhook
                | Route::UploadFile
                | Route::CreateLiveSession
                | Route::UpdateLiveSession
                | Route::CreateIngress
                | Route::LiveKitWebhook
                | Route::Checkout
                | Route::RazorpayVerify
                | Route::StripeWebhook
                | Route::RazorpayWebhook
                | Route::RefundOrder
                | Route::CreateCoupon
                | Route::ValidateCoupon
        )
    }

    /// Whether a request to the route by `method` must come with no body
    /// (see [`Ctx::no_body`]): a change that reads none. A `GET` body has
    /// no meaning (RFC 9110) and is left unread.
    pub(crate) fn wants_no_body(self, method: &Method) -> bool {
        !self.takes_body() && method != Method::GET && method != Method::HEAD
    }
}

/// Runs the handler of `route`, once its query parameters are known ones
/// and, for a change that reads no body, once it is sure none was sent.
pub(crate) async fn dispatch(route: Route, ctx: Ctx<'_>) -> Result<Reply, Problem> {
    if let Some(allowed) = route.query_params() {
        ctx.query(allowed)?;
    }
    if route.wants_no_body(ctx.method()) {
        ctx.no_body().await?;
    }
    match route {
        Route::Healthz => health::healthz(ctx).await,
        Route::Readyz => health::readyz(ctx).await,
        Route::Metrics => metrics_text(ctx),
        Route::Register => auth::register(ctx).await,
        Route::Login => auth::login(ctx).await,
        Route::Refresh => auth::refresh(ctx).await,
        Route::Logout => auth::logout(ctx).await,
        Route::Me => me::get(ctx).await,
        Route::UpdateMe => me::update(ctx).await,
        Route::DeleteMe => me::delete(ctx).await,
        Route::ChangePassword => me::change_password(ctx).await,
        Route::MyEnrollments => enrollments::mine(ctx).await,
        Route::ListUsers => users::list(ctx).await,
        Route::GetUser => users::get(ctx).await,
        Route::UpdateUser => users::update(ctx).await,
        Route::Catalog => courses::catalog(ctx).await,
        Route::CreateCourse => courses::create(ctx).await,
        Route::GetCourse => courses::detail(ctx).await,
        Route::UpdateCourse => courses::update(ctx).await,
        Route::DeleteCourse => courses::delete(ctx).await,
        Route::PublishCourse => courses::publish(ctx).await,
        Route::UnpublishCourse => courses::unpublish(ctx).await,
        Route::ArchiveCourse => courses::archive(ctx).await,
        Route::InstructorCourses => courses::instructor(ctx).await,
        Route::CreateSection => sections::create(ctx).await,
        Route::RenameSection => sections::rename(ctx).await,
        Route::DeleteSection => sections::delete(ctx).await,
        Route::MoveSection => sections::move_to(ctx).await,
        Route::CreateLecture => lectures::create(ctx).await,
        Route::GetLecture => lectures::get(ctx).await,
        Route::UpdateLecture => lectures::update(ctx).await,
        Route::DeleteLecture => lectures::delete(ctx).await,
        Route::MoveLecture => lectures::move_to(ctx).await,
        Route::Enroll => enrollments::enroll(ctx).await,
        Route::CourseEnrollments => enrollments::list(ctx).await,
        Route::GrantEnrollments => enrollments::grant(ctx).await,
        Route::RevokeEnrollment => enrollments::revoke(ctx).await,
        Route::CourseProgress => progress::get(ctx).await,
        Route::ResetProgress => progress::reset(ctx).await,
        Route::UpdateProgress => progress::update(ctx).await,
        Route::CreateUpload => media::create(ctx).await,
        Route::GetUpload => media::get(ctx).await,
        Route::CompleteUpload => media::complete(ctx).await,
        Route::LecturePlayback => media::playback(ctx).await,
        Route::LectureAttachments => media::attachments(ctx).await,
        Route::MuxWebhook => media::mux_webhook(ctx).await,
        Route::UploadFile | Route::DownloadFile => Err(Problem::internal(
            "file routes are streamed by crate::files, not dispatched",
        )),
        Route::OpenApi => crate::openapi::serve(ctx).await,
        Route::CreateLiveSession => live::create(ctx).await,
        Route::CourseLiveSessions => live::list(ctx).await,
        Route::GetLiveSession => live::get(ctx).await,
        Route::UpdateLiveSession => live::update(ctx).await,
        Route::CancelLiveSession => live::cancel(ctx).await,
        Route::LiveToken => live::token(ctx).await,
        Route::CreateIngress => live::ingress(ctx).await,
        Route::LiveKitWebhook => live::webhook(ctx).await,
        Route::Checkout => payments::checkout(ctx).await,
        Route::RazorpayVerify => payments::razorpay_verify(ctx).await,
        Route::StripeWebhook => payments::stripe_webhook(ctx).await,
        Route::RazorpayWebhook => payments::razorpay_webhook(ctx).await,
        Route::ReconcilePayments => payments::reconcile(ctx).await,
        Route::MyOrders => orders::mine(ctx).await,
        Route::ListOrders => orders::list(ctx).await,
        Route::GetOrder => orders::get(ctx).await,
        Route::RefundOrder => orders::refund(ctx).await,
        Route::MarkOrderPaid => orders::mark_paid(ctx).await,
        Route::CreateCoupon => coupons::create(ctx).await,
        Route::ListCoupons => coupons::list(ctx).await,
        Route::ValidateCoupon => coupons::validate(ctx).await,
        Route::DisableCoupon => coupons::disable(ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_builds_without_conflicts() {
        Routes::new();
    }

    #[test]
    fn a_known_path_with_another_method_lists_the_methods_it_takes() {
        let routes = Routes::new();
        match routes.find(&Method::PUT, "/api/v1/courses/abc") {
            Lookup::MethodNotAllowed(allow) => {
                assert_eq!(allow, "GET, HEAD, PATCH, DELETE, OPTIONS")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn head_is_answered_as_get_and_options_lists_the_methods() {
        let routes = Routes::new();
        let Lookup::Found { entry, .. } = routes.find(&Method::HEAD, "/api/v1/courses") else {
            panic!("HEAD not routed");
        };
        assert_eq!(entry.route, Route::Catalog);
        match routes.find(&Method::OPTIONS, "/api/v1/auth/login") {
            Lookup::Options(allow) => assert_eq!(allow, "POST, OPTIONS"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            routes.find(&Method::OPTIONS, "/nope"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn an_unknown_path_is_not_found() {
        let routes = Routes::new();
        assert!(matches!(
            routes.find(&Method::GET, "/api/v1/nope"),
            Lookup::NotFound
        ));
        assert!(matches!(
            routes.find(&Method::GET, "/api/v1/courses/"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn path_parameters_come_back_by_name() {
        let routes = Routes::new();
        let Lookup::Found { entry, params } =
            routes.find(&Method::DELETE, "/api/v1/courses/c1/enrollments/u1")
        else {
            panic!("not found");
        };
        assert_eq!(entry.route, Route::RevokeEnrollment);
        assert_eq!(
            params,
            [("course".into(), "c1".into()), ("user".into(), "u1".into())]
        );
    }

    #[test]
    fn path_parameters_are_percent_decoded_except_a_signed_file_key() {
        let routes = Routes::new();
        let Lookup::Found { params, .. } =
            routes.find(&Method::GET, "/api/v1/courses/rust%2Dfrom%2Dzero")
        else {
            panic!("not found");
        };
        assert_eq!(params, [("course".into(), "rust-from-zero".into())]);
        let Lookup::Found { params, .. } = routes.find(&Method::GET, "/media/lectures/a%20b.pdf")
        else {
            panic!("not found");
        };
        assert_eq!(params, [("key".into(), "lectures/a%20b.pdf".into())]);
    }
}
