use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// What a user account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes courses. Every new account starts here.
    #[default]
    Student,
    /// Creates and runs their own courses.
    Instructor,
    /// Runs the school: users, roles, every course.
    Admin,
}

impl Role {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Student => "student",
            Self::Instructor => "instructor",
            Self::Admin => "admin",
        }
    }

    /// Parses a role name, naming `field` when it is unknown.
    pub fn parse(field: &str, raw: &str) -> Result<Self, Error> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "student" => Ok(Self::Student),
            "instructor" => Ok(Self::Instructor),
            "admin" => Ok(Self::Admin),
            _ => Err(Error::invalid_field(
                field,
                "must be one of student, instructor, admin",
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse("role", s)
    }
}
