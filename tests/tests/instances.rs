//! Several `Lms` instances on one database behave as one service: nothing a
//! request needs lives in process memory. This is what lets `lms-http` run
//! many copies behind a load balancer.

use lms_core::store::conformance::{test_database_url, unique_schema};
use lms_core::{Config, Credentials, ErrorKind, Lms, Registration};

const SECRET: &str = "shared-secret-of-every-instance-000000";

async fn scenario(a: Lms, b: Lms) {
    let session = a
        .register(Registration {
            email: "ada@example.com".into(),
            password: "analytical engine notes".into(),
            display_name: "Ada".into(),
        })
        .await
        .unwrap();
    // A token from one instance works on the other.
    let actor = b.authenticate(&session.access_token).await.unwrap();
    assert_eq!(actor.user_id(), Some(session.user.id));
    // Rotation on B, reuse detected on A.
    let rotated = b.refresh(&session.refresh_token).await.unwrap();
    let reuse = a.refresh(&session.refresh_token).await.unwrap_err();
    assert_eq!(reuse.kind(), ErrorKind::Unauthenticated);
    assert_eq!(
        b.authenticate(&rotated.access_token)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
    // Failed logins on both instances add up to one lockout.
    let wrong = || Credentials {
        email: "ada@example.com".into(),
        password: "wrong horse battery".into(),
    };
    for i in 0..5 {
        let lms = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            lms.login(wrong()).await.unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
    }
    let locked = a
        .login(Credentials {
            email: "ada@example.com".into(),
            password: "analytical engine notes".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(locked.kind(), ErrorKind::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_sqlite_file_act_as_one() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("instances-{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let a = Lms::open(&url, Config::with_jwt_secret(SECRET))
        .await
        .unwrap();
    let b = Lms::open(&url, Config::with_jwt_secret(SECRET))
        .await
        .unwrap();
    scenario(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_schema_act_as_one() {
    let config = Config {
        database_schema: Some(unique_schema()),
        ..Config::with_jwt_secret(SECRET)
    };
    let a = Lms::open(&test_database_url(), config.clone())
        .await
        .unwrap();
    let b = Lms::open(&test_database_url(), config).await.unwrap();
    scenario(a, b).await;
}
