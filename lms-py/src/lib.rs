//! PyO3 bindings: the native module `lms._lms` behind the `lms` Python
//! package, for FastAPI-style asyncio hosts.
//!
//! The layer is deliberately thin and generic. Keyword arguments become a
//! `serde_json::Value` and deserialize into the core's own request structs,
//! so unknown or missing fields fail exactly as they do over HTTP; results
//! are serialized with serde and handed to `lms._records`, which wraps them
//! in attribute-access records whose `to_dict()` is the HTTP API's JSON.
//! Every method returns an awaitable on the caller's asyncio loop
//! (`pyo3_async_runtimes::tokio::future_into_py`): the core runs on a tokio
//! runtime without the GIL, and the GIL is only taken to build the result.
//!
//! Errors map from `Error::kind()` in one place, [`to_py_err`], onto the
//! exception classes of `lms._errors`.

use std::future::Future;
use std::net::IpAddr;

use lms_core::objects::Objects;
use lms_core::{
    AccountUpdate, Actor, AssetId, AuthAction, CatalogQuery, CheckoutInput, Config, CouponCheck,
    CouponId, CouponInput, CourseExport, CourseId, CourseInput, CourseStatus, CourseUpdate,
    Credentials, EnrollmentId, Error, ErrorKind, EventQuery, FieldError, GrantInput, IngressInput,
    LectureId, LectureInput, LectureMove, LectureUpdate, LiveSessionId, LiveSessionInput,
    LiveSessionUpdate, NewAccount, OrderId, OrderQuery, PasswordChange, PlaybackOptions,
    ProfileUpdate, ProgressUpdate, RazorpayVerifyInput, RefundInput, Registration, Role, SectionId,
    SectionInput, Timestamp, UploadInput, UserId, UserQuery,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Who is acting: what `await lms.authenticate(token)` answers, passed to
/// every operation. `Actor.anonymous()` and `Actor.system()` (the operator,
/// for admin scripts) need no token.
#[pyclass(module = "lms._lms", name = "Actor", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
struct PyActor(Actor);

#[pymethods]
impl PyActor {
    /// Nobody signed in.
    #[staticmethod]
    fn anonymous() -> Self {
        Self(Actor::Anonymous)
    }

    /// The operator: may do anything. For trusted scripts only.
    #[staticmethod]
    fn system() -> Self {
        Self(Actor::System)
    }

    /// `anonymous`, `system` or `user`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.0 {
            Actor::Anonymous => "anonymous",
            Actor::System => "system",
            Actor::User { .. } => "user",
        }
    }

    /// The signed-in user's id, else None.
    #[getter]
    fn user_id(&self) -> Option<String> {
        self.0.user_id().map(|id| id.to_string())
    }

    /// The signed-in user's role, else None.
    #[getter]
    fn role(&self) -> Option<&'static str> {
        match self.0 {
            Actor::User { role, .. } => Some(role_name(role)),
            _ => None,
        }
    }

    /// True for admins and the system actor.
    #[getter]
    fn is_admin(&self) -> bool {
        self.0.is_admin()
    }

    /// The actor as the core serializes it (`{"kind": "user", "id": ...}`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::to_value(self.0).map_err(|e| to_py_err(Error::internal(e)))?;
        value_to_py(py, &value)
    }

    fn __repr__(&self) -> String {
        match self.0 {
            Actor::User { id, role, .. } => {
                format!(
                    "Actor(kind='user', user_id='{id}', role='{}')",
                    role_name(role)
                )
            }
            _ => format!("Actor(kind='{}')", self.kind()),
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Student => "student",
        Role::Instructor => "instructor",
        Role::Admin => "admin",
    }
}

/// The handle to a school: open it once at start-up and share it between
/// every task (it is a cheap clone of the core's `Arc`).
#[pyclass(module = "lms._lms", name = "Lms", frozen)]
#[derive(Debug, Clone)]
struct PyLms {
    lms: lms_core::Lms,
}

#[pymethods]
impl PyLms {
    /// Opens (and migrates) the store at `url` (`sqlite://path`,
    /// `postgres://...`) with the core's `Config` fields as keyword
    /// arguments (`jwt_secret` is required).
    #[staticmethod]
    #[pyo3(signature = (url, **config))]
    fn open<'py>(
        py: Python<'py>,
        url: String,
        config: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let config = kwargs(config)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let config: Config = from_value(config).map_err(to_py_err)?;
            let lms = lms_core::Lms::open(&url, config).await.map_err(to_py_err)?;
            Ok(PyLms { lms })
        })
    }

    /// `sqlite` or `postgres`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.lms.store().backend()
    }

    fn __repr__(&self) -> String {
        format!("Lms(backend='{}')", self.backend())
    }

    /// The actor an access token proves.
    fn authenticate<'py>(
        &self,
        py: Python<'py>,
        access_token: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let actor = lms.authenticate(&access_token).await.map_err(to_py_err)?;
            Ok(PyActor(actor))
        })
    }

    /// Counts one attempt at `action` (`register`, `login`, `refresh`) from
    /// `client_ip` on `email`; raises `RateLimited` when over the limit.
    /// Call it before `register`, `login` and `refresh`.
    #[pyo3(signature = (action, client_ip=None, email=None))]
    fn throttle<'py>(
        &self,
        py: Python<'py>,
        action: String,
        client_ip: Option<String>,
        email: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "none", async move {
            let action = match action.as_str() {
                "register" => AuthAction::Register,
                "login" => AuthAction::Login,
                "refresh" => AuthAction::Refresh,
                _ => {
                    return Err(Error::invalid_field(
                        "action",
                        "must be register, login or refresh",
                    ));
                }
            };
            let client = client_ip
                .map(|ip| {
                    ip.trim()
                        .parse::<IpAddr>()
                        .map_err(|_| Error::invalid_field("client_ip", "is not an IP address"))
                })
                .transpose()?;
            lms.throttle(action, client, email.as_deref()).await
        })
    }

    // ----- accounts -----

    /// Signs up a student and starts a session.
    #[pyo3(signature = (*, email, password, display_name))]
    fn register<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
        display_name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "AuthSession", async move {
            lms.register(Registration {
                email,
                password,
                display_name,
            })
            .await
        })
    }

    /// Logs in with e-mail and password.
    #[pyo3(signature = (*, email, password))]
    fn login<'py>(
        &self,
        py: Python<'py>,
        email: String,
        password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "AuthSession", async move {
            lms.login(Credentials { email, password }).await
        })
    }

    /// Trades a refresh token for a new session (the old one is spent).
    fn refresh<'py>(&self, py: Python<'py>, refresh_token: String) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "AuthSession", async move {
            lms.refresh(&refresh_token).await
        })
    }

    /// Ends the session of a refresh token.
    fn logout<'py>(&self, py: Python<'py>, refresh_token: String) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "none", async move { lms.logout(&refresh_token).await })
    }

    /// Creates an account with any role (admins and the system actor).
    #[pyo3(signature = (actor, **fields))]
    fn create_user<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "User", async move {
            let account: NewAccount = from_value(body)?;
            lms.create_user(&actor, account).await
        })
    }

    /// The signed-in user.
    fn current_user<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move { lms.current_user(&actor).await })
    }

    /// One user (themselves or, for admins, anyone).
    fn user<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move {
            lms.user(&actor, UserId::parse("user_id", &user_id)?).await
        })
    }

    /// Changes the signed-in user's display name, bio or avatar key.
    #[pyo3(signature = (actor, **fields))]
    fn update_profile<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "User", async move {
            let update: ProfileUpdate = from_value(body)?;
            lms.update_profile(&actor, update).await
        })
    }

    /// Changes the password, ending every other session; answers a new
    /// access token for this one.
    #[pyo3(signature = (actor, *, current_password, new_password))]
    fn change_password<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        current_password: String,
        new_password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "AccessToken", async move {
            let change = PasswordChange {
                current_password,
                new_password,
            };
            lms.change_password(&actor, change).await
        })
    }

    /// Sets another user's password (admins).
    fn reset_password<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
        password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "none", async move {
            let id = UserId::parse("user_id", &user_id)?;
            lms.reset_password(&actor, id, &password).await
        })
    }

    /// Erases the signed-in user's personal data; needs the password.
    fn delete_account<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        password: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "none", async move {
            lms.delete_account(&actor, &password).await
        })
    }

    /// Changes a user's role and/or disabled flag in one step (admins).
    #[pyo3(signature = (actor, user_id, **fields))]
    fn update_account<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "User", async move {
            let id = UserId::parse("user_id", &user_id)?;
            let update: AccountUpdate = from_value(body)?;
            lms.update_account(&actor, id, update).await
        })
    }

    /// Sets a user's role (admins).
    fn set_role<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
        role: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move {
            let id = UserId::parse("user_id", &user_id)?;
            lms.set_role(&actor, id, Role::parse("role", &role)?).await
        })
    }

    /// Disables or re-enables a user (admins).
    fn set_disabled<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
        disabled: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move {
            let id = UserId::parse("user_id", &user_id)?;
            lms.set_disabled(&actor, id, disabled).await
        })
    }

    /// Ends every session of a user; answers how many ended.
    fn revoke_sessions<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        user_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "int", async move {
            lms.revoke_sessions(&actor, UserId::parse("user_id", &user_id)?)
                .await
        })
    }

    /// Users by id (admins): filter by role and a substring of e-mail or
    /// name; pass the last id as `after` for the next page.
    #[pyo3(signature = (actor, *, role=None, q=None, after=None, limit=None))]
    fn list_users<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        role: Option<String>,
        q: Option<String>,
        after: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move {
            let query = UserQuery {
                role: role.map(|r| Role::parse("role", &r)).transpose()?,
                query: q,
                after: after.map(|a| UserId::parse("after", &a)).transpose()?,
                limit,
            };
            lms.list_users(&actor, &query).await
        })
    }

    /// A user by id or e-mail (admins).
    fn find_user<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        id_or_email: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "User", async move {
            lms.find_user(&actor, &id_or_email).await
        })
    }

    /// Counts of users, courses and enrollments (admins).
    fn stats<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Stats", async move { lms.stats(&actor).await })
    }

    /// The event log after a cursor (admins).
    #[pyo3(signature = (actor, *, after=None, event_type=None, user_id=None, course_id=None, limit=None))]
    #[allow(clippy::too_many_arguments)] // mirrors EventQuery's fields one to one
    fn events<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        after: Option<i64>,
        event_type: Option<String>,
        user_id: Option<String>,
        course_id: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Event", async move {
            let query = EventQuery {
                after,
                kind: event_type,
                user_id: user_id
                    .map(|u| UserId::parse("user_id", &u))
                    .transpose()?
                    .map(|u| u.0),
                course_id: course_id
                    .map(|c| CourseId::parse("course_id", &c))
                    .transpose()?
                    .map(|c| c.0),
                limit,
            };
            lms.events(&actor, &query).await
        })
    }

    // ----- courses and the catalog -----

    /// A new draft course owned by the actor (instructors and admins).
    #[pyo3(signature = (actor, **fields))]
    fn create_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Course", async move {
            let input: CourseInput = from_value(body)?;
            lms.create_course(&actor, input).await
        })
    }

    /// A course with its outline, by id or slug.
    fn course_detail<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        id_or_slug: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CourseDetail", async move {
            lms.course_detail(&actor, &id_or_slug).await
        })
    }

    /// Changes a course's fields (owner or admin).
    #[pyo3(signature = (actor, course_id, **fields))]
    fn update_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Course", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let update: CourseUpdate = from_value(body)?;
            lms.update_course(&actor, id, update).await
        })
    }

    /// Publishes a course (it needs a lecture).
    fn publish_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Course", async move {
            lms.publish_course(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// Back to draft.
    fn unpublish_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Course", async move {
            lms.unpublish_course(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// Out of the catalog; learners keep access.
    fn archive_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Course", async move {
            lms.archive_course(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// Deletes a course without enrollments.
    fn delete_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "none", async move {
            lms.delete_course(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// A page of the published catalog: `q`, `level`, `language`, `price`,
    /// `instructor`, `tag`, `sort`, `cursor`, `limit`, as over HTTP. The
    /// catalog is the same for everyone, so it takes no actor.
    #[pyo3(signature = (**query))]
    fn catalog<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, body) = (self.lms.clone(), kwargs(query)?);
        run(py, "CatalogPage", async move {
            let query: CatalogQuery = from_value(body)?;
            lms.catalog(&query).await
        })
    }

    /// The courses of an instructor (default: the actor), every status.
    #[pyo3(signature = (actor, *, instructor=None, cursor=None, limit=None))]
    fn instructor_courses<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        instructor: Option<String>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CatalogPage", async move {
            let instructor = instructor
                .map(|i| UserId::parse("instructor", &i))
                .transpose()?;
            lms.instructor_courses(&actor, instructor, cursor.as_deref(), limit)
                .await
        })
    }

    /// Every course, optionally of one status (admins).
    #[pyo3(signature = (actor, *, status=None, cursor=None, limit=None))]
    fn courses<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        status: Option<String>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CatalogPage", async move {
            let status = status
                .map(|s| from_named::<CourseStatus>("status", s))
                .transpose()?;
            lms.courses(&actor, status, cursor.as_deref(), limit).await
        })
    }

    /// A new section at the end of a course (or at `position`).
    #[pyo3(signature = (actor, course_id, **fields))]
    fn create_section<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Section", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let input: SectionInput = from_value(body)?;
            lms.create_section(&actor, id, input).await
        })
    }

    /// Renames a section.
    fn rename_section<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        section_id: String,
        title: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Section", async move {
            let id = SectionId::parse("section_id", &section_id)?;
            lms.rename_section(&actor, id, &title).await
        })
    }

    /// Moves a section to a 0-based position.
    fn move_section<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        section_id: String,
        position: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Section", async move {
            let id = SectionId::parse("section_id", &section_id)?;
            lms.move_section(&actor, id, position).await
        })
    }

    /// Deletes a section and its lectures.
    fn delete_section<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        section_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "none", async move {
            lms.delete_section(&actor, SectionId::parse("section_id", &section_id)?)
                .await
        })
    }

    /// A new lecture in a section.
    #[pyo3(signature = (actor, section_id, **fields))]
    fn create_lecture<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        section_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Lecture", async move {
            let id = SectionId::parse("section_id", &section_id)?;
            let input: LectureInput = from_value(body)?;
            lms.create_lecture(&actor, id, input).await
        })
    }

    /// A lecture with its content, for those who may open it.
    fn lecture<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LectureView", async move {
            lms.lecture(&actor, LectureId::parse("lecture_id", &lecture_id)?)
                .await
        })
    }

    /// Changes a lecture's fields.
    #[pyo3(signature = (actor, lecture_id, **fields))]
    fn update_lecture<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Lecture", async move {
            let id = LectureId::parse("lecture_id", &lecture_id)?;
            let update: LectureUpdate = from_value(body)?;
            lms.update_lecture(&actor, id, update).await
        })
    }

    /// Moves a lecture to a position, optionally into another section.
    #[pyo3(signature = (actor, lecture_id, *, position, section_id=None))]
    fn move_lecture<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
        position: u32,
        section_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Lecture", async move {
            let id = LectureId::parse("lecture_id", &lecture_id)?;
            let section_id = section_id
                .map(|s| SectionId::parse("section_id", &s))
                .transpose()?;
            let to = LectureMove {
                section_id,
                position,
            };
            lms.move_lecture(&actor, id, to).await
        })
    }

    /// Deletes a lecture.
    fn delete_lecture<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "none", async move {
            lms.delete_lecture(&actor, LectureId::parse("lecture_id", &lecture_id)?)
                .await
        })
    }

    /// A course as one `lms.course/1` document, without ids.
    fn export_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        id_or_slug: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CourseExport", async move {
            lms.export_course(&actor, &id_or_slug).await
        })
    }

    /// Creates or updates (by slug) a course from an export document, in
    /// one transaction.
    #[pyo3(signature = (actor, export, owner_email=None))]
    fn import_course<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        export: &Bound<'py, PyAny>,
        owner_email: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, document(export)?);
        run(py, "ImportOutcome", async move {
            let export: CourseExport = from_value(body)?;
            lms.import_course(&actor, &export, owner_email.as_deref())
                .await
        })
    }

    // ----- enrollments -----

    /// The actor enrolls in a published free course (twice is one row).
    fn enroll<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Enrollment", async move {
            lms.enroll(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// Grants one learner access (owner or admin): `user_id`, `expires_at`.
    #[pyo3(signature = (actor, course_id, **fields))]
    fn grant_enrollment<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Enrollment", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let grant: GrantInput = from_value(body)?;
            lms.grant_enrollment(&actor, id, grant).await
        })
    }

    /// Grants access by e-mail in bulk (admins), one result per address.
    #[pyo3(signature = (actor, course_id, emails, expires_at=None))]
    fn grant_by_emails<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        emails: Vec<String>,
        expires_at: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        let expires_at = expires_at.map(py_to_value).transpose()?;
        run(py, "GrantRow", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let expires_at = expires_at
                .map(|e| from_named::<Timestamp>("expires_at", e))
                .transpose()?;
            lms.grant_by_emails(&actor, id, &emails, expires_at).await
        })
    }

    /// Ends a learner's access; their progress stays.
    fn revoke_enrollment<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        user_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Enrollment", async move {
            let course = CourseId::parse("course_id", &course_id)?;
            let user = UserId::parse("user_id", &user_id)?;
            lms.revoke_enrollment(&actor, course, user).await
        })
    }

    /// The actor's enrollments with their courses and figures.
    fn my_enrollments<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LearnerEnrollment", async move {
            lms.my_enrollments(&actor).await
        })
    }

    /// An upload ticket: a presigned PUT of exactly the declared type and
    /// size (`purpose`, `file_name`, `content_type`, `size`, and
    /// `course_id` or `lecture_id` as the purpose needs).
    #[pyo3(signature = (actor, **fields))]
    fn create_upload<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "UploadTicket", async move {
            let input: UploadInput = from_value(body)?;
            lms.create_upload(&actor, input).await
        })
    }

    /// An upload as recorded, for its uploader and admins.
    fn upload<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        upload_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Asset", async move {
            lms.upload(&actor, AssetId::parse("upload_id", &upload_id)?)
                .await
        })
    }

    /// Checks the uploaded file (size, type) and attaches it; completing
    /// again returns the asset as it is.
    fn complete_upload<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        upload_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Asset", async move {
            lms.complete_upload(&actor, AssetId::parse("upload_id", &upload_id)?)
                .await
        })
    }

    /// How to play a lecture's video: signed HLS (Mux), with the poster
    /// (`thumbnail`) and timeline previews (`storyboard`) only when asked
    /// for, each costing one more signature; or a file link.
    #[pyo3(signature = (actor, lecture_id, *, thumbnail=false, storyboard=false))]
    fn playback<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
        thumbnail: bool,
        storyboard: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        let options = PlaybackOptions {
            thumbnail,
            storyboard,
        };
        run(py, "Playback", async move {
            lms.playback(
                &actor,
                LectureId::parse("lecture_id", &lecture_id)?,
                options,
            )
            .await
        })
    }

    /// A lecture's attached files, with short-lived links.
    fn lecture_attachments<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Attachment", async move {
            lms.lecture_attachments(&actor, LectureId::parse("lecture_id", &lecture_id)?)
                .await
        })
    }

    /// A Mux webhook delivery: the raw body and its `mux-signature` header.
    #[pyo3(signature = (body, signature=None))]
    fn mux_webhook<'py>(
        &self,
        py: Python<'py>,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "WebhookReceipt", async move {
            lms.mux_webhook(signature.as_deref(), &body).await
        })
    }

    /// Stores the body of a `PUT` to a local-storage link (the `/media/`
    /// path's `key` and the link's query string), for hosts that serve
    /// those links themselves. Answers the bytes written.
    fn put_local_file<'py>(
        &self,
        py: Python<'py>,
        key: String,
        query: String,
        content_type: String,
        data: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "int", async move {
            let storage = local_storage(&lms)?;
            let grant = storage.authorize("PUT", &key, Some(&query), lms.now())?;
            let mut upload = storage.begin_put(&grant, Some(&content_type)).await?;
            upload.write(&data).await?;
            upload.finish().await
        })
    }

    /// The file a local-storage link opens (`GET`): `(content_type, bytes)`.
    fn get_local_file<'py>(
        &self,
        py: Python<'py>,
        key: String,
        query: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let read = async {
                let storage = local_storage(&lms)?;
                let grant = storage.authorize("GET", &key, Some(&query), lms.now())?;
                let (mut file, meta) = storage
                    .open(&grant.key)
                    .await?
                    .ok_or_else(|| Error::not_found("no such object"))?;
                let mut data = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut file, &mut data)
                    .await
                    .map_err(Error::internal)?;
                let content_type = meta
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                Ok::<_, Error>((content_type, data))
            };
            let (content_type, data) = read.await.map_err(to_py_err)?;
            Python::attach(|py| -> PyResult<Py<PyAny>> {
                let bytes = PyBytes::new(py, &data);
                Ok((content_type, bytes).into_pyobject(py)?.into_any().unbind())
            })
        })
    }

    /// A course's learners (owner or admin); pass the last enrollment id as
    /// `after` for the next page.
    #[pyo3(signature = (actor, course_id, *, after=None, limit=None))]
    fn course_enrollments<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        after: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Enrollee", async move {
            let course = CourseId::parse("course_id", &course_id)?;
            let after = after
                .map(|a| EnrollmentId::parse("after", &a))
                .transpose()?;
            lms.course_enrollments(&actor, course, after, limit).await
        })
    }

    // ----- progress -----

    /// Completes or un-completes a lecture, or records a resume position:
    /// `completed`, `position_secs`, as over HTTP. Answers with the
    /// lecture's state and the course's figures.
    #[pyo3(signature = (actor, lecture_id, **fields))]
    fn update_progress<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        lecture_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "UpdatedProgress", async move {
            let id = LectureId::parse("lecture_id", &lecture_id)?;
            let update: ProgressUpdate = from_value(body)?;
            lms.update_progress(&actor, id, update).await
        })
    }

    /// The actor's progress in a course.
    fn course_progress<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CourseProgress", async move {
            lms.course_progress(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// Forgets the actor's progress in a course.
    fn reset_progress<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "CourseProgress", async move {
            lms.reset_progress(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }
    // ----- live classes -----

    /// Schedules a live class on a course (owner or admin): `title`,
    /// `starts_at` (RFC 3339 text or an aware datetime).
    #[pyo3(signature = (actor, course_id, **fields))]
    fn create_live_session<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "LiveSession", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let input: LiveSessionInput = from_value(body)?;
            lms.create_live_session(&actor, id, input).await
        })
    }

    /// A course's live classes by start (owner, admins, enrolled learners).
    fn live_sessions<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LiveSession", async move {
            lms.live_sessions(&actor, CourseId::parse("course_id", &course_id)?)
                .await
        })
    }

    /// One live class.
    fn live_session<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        live_session_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LiveSession", async move {
            let id = LiveSessionId::parse("live_session_id", &live_session_id)?;
            lms.live_session(&actor, id).await
        })
    }

    /// Changes a scheduled class: `title`, `starts_at`.
    #[pyo3(signature = (actor, live_session_id, **fields))]
    fn update_live_session<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        live_session_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "LiveSession", async move {
            let id = LiveSessionId::parse("live_session_id", &live_session_id)?;
            let update: LiveSessionUpdate = from_value(body)?;
            lms.update_live_session(&actor, id, update).await
        })
    }

    /// Cancels a class that has not started.
    fn cancel_live_session<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        live_session_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LiveSession", async move {
            let id = LiveSessionId::parse("live_session_id", &live_session_id)?;
            lms.cancel_live_session(&actor, id).await
        })
    }

    /// A LiveKit room token for the class: hosts publish, enrolled learners
    /// watch.
    fn live_token<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        live_session_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LiveToken", async move {
            let id = LiveSessionId::parse("live_session_id", &live_session_id)?;
            lms.live_token(&actor, id).await
        })
    }

    /// An RTMP or WHIP ingress for streaming software (owner or admin).
    fn create_ingress<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        live_session_id: String,
        input_type: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "LiveIngress", async move {
            let id = LiveSessionId::parse("live_session_id", &live_session_id)?;
            lms.create_ingress(&actor, id, IngressInput { input_type })
                .await
        })
    }

    /// A LiveKit webhook delivery: the `Authorization` header as received
    /// and the raw body, exactly as signed.
    #[pyo3(signature = (authorization, body))]
    fn livekit_webhook<'py>(
        &self,
        py: Python<'py>,
        authorization: Option<String>,
        body: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "WebhookReceipt", async move {
            lms.livekit_webhook(authorization.as_deref(), &body).await
        })
    }

    // ----- payments -----

    /// Starts buying a course for the signed-in learner: `provider`
    /// (`stripe`, `razorpay`, `manual`), `coupon_code`, `success_url`,
    /// `cancel_url`, as over HTTP.
    #[pyo3(signature = (actor, course_id, **fields))]
    fn checkout<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        course_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "CheckoutAnswer", async move {
            let id = CourseId::parse("course_id", &course_id)?;
            let input: CheckoutInput = from_value(body)?;
            lms.checkout(&actor, id, input).await
        })
    }

    /// Confirms a Razorpay Checkout payment from the browser: `order_id`
    /// (ours), `razorpay_payment_id`, `razorpay_signature`.
    #[pyo3(signature = (actor, **fields))]
    fn razorpay_verify<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Order", async move {
            let input: RazorpayVerifyInput = from_value(body)?;
            lms.razorpay_verify(&actor, input).await
        })
    }

    /// A Stripe webhook delivery: the raw body and its `Stripe-Signature`
    /// header.
    #[pyo3(signature = (body, signature=None))]
    fn stripe_webhook<'py>(
        &self,
        py: Python<'py>,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "WebhookReceipt", async move {
            lms.stripe_webhook(signature.as_deref(), &body).await
        })
    }

    /// A Razorpay webhook delivery: the raw body, its
    /// `X-Razorpay-Signature` and `X-Razorpay-Event-Id` headers.
    #[pyo3(signature = (body, signature=None, event_id=None))]
    fn razorpay_webhook<'py>(
        &self,
        py: Python<'py>,
        body: Vec<u8>,
        signature: Option<String>,
        event_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let lms = self.lms.clone();
        run(py, "WebhookReceipt", async move {
            lms.razorpay_webhook(signature.as_deref(), event_id.as_deref(), &body)
                .await
        })
    }

    /// Marks a manual order, or one flagged for review, paid (admins).
    fn mark_order_paid<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        order_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Order", async move {
            lms.mark_order_paid(&actor, OrderId::parse("order_id", &order_id)?)
                .await
        })
    }

    /// The signed-in learner's orders, oldest first; pass the last id as
    /// `after` for the next page.
    #[pyo3(signature = (actor, *, after=None, limit=None))]
    fn my_orders<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        after: Option<String>,
        limit: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Order", async move {
            let after = after.map(|a| OrderId::parse("after", &a)).transpose()?;
            lms.my_orders(&actor, after, limit).await
        })
    }

    /// Orders by id (admins): `status`, `provider`, `user_id`, `course_id`,
    /// `flagged`, `after`, `limit`, as over HTTP.
    #[pyo3(signature = (actor, **query))]
    fn orders<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        query: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(query)?);
        run(py, "Order", async move {
            let query: OrderQuery = from_value(body)?;
            lms.orders(&actor, query).await
        })
    }

    /// One order, for its buyer and admins.
    fn order<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        order_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Order", async move {
            lms.order(&actor, OrderId::parse("order_id", &order_id)?)
                .await
        })
    }

    /// Refunds a paid order through its provider (admins): all that is
    /// left, or `amount` minor units of it.
    #[pyo3(signature = (actor, order_id, **fields))]
    fn refund_order<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        order_id: String,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Order", async move {
            let id = OrderId::parse("order_id", &order_id)?;
            let input: RefundInput = from_value(body)?;
            lms.refund_order(&actor, id, input).await
        })
    }

    /// Asks the providers about every open order and repairs what the
    /// webhooks missed (admins).
    fn reconcile_payments<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "ReconcileReport", async move {
            lms.reconcile_payments(&actor).await
        })
    }

    /// A coupon for the owner's courses (or any, for admins): `code`,
    /// `course_id`, `owner_id`, `percent_off` or `amount_off` with
    /// `currency`, `starts_at`, `ends_at`, `max_redemptions`,
    /// `max_per_user`.
    #[pyo3(signature = (actor, **fields))]
    fn create_coupon<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "Coupon", async move {
            let input: CouponInput = from_value(body)?;
            lms.create_coupon(&actor, input).await
        })
    }

    /// The coupons the actor may manage (admins: all, or `owner_id`'s).
    #[pyo3(signature = (actor, owner_id=None))]
    fn coupons<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        owner_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Coupon", async move {
            let owner = owner_id
                .map(|o| UserId::parse("owner_id", &o))
                .transpose()?;
            lms.coupons(&actor, owner).await
        })
    }

    /// Disables a coupon (its owner and admins).
    fn disable_coupon<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        coupon_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor) = (self.lms.clone(), actor.get().0);
        run(py, "Coupon", async move {
            lms.disable_coupon(&actor, CouponId::parse("coupon_id", &coupon_id)?)
                .await
        })
    }

    /// What a coupon does to a course's price for the signed-in learner:
    /// `code`, `course_id`.
    #[pyo3(signature = (actor, **fields))]
    fn validate_coupon<'py>(
        &self,
        py: Python<'py>,
        actor: &Bound<'py, PyActor>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (lms, actor, body) = (self.lms.clone(), actor.get().0, kwargs(fields)?);
        run(py, "CouponQuote", async move {
            let check: CouponCheck = from_value(body)?;
            lms.validate_coupon(&actor, check).await
        })
    }
}

/// Runs a core operation as an awaitable on the host's loop. The result is
/// serialized off the GIL; only wrapping it in `lms._records` takes it.
/// `kind` names the record class (a list result wraps each element), or is
/// `"none"` for operations without a value and `"int"` for a count.
fn run<'py, T, F>(py: Python<'py>, kind: &'static str, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = lms_core::Result<T>> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let value = fut.await.map_err(to_py_err)?;
        let json = serde_json::to_value(&value).map_err(|e| to_py_err(Error::internal(e)))?;
        Python::attach(|py| -> PyResult<Py<PyAny>> {
            match kind {
                "none" => Ok(py.None()),
                "int" => Ok(value_to_py(py, &json)?.unbind()),
                _ => {
                    static WRAP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                    let wrap = WRAP.import(py, "lms._records", "_wrap")?;
                    Ok(wrap.call1((kind, value_to_py(py, &json)?))?.unbind())
                }
            }
        })
    })
}

/// The local storage links are served from, or `not_found` when files
/// live in a bucket.
fn local_storage(lms: &lms_core::Lms) -> lms_core::Result<&lms_core::media::LocalStorage> {
    lms.local_storage()
        .ok_or_else(|| Error::not_found("files are not stored locally"))
}

/// The one mapping from the core's error kinds to the exception classes of
/// `lms._errors` (all derive from `LmsError`).
fn to_py_err(err: Error) -> PyErr {
    let class = match err.kind() {
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::Unauthenticated => "Unauthenticated",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::RateLimited => "RateLimited",
        ErrorKind::Payment => "PaymentError",
        ErrorKind::Provider => "ProviderError",
        // Internal and any kind added later: the base class, whose message
        // is the core's generic one (the detail went to the log).
        _ => "LmsError",
    };
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let module = py.import("lms._errors")?;
            let fields = PyList::empty(py);
            for f in err.fields() {
                let item = PyDict::new(py);
                item.set_item("field", &f.field)?;
                item.set_item("message", &f.message)?;
                fields.append(item)?;
            }
            let retry_after = err.retry_after().map(|d| d.as_secs_f64().ceil() as u64);
            let exc =
                module
                    .getattr(class)?
                    .call1((err.message(), err.code(), fields, retry_after))?;
            Ok(PyErr::from_value(exc))
        };
        // Failing to build the exception (the pure-Python package is
        // missing) must still surface as an error, not a panic.
        build().unwrap_or_else(|e| e)
    })
}

/// Keyword arguments as a JSON object (none given is an empty one).
fn kwargs(fields: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
    match fields {
        Some(fields) => py_to_value(fields.as_any()),
        None => Ok(Value::Object(Map::new())),
    }
}

/// A document argument: a dict, or anything with `to_dict()` (a record).
fn document(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.hasattr("to_dict")? && !obj.is_instance_of::<PyDict>() {
        return py_to_value(&obj.call_method0("to_dict")?);
    }
    py_to_value(obj)
}

/// Python data to JSON: dicts with string keys, lists and tuples, strings,
/// ints, floats, bools, None; a `datetime` becomes its ISO 8601 text, and a
/// record its `to_dict()`.
fn py_to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: True is an int in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        return Ok(Value::from(obj.extract::<u64>()?));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err("a float must be finite"));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract::<String>()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            if !k.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err("dict keys must be strings"));
            }
            let key = k.extract::<String>()?;
            map.insert(key, py_to_value(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let items = obj
            .try_iter()?
            .map(|item| py_to_value(&item?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Value::Array(items));
    }
    if obj.hasattr("isoformat")? {
        return py_to_value(&obj.call_method0("isoformat")?);
    }
    if obj.hasattr("to_dict")? {
        return py_to_value(&obj.call_method0("to_dict")?);
    }
    Err(PyTypeError::new_err(format!(
        "cannot pass a {} to lms",
        obj.get_type().name()?
    )))
}

/// JSON to plain Python data (dicts, lists, str, int, float, bool, None).
fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, value_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Deserializes keyword arguments into a core request struct. A wrong shape
/// is `invalid_input` naming the field, dotted from the top (`price.amount`),
/// as the HTTP face answers a body (lms-http's `body::parse`).
fn from_value<T: DeserializeOwned>(value: Value) -> lms_core::Result<T> {
    serde_path_to_error::deserialize(Objects(value)).map_err(|e| {
        let path = e.path().to_string();
        let f = FieldError::from_shape_error(&path, &e.into_inner().to_string());
        Error::invalid_field(f.field, f.message)
    })
}

/// Deserializes one named argument (a status, a time).
fn from_named<T: DeserializeOwned>(field: &str, value: impl Into<Value>) -> lms_core::Result<T> {
    serde_json::from_value(value.into()).map_err(|e| Error::invalid_field(field, e.to_string()))
}

/// The native module `lms._lms`.
#[pymodule]
fn _lms(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLms>()?;
    m.add_class::<PyActor>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
