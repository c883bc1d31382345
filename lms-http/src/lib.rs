//! The HTTP face of lms: router, handlers and `serve(listener, shutdown)`
//! over hyper, plus the `lms-http` binary. It maps `lms_core::Error` kinds to
//! RFC 9457 problem responses in one place. Not built yet: until it is, the
//! quick start runs the `quickstart` example.
