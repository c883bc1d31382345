//! The object-storage trait: presigned requests and existence checks. The
//! core never moves file bytes itself; browsers send them straight to the
//! storage with a URL the core signed.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::error::Result;

/// A request someone else will send: the method, the URL and the headers
/// it must carry exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// `PUT` or `GET`.
    pub method: String,
    /// The signed URL.
    pub url: String,
    /// Headers covered by the signature (lower-case names).
    pub headers: BTreeMap<String, String>,
}

/// What storage knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its length in bytes.
    pub size: i64,
    /// Its `Content-Type`, when storage kept one.
    pub content_type: Option<String>,
}

/// Where files live: local folders or an S3-compatible bucket.
#[async_trait]
pub trait ObjectStorage: Send + Sync + Debug {
    /// `local` or `s3`, for logs.
    fn kind(&self) -> &'static str;

    /// A PUT of exactly `size` bytes of `content_type` to `key`, valid
    /// from `now` for `expires_in`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest>;

    /// A GET of `key`, valid from `now` for `expires_in`.
    async fn presign_get(&self, key: &str, now: Timestamp, expires_in: Duration) -> Result<String>;

    /// The object's size and type, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>>;

    /// The unsigned URL of a public object (keys under `public/`).
    fn public_url(&self, key: &str) -> String;
}
