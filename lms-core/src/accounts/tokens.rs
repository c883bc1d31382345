//! Access tokens (JWT, HS256) and refresh tokens (random, stored hashed).

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::domain::{Role, Secret, SessionId, UserId};
use crate::error::{Error, Result};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    /// The role when issued (informational: authorization reads the store).
    pub role: Role,
    /// The session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    /// The user's token version when issued; a password change, disable or
    /// delete bumps it, and older tokens stop working.
    pub ver: i64,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs with the current secret, verifies with it or any previous one.
pub(crate) struct TokenKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("keys", &self.decoding.len())
            .finish_non_exhaustive()
    }
}

/// A key's id: the first 8 bytes of the secret's SHA-256, in hex. Derived,
/// so moving the current secret to the previous list keeps its id.
fn key_id(secret: &Secret) -> String {
    hex::encode(&Sha256::digest(secret.expose().as_bytes())[..8])
}

impl TokenKeys {
    pub(crate) fn new(config: &Config) -> Self {
        let decoding = std::iter::once(&config.jwt_secret)
            .chain(&config.jwt_previous_secrets)
            .map(|s| (key_id(s), DecodingKey::from_secret(s.expose().as_bytes())))
            .collect();
        // Only HS256 is accepted: `none`, RS256 with our secret as a "public
        // key", and every other algorithm are refused before any check.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        // Time claims are checked against the injected clock below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        Self {
            kid: key_id(&config.jwt_secret),
            encoding: EncodingKey::from_secret(config.jwt_secret.expose().as_bytes()),
            decoding,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: i64::try_from(config.access_token_ttl_secs).unwrap_or(i64::MAX),
        }
    }

    /// Lifetime of a new token in seconds.
    pub(crate) fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Signs a token for `user` in `session`.
    pub(crate) fn issue(
        &self,
        user: UserId,
        role: Role,
        session: SessionId,
        version: i64,
        now: Timestamp,
    ) -> Result<String> {
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.0,
            role,
            sid: session.0,
            ver: version,
            iat,
            nbf: iat,
            exp: iat.saturating_add(self.ttl_secs),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(Error::internal)
    }

    /// Checks signature, algorithm, key id, issuer, audience and times.
    pub(crate) fn verify(&self, token: &str, now: Timestamp) -> Result<Claims> {
        let invalid = || Error::unauthenticated("invalid access token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let kid = header.kid.ok_or_else(invalid)?;
        let (_, key) = self
            .decoding
            .iter()
            .find(|(id, _)| *id == kid)
            .ok_or_else(invalid)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|_| invalid())?;
        let claims = data.claims;
        let now = now.timestamp();
        if now < claims.nbf {
            return Err(Error::unauthenticated("access token not yet valid"));
        }
        if now >= claims.exp {
            return Err(Error::unauthenticated("access token expired"));
        }
        Ok(claims)
    }
}

/// 256 random bits, base64url without padding (43 characters).
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a refresh token is stored: hex SHA-256. The token is 256 random bits,
/// so a fast hash is enough; a slow one would only slow down every refresh.
pub(crate) fn refresh_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_bit_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(refresh_hash(&a).len(), 64);
        assert_ne!(refresh_hash(&a), a);
    }

    #[test]
    fn the_key_id_follows_the_secret() {
        let a = Secret::new("a".repeat(32));
        let b = Secret::new("b".repeat(32));
        assert_eq!(key_id(&a), key_id(&a.clone()));
        assert_ne!(key_id(&a), key_id(&b));
        assert_eq!(key_id(&a).len(), 16);
    }
}
