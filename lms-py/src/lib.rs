//! PyO3 bindings: the native module `lms._lms` behind the `lms` Python
//! package, for FastAPI-style hosts. Not built yet.
