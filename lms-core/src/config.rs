//! Configuration as plain data. The core never reads the environment: the
//! binaries map `LMS_*` variables and flags onto these fields, Python maps
//! keyword arguments, Rust hosts fill the struct. Field names follow the
//! variable names (`LMS_JWT_SECRET` is `jwt_secret`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Secret;
use crate::error::{Error, FieldError, Result};

/// Everything the core needs besides its injected parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// PostgreSQL schema holding this school's tables (`LMS_DATABASE_SCHEMA`).
    /// One server can hold many independent schools, one schema each.
    /// `None` uses the connection's default (`public`). Ignored by SQLite.
    pub database_schema: Option<String>,
    /// Signs access tokens (`LMS_JWT_SECRET`): at least 32 bytes.
    pub jwt_secret: Secret,
    /// Earlier signing secrets still accepted while their tokens live
    /// (`LMS_JWT_PREVIOUS_SECRETS`), for key rotation.
    pub jwt_previous_secrets: Vec<Secret>,
    /// `iss` of access tokens.
    pub jwt_issuer: String,
    /// `aud` of access tokens.
    pub jwt_audience: String,
    /// Access-token lifetime in seconds (15 minutes).
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in seconds (30 days); each use starts a new one.
    pub refresh_token_ttl_secs: u64,
    /// Failed logins in a row that lock an account (5).
    pub max_failed_logins: u32,
    /// How long a locked account stays locked, in seconds (15 minutes).
    pub lockout_secs: u64,
    /// Argon2id memory cost in KiB (19456, OWASP's minimum and our floor).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (2, the floor).
    pub argon2_iterations: u32,
    /// Argon2id lanes (1, the floor).
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; the rest wait. 0 means one per CPU.
    pub hash_concurrency: usize,
    /// Register, login and refresh attempts a minute from one client
    /// address, each counted apart (`LMS_AUTH_RATE_PER_MINUTE`, 60; 0 turns
    /// the limit off). Behind a proxy, the address is the one the proxy saw.
    pub auth_rate_per_minute: u32,
    /// Register and login attempts a minute on one e-mail address
    /// (`LMS_AUTH_ACCOUNT_RATE_PER_MINUTE`, 10; 0 turns the limit off).
    pub auth_account_rate_per_minute: u32,
    /// How long, in milliseconds, answers many requests share (the public
    /// catalog, course trees, the session behind an access token) are kept
    /// in this process (`LMS_READ_CACHE_TTL_MS`; 0, off, in the library:
    /// every read sees the store). This instance's own writes show at once
    /// whatever the value; another instance's show within it, so it bounds
    /// how late a change or a revoked session is seen behind a load
    /// balancer. At most 60,000.
    pub read_cache_ttl_ms: u64,
    /// Embedded data (`LMS_DATA_DIR`, `./lms-data`): local media storage
    /// keeps its files under `media/` there.
    pub data_dir: String,
    /// External base URL of the HTTP server (`LMS_PUBLIC_URL`,
    /// `http://127.0.0.1:8080`): local storage's signed links start with it.
    pub public_url: String,
    /// Lifetime of an upload ticket in seconds (900; at most 7 days, S3's
    /// limit for presigned URLs).
    pub upload_url_ttl_secs: u64,
    /// Lifetime of a presigned download link or playback token, in seconds
    /// (6 hours, so a long lecture plays to its end).
    pub media_url_ttl_secs: u64,
    /// S3 or R2 bucket (`LMS_S3_BUCKET`); unset means local storage.
    pub s3_bucket: Option<String>,
    /// Bucket region (`LMS_S3_REGION`, `us-east-1`; `auto` for R2).
    pub s3_region: String,
    /// Custom endpoint (`LMS_S3_ENDPOINT`), for R2, MinIO or a local server.
    pub s3_endpoint: Option<String>,
    /// Path-style addressing (`LMS_S3_FORCE_PATH_STYLE`), for servers that
    /// do not route virtual hosts.
    pub s3_force_path_style: bool,
    /// Access key id (`LMS_S3_ACCESS_KEY_ID`).
    pub s3_access_key_id: Option<String>,
    /// Secret access key (`LMS_S3_SECRET_ACCESS_KEY`).
    pub s3_secret_access_key: Secret,
    /// Public base URL of the bucket's public images (`LMS_S3_PUBLIC_BASE_URL`),
    /// e.g. a CDN or an R2 public domain.
    pub s3_public_base_url: Option<String>,
    /// Mux API token id (`LMS_MUX_TOKEN_ID`); unset means videos play from
    /// the source file.
    pub mux_token_id: Option<String>,
    /// Mux API token secret (`LMS_MUX_TOKEN_SECRET`).
    pub mux_token_secret: Secret,
    /// Mux signing key id (`LMS_MUX_SIGNING_KEY_ID`), the `kid` of playback tokens.
    pub mux_signing_key_id: Option<String>,
    /// Mux signing private key as Mux gives it: a base64-encoded PEM
    /// (`LMS_MUX_SIGNING_PRIVATE_KEY`).
    pub mux_signing_private_key: Secret,
    /// Secret of the Mux webhook endpoint (`LMS_MUX_WEBHOOK_SECRET`).
    pub mux_webhook_secret: Secret,
    /// Mux API base URL (`LMS_MUX_API_URL`, `https://api.mux.com`).
    pub mux_api_url: String,
    /// LiveKit server URL clients connect to (`LMS_LIVEKIT_URL`,
    /// `wss://...`); API calls go to the same host over http(s). Unset
    /// means no live classes can be joined.
    pub livekit_url: Option<String>,
    /// LiveKit API key (`LMS_LIVEKIT_API_KEY`), the `iss` of our tokens.
    pub livekit_api_key: Option<String>,
    /// LiveKit API secret (`LMS_LIVEKIT_API_SECRET`): signs room tokens
    /// and verifies webhook deliveries.
    pub livekit_api_secret: Secret,
    /// Lifetime of a room token in seconds (`LMS_LIVEKIT_TOKEN_TTL_SECS`,
    /// 6 hours). It only bounds when a participant may join or rejoin: a
    /// class longer than this keeps everyone already in it.
    pub livekit_token_ttl_secs: u64,
    /// Stripe secret API key (`LMS_STRIPE_SECRET_KEY`, `sk_...`); unset
    /// means no Stripe checkout.
    pub stripe_secret_key: Secret,
    /// Signing secret of the Stripe webhook endpoint
    /// (`LMS_STRIPE_WEBHOOK_SECRET`, `whsec_...`).
    pub stripe_webhook_secret: Secret,
    /// Stripe API base URL (`LMS_STRIPE_API_URL`, `https://api.stripe.com`).
    pub stripe_api_url: String,
    /// Razorpay key id (`LMS_RAZORPAY_KEY_ID`); unset means no Razorpay
    /// checkout.
    pub razorpay_key_id: Option<String>,
    /// Razorpay key secret (`LMS_RAZORPAY_KEY_SECRET`).
    pub razorpay_key_secret: Secret,
    /// Secret of the Razorpay webhook (`LMS_RAZORPAY_WEBHOOK_SECRET`).
    pub razorpay_webhook_secret: Secret,
    /// Razorpay API base URL (`LMS_RAZORPAY_API_URL`, `https://api.razorpay.com`).
    pub razorpay_api_url: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_schema: None,
            jwt_secret: Secret::default(),
            jwt_previous_secrets: Vec::new(),
            jwt_issuer: "lms".to_owned(),
            jwt_audience: "lms".to_owned(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            max_failed_logins: 5,
            lockout_secs: 15 * 60,
            argon2_memory_kib: Self::MIN_ARGON2_MEMORY_KIB,
            argon2_iterations: Self::MIN_ARGON2_ITERATIONS,
            argon2_parallelism: 1,
            hash_concurrency: 0,
            auth_rate_per_minute: 60,
            auth_account_rate_per_minute: 10,
            read_cache_ttl_ms: 0,
            data_dir: "./lms-data".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            upload_url_ttl_secs: 15 * 60,
            media_url_ttl_secs: 6 * 3600,
            s3_bucket: None,
            s3_region: "us-east-1".to_owned(),
            s3_endpoint: None,
            s3_force_path_style: false,
            s3_access_key_id: None,
            s3_secret_access_key: Secret::default(),
            s3_public_base_url: None,
            mux_token_id: None,
            mux_token_secret: Secret::default(),
            mux_signing_key_id: None,
            mux_signing_private_key: Secret::default(),
            mux_webhook_secret: Secret::default(),
            mux_api_url: "https://api.mux.com".to_owned(),
            livekit_url: None,
            livekit_api_key: None,
            livekit_api_secret: Secret::default(),
            livekit_token_ttl_secs: 6 * 3600,
            stripe_secret_key: Secret::default(),
            stripe_webhook_secret: Secret::default(),
            stripe_api_url: "https://api.stripe.com".to_owned(),
            razorpay_key_id: None,
            razorpay_key_secret: Secret::default(),
            razorpay_webhook_secret: Secret::default(),
            razorpay_api_url: "https://api.razorpay.com".to_owned(),
        }
    }
}

impl Config {
    /// OWASP's minimum Argon2id memory for t=2, p=1.
    pub const MIN_ARGON2_MEMORY_KIB: u32 = 19_456;
    /// OWASP's minimum passes at that memory.
    pub const MIN_ARGON2_ITERATIONS: u32 = 2;
    /// Highest configurable rate limit, per minute.
    pub const MAX_RATE_PER_MINUTE: u32 = 1_000_000;
    /// Shortest accepted signing secret, in bytes.
    pub const MIN_JWT_SECRET_BYTES: usize = 32;

    /// Longest presigned URL S3 accepts: 7 days.
    pub const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

    /// Longest read-cache lifetime: a minute.
    pub const MAX_READ_CACHE_TTL_MS: u64 = 60_000;

    /// The default configuration with the given signing secret.
    pub fn with_jwt_secret(secret: impl Into<Secret>) -> Self {
        Self {
            jwt_secret: secret.into(),
            ..Self::default()
        }
    }

    /// Access-token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    /// Refresh-token lifetime.
    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_secs)
    }

    /// Lockout window.
    pub fn lockout(&self) -> Duration {
        Duration::from_secs(self.lockout_secs)
    }

    /// Checks every field, reporting all problems at once.
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| {
            errors.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            })
        };
        if self.jwt_secret.expose().len() < Self::MIN_JWT_SECRET_BYTES {
            bad("jwt_secret", "must be at least 32 bytes");
        }
        if self
            .jwt_previous_secrets
            .iter()
            .any(|s| s.expose().len() < Self::MIN_JWT_SECRET_BYTES)
        {
            bad("jwt_previous_secrets", "each must be at least 32 bytes");
        }
        if self.jwt_issuer.trim().is_empty() {
            bad("jwt_issuer", "must not be empty");
        }
        if self.jwt_audience.trim().is_empty() {
            bad("jwt_audience", "must not be empty");
        }
        if !(60..=24 * 3600).contains(&self.access_token_ttl_secs) {
            bad("access_token_ttl_secs", "must be between 60 and 86400");
        }
        if !(3600..=365 * 24 * 3600).contains(&self.refresh_token_ttl_secs) {
            bad(
                "refresh_token_ttl_secs",
                "must be between 3600 and 31536000",
            );
        }
        if !(1..=100).contains(&self.max_failed_logins) {
            bad("max_failed_logins", "must be between 1 and 100");
        }
        if !(1..=7 * 24 * 3600).contains(&self.lockout_secs) {
            bad("lockout_secs", "must be between 1 and 604800");
        }
        if !(Self::MIN_ARGON2_MEMORY_KIB..=4 * 1024 * 1024).contains(&self.argon2_memory_kib) {
            bad("argon2_memory_kib", "must be between 19456 and 4194304");
        }
        if !(Self::MIN_ARGON2_ITERATIONS..=100).contains(&self.argon2_iterations) {
            bad("argon2_iterations", "must be between 2 and 100");
        }
        if !(1..=64).contains(&self.argon2_parallelism) {
            bad("argon2_parallelism", "must be between 1 and 64");
        }
        if self.auth_rate_per_minute > Self::MAX_RATE_PER_MINUTE {
            bad("auth_rate_per_minute", "must be at most 1000000");
        }
        if self.auth_account_rate_per_minute > Self::MAX_RATE_PER_MINUTE {
            bad("auth_account_rate_per_minute", "must be at most 1000000");
        }
        if !(60..=Self::MAX_PRESIGN_SECS).contains(&self.upload_url_ttl_secs) {
            bad("upload_url_ttl_secs", "must be between 60 and 604800");
        }
        if self.read_cache_ttl_ms > Self::MAX_READ_CACHE_TTL_MS {
            bad("read_cache_ttl_ms", "must be at most 60000");
        }
        if !(60..=Self::MAX_PRESIGN_SECS).contains(&self.media_url_ttl_secs) {
            bad("media_url_ttl_secs", "must be between 60 and 604800");
        }
        for (field, url) in [
            ("public_url", Some(&self.public_url)),
            ("mux_api_url", Some(&self.mux_api_url)),
            ("stripe_api_url", Some(&self.stripe_api_url)),
            ("razorpay_api_url", Some(&self.razorpay_api_url)),
            ("s3_endpoint", self.s3_endpoint.as_ref()),
            ("s3_public_base_url", self.s3_public_base_url.as_ref()),
        ] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                bad(field, "must be an http:// or https:// URL");
            }
        }
        if self.s3_bucket.is_some() {
            if self.s3_region.trim().is_empty() {
                bad("s3_region", "must not be empty when s3_bucket is set");
            }
            if self.s3_access_key_id.is_none() {
                bad("s3_access_key_id", "is required when s3_bucket is set");
            }
            if self.s3_secret_access_key.is_empty() {
                bad("s3_secret_access_key", "is required when s3_bucket is set");
            }
        }
        if self.mux_token_id.is_some() {
            if self.mux_token_secret.is_empty() {
                bad("mux_token_secret", "is required when mux_token_id is set");
            }
            if self.mux_signing_key_id.is_none() {
                bad("mux_signing_key_id", "is required when mux_token_id is set");
            }
            if self.mux_signing_private_key.is_empty() {
                bad(
                    "mux_signing_private_key",
                    "is required when mux_token_id is set",
                );
            }
            if self.mux_webhook_secret.is_empty() {
                bad("mux_webhook_secret", "is required when mux_token_id is set");
            }
        }
        if !(60..=24 * 3600).contains(&self.livekit_token_ttl_secs) {
            bad("livekit_token_ttl_secs", "must be between 60 and 86400");
        }
        // LiveKit needs all three settings; any one alone is a mistake.
        let livekit = [
            ("livekit_url", self.livekit_url.is_some()),
            ("livekit_api_key", self.livekit_api_key.is_some()),
            ("livekit_api_secret", !self.livekit_api_secret.is_empty()),
        ];
        if livekit.iter().any(|(_, set)| *set) {
            for (field, set) in livekit {
                if !set {
                    bad(
                        field,
                        "is required when any of livekit_url, livekit_api_key, \
                         livekit_api_secret is set",
                    );
                }
            }
        }
        if let Some(url) = &self.livekit_url
            && !["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len())
        {
            bad(
                "livekit_url",
                "must be a ws://, wss://, http:// or https:// URL",
            );
        }
        if self
            .livekit_api_key
            .as_deref()
            .is_some_and(|key| key.trim().is_empty())
        {
            bad("livekit_api_key", "must not be empty");
        }
        if !self.stripe_secret_key.is_empty() && self.stripe_webhook_secret.is_empty() {
            bad(
                "stripe_webhook_secret",
                "is required when stripe_secret_key is set",
            );
        }
        if self.razorpay_key_id.is_some() {
            if self.razorpay_key_secret.is_empty() {
                bad(
                    "razorpay_key_secret",
                    "is required when razorpay_key_id is set",
                );
            }
            if self.razorpay_webhook_secret.is_empty() {
                bad(
                    "razorpay_webhook_secret",
                    "is required when razorpay_key_id is set",
                );
            }
        }
        if let Some(schema) = &self.database_schema
            && !valid_schema_name(schema)
        {
            bad(
                "database_schema",
                "must be 1 to 63 lower-case letters, digits or '_', starting with a letter or '_'",
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(errors))
        }
    }
}

/// A PostgreSQL identifier we can put in `search_path` without quoting games.
pub(crate) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_needs_only_a_secret() {
        let err = Config::default().validate().unwrap_err();
        assert_eq!(err.fields().len(), 1);
        assert_eq!(err.fields()[0].field, "jwt_secret");
        Config::with_jwt_secret("x".repeat(32)).validate().unwrap();
    }

    #[test]
    fn weaker_argon2_parameters_than_owasp_are_refused() {
        let mut config = Config::with_jwt_secret("x".repeat(32));
        config.argon2_memory_kib = 4096;
        config.argon2_iterations = 1;
        let err = config.validate().unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["argon2_memory_kib", "argon2_iterations"]);
    }

    #[test]
    fn a_schema_name_must_be_a_plain_identifier() {
        assert!(valid_schema_name("school_42"));
        for bad in ["", "School", "1abc", "a-b", "a;drop", &"a".repeat(64)] {
            assert!(!valid_schema_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn livekit_settings_come_all_together_or_not_at_all() {
        let mut config = Config::with_jwt_secret("x".repeat(32));
        config.livekit_api_key = Some("key".into());
        let err = config.validate().unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["livekit_url", "livekit_api_secret"]);
        config.livekit_url = Some("wss://live.example.com".into());
        config.livekit_api_secret = "livekit-secret".into();
        config.validate().unwrap();
        config.livekit_url = Some("live.example.com".into());
        config.livekit_token_ttl_secs = 10;
        let err = config.validate().unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["livekit_token_ttl_secs", "livekit_url"]);
    }

    #[test]
    fn debug_never_shows_the_livekit_secret() {
        let config = Config {
            livekit_api_secret: "livekit-very-secret".into(),
            ..Config::with_jwt_secret("x".repeat(32))
        };
        assert!(!format!("{config:?}").contains("livekit-very-secret"));
    }

    #[test]
    fn a_payment_provider_needs_all_its_secrets() {
        let mut config = Config::with_jwt_secret("x".repeat(32));
        config.stripe_secret_key = "sk_test_1".into();
        config.razorpay_key_id = Some("rzp_test_1".into());
        config.razorpay_api_url = "ftp://nope".into();
        let err = config.validate().unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "razorpay_api_url",
                "stripe_webhook_secret",
                "razorpay_key_secret",
                "razorpay_webhook_secret"
            ]
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let config = Config::with_jwt_secret("super-secret-value-0123456789abcdef");
        assert!(!format!("{config:?}").contains("super-secret"));
    }
}
