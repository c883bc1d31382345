//! Conformance cases: accounts, sessions, login attempts, the event log and migrations.

use super::*;

/// Creating a user returns it, both lookups find it, one event is written.
pub async fn a_created_user_reads_back_by_id_and_email(store: Arc<dyn Store>) {
    let new = new_user("ada@example.com");
    let created = store
        .create_user(new.clone(), None, Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.email, "ada@example.com");
    assert_eq!(created.role, Role::Student);
    assert!(!created.disabled);
    assert_eq!((created.created_at, created.updated_at), (t0(), t0()));

    let by_id = store.user(new.id).await.unwrap().expect("found by id");
    assert_eq!(by_id.user, created);
    assert_eq!(by_id.password_hash.as_deref(), Some(HASH));
    assert_eq!((by_id.token_version, by_id.failed_logins), (0, 0));
    assert_eq!((by_id.locked_until, by_id.deleted_at), (None, None));

    let email = Email::parse("email", "ADA@example.com").unwrap();
    let by_email = store
        .user_by_email(&email)
        .await
        .unwrap()
        .expect("found by e-mail");
    assert_eq!(by_email, by_id);
    assert!(store.user(UserId::new()).await.unwrap().is_none());

    let events = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, kinds::USER_REGISTERED);
    assert_eq!((e.subject_type.as_str(), e.subject_id), ("user", new.id.0));
    assert_eq!((e.actor_kind.as_str(), e.actor_id), ("anonymous", None));
    assert_eq!(e.payload, json!({ "role": "student" }));
    assert_eq!(e.created_at, t0());
}

/// The same e-mail twice is `conflict`; the first account is untouched and
/// no second row or event appears.
pub async fn a_duplicate_email_is_a_conflict_and_changes_nothing(store: Arc<dyn Store>) {
    let first = make_user(&*store, "ada@example.com").await;
    let mut again = new_user("ada@example.com");
    again.display_name = "Impostor".into();
    let err = store
        .create_user(again.clone(), None, Actor::Anonymous, later(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(store.user(again.id).await.unwrap().is_none());
    assert_eq!(
        store.user(first).await.unwrap().unwrap().user.display_name,
        "User ada@example.com"
    );
    assert_eq!(store.events(&EventQuery::default()).await.unwrap().len(), 1);
}

/// Accounts made by the operator are `user.created`, actor `system`.
pub async fn a_user_created_by_the_operator_is_logged_as_created(store: Arc<dyn Store>) {
    let mut new = new_user("root@example.com");
    new.role = Role::Admin;
    let user = store.create_user(new, None, system(), t0()).await.unwrap();
    assert_eq!(user.role, Role::Admin);
    let events = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(events[0].kind, kinds::USER_CREATED);
    assert_eq!(events[0].actor_kind, "system");
    assert_eq!(events[0].payload, json!({ "role": "admin" }));
}

/// A sign-up with a first session writes the account, the session and its
/// refresh token in one step, logged as `user.registered` then
/// `session.started`; when the e-mail is taken, neither is written.
pub async fn a_sign_up_creates_the_account_and_its_first_session_together(store: Arc<dyn Store>) {
    let new = new_user("ada@example.com");
    let first = FirstSession {
        id: SessionId::new(),
        refresh: token("f1", later(3600)),
    };
    store
        .create_user(new.clone(), Some(first.clone()), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert!(live(&*store, new.id, first.id).await);
    assert_eq!(
        kinds_of(&*store, new.id).await,
        [kinds::USER_REGISTERED, kinds::SESSION_STARTED]
    );
    let started = &events_of(&*store, kinds::SESSION_STARTED).await[0];
    assert_eq!(
        (started.subject_type.as_str(), started.subject_id),
        ("session", first.id.0)
    );
    assert_eq!(started.payload, json!({ "rehashed_password": false }));
    let rotated = store
        .rotate_refresh_token(&first.refresh.hash, token("f2", later(7200)), later(1))
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: new.id,
            session_id: first.id
        }
    );

    let taken = FirstSession {
        id: SessionId::new(),
        refresh: token("t1", later(3600)),
    };
    let err = store
        .create_user(
            new_user("ada@example.com"),
            Some(taken.clone()),
            Actor::Anonymous,
            later(2),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let unwritten = store
        .rotate_refresh_token(&taken.refresh.hash, token("t2", later(7200)), later(3))
        .await
        .unwrap();
    assert_eq!(
        unwritten,
        Rotation::Invalid,
        "no session without its account"
    );
    assert_eq!(events_of(&*store, kinds::SESSION_STARTED).await.len(), 1);
}

/// `session_user` answers for the user's own live session only.
pub async fn session_user_tells_live_from_ended_sessions(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    let session = start(&*store, ada, "a1").await;
    assert!(live(&*store, ada, session).await);
    assert!(!live(&*store, bob, session).await, "another user's session");
    assert!(
        !live(&*store, ada, SessionId::new()).await,
        "unknown session"
    );
    assert!(
        store
            .session_user(UserId::new(), session)
            .await
            .unwrap()
            .is_none()
    );
    store
        .end_session(&token("a1", t0()).hash, later(1))
        .await
        .unwrap();
    assert!(!live(&*store, ada, session).await);
}

/// A login finds the account by e-mail in the step that counts its attempt,
/// and answers it as counted; a locked account comes back too. An unknown
/// or deleted account's e-mail is `not_found` and writes nothing.
pub async fn a_login_attempt_by_email_answers_the_account_as_counted(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let email = Email::parse("email", "ada@example.com").unwrap();
    let (record, first) = store
        .begin_login_attempt(AccountKey::Email(&email), policy(2), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(
        first,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: None
        }
    );
    assert_eq!(record, store.user(ada).await.unwrap().unwrap());
    assert_eq!(record.failed_logins, 1);
    let (record, second) = store
        .begin_login_attempt(AccountKey::Email(&email), policy(2), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(
        second,
        LoginAttempt::Reserved {
            attempt: 2,
            locked_until: Some(later(900))
        }
    );
    assert_eq!(record, store.user(ada).await.unwrap().unwrap());
    let (record, locked) = store
        .begin_login_attempt(
            AccountKey::Email(&email),
            policy(2),
            Actor::Anonymous,
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(locked, LoginAttempt::Locked { until: later(900) });
    assert_eq!(record, store.user(ada).await.unwrap().unwrap());
    let events = events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e.subject_id == ada.0 && e.user_id == Some(ada.0))
    );

    let nobody = Email::parse("email", "nobody@example.com").unwrap();
    let grace = make_user(&*store, "grace@example.com").await;
    store.delete_user(grace, system(), later(2)).await.unwrap();
    let graces = Email::parse("email", "grace@example.com").unwrap();
    for unknown in [&nobody, &graces] {
        let err = store
            .begin_login_attempt(
                AccountKey::Email(unknown),
                policy(2),
                Actor::Anonymous,
                later(3),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{unknown:?}");
    }
    let events = events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await;
    assert_eq!(events.len(), 2, "an unknown account counts nothing");
}

/// Each attempt counts when it begins; the one reaching the limit locks the
/// account. While locked nothing counts and nothing is written; once the
/// lock has run out, counting starts again at one. Each counted attempt is
/// one `user.login_attempted` event by the given actor.
pub async fn login_attempts_count_up_and_lock_at_the_limit(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let herself = Actor::User {
        id: ada,
        role: Role::Student,
        session: SessionId::new(),
    };
    for (attempt, actor) in [(1, Actor::Anonymous), (2, herself)] {
        let reserved = store
            .begin_login_attempt(AccountKey::Id(ada), policy(3), actor, later(1))
            .await
            .unwrap()
            .1;
        assert_eq!(
            reserved,
            LoginAttempt::Reserved {
                attempt,
                locked_until: None
            }
        );
        let r = store.user(ada).await.unwrap().unwrap();
        assert_eq!((r.failed_logins, r.locked_until), (attempt, None));
    }
    let third = store
        .begin_login_attempt(AccountKey::Id(ada), policy(3), Actor::Anonymous, later(2))
        .await
        .unwrap()
        .1;
    assert_eq!(
        third,
        LoginAttempt::Reserved {
            attempt: 3,
            locked_until: Some(later(900))
        }
    );
    let locked = store
        .begin_login_attempt(AccountKey::Id(ada), policy(3), Actor::Anonymous, later(899))
        .await
        .unwrap()
        .1;
    assert_eq!(locked, LoginAttempt::Locked { until: later(900) });
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (3, Some(later(900))));

    let events = events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await;
    assert_eq!(events.len(), 3, "a refused attempt writes nothing");
    assert_eq!(
        events[0].payload,
        json!({ "attempt": 1, "locked_until": null })
    );
    assert_eq!(
        (events[0].actor_kind.as_str(), events[0].actor_id),
        ("anonymous", None)
    );
    assert_eq!(
        (events[1].actor_kind.as_str(), events[1].actor_id),
        ("user", Some(ada.0))
    );
    for event in &events {
        assert_eq!(
            (event.subject_type.as_str(), event.subject_id, event.user_id),
            ("user", ada.0, Some(ada.0))
        );
    }
    assert_eq!(
        events[2].payload,
        json!({ "attempt": 3, "locked_until": later(900) })
    );

    // The lock runs out at its time: the next attempt is the first again.
    let policy_then = LockPolicy {
        max_failures: 3,
        lock_until: later(1800),
    };
    let fresh = store
        .begin_login_attempt(
            AccountKey::Id(ada),
            policy_then,
            Actor::Anonymous,
            later(900),
        )
        .await
        .unwrap()
        .1;
    assert_eq!(
        fresh,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: None
        }
    );
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (1, None));
}

/// Many attempts at once: exactly the limit's worth are counted, the
/// last of them locks, and every other one finds the account locked.
pub async fn concurrent_login_attempts_never_pass_the_limit(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .begin_login_attempt(AccountKey::Id(ada), policy(5), Actor::Anonymous, later(1))
                    .await
                    .unwrap()
                    .1
            })
        })
        .collect();
    let mut attempts = Vec::new();
    let mut locked = 0;
    for task in tasks {
        match task.await.unwrap() {
            LoginAttempt::Reserved {
                attempt,
                locked_until,
            } => {
                assert_eq!(locked_until.is_some(), attempt == 5, "attempt {attempt}");
                attempts.push(attempt);
            }
            LoginAttempt::Locked { until } => {
                assert_eq!(until, later(900));
                locked += 1;
            }
        }
    }
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    assert_eq!(locked, 15);
    assert_eq!(
        events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await.len(),
        5
    );
}

/// The attempt event's payload is built by the store from the counted
/// row; the lock's time in it reads as in every other payload. A time
/// whose fraction ends in zeros tells the two apart: serde writes
/// `.500Z`, SQLite keeps `.500000Z`, PostgreSQL prints `09:45:00.5+00`.
pub async fn the_locking_attempt_logs_its_lock_time_as_serde_writes_it(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let until = DateTime::parse_from_rfc3339("2026-03-01T09:45:00.500Z")
        .expect("valid time")
        .with_timezone(&Utc);
    let policy = LockPolicy {
        max_failures: 1,
        lock_until: until,
    };
    let attempt = store
        .begin_login_attempt(AccountKey::Id(ada), policy, Actor::Anonymous, t0())
        .await
        .unwrap()
        .1;
    assert_eq!(
        attempt,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: Some(until)
        }
    );
    let events = events_of(&*store, kinds::USER_LOGIN_ATTEMPTED).await;
    assert_eq!(
        events[0].payload,
        json!({ "attempt": 1, "locked_until": "2026-03-01T09:45:00.500Z" })
    );
    assert_eq!(events[0].payload["locked_until"], json!(until));
}

/// A login clears the count and lock, and stores a rehash when given.
pub async fn starting_a_session_clears_failures_and_stores_a_rehash(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    store
        .begin_login_attempt(AccountKey::Id(ada), policy(5), Actor::Anonymous, t0())
        .await
        .unwrap();
    assert_eq!(store.user(ada).await.unwrap().unwrap().failed_logins, 1);
    let mut session = session_for(&*store, ada, "r1").await;
    session.rehashed_password = Some("$argon2id$rehashed".into());
    let id = session.id;
    store.start_session(session, later(5)).await.unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.failed_logins, 0);
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$rehashed"));
    assert!(live(&*store, ada, id).await);
    let events = events_of(&*store, kinds::SESSION_STARTED).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].subject_type.as_str(), events[0].subject_id),
        ("session", id.0)
    );
    assert_eq!(events[0].payload, json!({ "rehashed_password": true }));

    // Without a rehash the stored hash stays.
    start(&*store, ada, "r2").await;
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$rehashed"));
}

/// A session starts only if the password hash and token version the login
/// checked are still the stored ones and the account is not disabled; a
/// refused start is `unauthenticated` and writes nothing, so a login racing
/// a password change can neither survive it nor put the old hash back.
pub async fn a_session_starts_only_while_the_checked_credentials_hold(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let checked_before = session_for(&*store, ada, "old").await;
    store
        .set_password(ada, "$argon2id$new".into(), None, system(), later(1))
        .await
        .unwrap();
    let refused = |mut session: NewSession, why: &'static str| {
        let store = store.clone();
        async move {
            session.rehashed_password = Some("$argon2id$rehash-of-the-old-password".into());
            let id = session.id;
            let err = store.start_session(session, later(2)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{why}: {err}");
            assert!(
                !live(&*store, ada, id).await,
                "{why}: a session was written"
            );
        }
    };
    refused(checked_before.clone(), "old hash and version").await;
    let mut old_hash = session_for(&*store, ada, "h").await;
    old_hash.password_hash = checked_before.password_hash.clone();
    refused(old_hash, "old hash, current version").await;
    let mut old_version = session_for(&*store, ada, "v").await;
    old_version.token_version = checked_before.token_version;
    refused(old_version, "current hash, old version").await;

    // Disabling bumps the version; a login that read it afterwards is still
    // refused while the account stays disabled.
    store
        .update_account(ada, disabled(true), system(), later(3))
        .await
        .unwrap();
    refused(session_for(&*store, ada, "d").await, "disabled").await;
    store
        .update_account(ada, disabled(false), system(), later(4))
        .await
        .unwrap();
    start(&*store, ada, "ok").await;

    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::USER_PASSWORD_CHANGED,
            kinds::USER_DISABLED,
            kinds::USER_ENABLED,
            kinds::SESSION_STARTED
        ]
    );
}

/// A lock set by another attempt while a password was being checked stops
/// the session (`rate_limited`, nothing written); the lock the login's own
/// attempt set does not, and the session clears it.
pub async fn a_lock_set_by_other_attempts_stops_a_session_and_its_own_does_not(
    store: Arc<dyn Store>,
) {
    let ada = make_user(&*store, "ada@example.com").await;
    let first = store
        .begin_login_attempt(AccountKey::Id(ada), policy(2), Actor::Anonymous, t0())
        .await
        .unwrap()
        .1;
    assert_eq!(
        first,
        LoginAttempt::Reserved {
            attempt: 1,
            locked_until: None
        }
    );
    let LoginAttempt::Reserved {
        locked_until: Some(lock),
        ..
    } = store
        .begin_login_attempt(AccountKey::Id(ada), policy(2), Actor::Anonymous, t0())
        .await
        .unwrap()
        .1
    else {
        panic!("the second attempt reaches the limit and locks");
    };

    // The first attempt's password turns out right, but the second one
    // locked the account meanwhile.
    let by_first = session_for(&*store, ada, "s1").await;
    let first_id = by_first.id;
    let err = store.start_session(by_first, later(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(899)));
    assert!(!live(&*store, ada, first_id).await);
    assert_eq!(
        store.user(ada).await.unwrap().unwrap().locked_until,
        Some(lock)
    );

    // The second attempt's password is right: its own lock lets it in.
    let mut by_second = session_for(&*store, ada, "s2").await;
    by_second.own_lock = Some(lock);
    let second_id = by_second.id;
    store.start_session(by_second, later(1)).await.unwrap();
    assert!(live(&*store, ada, second_id).await);
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!((r.failed_logins, r.locked_until), (0, None));
    assert_eq!(events_of(&*store, kinds::SESSION_STARTED).await.len(), 1);
}

/// A live token rotates into the next one, which rotates in turn.
pub async fn a_refresh_token_rotates_exactly_once(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let rotated = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(10))
        .await
        .unwrap();
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: ada,
            session_id: session
        }
    );
    let next = store
        .rotate_refresh_token(&token("r2", t0()).hash, token("r3", later(7200)), later(20))
        .await
        .unwrap();
    assert!(matches!(next, Rotation::Rotated { .. }));
    assert!(live(&*store, ada, session).await);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::SESSION_STARTED,
            kinds::SESSION_REFRESHED,
            kinds::SESSION_REFRESHED
        ]
    );
}

/// An already-used token comes back: the session is revoked, and even its
/// newest token stops working.
pub async fn reusing_a_rotated_token_revokes_the_session(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let other = start(&*store, ada, "o1").await;
    store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(10))
        .await
        .unwrap();
    let reused = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("x", later(7200)), later(20))
        .await
        .unwrap();
    assert_eq!(
        reused,
        Rotation::Reused {
            user_id: ada,
            session_id: session
        }
    );
    assert!(!live(&*store, ada, session).await);
    assert!(
        live(&*store, ada, other).await,
        "other sessions are not touched"
    );
    let newest = store
        .rotate_refresh_token(&token("r2", t0()).hash, token("y", later(7200)), later(30))
        .await
        .unwrap();
    assert_eq!(newest, Rotation::Invalid);
    let events = kinds_of(&*store, ada).await;
    assert_eq!(events.last().unwrap(), kinds::SESSION_REUSE_DETECTED);
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == kinds::SESSION_REUSE_DETECTED)
            .count(),
        1
    );
}

/// Four uses of one token at once: exactly one rotates; the other three
/// find it used, count as reuse, and the session is revoked, so the
/// winner's new token does not work either. One reuse event is written.
pub async fn concurrent_uses_of_one_refresh_token_rotate_once_and_revoke_the_session_as_reuse(
    store: Arc<dyn Store>,
) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let next = token(&format!("n{i}"), later(7200));
                let rotation = store
                    .rotate_refresh_token(&token("r1", t0()).hash, next.clone(), later(10))
                    .await
                    .unwrap();
                (rotation, next)
            })
        })
        .collect();
    let (mut rotated, mut reused) = (Vec::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            (Rotation::Rotated { session_id, .. }, next) => {
                assert_eq!(session_id, session);
                rotated.push(next);
            }
            (Rotation::Reused { session_id, .. }, _) => {
                assert_eq!(session_id, session);
                reused += 1;
            }
            (Rotation::Invalid, _) => panic!("a use of a live token was Invalid"),
        }
    }
    assert_eq!((rotated.len(), reused), (1, 3));
    assert!(
        !live(&*store, ada, session).await,
        "reuse revokes the session"
    );
    let winner = store
        .rotate_refresh_token(&rotated[0].hash, token("w", later(7200)), later(11))
        .await
        .unwrap();
    assert_eq!(winner, Rotation::Invalid);
    let events = kinds_of(&*store, ada).await;
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == kinds::SESSION_REUSE_DETECTED)
            .count(),
        1
    );
}

/// Expired and unknown tokens are `Invalid` and write nothing.
pub async fn expired_and_unknown_refresh_tokens_change_nothing(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let before = kinds_of(&*store, ada).await;
    let expired = store
        .rotate_refresh_token(
            &token("r1", t0()).hash,
            token("r2", later(9999)),
            later(3600),
        )
        .await
        .unwrap();
    assert_eq!(expired, Rotation::Invalid);
    let unknown = store
        .rotate_refresh_token(
            &token("nope", t0()).hash,
            token("r3", later(9999)),
            later(1),
        )
        .await
        .unwrap();
    assert_eq!(unknown, Rotation::Invalid);
    assert_eq!(kinds_of(&*store, ada).await, before);
    assert!(live(&*store, ada, session).await);
    // The expired token was not consumed by the failed attempt: it stays
    // unusable, and it does not count as reuse.
    let again = store
        .rotate_refresh_token(
            &token("r1", t0()).hash,
            token("r4", later(9999)),
            later(3601),
        )
        .await
        .unwrap();
    assert_eq!(again, Rotation::Invalid);
}

/// Logout revokes the session once; again, or with an unknown token, is fine.
pub async fn ending_a_session_is_idempotent(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    store
        .end_session(&token("r1", t0()).hash, later(1))
        .await
        .unwrap();
    store
        .end_session(&token("r1", t0()).hash, later(2))
        .await
        .unwrap();
    store
        .end_session(&token("zz", t0()).hash, later(3))
        .await
        .unwrap();
    assert!(!live(&*store, ada, session).await);
    let ended = kinds_of(&*store, ada).await;
    assert_eq!(
        ended.iter().filter(|k| *k == kinds::SESSION_ENDED).count(),
        1
    );
    let rotation = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(4))
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Invalid);
}

/// Profile fields change, clear, or stay when not mentioned. Only fields
/// whose value differs count: the event names those, and an update that
/// changes nothing writes nothing (no event, same `updated_at`).
pub async fn a_profile_update_sets_and_clears_only_what_differs(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let changes = ProfileChanges {
        display_name: Some("Ada L.".into()),
        bio: Some(Some("Mathematician".into())),
        avatar_key: Some(Some("avatars/ada.png".into())),
    };
    let user = store
        .update_profile(ada, changes.clone(), system(), later(5))
        .await
        .unwrap();
    assert_eq!(user.display_name, "Ada L.");
    assert_eq!(user.bio.as_deref(), Some("Mathematician"));
    assert_eq!(user.avatar_key.as_deref(), Some("avatars/ada.png"));
    assert_eq!(user.updated_at, later(5));
    assert_eq!(user.created_at, t0());

    // The same values again: nothing to change.
    let same = store
        .update_profile(ada, changes, system(), later(6))
        .await
        .unwrap();
    assert_eq!(same, user);

    // One field the same, one different: only the different one counts.
    let partly = ProfileChanges {
        display_name: Some("Ada L.".into()),
        bio: Some(None),
        ..ProfileChanges::default()
    };
    let user = store
        .update_profile(ada, partly, system(), later(7))
        .await
        .unwrap();
    assert_eq!(user.bio, None);
    assert_eq!(user.display_name, "Ada L.");
    assert_eq!(user.avatar_key.as_deref(), Some("avatars/ada.png"));
    assert_eq!(user.updated_at, later(7));
    assert_eq!(store.user(ada).await.unwrap().unwrap().user, user);

    // Clearing what is already clear changes nothing.
    let clear_again = ProfileChanges {
        bio: Some(None),
        ..ProfileChanges::default()
    };
    let same = store
        .update_profile(ada, clear_again, system(), later(8))
        .await
        .unwrap();
    assert_eq!(same, user);

    let events = events_of(&*store, kinds::USER_PROFILE_UPDATED).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].payload,
        json!({ "fields": ["display_name", "bio", "avatar_key"] })
    );
    assert_eq!(events[1].payload, json!({ "fields": ["bio"] }));
}

/// A new password bumps the token version and revokes every session but
/// the kept one.
pub async fn a_password_change_bumps_the_version_and_keeps_one_session(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let kept = start(&*store, ada, "k1").await;
    let other = start(&*store, ada, "o1").await;
    store
        .set_password(ada, "$argon2id$new".into(), Some(kept), system(), later(5))
        .await
        .unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!(r.token_version, 1);
    assert!(live(&*store, ada, kept).await);
    assert!(!live(&*store, ada, other).await);
    let events = store
        .events(&EventQuery {
            kind: Some(kinds::USER_PASSWORD_CHANGED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload, json!({ "revoked_sessions": 1 }));

    store
        .set_password(ada, "$argon2id$newer".into(), None, system(), later(6))
        .await
        .unwrap();
    assert!(!live(&*store, ada, kept).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 2);
}

/// A role change is one event; setting the same role again is none.
pub async fn setting_the_current_role_changes_nothing(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let user = store
        .update_account(ada, role(Role::Instructor), system(), later(1))
        .await
        .unwrap();
    assert_eq!((user.role, user.updated_at), (Role::Instructor, later(1)));
    let same = store
        .update_account(ada, role(Role::Instructor), system(), later(2))
        .await
        .unwrap();
    assert_eq!(same, user);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [kinds::USER_REGISTERED, kinds::USER_ROLE_CHANGED]
    );
}

/// Disabling revokes sessions and bumps the version; enabling restores
/// login but not the old sessions.
pub async fn disabling_revokes_sessions_and_enabling_does_not(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let user = store
        .update_account(ada, disabled(true), system(), later(1))
        .await
        .unwrap();
    assert!(user.disabled);
    assert!(!live(&*store, ada, session).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    store
        .update_account(ada, disabled(true), system(), later(2))
        .await
        .unwrap();
    let user = store
        .update_account(ada, disabled(false), system(), later(3))
        .await
        .unwrap();
    assert!(!user.disabled);
    assert!(!live(&*store, ada, session).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::SESSION_STARTED,
            kinds::USER_DISABLED,
            kinds::USER_ENABLED
        ]
    );
}

/// Role and disable together are one transaction with both events; asking
/// for the current values of both writes nothing.
pub async fn a_role_change_and_a_disable_are_one_step(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let session = start(&*store, ada, "r1").await;
    let both = AccountChanges {
        role: Some(Role::Instructor),
        disabled: Some(true),
    };
    let user = store
        .update_account(ada, both, system(), later(1))
        .await
        .unwrap();
    assert_eq!((user.role, user.disabled), (Role::Instructor, true));
    assert_eq!(user.updated_at, later(1));
    assert!(!live(&*store, ada, session).await);
    let record = store.user(ada).await.unwrap().unwrap();
    assert_eq!(record.user, user);
    assert_eq!(record.token_version, 1);
    let same = store
        .update_account(ada, both, system(), later(2))
        .await
        .unwrap();
    assert_eq!(same, user);
    assert_eq!(
        kinds_of(&*store, ada).await,
        [
            kinds::USER_REGISTERED,
            kinds::SESSION_STARTED,
            kinds::USER_ROLE_CHANGED,
            kinds::USER_DISABLED
        ]
    );
    let err = store
        .update_account(UserId::new(), both, system(), later(3))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// One bucket under GCRA: the whole burst at once, then refusals saying how
/// long to wait, then one more hit per interval as time passes.
pub async fn a_rate_limit_allows_its_burst_then_one_hit_per_interval(store: Arc<dyn Store>) {
    let rate = Rate::per_minute(3);
    let bucket = vec![("login:address:a".to_owned(), rate)];
    for i in 0..3 {
        let wait = store.hit_rate_limits(&bucket, t0()).await.unwrap();
        assert_eq!(wait, None, "hit {i} of the burst was refused");
    }
    let wait = store.hit_rate_limits(&bucket, t0()).await.unwrap();
    assert_eq!(
        wait,
        Some(Duration::from_secs(20)),
        "the fourth hit waits one interval"
    );
    let wait = store.hit_rate_limits(&bucket, later(5)).await.unwrap();
    assert_eq!(
        wait,
        Some(Duration::from_secs(15)),
        "a refusal is not counted"
    );
    assert_eq!(
        store.hit_rate_limits(&bucket, later(20)).await.unwrap(),
        None
    );
    assert!(
        store
            .hit_rate_limits(&bucket, later(20))
            .await
            .unwrap()
            .is_some()
    );
    // After a whole idle period the full burst is back.
    for _ in 0..3 {
        assert_eq!(
            store.hit_rate_limits(&bucket, later(200)).await.unwrap(),
            None
        );
    }
    assert!(
        store
            .hit_rate_limits(&bucket, later(200))
            .await
            .unwrap()
            .is_some()
    );
    // Another bucket is independent.
    let other = vec![("login:address:b".to_owned(), rate)];
    assert_eq!(
        store.hit_rate_limits(&other, later(200)).await.unwrap(),
        None
    );
}

/// Hits on several buckets are all or nothing: when one is full, the others
/// are not charged.
pub async fn a_refused_hit_counts_on_no_bucket(store: Arc<dyn Store>) {
    let roomy = ("login:address:a".to_owned(), Rate::per_minute(2));
    let full = ("login:account:ada".to_owned(), Rate::per_minute(1));
    assert_eq!(
        store
            .hit_rate_limits(std::slice::from_ref(&full), t0())
            .await
            .unwrap(),
        None
    );
    for _ in 0..5 {
        let wait = store
            .hit_rate_limits(&[roomy.clone(), full.clone()], t0())
            .await
            .unwrap();
        assert_eq!(wait, Some(Duration::from_secs(60)));
    }
    // The roomy bucket still has its whole burst of two.
    for _ in 0..2 {
        assert_eq!(
            store
                .hit_rate_limits(std::slice::from_ref(&roomy), t0())
                .await
                .unwrap(),
            None
        );
    }
    assert!(
        store
            .hit_rate_limits(&[roomy], t0())
            .await
            .unwrap()
            .is_some()
    );
}

/// Of many simultaneous hits on one bucket exactly the limit's worth pass.
pub async fn concurrent_hits_never_pass_the_limit(store: Arc<dyn Store>) {
    let bucket = vec![("register:address:a".to_owned(), Rate::per_minute(7))];
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            let bucket = bucket.clone();
            tokio::spawn(async move { store.hit_rate_limits(&bucket, t0()).await.unwrap() })
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        if task.await.unwrap().is_none() {
            passed += 1;
        }
    }
    assert_eq!(passed, 7);
}

/// Pruning deletes only drained buckets, and a pruned bucket starts afresh.
pub async fn drained_buckets_are_pruned(store: Arc<dyn Store>) {
    let slow = ("a".to_owned(), Rate::per_minute(1));
    let fast = ("b".to_owned(), Rate::per_minute(60));
    store
        .hit_rate_limits(std::slice::from_ref(&slow), t0())
        .await
        .unwrap();
    store
        .hit_rate_limits(std::slice::from_ref(&fast), t0())
        .await
        .unwrap();
    // Ten seconds on, the fast bucket has drained, the slow one has not.
    assert_eq!(store.prune_rate_limits(later(10)).await.unwrap(), 1);
    assert!(
        store
            .hit_rate_limits(&[slow], later(10))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.prune_rate_limits(later(10)).await.unwrap(), 0);
    assert_eq!(
        store
            .hit_rate_limits(std::slice::from_ref(&fast), later(10))
            .await
            .unwrap(),
        None
    );
}

/// Revoking sessions ends the live ones and says how many there were.
pub async fn revoking_sessions_counts_the_live_ones(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let a = start(&*store, ada, "a1").await;
    let b = start(&*store, ada, "b1").await;
    store
        .end_session(&token("b1", t0()).hash, later(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_sessions(ada, system(), later(2))
            .await
            .unwrap(),
        1
    );
    assert!(!live(&*store, ada, a).await && !live(&*store, ada, b).await);
    assert_eq!(store.user(ada).await.unwrap().unwrap().token_version, 1);
    assert_eq!(
        store
            .revoke_sessions(ada, system(), later(3))
            .await
            .unwrap(),
        0
    );
}

/// Deletion erases personal data, keeps the row, ends sessions, and lets
/// the e-mail be used again.
pub async fn deleting_a_user_erases_personal_data_and_frees_the_email(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    store
        .update_profile(
            ada,
            ProfileChanges {
                bio: Some(Some("private".into())),
                ..ProfileChanges::default()
            },
            system(),
            t0(),
        )
        .await
        .unwrap();
    let session = start(&*store, ada, "r1").await;
    store.delete_user(ada, system(), later(1)).await.unwrap();
    let r = store.user(ada).await.unwrap().expect("the row stays");
    assert_eq!(r.deleted_at, Some(later(1)));
    assert_eq!(r.password_hash, None);
    assert_eq!(r.user.bio, None);
    assert_ne!(r.user.email, "ada@example.com");
    assert_ne!(r.user.display_name, "User ada@example.com");
    assert!(!live(&*store, ada, session).await);
    let email = Email::parse("email", "ada@example.com").unwrap();
    assert!(store.user_by_email(&email).await.unwrap().is_none());
    let rotation = store
        .rotate_refresh_token(&token("r1", t0()).hash, token("r2", later(7200)), later(2))
        .await
        .unwrap();
    assert_eq!(rotation, Rotation::Invalid);
    let again = store
        .delete_user(ada, system(), later(3))
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    make_user(&*store, "ada@example.com").await;
    assert!(
        store
            .list_users(&UserQuery::default())
            .await
            .unwrap()
            .iter()
            .all(|u| u.id != ada),
        "deleted users are not listed"
    );
}

/// Listing filters by role and text, pages by id, and skips nothing.
pub async fn listing_users_filters_and_pages_by_id(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(make_user(&*store, &format!("user{i}@example.com")).await);
    }
    store
        .update_account(ids[3], role(Role::Instructor), system(), t0())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_users(&UserQuery {
                after,
                limit: Some(3),
                ..UserQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().id);
        seen.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(seen, ids);
    let instructors = store
        .list_users(&UserQuery {
            role: Some(Role::Instructor),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        instructors.iter().map(|u| u.id).collect::<Vec<_>>(),
        [ids[3]]
    );
    let found = store
        .list_users(&UserQuery {
            query: Some("USER5@".into()),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [ids[5]]);
    let wildcard = store
        .list_users(&UserQuery {
            query: Some("%".into()),
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert!(wildcard.is_empty(), "'%' is a literal, not a wildcard");
}

/// Events come in id order after the cursor, filtered by kind and user.
pub async fn the_event_log_pages_by_cursor_and_filters(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let bob = make_user(&*store, "bob@example.com").await;
    store
        .update_account(bob, role(Role::Admin), system(), later(1))
        .await
        .unwrap();
    let all = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let rest = store
        .events(&EventQuery {
            after: Some(all[0].id),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rest, all[1..]);
    let one = store
        .events(&EventQuery {
            limit: Some(1),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(one, all[..1]);
    let roles = store
        .events(&EventQuery {
            kind: Some(kinds::USER_ROLE_CHANGED.into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].user_id, Some(bob.0));
    assert_eq!(roles[0].actor_kind, "system");
    assert_eq!(kinds_of(&*store, ada).await, [kinds::USER_REGISTERED]);
}

/// Every user step on an unknown id is `not_found` and writes nothing.
pub async fn steps_on_a_missing_user_are_not_found(store: Arc<dyn Store>) {
    let ghost = UserId::new();
    let session = NewSession {
        id: SessionId::new(),
        user_id: ghost,
        refresh: token("g1", later(3600)),
        token_version: 0,
        password_hash: HASH.into(),
        own_lock: None,
        rehashed_password: None,
    };
    let results = [
        store
            .begin_login_attempt(AccountKey::Id(ghost), policy(5), Actor::Anonymous, t0())
            .await
            .map(drop),
        store.start_session(session, t0()).await,
        store
            .update_profile(
                ghost,
                ProfileChanges {
                    display_name: Some("x".into()),
                    ..Default::default()
                },
                system(),
                t0(),
            )
            .await
            .map(drop),
        store
            .set_password(ghost, "h".into(), None, system(), t0())
            .await,
        store
            .update_account(ghost, role(Role::Admin), system(), t0())
            .await
            .map(drop),
        store
            .update_account(ghost, disabled(true), system(), t0())
            .await
            .map(drop),
        store.revoke_sessions(ghost, system(), t0()).await.map(drop),
        store.delete_user(ghost, system(), t0()).await,
    ];
    for (i, result) in results.into_iter().enumerate() {
        let err = result.expect_err("a missing user must be an error");
        assert_eq!(err.kind(), ErrorKind::NotFound, "step {i}: {err}");
    }
    assert!(
        store
            .events(&EventQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// After opening, the store reports every migration as applied.
pub async fn every_migration_is_applied(store: Arc<dyn Store>) {
    let status = store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| m.applied), "{status:?}");
    assert!(status.windows(2).all(|w| w[0].version < w[1].version));
}

/// Times come back exactly as stored, microseconds included.
pub async fn times_round_trip_to_the_microsecond(store: Arc<dyn Store>) {
    let ada = make_user(&*store, "ada@example.com").await;
    let lock = t0() + chrono::Duration::microseconds(999_999);
    let policy = LockPolicy {
        max_failures: 1,
        lock_until: lock,
    };
    store
        .begin_login_attempt(AccountKey::Id(ada), policy, Actor::Anonymous, t0())
        .await
        .unwrap();
    let r = store.user(ada).await.unwrap().unwrap();
    assert_eq!(r.locked_until, Some(lock));
    assert_eq!(r.user.created_at, t0());
}
