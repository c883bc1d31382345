//! A real S3-compatible server on loopback: s3s-fs, which checks SigV4 on
//! every request (presigned ones included). `scripts/test` installs it
//! (`scripts/install-test-tools`) and names it in `LMS_TEST_S3S_FS`; a test
//! that cannot find it fails, never skips.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Access key of the test server.
pub const ACCESS_KEY: &str = "lms-test-access-key";
/// Secret key of the test server.
pub const SECRET_KEY: &str = "lms-test-secret-key-0123456789";
/// The bucket every test server has.
pub const BUCKET: &str = "lms-media";

/// A running s3s-fs; it stops when dropped.
#[derive(Debug)]
pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The folder it serves (a bucket is a folder in it).
    pub root: PathBuf,
    child: tokio::process::Child,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LMS_TEST_S3S_FS") {
        return PathBuf::from(path);
    }
    let fallback = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/s3s-fs");
    assert!(
        fallback.exists(),
        "s3s-fs not found: run scripts/install-test-tools (scripts/test does) \
         or set LMS_TEST_S3S_FS"
    );
    fallback
}

impl S3Server {
    /// Starts a server with an empty [`BUCKET`] under a fresh folder.
    pub async fn start() -> Self {
        let root = std::env::temp_dir().join(format!("lms-s3-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        // Ask the OS for a free port, then hand it to the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("s3s-fs starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    root,
                    child,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("s3s-fs did not listen on port {port} within 5 s");
    }

    /// The stored bytes of `key`, if any.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(BUCKET).join(key)).ok()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
