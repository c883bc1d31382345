//! The provider settings some commands need, with the `LMS_*` names
//! `lms-http` reads (DESIGN.md, "Configuration names"), so the operator
//! runs `lms` in the server's environment and both see the same storage,
//! Mux account and payment providers.
//!
//! They are defined here rather than taken from `lms-http`: its settings
//! live in the server crate, which this tool should not link. Only what a
//! command uses is read: storage and Mux for `media`, Stripe and Razorpay
//! for `orders` and `payments`.

use lms_core::{Config, Secret};

/// Where uploaded files are and how videos play: the server's local
/// storage in the data folder unless an S3 bucket is named; Mux when its
/// token is given.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Storage and video")]
pub struct MediaSettings {
    /// The server's signing secret: local storage signs its links with it,
    /// so printed links work on the server only with the same one
    /// [default: the data folder's jwt-secret file, where lms-http keeps a
    /// generated one]
    #[arg(
        long,
        global = true,
        env = "LMS_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub jwt_secret: Option<Secret>,

    /// External base URL of the server, the start of local storage's links
    #[arg(
        long,
        global = true,
        env = "LMS_PUBLIC_URL",
        value_name = "URL",
        default_value_t = Config::default().public_url
    )]
    pub public_url: String,

    /// Seconds a download link or playback token stays valid (at most 7 days)
    #[arg(
        long,
        global = true,
        env = "LMS_MEDIA_URL_TTL_SECS",
        value_name = "SECS",
        default_value_t = Config::default().media_url_ttl_secs
    )]
    pub media_url_ttl_secs: u64,

    /// S3 or R2 bucket of uploads [default: local storage in the data folder]
    #[arg(long, global = true, env = "LMS_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,

    /// Bucket region (`auto` for R2)
    #[arg(
        long,
        global = true,
        env = "LMS_S3_REGION",
        value_name = "REGION",
        default_value_t = Config::default().s3_region
    )]
    pub s3_region: String,

    /// Custom S3 endpoint (R2, MinIO, a local server)
    #[arg(long, global = true, env = "LMS_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Path-style bucket addressing, for servers without virtual hosts
    #[arg(long, global = true, env = "LMS_S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: bool,

    /// S3 access key id
    #[arg(
        long,
        global = true,
        env = "LMS_S3_ACCESS_KEY_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key
    #[arg(
        long,
        global = true,
        env = "LMS_S3_SECRET_ACCESS_KEY",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub s3_secret_access_key: Option<Secret>,

    /// Public base URL of the bucket's public images (a CDN, an R2 public domain)
    #[arg(
        long,
        global = true,
        env = "LMS_S3_PUBLIC_BASE_URL",
        value_name = "URL"
    )]
    pub s3_public_base_url: Option<String>,

    /// Mux API token id [default: videos play from the source file]
    #[arg(
        long,
        global = true,
        env = "LMS_MUX_TOKEN_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub mux_token_id: Option<String>,

    /// Mux API token secret
    #[arg(
        long,
        global = true,
        env = "LMS_MUX_TOKEN_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_token_secret: Option<Secret>,

    /// Mux signing key id, the `kid` of playback tokens
    #[arg(long, global = true, env = "LMS_MUX_SIGNING_KEY_ID", value_name = "ID")]
    pub mux_signing_key_id: Option<String>,

    /// Mux signing private key as Mux gives it (base64 of the PEM)
    #[arg(
        long,
        global = true,
        env = "LMS_MUX_SIGNING_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_signing_private_key: Option<Secret>,

    /// Secret of the Mux webhook endpoint (the core checks Mux settings
    /// come complete)
    #[arg(
        long,
        global = true,
        env = "LMS_MUX_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub mux_webhook_secret: Option<Secret>,

    /// Mux API base URL
    #[arg(
        long,
        global = true,
        env = "LMS_MUX_API_URL",
        value_name = "URL",
        default_value_t = Config::default().mux_api_url
    )]
    pub mux_api_url: String,
}

impl MediaSettings {
    /// `config` with these settings. The signing secret is the one given,
    /// or `stored` (the data folder's), when there is one.
    pub fn apply(&self, config: Config, stored: Option<Secret>) -> Config {
        let secret = |s: &Option<Secret>| s.clone().unwrap_or_default();
        let jwt_secret = match (&self.jwt_secret, stored) {
            (Some(given), _) => given.clone(),
            (None, Some(stored)) => stored,
            (None, None) => config.jwt_secret.clone(),
        };
        Config {
            jwt_secret,
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            media_url_ttl_secs: self.media_url_ttl_secs,
            s3_bucket: self.s3_bucket.clone(),
            s3_region: self.s3_region.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            s3_force_path_style: self.s3_force_path_style,
            s3_access_key_id: self.s3_access_key_id.clone(),
            s3_secret_access_key: secret(&self.s3_secret_access_key),
            s3_public_base_url: self.s3_public_base_url.clone(),
            mux_token_id: self.mux_token_id.clone(),
            mux_token_secret: secret(&self.mux_token_secret),
            mux_signing_key_id: self.mux_signing_key_id.clone(),
            mux_signing_private_key: secret(&self.mux_signing_private_key),
            mux_webhook_secret: secret(&self.mux_webhook_secret),
            mux_api_url: self.mux_api_url.clone(),
            ..config
        }
    }
}

/// The payment providers whose APIs refunds and reconciliation call.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Payment providers")]
pub struct PaymentSettings {
    /// Stripe secret API key (`sk_...`) [default: no Stripe]
    #[arg(
        long,
        global = true,
        env = "LMS_STRIPE_SECRET_KEY",
        value_name = "KEY",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub stripe_secret_key: Option<Secret>,

    /// Signing secret of the Stripe webhook endpoint (`whsec_...`; the core
    /// checks Stripe settings come complete)
    #[arg(
        long,
        global = true,
        env = "LMS_STRIPE_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub stripe_webhook_secret: Option<Secret>,

    /// Stripe API base URL
    #[arg(
        long,
        global = true,
        env = "LMS_STRIPE_API_URL",
        value_name = "URL",
        default_value_t = Config::default().stripe_api_url
    )]
    pub stripe_api_url: String,

    /// Razorpay key id [default: no Razorpay]
    #[arg(
        long,
        global = true,
        env = "LMS_RAZORPAY_KEY_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub razorpay_key_id: Option<String>,

    /// Razorpay key secret
    #[arg(
        long,
        global = true,
        env = "LMS_RAZORPAY_KEY_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub razorpay_key_secret: Option<Secret>,

    /// Secret of the Razorpay webhook (the core checks Razorpay settings
    /// come complete)
    #[arg(
        long,
        global = true,
        env = "LMS_RAZORPAY_WEBHOOK_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        value_parser = parse_key
    )]
    pub razorpay_webhook_secret: Option<Secret>,

    /// Razorpay API base URL
    #[arg(
        long,
        global = true,
        env = "LMS_RAZORPAY_API_URL",
        value_name = "URL",
        default_value_t = Config::default().razorpay_api_url
    )]
    pub razorpay_api_url: String,
}

impl PaymentSettings {
    /// `config` with these settings.
    pub fn apply(&self, config: Config) -> Config {
        let secret = |s: &Option<Secret>| s.clone().unwrap_or_default();
        Config {
            stripe_secret_key: secret(&self.stripe_secret_key),
            stripe_webhook_secret: secret(&self.stripe_webhook_secret),
            stripe_api_url: self.stripe_api_url.clone(),
            razorpay_key_id: self.razorpay_key_id.clone(),
            razorpay_key_secret: secret(&self.razorpay_key_secret),
            razorpay_webhook_secret: secret(&self.razorpay_webhook_secret),
            razorpay_api_url: self.razorpay_api_url.clone(),
            ..config
        }
    }
}

/// A provider credential: anything not blank.
fn parse_key(raw: &str) -> Result<Secret, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(Secret::new(raw))
}
