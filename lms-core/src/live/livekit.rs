//! LiveKit: access tokens, webhook deliveries and ingresses. Tokens are
//! HS256 JWTs signed with the API secret (`iss` = API key), as LiveKit's
//! servers and SDKs verify them. The server URL comes from the
//! configuration, so tests point it at a server on loopback.

use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::model::{IngressType, LiveIngress, LiveRole};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::Secret;
use crate::error::{Error, Result};

/// Clock difference allowed between LiveKit and us when checking a
/// delivery's `nbf` and `exp`.
const WEBHOOK_LEEWAY_SECS: i64 = 60;

/// Lifetime of the token authorizing one API call of ours.
const API_TOKEN_SECS: i64 = 600;

/// The LiveKit client and signer of one installation.
pub struct LiveKit {
    http: reqwest::Client,
    url: String,
    host: String,
    api_key: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for LiveKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKit")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// The `video` grant, in LiveKit's camelCase. An absent `canPublish` or
/// `canSubscribe` means *true* to LiveKit, so viewers carry an explicit
/// `false`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrant {
    /// May join `room`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_join: Option<bool>,
    /// The room the grant is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// May publish audio and video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish: Option<bool>,
    /// May receive others' tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_subscribe: Option<bool>,
    /// May send data messages (chat, reactions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_publish_data: Option<bool>,
    /// May moderate the room (mute, remove participants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_admin: Option<bool>,
    /// May manage ingresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_admin: Option<bool>,
}

impl VideoGrant {
    /// What `role` may do in `room`.
    pub fn for_role(role: LiveRole, room: &str) -> Self {
        match role {
            LiveRole::Host => Self {
                room_join: Some(true),
                room: Some(room.to_owned()),
                can_publish: Some(true),
                can_subscribe: Some(true),
                can_publish_data: Some(true),
                room_admin: Some(true),
                ingress_admin: None,
            },
            LiveRole::Viewer => Self {
                room_join: Some(true),
                room: Some(room.to_owned()),
                can_publish: Some(false),
                can_subscribe: Some(true),
                can_publish_data: Some(true),
                room_admin: None,
                ingress_admin: None,
            },
        }
    }
}

/// The claims of a LiveKit token: access tokens carry `sub`, `name` and
/// `video`; webhook tokens carry `sha256` of the body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    video: Option<VideoGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// A webhook event as LiveKit sends it (only the fields we read).
#[derive(Debug, Deserialize)]
pub(crate) struct LiveKitEvent {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) event: String,
    #[serde(default)]
    pub(crate) room: Option<EventRoom>,
}

/// The room an event is about.
#[derive(Debug, Deserialize)]
pub(crate) struct EventRoom {
    #[serde(default)]
    pub(crate) name: String,
}

/// A new ingress as LiveKit answers it: protobuf JSON, whose field names
/// are snake_case or camelCase depending on the server's marshaller.
#[derive(Debug, Deserialize)]
struct IngressInfo {
    #[serde(alias = "ingressId")]
    ingress_id: String,
    #[serde(default)]
    url: String,
    #[serde(default, alias = "streamKey")]
    stream_key: String,
}

/// LiveKit's HTTP host for a client URL: `ws` becomes `http`, `wss`
/// becomes `https` (API calls go to the same server as the client).
pub(crate) fn http_host(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_owned()
    }
}

/// Standard base64 of SHA-256(`body`): what LiveKit's `sha256` claim holds.
pub fn body_digest(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
}

/// Equality that takes as long whatever the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl LiveKit {
    /// The client `config` describes, or `None` when LiveKit is not
    /// configured (validation has checked the three settings go together).
    pub fn from_config(config: &Config, http: reqwest::Client) -> Option<Self> {
        let url = config.livekit_url.clone()?;
        let api_key = config.livekit_api_key.clone()?;
        Some(Self::new(http, &url, &api_key, &config.livekit_api_secret))
    }

    fn new(http: reqwest::Client, url: &str, api_key: &str, secret: &Secret) -> Self {
        let secret = secret.expose().as_bytes();
        // Only HS256, from our key: `none` and other algorithms are refused
        // before any claim is read.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[api_key]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        // Time claims are checked against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        Self {
            http,
            url: url.trim_end_matches('/').to_owned(),
            host: http_host(url),
            api_key: api_key.to_owned(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// The server URL clients connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn sign(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(Error::internal)
    }

    /// An access token for `identity` (shown as `name`) to join `room` as
    /// `role`, valid from `now` for `ttl`. Returns the token and its expiry
    /// as a Unix time.
    pub fn access_token(
        &self,
        identity: &str,
        name: &str,
        room: &str,
        role: LiveRole,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<(String, i64)> {
        let nbf = now.timestamp();
        let exp = nbf + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 4);
        let token = self.sign(&Claims {
            iss: self.api_key.clone(),
            sub: Some(identity.to_owned()),
            name: Some(name.to_owned()),
            nbf: Some(nbf),
            exp,
            video: Some(VideoGrant::for_role(role, room)),
            sha256: None,
        })?;
        Ok((token, exp))
    }

    /// Checks a delivery's `Authorization` header (the JWT itself, no
    /// `Bearer`): signed by our secret, issued for our key, within its
    /// `nbf`/`exp`, and with a `sha256` claim equal to the body's digest.
    /// Then reads the event.
    pub(crate) fn verify_webhook(
        &self,
        authorization: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<LiveKitEvent> {
        let refused = |why: &str| Error::unauthenticated(format!("authorization: {why}"));
        let token = authorization
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| refused("the header is missing"))?;
        // Some proxies add the scheme LiveKit itself leaves out.
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| refused("not a token signed with the LiveKit API secret"))?
            .claims;
        let now = now.timestamp();
        if claims.exp + WEBHOOK_LEEWAY_SECS < now {
            return Err(refused("the token has expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf - WEBHOOK_LEEWAY_SECS > now)
        {
            return Err(refused("the token is not valid yet"));
        }
        let claimed = claims
            .sha256
            .ok_or_else(|| refused("the token has no sha256 claim"))?;
        if !same_bytes(claimed.as_bytes(), body_digest(body).as_bytes()) {
            return Err(refused("the body does not match the token's sha256"));
        }
        let event: LiveKitEvent = serde_json::from_slice(body)
            .map_err(|e| Error::invalid_field("body", format!("is not a LiveKit event: {e}")))?;
        if event.id.trim().is_empty() {
            return Err(Error::invalid_field("id", "the event has no id"));
        }
        Ok(event)
    }

    /// Creates an ingress into `room` through LiveKit's Twirp API, the
    /// encoder appearing as `identity` shown as `participant_name`.
    pub async fn create_ingress(
        &self,
        input_type: IngressType,
        name: &str,
        room: &str,
        identity: &str,
        participant_name: &str,
        now: Timestamp,
    ) -> Result<LiveIngress> {
        let nbf = now.timestamp();
        let token = self.sign(&Claims {
            iss: self.api_key.clone(),
            sub: None,
            name: None,
            nbf: Some(nbf),
            exp: nbf + API_TOKEN_SECS,
            video: Some(VideoGrant {
                ingress_admin: Some(true),
                ..VideoGrant::default()
            }),
            sha256: None,
        })?;
        let body = json!({
            "input_type": input_type.livekit_name(),
            "name": name,
            "room_name": room,
            "participant_identity": identity,
            "participant_name": participant_name,
        });
        let response = self
            .http
            .post(format!("{}/twirp/livekit.Ingress/CreateIngress", self.host))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| Error::unreachable("LiveKit", e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable("LiveKit", e))?;
        if !status.is_success() {
            // Twirp errors are `{"code": ..., "msg": ...}`.
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("msg").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(Error::provider(format!(
                "LiveKit refused to create the ingress ({status}) {detail}"
            )));
        }
        let info: IngressInfo = serde_json::from_str(&text)
            .map_err(|e| Error::provider(format!("LiveKit sent an unreadable ingress: {e}")))?;
        if info.ingress_id.is_empty() {
            return Err(Error::provider("LiveKit sent an ingress without an id"));
        }
        Ok(LiveIngress {
            ingress_id: info.ingress_id,
            input_type,
            url: info.url,
            stream_key: info.stream_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn livekit() -> LiveKit {
        LiveKit::new(
            reqwest::Client::new(),
            "wss://live.example.com/",
            "APIkey",
            &Secret::from("a-livekit-secret-of-some-length"),
        )
    }

    fn at(unix: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(unix, 0).unwrap()
    }

    #[test]
    fn the_api_host_is_the_client_url_over_http() {
        assert_eq!(
            http_host("wss://live.example.com/"),
            "https://live.example.com"
        );
        assert_eq!(http_host("ws://127.0.0.1:7880"), "http://127.0.0.1:7880");
        assert_eq!(http_host("https://x.example"), "https://x.example");
    }

    #[test]
    fn a_viewer_grant_says_can_publish_false_out_loud() {
        let grant = serde_json::to_value(VideoGrant::for_role(LiveRole::Viewer, "r")).unwrap();
        assert_eq!(
            grant,
            json!({"roomJoin": true, "room": "r", "canPublish": false,
                   "canSubscribe": true, "canPublishData": true})
        );
    }

    #[test]
    fn the_body_digest_is_standard_base64_of_sha256() {
        // SHA-256("") in standard base64, padding and all.
        assert_eq!(
            body_digest(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn a_webhook_token_must_match_the_body_and_be_current() {
        let lk = livekit();
        let body = br#"{"id":"EV_1","event":"room_started","room":{"name":"lms-x"}}"#;
        let token = |sha: &str, nbf: i64, exp: i64| {
            lk.sign(&Claims {
                iss: "APIkey".into(),
                sub: None,
                name: None,
                nbf: Some(nbf),
                exp,
                video: None,
                sha256: Some(sha.into()),
            })
            .unwrap()
        };
        let good = token(&body_digest(body), 1000, 1300);
        let event = lk.verify_webhook(Some(&good), body, at(1100)).unwrap();
        assert_eq!(
            (event.id.as_str(), event.event.as_str()),
            ("EV_1", "room_started")
        );
        assert_eq!(event.room.unwrap().name, "lms-x");
        let mut tampered = body.to_vec();
        tampered[3] = b'X';
        for (header, body, now) in [
            (Some(good.as_str()), tampered.as_slice(), 1100),
            (
                Some(good.as_str()),
                body.as_slice(),
                1300 + WEBHOOK_LEEWAY_SECS + 1,
            ),
            (
                Some(good.as_str()),
                body.as_slice(),
                1000 - WEBHOOK_LEEWAY_SECS - 1,
            ),
            (None, body.as_slice(), 1100),
            (Some("not.a.jwt"), body.as_slice(), 1100),
        ] {
            let err = lk.verify_webhook(header, body, at(now)).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Unauthenticated, "{now}");
        }
    }

    #[test]
    fn ingress_answers_are_read_in_either_case() {
        let snake: IngressInfo =
            serde_json::from_str(r#"{"ingress_id":"IN_1","url":"rtmp://x","stream_key":"k"}"#)
                .unwrap();
        let camel: IngressInfo =
            serde_json::from_str(r#"{"ingressId":"IN_1","url":"rtmp://x","streamKey":"k"}"#)
                .unwrap();
        assert_eq!(
            (snake.ingress_id, snake.stream_key),
            (camel.ingress_id, camel.stream_key)
        );
    }
}
