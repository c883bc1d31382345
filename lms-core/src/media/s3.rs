//! S3-compatible storage (AWS S3, Cloudflare R2, MinIO): presigned PUT and
//! GET by aws-sdk-s3, existence checks by a presigned HEAD sent with the
//! shared HTTP client, so the SDK needs no HTTP stack of its own.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;

use super::storage::{ObjectMeta, ObjectStorage, PresignedRequest};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{Error, Result};

/// A bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
    public_base: String,
    http: reqwest::Client,
}

impl S3Storage {
    /// Storage in the bucket `config` names (`s3_*` fields), checking with
    /// `http`.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Result<Self> {
        let bucket = config
            .s3_bucket
            .clone()
            .ok_or_else(|| Error::invalid_field("s3_bucket", "is required"))?;
        let credentials = Credentials::new(
            config.s3_access_key_id.clone().unwrap_or_default(),
            config.s3_secret_access_key.expose(),
            None,
            None,
            "lms-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.s3_region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.s3_force_path_style);
        if let Some(endpoint) = &config.s3_endpoint {
            builder = builder.endpoint_url(endpoint.trim_end_matches('/'));
        }
        let public_base = match (&config.s3_public_base_url, &config.s3_endpoint) {
            (Some(base), _) => base.trim_end_matches('/').to_owned(),
            (None, Some(endpoint)) if config.s3_force_path_style => {
                format!("{}/{bucket}", endpoint.trim_end_matches('/'))
            }
            (None, Some(endpoint)) => match endpoint.split_once("://") {
                Some((scheme, host)) => {
                    format!("{scheme}://{bucket}.{}", host.trim_end_matches('/'))
                }
                None => endpoint.clone(),
            },
            (None, None) => format!("https://{bucket}.s3.{}.amazonaws.com", config.s3_region),
        };
        Ok(Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket,
            public_base,
            http,
        })
    }

    fn presigning(now: Timestamp, expires_in: Duration) -> Result<PresigningConfig> {
        let start = SystemTime::from(now);
        PresigningConfig::builder()
            .start_time(start)
            .expires_in(expires_in)
            .build()
            .map_err(|e| Error::invalid_field("expires_in", e.to_string()))
    }
}

fn presign_failed(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("cannot presign the S3 request: {e}"))
}

#[async_trait]
impl ObjectStorage for S3Storage {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now: Timestamp,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            // Signed, so the client must send it: the link writes the key
            // once, and a stored object cannot be swapped after its upload
            // was checked (S3 answers 412 to a second PUT).
            .if_none_match("*")
            .presigned(Self::presigning(now, expires_in)?)
            .await
            .map_err(presign_failed)?;
        let headers: BTreeMap<String, String> = request
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        Ok(PresignedRequest {
            method: request.method().to_owned(),
            url: request.uri().to_owned(),
            headers,
        })
    }

    async fn presign_get(&self, key: &str, now: Timestamp, expires_in: Duration) -> Result<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(Self::presigning(now, expires_in)?)
            .await
            .map_err(presign_failed)?;
        Ok(request.uri().to_owned())
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let request = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(Self::presigning(
                crate::clock::stored(chrono::Utc::now()),
                Duration::from_secs(60),
            )?)
            .await
            .map_err(presign_failed)?;
        let response = self
            .http
            .head(request.uri())
            .send()
            .await
            .map_err(|e| Error::unreachable("object storage", e))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            status => {
                return Err(Error::provider(format!(
                    "object storage answered {status} to a HEAD"
                )));
            }
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let size = header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::provider("object storage sent no Content-Length"))?;
        Ok(Some(ObjectMeta {
            size,
            content_type: header("content-type"),
        }))
    }

    fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }
}
