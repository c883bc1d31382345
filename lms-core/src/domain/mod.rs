//! Value types that can only hold valid values: each has a `parse()` that
//! checks the raw input and names the field when it refuses.

mod email;
mod ids;
mod password;
mod role;
mod secret;
mod text;

pub use email::Email;
pub use ids::{SessionId, UserId};
pub use password::Password;
pub use role::Role;
pub use secret::Secret;
pub use text::{Bio, DisplayName, ObjectKey};
