use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// Declares a typed id over a time-ordered UUID (v7), so a user id can never
/// be passed where a course id is expected.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the hyphenated text form, naming `field` when it is not a UUID.
            pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
                Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| Error::invalid_field(field, concat!("is not a valid ", $what, " id")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse("id", s)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

typed_id!(
    /// Identifies a user account.
    UserId,
    "user"
);
typed_id!(
    /// Identifies a login session: one refresh-token family.
    SessionId,
    "session"
);
typed_id!(
    /// Identifies a course.
    CourseId,
    "course"
);
typed_id!(
    /// Identifies a section of a course.
    SectionId,
    "section"
);
typed_id!(
    /// Identifies a lecture of a section.
    LectureId,
    "lecture"
);
typed_id!(
    /// Identifies a learner's enrollment in a course.
    EnrollmentId,
    "enrollment"
);
typed_id!(
    /// Identifies an uploaded file (an asset), from its upload ticket on.
    AssetId,
    "upload"
);
typed_id!(
    /// Identifies a live class of a course.
    LiveSessionId,
    "live session"
);
typed_id!(
    /// Identifies an order: one attempt to buy one course.
    OrderId,
    "order"
);
typed_id!(
    /// Identifies a coupon.
    CouponId,
    "coupon"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b);
    }

    #[test]
    fn a_malformed_id_names_the_field() {
        let err = UserId::parse("user_id", "nope").unwrap_err();
        assert_eq!(err.fields()[0].field, "user_id");
    }
}
