//! The `lms` admin CLI: operators' commands (migrations, users, courses,
//! enrollments, the event log), acting as the system actor through the same
//! core operations as every other face. Not built yet.
