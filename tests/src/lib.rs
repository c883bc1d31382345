//! What tests of several crates share: a real S3-compatible server that
//! checks SigV4 ([`s3`]), a loopback fake of a provider's HTTP API that
//! records what it was sent ([`fake`]), and the test-only keys ([`keys`]).
//! End-to-end tests across faces live in `tests/`.

pub mod fake;
pub mod keys;
pub mod s3;
