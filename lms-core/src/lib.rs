//! `lms-core`: the business rules of a course platform, as a typed async API.
//!
//! One [`Lms`] handle holds the rules, the store and the injected parts; the
//! HTTP server, the admin CLI and the Python bindings are thin faces over it.
//! Every operation takes the acting principal ([`Actor`]) and decides
//! authorization here, so every face inherits the same rules.
//!
//! ```no_run
//! # async fn demo() -> lms_core::Result<()> {
//! use lms_core::{Config, Credentials, Lms, Registration};
//!
//! let lms = Lms::open("sqlite://./lms-data/lms.db", Config::with_jwt_secret(
//!     "a secret of at least thirty-two bytes",
//! )).await?;
//! lms.register(Registration {
//!     email: "ada@example.com".into(),
//!     password: "analytical engine".into(),
//!     display_name: "Ada".into(),
//! }).await?;
//! let session = lms.login(Credentials {
//!     email: "Ada@Example.com".into(),
//!     password: "analytical engine".into(),
//! }).await?;
//! let actor = lms.authenticate(&session.access_token).await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`error`]: [`Error`] and [`ErrorKind`], the one error type and its
//!   stable codes.
//! - [`config`]: [`Config`], plain data; the core never reads the environment.
//! - [`clock`]: the injected [`Clock`], and [`ManualClock`] for tests.
//! - [`domain`]: value types with `parse()` (e-mail, password, role, ids).
//! - [`actor`]: who is acting.
//! - [`accounts`]: registration, login, tokens, profile, admin user
//!   operations (methods on [`Lms`]).
//! - [`catalog`]: courses, their sections and lectures, the catalog.
//! - [`enrollment`]: who may open a course's lectures.
//! - [`progress`]: completed lectures, resume positions, course figures.
//! - [`media`]: presigned uploads to object storage (local or S3), signed
//!   playback (Mux) and lecture files.
//! - [`live`]: live classes in LiveKit rooms: scheduling, room tokens,
//!   webhooks and ingresses.
//! - [`payments`]: checkout (Stripe, Razorpay, manual), provider webhooks,
//!   refunds, coupons and reconciliation.
//! - [`signing`]: HMAC helpers and the `t=,v1=` webhook signature scheme.
//! - [`events`]: the append-only event log.
//! - `cache`: the short-lived read cache of catalog pages, course trees and
//!   sessions (`Config::read_cache_ttl_ms`).
//! - [`store`]: the store traits, SQLite and PostgreSQL, migrations and the
//!   public conformance suite.

pub mod accounts;
pub mod actor;
mod cache;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod domain;
pub mod enrollment;
pub mod error;
pub mod events;
pub mod live;
pub mod media;
pub mod objects;
pub mod payments;
pub mod progress;
pub mod signing;
pub mod store;

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

pub use accounts::{
    AccessToken, AccountUpdate, AuthAction, AuthSession, Credentials, NewAccount, PasswordChange,
    ProfileUpdate, Registration,
};
pub use actor::Actor;
pub use catalog::{
    CatalogPage, CatalogQuery, Course, CourseDetail, CourseExport, CourseInput, CourseStatus,
    CourseSummary, CourseUpdate, Lecture, LectureInput, LectureKind, LectureMove, LectureUpdate,
    LectureView, PriceInput, Section, SectionInput,
};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::Config;
pub use domain::{
    AssetId, CouponId, CourseId, EnrollmentId, LectureId, LiveSessionId, OrderId, Role, Secret,
    SectionId, SessionId, UserId,
};
pub use enrollment::{Enrollee, Enrollment, GrantInput, GrantRow, LearnerEnrollment};
pub use error::{Error, ErrorKind, FieldError, Result};
pub use events::{Event, EventQuery};
pub use live::{
    IngressInput, LiveIngress, LiveSession, LiveSessionInput, LiveSessionUpdate, LiveStatus,
    LiveToken,
};
pub use media::{
    Asset, Attachment, LocalStorage, ObjectStorage, Playback, PlaybackOptions, S3Storage,
    UploadInput, UploadPurpose, UploadTicket, WebhookReceipt,
};
pub use payments::{
    CheckoutAnswer, CheckoutInput, Coupon, CouponCheck, CouponInput, CouponQuote, Order,
    OrderQuery, OrderStatus, Provider, RazorpayVerifyInput, ReconcileReport, RefundInput,
};
pub use progress::{CourseProgress, ProgressUpdate, UpdatedProgress};
pub use store::{Stats, Store, User, UserQuery};

use accounts::{Hasher, TokenKeys};
use cache::ReadCache;

/// The handle to everything: cheap to clone (one `Arc`), `Send + Sync`.
#[derive(Clone)]
pub struct Lms {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    keys: TokenKeys,
    /// Where files go.
    storage: Arc<dyn media::ObjectStorage>,
    /// The same storage when it is local, for the HTTP face to serve.
    local: Option<media::LocalStorage>,
    /// Mux, when configured.
    mux: Option<media::Mux>,
    /// LiveKit, when configured.
    livekit: Option<live::LiveKit>,
    /// Stripe and Razorpay, when configured.
    payments: payments::Providers,
    /// Rate-limit hits seen by this handle, to prune drained buckets now
    /// and then (see `accounts::throttle`).
    throttle_hits: std::sync::atomic::AtomicU64,
    /// Shared reads (see [`cache`]): whether an access token's session is
    /// live (its role and token version, or `None` when revoked)...
    sessions: ReadCache<(UserId, SessionId), Option<(Role, i64)>>,
    /// ...course trees by id or slug...
    courses: ReadCache<String, Option<Arc<CourseDetail>>>,
    /// ...public catalog pages by their filter...
    catalog: ReadCache<String, Arc<CatalogPage>>,
    /// ...and the course of a lecture progress is recorded in (see
    /// [`Lms::lecture_course`]).
    lecture_courses: ReadCache<LectureId, CourseId>,
}

impl fmt::Debug for Lms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lms")
            .field("store", &self.inner.store.backend())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Lms {
    /// Opens the store `database_url` names (`sqlite://path`, `sqlite::memory:`,
    /// `postgres://...`), applies its migrations, and builds the handle with
    /// the system clock.
    pub async fn open(database_url: &str, config: Config) -> Result<Self> {
        config.validate()?;
        let store = store::open(database_url, config.database_schema.as_deref()).await?;
        LmsBuilder::new(config).store(store).build()
    }

    /// A builder for injecting the store and clock.
    pub fn builder(config: Config) -> LmsBuilder {
        LmsBuilder::new(config)
    }

    /// The store behind this handle.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current time, rounded to what the stores keep.
    pub fn now(&self) -> Timestamp {
        clock::stored(self.inner.clock.now())
    }

    /// Whether the read cache is on: a TTL is set and the store counts its
    /// writes. While it is, the catalog and course trees hand out the same
    /// `Arc` for as long as the answer holds, so a face may keep work it
    /// derives from one (a serialized body) by its address.
    pub fn caches_reads(&self) -> bool {
        self.read_cache_writes().is_some()
    }

    /// The store's write count, when the read cache is on.
    fn read_cache_writes(&self) -> Option<u64> {
        match self.inner.store.committed_writes() {
            Some(writes) if self.inner.config.read_cache_ttl_ms > 0 => Some(writes),
            _ => None,
        }
    }

    /// `load()`, or what `cache` kept of it for `key` (see [`cache`]).
    async fn cached<K, V, F>(&self, cache: &ReadCache<K, V>, key: K, load: F) -> Result<V>
    where
        K: Eq + Hash + Clone,
        V: Clone,
        F: Future<Output = Result<V>>,
    {
        if self.read_cache_writes().is_none() {
            return load.await;
        }
        let ttl = std::time::Duration::from_millis(self.inner.config.read_cache_ttl_ms);
        let writes = || self.read_cache_writes().unwrap_or_default();
        cache.get_or_load(key, writes, ttl, load).await
    }

    /// The course `lecture` is in. A lecture never moves to another
    /// course, so while the read cache is on, a link once read is kept
    /// whatever the TTL and later writes say: with the TTL alone, a player
    /// reporting its position every few seconds found the link expired at
    /// almost every report. A lecture deleted since is caught by the
    /// course tree the caller looks it up in.
    async fn lecture_course(&self, lecture: LectureId) -> Result<CourseId> {
        let load = async {
            self.store()
                .lecture(lecture)
                .await?
                .map(|l| l.course_id)
                .ok_or_else(|| Error::not_found("lecture not found"))
        };
        if self.read_cache_writes().is_none() {
            return load.await;
        }
        // Never stale: the same write count always, and no age limit.
        (self.inner.lecture_courses)
            .get_or_load(lecture, || 0, std::time::Duration::MAX, load)
            .await
    }
}

/// Builds an [`Lms`] from a [`Config`] and injected parts.
#[derive(Debug)]
pub struct LmsBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    storage: Option<Arc<dyn media::ObjectStorage>>,
    http: Option<reqwest::Client>,
}

impl LmsBuilder {
    /// A builder with `config` and no parts yet.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            store: None,
            clock: None,
            storage: None,
            http: None,
        }
    }

    /// The store (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock ([`SystemClock`] when not set).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The object storage. When not set: S3 when the configuration names a
    /// bucket, else local storage under `<data_dir>/media`.
    pub fn storage(mut self, storage: Arc<dyn media::ObjectStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The HTTP client for provider calls (a default one when not set).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the configuration and builds the handle.
    pub fn build(self) -> Result<Lms> {
        self.config.validate()?;
        let store = self
            .store
            .ok_or_else(|| Error::invalid_field("store", "is required"))?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let hasher = Hasher::new(&self.config)?;
        let keys = TokenKeys::new(&self.config);
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(Error::internal)?,
        };
        let (storage, local): (Arc<dyn media::ObjectStorage>, _) = match self.storage {
            Some(storage) => (storage, None),
            None if self.config.s3_bucket.is_some() => (
                Arc::new(media::S3Storage::from_config(&self.config, http.clone())?),
                None,
            ),
            None => {
                let local = media::LocalStorage::new(
                    std::path::Path::new(&self.config.data_dir).join("media"),
                    &self.config.public_url,
                    &self.config.jwt_secret,
                );
                (Arc::new(local.clone()), Some(local))
            }
        };
        let livekit = live::LiveKit::from_config(&self.config, http.clone());
        let payments = payments::Providers::from_config(&self.config, &http);
        let mux = media::Mux::from_config(&self.config, http)?;
        Ok(Lms {
            inner: Arc::new(Inner {
                config: self.config,
                store,
                clock,
                hasher,
                keys,
                storage,
                local,
                mux,
                livekit,
                payments,
                throttle_hits: std::sync::atomic::AtomicU64::new(0),
                sessions: ReadCache::new(cache::MAX_SESSIONS),
                courses: ReadCache::new(cache::MAX_PAGES),
                catalog: ReadCache::new(cache::MAX_PAGES),
                lecture_courses: ReadCache::new(cache::MAX_LECTURES),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn the_handle_is_send_sync_and_clone() {
        assert_send_sync_clone::<Lms>();
    }

    #[test]
    fn a_builder_without_a_store_says_so() {
        let err = Lms::builder(Config::with_jwt_secret("x".repeat(32)))
            .build()
            .unwrap_err();
        assert_eq!(err.fields()[0].field, "store");
    }
}
