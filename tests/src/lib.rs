//! End-to-end tests of lms across its faces and stores live in `tests/`.
//! As the HTTP server, CLI and Python bindings arrive, their cross-face
//! scenarios join them here.
