//! The command line: every flag, subcommand and argument, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::settings::{MediaSettings, PaymentSettings};

/// Administer an lms installation: migrations, users, courses,
/// enrollments, media, live classes, orders, coupons and the audit log.
/// Acts as the operator: every change goes through the same rules as the
/// API and is recorded in the event log.
#[derive(Debug, Parser)]
#[command(name = "lms", version, propagate_version = true)]
pub struct Cli {
    /// The store: `sqlite://PATH` or `postgres://USER@HOST/DB`
    /// [default: sqlite://DIR/lms.db, DIR being the data folder]
    #[arg(
        long,
        global = true,
        env = "LMS_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// PostgreSQL schema holding this school's tables
    #[arg(
        long,
        global = true,
        env = "LMS_DATABASE_SCHEMA",
        value_name = "SCHEMA"
    )]
    pub database_schema: Option<String>,

    /// Folder of the embedded data (the default store, local media, the
    /// generated signing secret), the same as lms-http's
    #[arg(
        long,
        global = true,
        env = "LMS_DATA_DIR",
        value_name = "DIR",
        default_value = "./lms-data"
    )]
    pub data_dir: PathBuf,

    /// Print JSON (the HTTP API's shapes): one document, or one object per
    /// line for lists
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more (repeat for more detail)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The store URL: the one given, or the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("lms.db").display()))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending schema migrations (or list them with --status)
    Migrate {
        /// List applied and pending migrations without applying any
        #[arg(long)]
        status: bool,
    },
    /// Accounts
    #[command(subcommand)]
    Users(Users),
    /// Courses
    #[command(subcommand)]
    Courses(Courses),
    /// Who may open which course
    #[command(subcommand)]
    Enrollments(Enrollments),
    /// The audit log
    #[command(subcommand)]
    Events(Events),
    /// Uploaded files, video playback and lecture attachments
    Media(Box<MediaArgs>),
    /// Live classes of a course
    #[command(subcommand)]
    Live(Live),
    /// Orders: list, inspect, refund, mark paid
    Orders(Box<OrdersArgs>),
    /// Discount coupons
    #[command(subcommand)]
    Coupons(Coupons),
    /// Payment providers: reconcile orders with what they say
    Payments(Box<PaymentsArgs>),
    /// Counts of users, courses, enrollments and completions
    Stats,
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// Where a new password comes from.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct PasswordSource {
    /// Read the password from standard input (one line)
    #[arg(long)]
    pub password_stdin: bool,
    /// Generate a strong password and print it
    #[arg(long)]
    pub generate_password: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Student,
    Instructor,
    Admin,
}

impl RoleArg {
    pub fn role(self) -> lms_core::Role {
        match self {
            Self::Student => lms_core::Role::Student,
            Self::Instructor => lms_core::Role::Instructor,
            Self::Admin => lms_core::Role::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Draft,
    Published,
    Archived,
}

impl StatusArg {
    pub fn status(self) -> lms_core::CourseStatus {
        match self {
            Self::Draft => lms_core::CourseStatus::Draft,
            Self::Published => lms_core::CourseStatus::Published,
            Self::Archived => lms_core::CourseStatus::Archived,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Users {
    /// Create an account (prompts for the password on a terminal)
    Create {
        /// E-mail address
        #[arg(long)]
        email: String,
        /// Display name
        #[arg(long)]
        name: String,
        /// Role
        #[arg(long, value_enum, default_value = "student")]
        role: RoleArg,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List accounts
    List {
        /// Only this role
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Only e-mails or names containing this
        #[arg(long)]
        query: Option<String>,
        /// At most this many
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One account
    Show {
        /// Id or e-mail address
        user: String,
    },
    /// Change an account's role
    SetRole {
        /// Id or e-mail address
        user: String,
        /// The new role
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Disable an account: it cannot log in and its sessions end at once
    Disable {
        /// Id or e-mail address
        user: String,
    },
    /// Enable a disabled account
    Enable {
        /// Id or e-mail address
        user: String,
    },
    /// Set a new password (prompts on a terminal); every session ends
    ResetPassword {
        /// Id or e-mail address
        user: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// End every session of an account
    RevokeSessions {
        /// Id or e-mail address
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Courses {
    /// List courses, newest first
    List {
        /// Only this status
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// At most this many
        #[arg(long)]
        limit: Option<usize>,
    },
    /// A course with its sections and lectures
    Show {
        /// Id or slug
        course: String,
    },
    /// Put a course in the catalog
    Publish {
        /// Id or slug
        course: String,
    },
    /// Take a course back to draft
    Unpublish {
        /// Id or slug
        course: String,
    },
    /// Take a course out of the catalog; its learners keep access
    Archive {
        /// Id or slug
        course: String,
    },
    /// Write a course and its whole tree as one JSON document
    Export {
        /// Id or slug
        course: String,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Create a course from an exported document, or update the one with
    /// its slug; importing the same document again changes nothing
    Import {
        /// The exported document (`-` for standard input)
        file: PathBuf,
        /// Owner's e-mail, instead of the document's
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Enrollments {
    /// Give learners access to a course, by e-mail
    Grant {
        /// Course id or slug
        course: String,
        /// E-mail addresses
        emails: Vec<String>,
        /// Also read addresses from a CSV file (first column; a header
        /// row named `email` is skipped)
        #[arg(long, value_name = "CSV")]
        from_file: Option<PathBuf>,
        /// Access ends then (RFC 3339, e.g. 2027-06-30T00:00:00Z)
        #[arg(long, value_name = "TIME")]
        expires: Option<String>,
    },
    /// End a learner's access (their progress is kept)
    Revoke {
        /// Course id or slug
        course: String,
        /// The learner's e-mail address or id
        user: String,
    },
    /// A course's learners with their progress
    List {
        /// Course id or slug
        course: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Events {
    /// Events in log order
    List {
        /// Only events after this id
        #[arg(long)]
        after: Option<i64>,
        /// Only events of this type (e.g. user.created)
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct MediaArgs {
    #[command(flatten)]
    pub settings: MediaSettings,
    #[command(subcommand)]
    pub command: Media,
}

/// What an upload is for: exactly one target.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct UploadTarget {
    /// A user's avatar (jpeg, png or webp; id or e-mail address)
    #[arg(long, value_name = "USER")]
    pub avatar: Option<String>,
    /// A course's thumbnail (jpeg, png or webp; id or slug)
    #[arg(long, value_name = "COURSE")]
    pub thumbnail: Option<String>,
    /// A video lecture's video (mp4, mov or webm; lecture id)
    #[arg(long, value_name = "LECTURE")]
    pub video: Option<String>,
    /// A file attached to a lecture (pdf or zip; lecture id)
    #[arg(long, value_name = "LECTURE")]
    pub attachment: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Media {
    /// Upload a file to the storage and attach it, as the API's
    /// ticket-then-complete flow does (a lecture video then goes to Mux,
    /// when configured)
    Upload {
        #[command(flatten)]
        target: UploadTarget,
        /// The file
        file: PathBuf,
        /// Its media type [default: from the file's extension]
        #[arg(long, value_name = "TYPE")]
        content_type: Option<String>,
    },
    /// An upload (asset) with its state and, for images, public URL
    Show {
        /// Upload id (the asset id)
        upload: String,
    },
    /// How a lecture's video plays: a signed Mux HLS URL and tokens, or a
    /// signed link to the source file
    Playback {
        /// Lecture id
        lecture: String,
        /// Add a signed poster image (Mux only)
        #[arg(long)]
        thumbnail: bool,
        /// Add signed timeline previews, a WebVTT storyboard (Mux only)
        #[arg(long)]
        storyboard: bool,
    },
    /// A lecture's attached files with signed links
    Attachments {
        /// Lecture id
        lecture: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Live {
    /// A course's live classes by start
    List {
        /// Course id or slug
        course: String,
    },
    /// Schedule a live class
    Create {
        /// Course id or slug
        course: String,
        /// Title
        #[arg(long)]
        title: String,
        /// Planned start (RFC 3339, e.g. 2027-06-30T18:00:00Z)
        #[arg(long, value_name = "TIME")]
        starts_at: String,
    },
    /// One live class
    Show {
        /// Live-class id
        id: String,
    },
    /// Change a scheduled class's title or start
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        /// Live-class id
        id: String,
        /// New title
        #[arg(long, group = "change")]
        title: Option<String>,
        /// New planned start (RFC 3339)
        #[arg(long, value_name = "TIME", group = "change")]
        starts_at: Option<String>,
    },
    /// Call off a class that has not started
    Cancel {
        /// Live-class id
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct OrdersArgs {
    #[command(flatten)]
    pub settings: PaymentSettings,
    #[command(subcommand)]
    pub command: Orders,
}

#[derive(Debug, Subcommand)]
pub enum Orders {
    /// Orders in id order
    List {
        /// Only this status (created, paid, refunded, partially_refunded,
        /// failed, expired)
        #[arg(long)]
        status: Option<String>,
        /// Only this provider (stripe, razorpay, manual, coupon)
        #[arg(long)]
        provider: Option<String>,
        /// Only this buyer (id or e-mail address)
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only this course (id or slug)
        #[arg(long, value_name = "COURSE")]
        course: Option<String>,
        /// Only orders flagged for review
        #[arg(long)]
        flagged: bool,
        /// At most this many
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One order
    Show {
        /// Order id
        order: String,
    },
    /// Refund a paid order through its provider
    Refund {
        /// Order id
        order: String,
        /// Minor units to refund (e.g. 999 for 9.99 USD) [default: all
        /// that is left]
        #[arg(long)]
        amount: Option<i64>,
    },
    /// Mark a manual order (or one flagged for review) paid, enrolling its
    /// buyer
    MarkPaid {
        /// Order id
        order: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Coupons {
    /// Make a coupon for one course, or for all of an owner's courses
    Create {
        /// 3 to 40 letters, digits, `-` or `_`; matched in any case
        #[arg(long)]
        code: String,
        /// The one course it applies to (id or slug)
        #[arg(long, value_name = "COURSE")]
        course: Option<String>,
        /// Whose courses it applies to when no course is named (id or
        /// e-mail address)
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
        /// Percent off, 1 to 100
        #[arg(long, value_name = "N")]
        percent_off: Option<i64>,
        /// Amount off in minor units of --currency
        #[arg(long, value_name = "MINOR")]
        amount_off: Option<i64>,
        /// Currency of --amount-off (e.g. USD)
        #[arg(long)]
        currency: Option<String>,
        /// Usable from then (RFC 3339)
        #[arg(long, value_name = "TIME")]
        starts_at: Option<String>,
        /// Usable until then (RFC 3339)
        #[arg(long, value_name = "TIME")]
        ends_at: Option<String>,
        /// Uses in total
        #[arg(long, value_name = "N")]
        max_redemptions: Option<i64>,
        /// Uses per learner
        #[arg(long, value_name = "N")]
        max_per_user: Option<i64>,
    },
    /// Coupons, or one owner's
    List {
        /// Only this owner's (id or e-mail address)
        #[arg(long, value_name = "USER")]
        owner: Option<String>,
    },
    /// Disable a coupon: it is refused from then on
    Disable {
        /// Coupon id
        coupon: String,
    },
}

#[derive(Debug, Args)]
pub struct PaymentsArgs {
    #[command(flatten)]
    pub settings: PaymentSettings,
    #[command(subcommand)]
    pub command: Payments,
}

#[derive(Debug, Subcommand)]
pub enum Payments {
    /// Ask the providers about every order still waiting for its payment
    /// and apply what they say: payments whose webhooks never came are
    /// fulfilled, expired checkouts closed
    Reconcile,
}
