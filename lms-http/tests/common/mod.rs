//! What the HTTP tests share: an `App` on a fresh SQLite file or PostgreSQL
//! schema, an in-process request builder, a server on 127.0.0.1:0, and a
//! bare HTTP/1.1 client for the socket tests.

#![allow(dead_code)]

pub mod contract;
pub mod payments;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use lms_core::store::conformance::{test_database_url, unique_schema};
use lms_core::store::{PostgresStore, SqliteStore};
use lms_core::{Actor, Config, Lms, NewAccount, Role, Store};
use lms_http::{App, HttpConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A 32-byte signing secret for tests.
pub const SECRET: &str = "http-test-secret-0123456789abcdef-0123";
/// A password the policy accepts.
pub const PASSWORD: &str = "a long and unusual passphrase 42";
/// The body cap of test apps: small, so 413 tests send little.
pub const MAX_BODY: usize = 16 * 1024;

/// An app over a fresh store.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub app: App,
    pub lms: Lms,
}

/// The access and refresh tokens of a signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    pub refresh: String,
}

pub fn http_config() -> HttpConfig {
    HttpConfig {
        max_body_bytes: MAX_BODY,
        header_read_timeout: Duration::from_secs(2),
        shutdown_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

/// The core's test configuration: local media in a fresh folder under the
/// target directory, never in the source tree, and the read cache on as
/// `lms-http` runs it by default, so every test also checks that the app's
/// own writes show at once.
pub fn core_config() -> Config {
    Config {
        read_cache_ttl_ms: 1000,
        data_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("http-media")
            .join(uuid::Uuid::now_v7().to_string())
            .display()
            .to_string(),
        ..Config::with_jwt_secret(SECRET)
    }
}

fn test_app(store: Arc<dyn Store>, http: HttpConfig) -> TestApp {
    let lms = Lms::builder(core_config()).store(store).build().unwrap();
    TestApp {
        app: App::new(lms.clone(), http),
        lms,
    }
}

pub async fn sqlite_with(http: HttpConfig) -> TestApp {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("http-tests")
        .join(format!("{}.db", uuid::Uuid::now_v7()));
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    test_app(Arc::new(store), http)
}

pub async fn postgres_with(http: HttpConfig) -> TestApp {
    let store = PostgresStore::open(&test_database_url(), Some(&unique_schema()))
        .await
        .unwrap();
    test_app(Arc::new(store), http)
}

pub async fn sqlite() -> TestApp {
    sqlite_with(http_config()).await
}

pub async fn postgres() -> TestApp {
    postgres_with(http_config()).await
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on
/// PostgreSQL (which must be configured: it never skips).
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::postgres().await).await;
                }
            )*
        }
    };
}

/// A request being built for [`App::handle`].
#[derive(Debug)]
pub struct Call<'a> {
    app: &'a App,
    builder: http::request::Builder,
    body: Bytes,
    peer: Option<SocketAddr>,
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an RFC 9457 problem with this status and code, whose request
    /// id is the one in the header; answers the body.
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let body = self.json();
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["type"], format!("urn:lms:problem:{code}"), "{body}");
        assert!(body["title"].is_string(), "{body}");
        assert!(body["detail"].is_string(), "{body}");
        assert_eq!(
            body["request_id"].as_str(),
            self.header("x-request-id"),
            "{body}"
        );
        body
    }

    /// The field names of a 422.
    pub fn fields(&self) -> Vec<String> {
        let body = self.problem(422, "invalid_input");
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl<'a> Call<'a> {
    pub fn token(mut self, token: &str) -> Self {
        self.builder = self
            .builder
            .header(AUTHORIZATION, format!("Bearer {token}"));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.builder = self.builder.header(CONTENT_TYPE, "application/json");
        self.body = Bytes::from(body.to_string());
        self
    }

    /// Sends as if over a socket from `peer` (rate limits see it).
    pub fn peer(mut self, peer: &str) -> Self {
        self.peer = Some(peer.parse().unwrap());
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and checks the answer against the OpenAPI
    /// document: every in-process answer of every test is validated.
    pub async fn send(self) -> Reply {
        let request = self.builder.body(Full::new(self.body)).unwrap();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self.app.handle_from(request, self.peer).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if let Err(mismatch) = contract::check(&method, &path, status, &headers, &body) {
            panic!(
                "{method} {path} answered {status} outside the OpenAPI document: {mismatch}\nbody: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl TestApp {
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: &self.app,
            builder: Request::builder().method(method).uri(path),
            body: Bytes::new(),
            peer: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    /// Registers a learner over HTTP.
    pub async fn register(&self, email: &str) -> Session {
        let reply = self
            .post("/api/v1/auth/register")
            .json(json!({"email": email, "password": PASSWORD, "display_name": "Learner"}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        session(&reply.json())
    }

    /// Logs in over HTTP.
    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .post("/api/v1/auth/login")
            .json(json!({"email": email, "password": PASSWORD}))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        session(&reply.json())
    }

    /// An instructor or admin, created by the operator, signed in over HTTP.
    pub async fn staff(&self, email: &str, role: Role) -> Session {
        self.lms
            .create_user(
                &Actor::System,
                NewAccount {
                    email: email.into(),
                    password: PASSWORD.into(),
                    display_name: format!("{role} {email}"),
                    role,
                },
            )
            .await
            .unwrap();
        self.login(email).await
    }

    /// A published free course with one section and one video lecture:
    /// (course id, slug, lecture id).
    pub async fn published_course(
        &self,
        instructor: &Session,
        title: &str,
    ) -> (String, String, String) {
        let course = self
            .post("/api/v1/courses")
            .token(&instructor.token)
            .json(json!({"title": title, "tags": ["rust"]}))
            .send()
            .await;
        assert_eq!(course.status, 201, "{:?}", course.body);
        let course = course.json();
        let id = course["id"].as_str().unwrap().to_owned();
        let section = self
            .post(&format!("/api/v1/courses/{id}/sections"))
            .token(&instructor.token)
            .json(json!({"title": "Basics"}))
            .send()
            .await;
        assert_eq!(section.status, 201, "{:?}", section.body);
        let section_id = section.json()["id"].as_str().unwrap().to_owned();
        let lecture = self
            .post(&format!("/api/v1/sections/{section_id}/lectures"))
            .token(&instructor.token)
            .json(json!({"title": "Hello", "kind": "video", "duration_secs": 600}))
            .send()
            .await;
        assert_eq!(lecture.status, 201, "{:?}", lecture.body);
        let lecture_id = lecture.json()["id"].as_str().unwrap().to_owned();
        let published = self
            .post(&format!("/api/v1/courses/{id}/publish"))
            .token(&instructor.token)
            .send()
            .await;
        assert_eq!(published.status, 200, "{:?}", published.body);
        (id, course["slug"].as_str().unwrap().to_owned(), lecture_id)
    }
}

fn session(body: &Value) -> Session {
    Session {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        token: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// A server on 127.0.0.1:0, stopped by [`Server::stop`].
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(app: App) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, app)
    }

    /// Serves `app` on a listener bound earlier (when the app must know
    /// its own address, for signed links).
    pub fn start_on(listener: TcpListener, app: App) -> Self {
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(lms_http::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Resolves the shutdown future.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for `serve` to return.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// Sends one request to a served app with reqwest, exactly these bytes as
/// the body, and checks the answer against the OpenAPI document as
/// [`Call::send`] does.
pub async fn send_over(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("http://{addr}{path}"))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    if let Err(mismatch) = contract::check(&method, path, status, &headers, &body) {
        panic!(
            "{method} {path} answered {status} outside the OpenAPI document: {mismatch}\nbody: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// A response read off a socket.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// An HTTP/1.1 request text that closes the connection after the answer.
pub fn request_text(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        text.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        text.push_str("\r\n");
    }
    text
}

/// Reads a whole `connection: close` response.
pub async fn read_reply(stream: &mut TcpStream) -> RawReply {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers")
        .unwrap();
    parse_reply(&raw)
}

pub fn parse_reply(raw: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawReply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Sends one request on a fresh connection and reads the answer.
pub async fn fetch(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> RawReply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(request_text(method, path, headers, body).as_bytes())
        .await
        .unwrap();
    read_reply(&mut stream).await
}
