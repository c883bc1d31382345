//! Value types that can only hold valid values: each has a `parse()` that
//! checks the raw input and names the field when it refuses.

mod course_fields;
mod email;
mod ids;
mod money;
mod page;
mod password;
mod role;
mod secret;
mod slug;
mod text;

pub use course_fields::{Language, Level, Markdown, Subtitle, Tags, Title};
pub use email::Email;
pub use ids::{
    AssetId, CouponId, CourseId, EnrollmentId, LectureId, LiveSessionId, OrderId, SectionId,
    SessionId, UserId,
};
pub use money::{Currency, Price};
pub use page::page_limit;
pub use password::Password;
pub use role::Role;
pub use secret::Secret;
pub use slug::Slug;
pub(crate) use text::{BIDI_CONTROL, has_bidi_control};
pub use text::{Bio, DisplayName, ObjectKey};
