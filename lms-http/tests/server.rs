//! `serve` on real sockets (127.0.0.1:0): request ids, graceful shutdown,
//! the header timeout and the connection cap, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{PASSWORD, Server, TestApp, fetch, parse_reply, read_reply, request_text};
use lms_http::{App, HttpConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

on_both_stores!(
    a_learner_signs_up_and_reads_themselves_over_a_socket,
    shutdown_finishes_an_in_flight_request_and_refuses_new_connections,
    a_request_stuck_past_the_shutdown_deadline_is_dropped,
    a_client_that_sends_no_request_is_disconnected_after_the_header_timeout,
    a_body_that_trickles_in_too_slowly_is_a_408,
    connections_over_the_cap_wait_until_a_slot_frees,
);

async fn a_learner_signs_up_and_reads_themselves_over_a_socket(t: TestApp) {
    let server = Server::start(t.app.clone()).await;
    let body = json!({"email": "net@example.com", "password": PASSWORD, "display_name": "Net"});
    let registered = fetch(
        server.addr,
        "POST",
        "/api/v1/auth/register",
        &[("x-request-id", "client-42")],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.header("x-request-id"), Some("client-42"));
    let token = registered.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let me = fetch(
        server.addr,
        "GET",
        "/api/v1/me",
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["email"], "net@example.com");
    let id = me.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(me.header("x-frame-options"), Some("DENY"));

    let missing = fetch(server.addr, "GET", "/api/v1/nope", &[], None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json()["request_id"],
        missing.header("x-request-id").unwrap()
    );
    server.stop().await;
}

async fn shutdown_finishes_an_in_flight_request_and_refuses_new_connections(t: TestApp) {
    let mut server = Server::start(t.app.clone()).await;
    let body = json!({"email": "late@example.com", "password": PASSWORD, "display_name": "Late"})
        .to_string();
    let text = request_text("POST", "/api/v1/auth/register", &[], Some(&body));
    let (first, rest) = text.split_at(text.len() - 10);

    // The request is in flight: headers and most of the body are sent, the
    // handler is waiting for the rest.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.begin_shutdown();
    // New connections are refused once the listener is closed.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(server.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the listener still accepts after shutdown began");
    assert!(
        !server.task.is_finished(),
        "serve returned with a request in flight"
    );

    stream.write_all(rest.as_bytes()).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    server.stop().await;

    // The request really happened.
    let session = t.login("late@example.com").await;
    assert!(!session.token.is_empty());
}

async fn a_request_stuck_past_the_shutdown_deadline_is_dropped(t: TestApp) {
    let app = App::new(
        t.lms.clone(),
        HttpConfig {
            shutdown_timeout: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(60),
            ..common::http_config()
        },
    );
    let mut server = Server::start(app).await;
    // A body that never completes keeps its request in flight for ever.
    let text = request_text("POST", "/api/v1/auth/login", &[], Some(&" ".repeat(100)));
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&text.as_bytes()[..text.len() - 50])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.begin_shutdown();
    // serve gives up on it at the deadline instead of waiting for the client.
    tokio::time::timeout(Duration::from_secs(20), &mut server.task)
        .await
        .expect("serve returns after the shutdown deadline")
        .unwrap()
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the stuck connection is still open");
}

async fn a_client_that_sends_no_request_is_disconnected_after_the_header_timeout(t: TestApp) {
    let app = App::new(
        t.lms.clone(),
        HttpConfig {
            header_read_timeout: Duration::from_secs(1),
            ..common::http_config()
        },
    );
    let server = Server::start(app).await;
    // Silent, and half a request head: both are let go.
    for opening in ["", "GET /healthz HTTP/1.1\r\nhost: x\r\n"] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(opening.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "still connected after the header timeout ({opening:?})"
        );
        // Whatever was said before closing, it was no successful answer.
        assert!(!String::from_utf8_lossy(&buf).contains(" 200 "), "{buf:?}");
    }
    server.stop().await;
}

async fn a_body_that_trickles_in_too_slowly_is_a_408(t: TestApp) {
    let app = App::new(
        t.lms.clone(),
        HttpConfig {
            body_read_timeout: Duration::from_millis(300),
            ..common::http_config()
        },
    );
    let server = Server::start(app).await;
    let text = request_text("POST", "/api/v1/auth/login", &[], Some(&" ".repeat(100)));
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&text.as_bytes()[..text.len() - 50])
        .await
        .unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert_eq!(reply.json()["code"], "request_timeout");
    server.stop().await;
}

async fn connections_over_the_cap_wait_until_a_slot_frees(t: TestApp) {
    let app = App::new(
        t.lms.clone(),
        HttpConfig {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(30),
            ..common::http_config()
        },
    );
    let server = Server::start(app).await;

    // The first connection is served and kept alive.
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), first.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_reply(&buf[..n]).status, 200);

    // The second is not served while the first holds the only slot...
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(request_text("GET", "/healthz", &[], None).as_bytes())
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), second.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the connection cap");

    // ...and is as soon as the first goes away.
    drop(first);
    let reply = read_reply(&mut second).await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}
