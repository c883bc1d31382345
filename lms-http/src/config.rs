//! The binary's settings: one flag per `LMS_*` variable (DESIGN.md,
//! "Configuration names"), each also read from the environment, and how
//! they become the core's [`Config`] and the server's [`HttpConfig`].
//!
//! With nothing set, `lms-http` runs the embedded default: SQLite in
//! `./lms-data/lms.db`, a signing secret generated into the same folder on
//! first start, listening on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use lms_core::{Config, Secret};

use crate::app::HttpConfig;
use crate::secret;

/// Settings of the `lms-http` server.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "lms-http",
    version,
    about = "The lms HTTP API server",
    long_about = "The lms HTTP API server. With no settings it runs the embedded default: \
                  SQLite in ./lms-data/lms.db, a signing secret generated into ./lms-data \
                  on first start, listening on 127.0.0.1:8080."
)]
pub struct Settings {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST/DB`
    /// [default: sqlite://DIR/lms.db, DIR being the data folder]
    #[arg(
        long,
        env = "LMS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// PostgreSQL schema holding this school's tables, created when missing
    /// [default: the connection's, usually public]
    #[arg(long, env = "LMS_DATABASE_SCHEMA", value_name = "SCHEMA")]
    pub database_schema: Option<String>,

    /// Folder for embedded data: the SQLite file, local media, the generated
    /// signing secret
    #[arg(
        long,
        env = "LMS_DATA_DIR",
        value_name = "DIR",
        default_value = "./lms-data"
    )]
    pub data_dir: PathBuf,

    /// Address to listen on (port 0 picks a free port; the log says which)
    #[arg(
        long,
        env = "LMS_BIND",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: String,

    /// External base URL of this server, used in signed local links
    #[arg(long, env = "LMS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Access-token signing secret, at least 32 bytes. Every instance
    /// behind one load balancer needs the same one [default: generated on
    /// first start and kept in the data folder's jwt-secret file]
    #[arg(
        long,
        env = "LMS_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub jwt_secret: Option<Secret>,

    /// Earlier signing secrets, comma-separated, still accepted while their
    /// tokens live (key rotation)
    #[arg(
        long,
        env = "LMS_JWT_PREVIOUS_SECRETS",
        value_name = "SECRETS",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = parse_secret
    )]
    pub jwt_previous_secrets: Vec<Secret>,

    /// Browser origins allowed to call the API, comma-separated
    /// (`https://app.example.com`)
    #[arg(
        long,
        env = "LMS_CORS_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub cors_origins: Vec<String>,

    /// Proxies in front of this server whose `X-Forwarded-For` names the
    /// client, comma-separated addresses or CIDR blocks (`10.0.0.0/8`).
    /// Without them the socket peer is the client, whatever headers say
    #[arg(
        long,
        env = "LMS_TRUSTED_PROXIES",
        value_name = "CIDRS",
        value_delimiter = ',',
        value_parser = crate::client::parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Milliseconds this instance keeps catalog pages, course trees and
    /// access-token sessions it has read (at most 60000; 0 turns it off).
    /// Its own writes show at once; another instance's within this time,
    /// which also bounds how late a session revoked elsewhere is refused
    #[arg(
        long,
        env = "LMS_READ_CACHE_TTL_MS",
        value_name = "MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(0..=Config::MAX_READ_CACHE_TTL_MS)
    )]
    pub read_cache_ttl_ms: u64,

    /// Register, login and refresh attempts a minute from one client
    /// address, each counted apart; 0 turns the limit off
    #[arg(
        long,
        env = "LMS_AUTH_RATE_PER_MINUTE",
        value_name = "N",
        default_value_t = Config::default().auth_rate_per_minute,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(Config::MAX_RATE_PER_MINUTE))
    )]
    pub auth_rate_per_minute: u32,

    /// Register and login attempts a minute on one e-mail address; 0 turns
    /// the limit off
    #[arg(
        long,
        env = "LMS_AUTH_ACCOUNT_RATE_PER_MINUTE",
        value_name = "N",
        default_value_t = Config::default().auth_account_rate_per_minute,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(Config::MAX_RATE_PER_MINUTE))
    )]
    pub auth_account_rate_per_minute: u32,

    /// Serve `GET /metrics` (Prometheus) on this address only, instead of
    /// on the API's
    #[arg(long, env = "LMS_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<String>,

    /// Largest request body accepted, in bytes
    #[arg(long, env = "LMS_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Connections served at once; more wait to be accepted
    #[arg(
        long,
        env = "LMS_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 1024,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,

    /// Seconds a client may take to send a request's headers; also how long
    /// an idle connection stays open
    #[arg(
        long,
        env = "LMS_HEADER_READ_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub header_read_timeout_secs: u64,

    /// Seconds shutdown waits for in-flight requests before dropping them
    #[arg(
        long,
        env = "LMS_SHUTDOWN_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = 10
    )]
    pub shutdown_timeout_secs: u64,

    /// Log one JSON object per line instead of text
    #[arg(long, env = "LMS_LOG_JSON")]
    pub log_json: bool,

    /// LiveKit server URL clients connect to (`wss://...`); API calls go to
    /// the same host over https. Set it with the key and secret, or none
    #[arg(long, env = "LMS_LIVEKIT_URL", value_name = "URL")]
    pub livekit_url: Option<String>,

    /// LiveKit API key
    #[arg(long, env = "LMS_LIVEKIT_API_KEY", value_name = "KEY")]
    pub livekit_api_key: Option<String>,

    /// LiveKit API secret: signs room tokens, checks LiveKit's webhooks
    #[arg(
        long,
        env = "LMS_LIVEKIT_API_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub livekit_api_secret: Option<Secret>,

    /// Seconds a LiveKit room token admits its holder
    #[arg(
        long,
        env = "LMS_LIVEKIT_TOKEN_TTL_SECS",
        value_name = "SECS",
        default_value_t = Config::default().livekit_token_ttl_secs,
        value_parser = clap::value_parser!(u64).range(60..=86400)
    )]
    pub livekit_token_ttl_secs: u64,

    #[command(flatten)]
    pub media: MediaSettings,

    #[command(flatten)]
    pub payments: PaymentSettings,
}

/// Where uploaded files go and how videos play: local storage in the data
/// folder unless an S3 bucket is named; Mux when its token is given.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Media")]
pub struct MediaSettings {
    /// Seconds an upload ticket stays valid (at most 7 days)
    #[arg(
        long,
        env = "LMS_UPLOAD_URL_TTL_SECS",
        value_name = "SECS",
        default_value_t = Config::default().upload_url_ttl_secs
    )]
    pub upload_url_ttl_secs: u64,

    /// Seconds a download link or playback token stays valid (at most 7 days)
    #[arg(
        long,
        env = "LMS_MEDIA_URL_TTL_SECS",
        value_name = "SECS",
        default_value_t = Config::default().media_url_ttl_secs
    )]
    pub media_url_ttl_secs: u64,

    /// S3 or R2 bucket for uploads [default: local storage in the data folder]
    #[arg(long, env = "LMS_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,

    /// Bucket region (`auto` for R2)
    #[arg(
        long,
        env = "LMS_S3_REGION",
        value_name = "REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,

    /// Custom S3 endpoint (R2, MinIO, a local server)
    #[arg(long, env = "LMS_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Path-style bucket addressing, for servers without virtual hosts
    #[arg(long, env = "LMS_S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: bool,

    /// S3 access key id
    #[arg(
        long,
        env = "LMS_S3_ACCESS_KEY_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key
    #[arg(
        long,
        env = "LMS_S3_SECRET_ACCESS_KEY",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub s3_secret_access_key: Option<Secret>,

    /// Public base URL of the bucket's public images (a CDN, an R2 public domain)
    #[arg(long, env = "LMS_S3_PUBLIC_BASE_URL", value_name = "URL")]
    pub s3_public_base_url: Option<String>,

    /// Mux API token id [default: videos play from the source file]
    #[arg(
        long,
        env = "LMS_MUX_TOKEN_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub mux_token_id: Option<String>,

    /// Mux API token secret
    #[arg(
        long,
        env = "LMS_MUX_TOKEN_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_token_secret: Option<Secret>,

    /// Mux signing key id, the `kid` of playback tokens
    #[arg(long, env = "LMS_MUX_SIGNING_KEY_ID", value_name = "ID")]
    pub mux_signing_key_id: Option<String>,

    /// Mux signing private key as Mux gives it (base64 of the PEM)
    #[arg(
        long,
        env = "LMS_MUX_SIGNING_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_signing_private_key: Option<Secret>,

    /// Secret of the Mux webhook endpoint
    #[arg(
        long,
        env = "LMS_MUX_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_webhook_secret: Option<Secret>,

    /// Mux API base URL
    #[arg(
        long,
        env = "LMS_MUX_API_URL",
        value_name = "URL",
        default_value = "https://api.mux.com"
    )]
    pub mux_api_url: String,
}

/// Who takes payments: Stripe when its secret key is given, Razorpay when
/// its key id is; a manual (offline) payment needs neither.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Payments")]
pub struct PaymentSettings {
    /// Stripe secret API key (`sk_...`) [default: no Stripe checkout]
    #[arg(
        long,
        env = "LMS_STRIPE_SECRET_KEY",
        value_name = "KEY",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub stripe_secret_key: Option<Secret>,

    /// Signing secret of the Stripe webhook endpoint (`whsec_...`)
    #[arg(
        long,
        env = "LMS_STRIPE_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub stripe_webhook_secret: Option<Secret>,

    /// Stripe API base URL
    #[arg(
        long,
        env = "LMS_STRIPE_API_URL",
        value_name = "URL",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_url: String,

    /// Razorpay key id (`rzp_...`), also handed to Razorpay Checkout in the
    /// browser [default: no Razorpay checkout]
    #[arg(long, env = "LMS_RAZORPAY_KEY_ID", value_name = "ID")]
    pub razorpay_key_id: Option<String>,

    /// Razorpay key secret: API calls and Checkout payment signatures
    #[arg(
        long,
        env = "LMS_RAZORPAY_KEY_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub razorpay_key_secret: Option<Secret>,

    /// Secret of the Razorpay webhook
    #[arg(
        long,
        env = "LMS_RAZORPAY_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub razorpay_webhook_secret: Option<Secret>,

    /// Razorpay API base URL
    #[arg(
        long,
        env = "LMS_RAZORPAY_API_URL",
        value_name = "URL",
        default_value = "https://api.razorpay.com"
    )]
    pub razorpay_api_url: String,
}

/// A provider credential: anything not blank.
fn parse_key(raw: &str) -> Result<Secret, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(Secret::new(raw))
}

fn parse_secret(raw: &str) -> Result<Secret, String> {
    let raw = raw.trim();
    if raw.len() < Config::MIN_JWT_SECRET_BYTES {
        return Err(format!(
            "must be at least {} bytes",
            Config::MIN_JWT_SECRET_BYTES
        ));
    }
    Ok(Secret::new(raw))
}

/// An origin is a scheme, a host and maybe a port: nothing after it.
fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    let valid = origin == "*"
        || origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
        });
    if valid {
        Ok(origin.to_owned())
    } else {
        Err("must be an origin such as https://app.example.com".to_owned())
    }
}

impl Settings {
    /// The store URL: the one given, or the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("lms.db").display()))
    }

    /// The core's configuration. Without `jwt_secret` it reads the secret
    /// kept in the data folder, generating it on first start. Without
    /// `public_url`, signed local links name `bound`, the address the server
    /// listens on.
    pub fn core_config(&self, bound: Option<SocketAddr>) -> std::io::Result<Config> {
        let jwt_secret = match &self.jwt_secret {
            Some(secret) => secret.clone(),
            None => secret::load_or_create(&self.data_dir)?,
        };
        let defaults = Config::default();
        let public_url = match (&self.public_url, bound) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => defaults.public_url.clone(),
        };
        let m = &self.media;
        let p = &self.payments;
        let secret = |s: &Option<Secret>| s.clone().unwrap_or_default();
        Ok(Config {
            database_schema: self.database_schema.clone(),
            jwt_secret,
            jwt_previous_secrets: self.jwt_previous_secrets.clone(),
            auth_rate_per_minute: self.auth_rate_per_minute,
            read_cache_ttl_ms: self.read_cache_ttl_ms,
            auth_account_rate_per_minute: self.auth_account_rate_per_minute,
            data_dir: self.data_dir.display().to_string(),
            public_url,
            upload_url_ttl_secs: m.upload_url_ttl_secs,
            media_url_ttl_secs: m.media_url_ttl_secs,
            s3_bucket: m.s3_bucket.clone(),
            s3_region: m.s3_region.clone(),
            s3_endpoint: m.s3_endpoint.clone(),
            s3_force_path_style: m.s3_force_path_style,
            s3_access_key_id: m.s3_access_key_id.clone(),
            s3_secret_access_key: secret(&m.s3_secret_access_key),
            s3_public_base_url: m.s3_public_base_url.clone(),
            mux_token_id: m.mux_token_id.clone(),
            mux_token_secret: secret(&m.mux_token_secret),
            mux_signing_key_id: m.mux_signing_key_id.clone(),
            mux_signing_private_key: secret(&m.mux_signing_private_key),
            mux_webhook_secret: secret(&m.mux_webhook_secret),
            mux_api_url: m.mux_api_url.clone(),
            livekit_url: self.livekit_url.clone(),
            livekit_api_key: self.livekit_api_key.clone(),
            livekit_api_secret: self.livekit_api_secret.clone().unwrap_or_default(),
            livekit_token_ttl_secs: self.livekit_token_ttl_secs,
            stripe_secret_key: secret(&p.stripe_secret_key),
            stripe_webhook_secret: secret(&p.stripe_webhook_secret),
            stripe_api_url: p.stripe_api_url.clone(),
            razorpay_key_id: p.razorpay_key_id.clone(),
            razorpay_key_secret: secret(&p.razorpay_key_secret),
            razorpay_webhook_secret: secret(&p.razorpay_webhook_secret),
            razorpay_api_url: p.razorpay_api_url.clone(),
            ..defaults
        })
    }

    /// The server's configuration.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            max_body_bytes: self.max_body_bytes,
            max_connections: self.max_connections as usize,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body_read_timeout: HttpConfig::default().body_read_timeout,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            cors_origins: self.cors_origins.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            metrics_on_api: self.metrics_bind.is_none(),
            public_url: self.public_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("lms-http").chain(args.iter().copied()))
    }

    #[test]
    fn no_settings_is_the_embedded_default() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite://./lms-data/lms.db");
        assert_eq!(s.http_config().max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn the_database_follows_the_data_folder_unless_given() {
        let s = parse(&["--data-dir", "/srv/lms"]).unwrap();
        assert_eq!(s.database_url(), "sqlite:///srv/lms/lms.db");
        let s = parse(&[
            "--data-dir",
            "/srv/lms",
            "--database-url",
            "postgres://db/lms",
        ])
        .unwrap();
        assert_eq!(s.database_url(), "postgres://db/lms");
    }

    #[test]
    fn previous_secrets_and_origins_are_comma_separated() {
        let a = "a".repeat(32);
        let b = "b".repeat(32);
        let s = parse(&[
            "--jwt-previous-secrets",
            &format!("{a},{b}"),
            "--cors-origins",
            "https://a.example,http://localhost:3000/",
        ])
        .unwrap();
        assert_eq!(s.jwt_previous_secrets.len(), 2);
        assert_eq!(s.jwt_previous_secrets[1].expose(), b);
        assert_eq!(
            s.cors_origins,
            ["https://a.example", "http://localhost:3000"]
        );
    }

    #[test]
    fn a_short_secret_or_a_url_with_a_path_is_refused() {
        assert!(parse(&["--jwt-secret", "short"]).is_err());
        assert!(parse(&["--cors-origins", "https://a.example/app"]).is_err());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--trusted-proxies", "10.0.0.0/33"]).is_err());
        assert!(parse(&["--auth-rate-per-minute", "-1"]).is_err());
    }

    #[test]
    fn proxies_rates_and_the_metrics_address_reach_the_configs() {
        let s = parse(&[
            "--trusted-proxies",
            "10.0.0.0/8, 192.0.2.1",
            "--auth-rate-per-minute",
            "0",
            "--auth-account-rate-per-minute",
            "3",
            "--metrics-bind",
            "127.0.0.1:9090",
            "--jwt-secret",
            &"k".repeat(32),
        ])
        .unwrap();
        let http = s.http_config();
        assert_eq!(http.trusted_proxies.len(), 2);
        assert!(!http.metrics_on_api);
        let core = s.core_config(None).unwrap();
        assert_eq!(
            (core.auth_rate_per_minute, core.auth_account_rate_per_minute),
            (0, 3)
        );
        assert!(parse(&[]).unwrap().http_config().metrics_on_api);
    }

    #[test]
    fn media_settings_reach_the_core_and_links_name_the_bound_address() {
        let jwt = "j".repeat(32);
        let s = parse(&["--jwt-secret", &jwt, "--data-dir", "/srv/lms"]).unwrap();
        let bound: SocketAddr = "127.0.0.1:43210".parse().unwrap();
        let core = s.core_config(Some(bound)).unwrap();
        assert_eq!(core.public_url, "http://127.0.0.1:43210");
        assert_eq!(core.data_dir, "/srv/lms");
        assert_eq!(core.s3_bucket, None);
        let s = parse(&[
            "--jwt-secret",
            &jwt,
            "--public-url",
            "https://learn.example.com/",
            "--s3-bucket",
            "courses",
            "--s3-region",
            "auto",
            "--s3-endpoint",
            "https://acct.r2.cloudflarestorage.com",
            "--s3-access-key-id",
            "AKID",
            "--s3-secret-access-key",
            "s3-secret-value",
            "--mux-token-id",
            "mux-id",
            "--mux-token-secret",
            "mux-secret-value",
            "--mux-signing-key-id",
            "kid-1",
            "--mux-signing-private-key",
            "bXV4LWtleQ==",
            "--mux-webhook-secret",
            "hook-secret-value",
            "--upload-url-ttl-secs",
            "600",
        ])
        .unwrap();
        let core = s.core_config(Some(bound)).unwrap();
        assert_eq!(core.public_url, "https://learn.example.com");
        assert_eq!(core.s3_bucket.as_deref(), Some("courses"));
        assert_eq!(core.s3_region, "auto");
        assert_eq!(core.s3_secret_access_key.expose(), "s3-secret-value");
        assert_eq!(core.mux_signing_key_id.as_deref(), Some("kid-1"));
        assert_eq!(core.mux_webhook_secret.expose(), "hook-secret-value");
        assert_eq!(core.upload_url_ttl_secs, 600);
        let shown = format!("{s:?} {core:?}");
        for secret in [
            "s3-secret-value",
            "mux-secret-value",
            "hook-secret-value",
            "bXV4LWtleQ==",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn livekit_settings_reach_the_core_config() {
        let s = parse(&[
            "--livekit-url",
            "wss://live.example.com",
            "--livekit-api-key",
            "APIkey",
            "--livekit-api-secret",
            "lk-secret",
            "--livekit-token-ttl-secs",
            "3600",
            "--jwt-secret",
            &"k".repeat(32),
        ])
        .unwrap();
        let core = s.core_config(None).unwrap();
        assert_eq!(core.livekit_url.as_deref(), Some("wss://live.example.com"));
        assert_eq!(core.livekit_api_key.as_deref(), Some("APIkey"));
        assert_eq!(core.livekit_api_secret.expose(), "lk-secret");
        assert_eq!(core.livekit_token_ttl_secs, 3600);
        assert!(!format!("{s:?}").contains("lk-secret"));
        assert!(parse(&["--livekit-token-ttl-secs", "5"]).is_err());
        assert!(parse(&["--livekit-api-secret", " "]).is_err());
    }

    #[test]
    fn payment_settings_reach_the_core_config_and_stay_hidden() {
        let s = parse(&["--jwt-secret", &"k".repeat(32)]).unwrap();
        let core = s.core_config(None).unwrap();
        assert!(core.stripe_secret_key.is_empty());
        assert_eq!(core.stripe_api_url, "https://api.stripe.com");
        assert_eq!(core.razorpay_key_id, None);
        assert_eq!(core.razorpay_api_url, "https://api.razorpay.com");
        let s = parse(&[
            "--jwt-secret",
            &"k".repeat(32),
            "--stripe-secret-key",
            "sk_test_value",
            "--stripe-webhook-secret",
            "whsec_value",
            "--stripe-api-url",
            "http://127.0.0.1:9001",
            "--razorpay-key-id",
            "rzp_test_id",
            "--razorpay-key-secret",
            "rzp-secret-value",
            "--razorpay-webhook-secret",
            "rzp-hook-value",
            "--razorpay-api-url",
            "http://127.0.0.1:9002",
        ])
        .unwrap();
        let core = s.core_config(None).unwrap();
        assert_eq!(core.stripe_secret_key.expose(), "sk_test_value");
        assert_eq!(core.stripe_webhook_secret.expose(), "whsec_value");
        assert_eq!(core.stripe_api_url, "http://127.0.0.1:9001");
        assert_eq!(core.razorpay_key_id.as_deref(), Some("rzp_test_id"));
        assert_eq!(core.razorpay_key_secret.expose(), "rzp-secret-value");
        assert_eq!(core.razorpay_webhook_secret.expose(), "rzp-hook-value");
        assert_eq!(core.razorpay_api_url, "http://127.0.0.1:9002");
        let shown = format!("{s:?} {core:?}");
        for secret in [
            "sk_test_value",
            "whsec_value",
            "rzp-secret-value",
            "rzp-hook-value",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(parse(&["--stripe-webhook-secret", " "]).is_err());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let s = parse(&["--jwt-secret", &"s3cr3t".repeat(8)]).unwrap();
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}
