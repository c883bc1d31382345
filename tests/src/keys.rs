//! Test-only keys (see `tests/fixtures/README.md`).

/// An RSA private key in PKCS#1 PEM, as a Mux signing key.
pub const MUX_SIGNING_KEY_PEM: &str = include_str!("../fixtures/mux-signing-key.pem");

/// Its public half, to check playback tokens.
pub const MUX_SIGNING_PUBLIC_KEY_PEM: &str = include_str!("../fixtures/mux-signing-key.pub.pem");
