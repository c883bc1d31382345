//! The signing secret of the embedded default: generated on first start,
//! kept in the data folder readable by the owner only, reused afterwards.
//!
//! Zero configuration must still mean tokens that survive a restart, so
//! the secret cannot live in memory; and it must never be printed, so the
//! log says where it is, not what it is.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use lms_core::{Config, Secret};

/// The file name inside the data folder.
pub const FILE_NAME: &str = "jwt-secret";

/// Reads `<data_dir>/jwt-secret`, creating the folder and the secret when
/// missing.
pub fn load_or_create(data_dir: &Path) -> io::Result<Secret> {
    create_private_dir(data_dir)?;
    let path = data_dir.join(FILE_NAME);
    match read(&path) {
        Ok(secret) => {
            warn_if_readable_by_others(&path);
            tracing::info!(path = %path.display(), "using the signing secret stored in the data folder");
            return Ok(secret);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret = Secret::generate();
    // Written to a private temporary file, then linked into place: the link
    // fails if another instance won the race, and nobody ever reads a
    // half-written secret.
    let tmp = data_dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    write_private(&tmp, secret.expose())?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(
                path = %path.display(),
                "generated a signing secret and stored it in the data folder (mode 0600); \
                 set LMS_JWT_SECRET to choose one"
            );
            Ok(secret)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e),
    }
}

fn read(path: &Path) -> io::Result<Secret> {
    let text = fs::read_to_string(path)?;
    let secret = text.trim();
    if secret.len() < Config::MIN_JWT_SECRET_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds fewer than {} bytes; delete it to generate a new secret",
                path.display(),
                Config::MIN_JWT_SECRET_BYTES
            ),
        ));
    }
    Ok(Secret::new(secret))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the signing secret is readable by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("lms-http-secret-{}", uuid::Uuid::now_v7()))
    }

    #[test]
    fn the_first_start_generates_a_secret_and_later_starts_reuse_it() {
        let dir = temp_dir().join("data");
        let first = load_or_create(&dir).unwrap();
        let second = load_or_create(&dir).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(first.expose().len() >= Config::MIN_JWT_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_truncated_secret_file_is_an_error_not_a_weak_key() {
        let dir = temp_dir();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(FILE_NAME), "short").unwrap();
        assert_eq!(
            load_or_create(&dir).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
