//! Local storage, the embedded default: files under the data folder, with
//! upload and download links that `lms-http` serves itself and that this
//! module signs and checks (HMAC-SHA256 over the method, key, content type,
//! size and expiry), so the whole upload flow works without a cloud account.
//!
//! Layout under the root (`<data dir>/media`): objects at their key, their
//! recorded content type at `.meta/<key>`, uploads in flight in `.tmp/`
//! until complete, so a half-written file is never visible under its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::storage::{ObjectMeta, ObjectStorage, PresignedRequest};
use crate::clock::Timestamp;
use crate::domain::{ObjectKey, Secret};
use crate::error::{Error, Result};
use crate::signing::{hmac_sha256, hmac_sha256_hex, verify_hmac_hex};

/// Files in a folder, links signed with a key derived from the host's
/// signing secret.
#[derive(Clone)]
pub struct LocalStorage {
    root: PathBuf,
    base_url: String,
    key: [u8; 32],
}

impl std::fmt::Debug for LocalStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStorage")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What a checked link allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalGrant {
    /// The object.
    pub key: String,
    /// For an upload: the content type it must carry.
    pub content_type: Option<String>,
    /// For an upload: its exact length.
    pub size: Option<u64>,
}

impl LocalStorage {
    /// Storage under `root`, with links starting `<base_url>/media/`, signed
    /// with a key derived from `secret` (so no second secret needs keeping;
    /// rotating the secret ends the links in flight, which live minutes).
    pub fn new(root: impl Into<PathBuf>, base_url: &str, secret: &Secret) -> Self {
        Self {
            root: root.into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: hmac_sha256(secret.expose().as_bytes(), &[b"lms local media links v1"]),
        }
    }

    /// The folder holding the files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn canonical(method: &str, key: &str, content_type: &str, size: &str, expires: &str) -> String {
        format!("{method}\n{key}\n{content_type}\n{size}\n{expires}")
    }

    fn sign(
        &self,
        method: &str,
        key: &str,
        content_type: &str,
        size: &str,
        expires: i64,
    ) -> String {
        let text = Self::canonical(method, key, content_type, size, &expires.to_string());
        hmac_sha256_hex(&self.key, &[text.as_bytes()])
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let key = ObjectKey::parse("key", key)?;
        Ok(self.root.join(key.as_str()))
    }

    fn meta_path_of(&self, key: &str) -> Result<PathBuf> {
        let key = ObjectKey::parse("key", key)?;
        Ok(self.root.join(".meta").join(key.as_str()))
    }

    /// Checks a link for `method` (`PUT`, or `GET`/`HEAD`) on `key` with
    /// the link's query string. Objects under `public/` may be read without
    /// a signature. A bad, tampered or expired link is `forbidden`.
    pub fn authorize(
        &self,
        method: &str,
        key: &str,
        query: Option<&str>,
        now: Timestamp,
    ) -> Result<LocalGrant> {
        ObjectKey::parse("key", key).map_err(|_| Error::not_found("no such object"))?;
        let reading = matches!(method, "GET" | "HEAD");
        if reading && key.starts_with("public/") {
            return Ok(LocalGrant {
                key: key.to_owned(),
                content_type: None,
                size: None,
            });
        }
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            params.insert(name.into_owned(), value.into_owned());
        }
        let refused = || Error::forbidden("the link is not valid for this request");
        let expires: i64 = params
            .get("expires")
            .and_then(|e| e.parse().ok())
            .ok_or_else(refused)?;
        let sig = params.get("sig").ok_or_else(refused)?;
        let (signed_method, content_type, size) = if reading {
            ("GET", "", "")
        } else if method == "PUT" {
            (
                "PUT",
                params.get("type").map_or("", String::as_str),
                params.get("size").map_or("", String::as_str),
            )
        } else {
            return Err(refused());
        };
        let text = Self::canonical(signed_method, key, content_type, size, &expires.to_string());
        if !verify_hmac_hex(&self.key, &[text.as_bytes()], sig) {
            return Err(refused());
        }
        if now.timestamp() > expires {
            return Err(Error::forbidden("the link has expired"));
        }
        Ok(LocalGrant {
            key: key.to_owned(),
            content_type: (!content_type.is_empty()).then(|| content_type.to_owned()),
            size: size.parse().ok(),
        })
    }

    /// Starts writing an upload a checked PUT link allows. The request's
    /// `Content-Type` must be the signed one; the body is checked against
    /// the signed size as it arrives.
    pub async fn begin_put(
        &self,
        grant: &LocalGrant,
        content_type: Option<&str>,
    ) -> Result<LocalUpload> {
        let (Some(signed_type), Some(size)) = (&grant.content_type, grant.size) else {
            return Err(Error::forbidden("the link is not an upload link"));
        };
        if content_type.map(str::trim) != Some(signed_type.as_str()) {
            return Err(Error::forbidden(format!(
                "Content-Type must be {signed_type}, as signed"
            )));
        }
        let target = self.path_of(&grant.key)?;
        // Refused before the body is read; `finish` checks again, for two
        // uploads through the same link at once.
        if tokio::fs::try_exists(&target)
            .await
            .map_err(Error::internal)?
        {
            return Err(already_stored());
        }
        let meta = self.meta_path_of(&grant.key)?;
        let tmp_dir = self.root.join(".tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(Error::internal)?;
        let tmp = tmp_dir.join(uuid::Uuid::now_v7().to_string());
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(Error::internal)?;
        Ok(LocalUpload {
            file: Some(file),
            tmp,
            target,
            meta,
            content_type: signed_type.clone(),
            size,
            written: 0,
        })
    }

    /// Opens a stored object for reading, with its size and type.
    pub async fn open(&self, key: &str) -> Result<Option<(tokio::fs::File, ObjectMeta)>> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::internal(e)),
        };
        let Some(meta) = self.head(key).await? else {
            return Ok(None);
        };
        Ok(Some((file, meta)))
    }
}

#[async_trait]
impl ObjectStorage for LocalStorage {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        ObjectKey::parse("key", key)?;
        let expires = now.timestamp() + i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let size_text = size.to_string();
        let sig = self.sign("PUT", key, content_type, &size_text, expires);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("type", content_type)
            .append_pair("size", &size_text)
            .append_pair("expires", &expires.to_string())
            .append_pair("sig", &sig)
            .finish();
        Ok(PresignedRequest {
            method: "PUT".to_owned(),
            url: format!("{}/media/{key}?{query}", self.base_url),
            headers: BTreeMap::from([
                ("content-length".to_owned(), size_text),
                ("content-type".to_owned(), content_type.to_owned()),
            ]),
        })
    }

    async fn presign_get(&self, key: &str, now: Timestamp, expires_in: Duration) -> Result<String> {
        ObjectKey::parse("key", key)?;
        let expires = now.timestamp() + i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let sig = self.sign("GET", key, "", "", expires);
        Ok(format!(
            "{}/media/{key}?expires={expires}&sig={sig}",
            self.base_url
        ))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let path = self.path_of(key)?;
        let size = match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::internal(e)),
        };
        let content_type = match tokio::fs::read_to_string(self.meta_path_of(key)?).await {
            Ok(t) => Some(t.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::internal(e)),
        };
        Ok(Some(ObjectMeta {
            size: i64::try_from(size).unwrap_or(i64::MAX),
            content_type,
        }))
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/media/{key}", self.base_url)
    }
}

/// An upload link writes its object once: what is stored stays as it was
/// checked when the upload completed.
fn already_stored() -> Error {
    Error::conflict("an object is already stored under this key; a new upload gets a new link")
}

/// An upload being written; it appears under its key only when
/// [`LocalUpload::finish`] succeeds, and is removed if dropped before.
#[derive(Debug)]
pub struct LocalUpload {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    target: PathBuf,
    meta: PathBuf,
    content_type: String,
    size: u64,
    written: u64,
}

impl LocalUpload {
    /// Appends a chunk; more bytes than signed is `forbidden`.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.written += chunk.len() as u64;
        if self.written > self.size {
            return Err(Error::forbidden(format!(
                "the body is longer than the signed {} bytes",
                self.size
            )));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::internal("upload already finished"))?;
        file.write_all(chunk).await.map_err(Error::internal)
    }

    /// Checks the length, makes the file durable and moves it under its
    /// key with its content type. A shorter body than signed is `forbidden`.
    pub async fn finish(mut self) -> Result<u64> {
        if self.written != self.size {
            return Err(Error::forbidden(format!(
                "the body must be exactly the signed {} bytes, not {}",
                self.size, self.written
            )));
        }
        let mut file = self
            .file
            .take()
            .ok_or_else(|| Error::internal("upload already finished"))?;
        file.flush().await.map_err(Error::internal)?;
        file.sync_all().await.map_err(Error::internal)?;
        drop(file);
        for path in [&self.target, &self.meta] {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(Error::internal)?;
            }
        }
        // The type first: an object is never visible without it. Should
        // another upload through the same link win the race below, this
        // rewrote its type with the same signed one.
        tokio::fs::write(&self.meta, self.content_type.as_bytes())
            .await
            .map_err(Error::internal)?;
        // A link, not a rename: it fails when the key holds an object, so a
        // stored file is never replaced (a rename would swap it silently).
        let linked = tokio::fs::hard_link(&self.tmp, &self.target).await;
        let _ = tokio::fs::remove_file(&self.tmp).await;
        match linked {
            Ok(()) => Ok(self.written),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(already_stored()),
            Err(e) => Err(Error::internal(e)),
        }
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Not finished: the partial file must not linger.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(dir: &Path) -> LocalStorage {
        LocalStorage::new(dir, "http://media.test/", &Secret::new("s".repeat(32)))
    }

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn query(url: &str) -> &str {
        url.split_once('?').unwrap().1
    }

    #[tokio::test]
    async fn a_signed_put_link_is_accepted_until_it_expires() {
        let dir = std::env::temp_dir().join(format!("lms-local-{}", uuid::Uuid::now_v7()));
        let s = storage(&dir);
        let put = s
            .presign_put(
                "private/videos/a/b.mp4",
                "video/mp4",
                5,
                now(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(
            put.url
                .starts_with("http://media.test/media/private/videos/a/b.mp4?")
        );
        let grant = s
            .authorize(
                "PUT",
                "private/videos/a/b.mp4",
                Some(query(&put.url)),
                now(),
            )
            .unwrap();
        assert_eq!(grant.content_type.as_deref(), Some("video/mp4"));
        assert_eq!(grant.size, Some(5));
        let late = now() + chrono::Duration::seconds(61);
        let err = s
            .authorize("PUT", "private/videos/a/b.mp4", Some(query(&put.url)), late)
            .unwrap_err();
        assert_eq!(err.message(), "the link has expired");
        // Another key, a changed size or a GET with the PUT's signature fail.
        assert!(
            s.authorize(
                "PUT",
                "private/videos/a/c.mp4",
                Some(query(&put.url)),
                now()
            )
            .is_err()
        );
        let bigger = query(&put.url).replace("size=5", "size=50");
        assert!(
            s.authorize("PUT", "private/videos/a/b.mp4", Some(&bigger), now())
                .is_err()
        );
        assert!(
            s.authorize(
                "GET",
                "private/videos/a/b.mp4",
                Some(query(&put.url)),
                now()
            )
            .is_err()
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn an_upload_appears_only_when_complete_and_exactly_signed() {
        let dir = std::env::temp_dir().join(format!("lms-local-{}", uuid::Uuid::now_v7()));
        let s = storage(&dir);
        let key = "public/avatars/x/me.png";
        let put = s
            .presign_put(key, "image/png", 4, now(), Duration::from_secs(60))
            .await
            .unwrap();
        let grant = s
            .authorize("PUT", key, Some(query(&put.url)), now())
            .unwrap();
        assert!(s.begin_put(&grant, Some("image/jpeg")).await.is_err());

        let mut short = s.begin_put(&grant, Some("image/png")).await.unwrap();
        short.write(b"abc").await.unwrap();
        assert!(short.finish().await.is_err());
        assert_eq!(s.head(key).await.unwrap(), None);

        let mut long = s.begin_put(&grant, Some("image/png")).await.unwrap();
        assert!(long.write(b"abcde").await.is_err());
        drop(long);

        let mut ok = s.begin_put(&grant, Some("image/png")).await.unwrap();
        // A second upload through the same link, at the same time.
        let mut racing = s.begin_put(&grant, Some("image/png")).await.unwrap();
        ok.write(b"ab").await.unwrap();
        ok.write(b"cd").await.unwrap();
        ok.finish().await.unwrap();
        racing.write(b"wxyz").await.unwrap();
        let lost = racing.finish().await.unwrap_err();
        assert_eq!(lost.kind(), crate::ErrorKind::Conflict, "{lost:?}");
        // And one after: refused before its body is read.
        let late = s.begin_put(&grant, Some("image/png")).await.unwrap_err();
        assert_eq!(late.kind(), crate::ErrorKind::Conflict, "{late:?}");
        assert_eq!(std::fs::read(dir.join(key)).unwrap(), b"abcd");
        assert_eq!(
            std::fs::read_dir(dir.join(".tmp")).unwrap().count(),
            0,
            "no temporary file is left behind"
        );
        assert_eq!(
            s.head(key).await.unwrap(),
            Some(ObjectMeta {
                size: 4,
                content_type: Some("image/png".into())
            })
        );
        // Public objects read without a signature; private ones need one.
        s.authorize("GET", key, None, now()).unwrap();
        assert!(
            s.authorize("GET", "private/videos/x/v.mp4", None, now())
                .is_err()
        );
        let get = s
            .presign_get("private/videos/x/v.mp4", now(), Duration::from_secs(60))
            .await
            .unwrap();
        s.authorize("GET", "private/videos/x/v.mp4", Some(query(&get)), now())
            .unwrap();
        // Nothing is left in the temporary folder.
        assert_eq!(std::fs::read_dir(dir.join(".tmp")).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_key_that_climbs_out_is_not_found() {
        let s = storage(Path::new("/nonexistent"));
        let err = s
            .authorize("GET", "public/../../etc/passwd", None, now())
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
    }
}
