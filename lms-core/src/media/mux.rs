//! Mux: creating assets from a source URL, signed playback tokens, and
//! webhook deliveries. The API base URL comes from the configuration, so
//! tests point it at a server on loopback.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::VideoStatus;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::{AssetId, Secret};
use crate::error::{Error, Result};
use crate::signing::{WEBHOOK_TOLERANCE_SECS, verify_timestamped};
use crate::store::media::VideoChange;

/// Playback tokens are reused for at most this long (or a tenth of their
/// lifetime, if shorter): a token names a playback id, not a viewer, so
/// every viewer allowed to play it can share one, and each answer costs no
/// RSA signature. A reused token has at most this much less time left.
const TOKEN_REUSE_SECS: i64 = 60;

/// Most tokens kept for reuse; past it the cache starts over.
const TOKEN_CACHE_MAX: usize = 50_000;

/// The Mux client and signer of one installation.
pub struct Mux {
    http: reqwest::Client,
    api: String,
    token_id: String,
    token_secret: Secret,
    webhook_secret: Secret,
    signer: PlaybackSigner,
}

impl std::fmt::Debug for Mux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("api", &self.api)
            .field("token_id", &self.token_id)
            .field("signing_key_id", &self.signer.kid)
            .finish_non_exhaustive()
    }
}

/// The claims of a Mux playback token.
#[derive(Debug, Serialize, Deserialize)]
struct PlaybackClaims<'a> {
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    kid: &'a str,
}

/// Signs RS256 playback tokens with the Mux signing key.
pub struct PlaybackSigner {
    kid: String,
    key: EncodingKey,
    reuse: Mutex<HashMap<TokenFor, IssuedToken>>,
}

/// (playback id, audience).
type TokenFor = (String, &'static str);
/// (token, expiry as a Unix time).
type IssuedToken = (String, i64);

impl std::fmt::Debug for PlaybackSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaybackSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PlaybackSigner {
    /// A signer for key `kid`; `private_key` is the PEM, base64-encoded as
    /// Mux hands it out (a plain PEM is accepted too).
    pub fn new(kid: &str, private_key: &Secret) -> Result<Self> {
        let raw = private_key.expose().trim();
        let pem = if raw.starts_with("-----BEGIN") {
            raw.as_bytes().to_vec()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(raw.replace(['\n', '\r', ' '], ""))
                .map_err(|_| {
                    Error::invalid_field(
                        "mux_signing_private_key",
                        "must be the base64-encoded PEM Mux gave",
                    )
                })?
        };
        let key = EncodingKey::from_rsa_pem(&pem).map_err(|_| {
            Error::invalid_field("mux_signing_private_key", "is not an RSA private key PEM")
        })?;
        Ok(Self {
            kid: kid.to_owned(),
            key,
            reuse: Mutex::new(HashMap::new()),
        })
    }

    /// A fresh token for `playback_id` and audience `aud` (`v` video, `t`
    /// thumbnail, `g` gif, `s` storyboard) expiring at `exp`: RS256, `kid`
    /// in the header and the claims.
    pub fn sign(&self, playback_id: &str, aud: &str, exp: i64) -> Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let claims = PlaybackClaims {
            sub: playback_id,
            aud,
            exp,
            kid: &self.kid,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(Error::internal)
    }

    /// A token valid for `ttl` from `now`, or one issued at most
    /// [`TOKEN_REUSE_SECS`] ago for the same playback id and audience.
    /// Returns the token and its expiry.
    pub fn token(
        &self,
        playback_id: &str,
        aud: &'static str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(String, i64)> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 4);
        let window = TOKEN_REUSE_SECS.min(ttl / 10);
        let now = now.timestamp();
        let key = (playback_id.to_owned(), aud);
        if let Some((token, exp)) = self.reuse.lock().expect("token cache").get(&key)
            && *exp - now >= ttl - window
        {
            return Ok((token.clone(), *exp));
        }
        let exp = now + ttl;
        let token = self.sign(playback_id, aud, exp)?;
        let mut cache = self.reuse.lock().expect("token cache");
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (token.clone(), exp));
        Ok((token, exp))
    }
}

/// What Mux's API wraps every answer in.
#[derive(Debug, Deserialize)]
struct Envelope {
    data: Value,
}

/// A webhook event as Mux sends it.
#[derive(Debug, Deserialize)]
pub(crate) struct MuxEvent {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) data: Value,
}

impl Mux {
    /// The client `config` describes, or `None` when Mux is not configured.
    pub fn from_config(config: &Config, http: reqwest::Client) -> Result<Option<Self>> {
        let Some(token_id) = config.mux_token_id.clone() else {
            return Ok(None);
        };
        let kid = config.mux_signing_key_id.clone().unwrap_or_default();
        Ok(Some(Self {
            http,
            api: config.mux_api_url.trim_end_matches('/').to_owned(),
            token_id,
            token_secret: config.mux_token_secret.clone(),
            webhook_secret: config.mux_webhook_secret.clone(),
            signer: PlaybackSigner::new(&kid, &config.mux_signing_private_key)?,
        }))
    }

    /// The playback signer.
    pub fn signer(&self) -> &PlaybackSigner {
        &self.signer
    }

    /// Creates a Mux asset from the file at `input_url` with signed
    /// playback, tagged with our asset id; returns Mux's asset id.
    pub async fn create_asset(&self, input_url: &str, passthrough: AssetId) -> Result<String> {
        let body = json!({
            "inputs": [{ "url": input_url }],
            "playback_policies": ["signed"],
            "passthrough": passthrough.to_string(),
        });
        let response = self
            .http
            .post(format!("{}/video/v1/assets", self.api))
            .basic_auth(&self.token_id, Some(self.token_secret.expose()))
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::unreachable("Mux", e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable("Mux", e))?;
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/messages/0")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            return Err(Error::provider(format!(
                "Mux refused to create the asset ({status}) {detail}"
            )));
        }
        let envelope: Envelope = serde_json::from_str(&text)
            .map_err(|e| Error::provider(format!("Mux sent an unreadable asset: {e}")))?;
        envelope
            .data
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::provider("Mux sent an asset without an id"))
    }

    /// Checks a delivery's `mux-signature` header and reads the event.
    pub(crate) fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<MuxEvent> {
        let header = signature
            .ok_or_else(|| Error::unauthenticated("mux-signature: the header is missing"))?;
        verify_timestamped(
            header,
            body,
            self.webhook_secret.expose().as_bytes(),
            now,
            WEBHOOK_TOLERANCE_SECS,
        )
        .map_err(|p| Error::unauthenticated(format!("mux-signature: {}", p.message())))?;
        serde_json::from_slice(body)
            .map_err(|e| Error::invalid_field("body", format!("is not a Mux event: {e}")))
    }
}

/// What an event says about one of our videos, if anything.
pub(crate) fn video_change(event: &MuxEvent) -> Option<VideoChange> {
    let status = match event.kind.as_str() {
        "video.asset.created" => VideoStatus::Processing,
        "video.asset.ready" => VideoStatus::Ready,
        "video.asset.errored" => VideoStatus::Errored,
        "video.asset.deleted" => VideoStatus::Deleted,
        _ => return None,
    };
    let data = &event.data;
    let provider_asset_id = data.get("id")?.as_str()?.to_owned();
    let asset_id = data
        .get("passthrough")
        .and_then(Value::as_str)
        .and_then(|p| AssetId::parse("passthrough", p).ok());
    let playback_id = data
        .get("playback_ids")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .find(|p| p.get("policy").and_then(Value::as_str) == Some("signed"))
                .or_else(|| ids.first())
        })
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let duration_secs = data
        .get("duration")
        .and_then(Value::as_f64)
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(|d| d.round() as i64);
    Some(VideoChange {
        asset_id,
        provider_asset_id,
        status,
        playback_id: if status == VideoStatus::Ready {
            playback_id
        } else {
            None
        },
        duration_secs: if status == VideoStatus::Ready {
            duration_secs
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> MuxEvent {
        MuxEvent {
            id: "evt".into(),
            kind: kind.into(),
            data,
        }
    }

    #[test]
    fn a_ready_event_gives_the_signed_playback_id_and_the_rounded_duration() {
        let asset = AssetId::new();
        let change = video_change(&event(
            "video.asset.ready",
            json!({
                "id": "mux-asset",
                "passthrough": asset.to_string(),
                "duration": 61.6,
                "playback_ids": [{"id": "public-id", "policy": "public"}, {"id": "signed-id", "policy": "signed"}],
            }),
        ))
        .unwrap();
        assert_eq!(change.asset_id, Some(asset));
        assert_eq!(change.status, VideoStatus::Ready);
        assert_eq!(change.playback_id.as_deref(), Some("signed-id"));
        assert_eq!(change.duration_secs, Some(62));
    }

    #[test]
    fn other_event_types_say_nothing_about_videos() {
        assert!(video_change(&event("video.upload.created", json!({"id": "u"}))).is_none());
        assert!(video_change(&event("video.asset.ready", json!({}))).is_none());
    }
}
