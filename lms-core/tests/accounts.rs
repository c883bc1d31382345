//! Accounts and authentication through the `Lms` handle, on both stores.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::{Harness, SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lms_core::events::kinds;
use lms_core::{
    AccountUpdate, Actor, AuthAction, AuthSession, Config, Credentials, ErrorKind, EventQuery,
    NewAccount, PasswordChange, ProfileUpdate, Registration, Role, UserQuery,
};
use serde_json::{Value, json};

on_both_stores!(
    registering_signs_in_a_student,
    registration_names_every_bad_field_and_writes_nothing,
    a_duplicate_email_in_another_case_is_a_conflict,
    login_ignores_email_case,
    a_wrong_password_is_unauthenticated_and_counts,
    an_unknown_email_gets_the_same_answer_as_a_wrong_password,
    an_over_long_password_is_answered_and_counted_like_a_wrong_one,
    lockout_holds_with_the_right_password_and_lifts_after_the_window,
    concurrent_wrong_logins_stop_at_the_limit_and_then_even_the_right_password_waits,
    a_successful_login_resets_the_failure_count,
    refresh_rotates_and_reuse_revokes_the_session,
    an_expired_refresh_token_is_refused,
    logout_ends_the_session_and_its_access_token,
    a_password_change_revokes_other_sessions_and_older_tokens,
    a_wrong_current_password_names_the_field_and_counts,
    forged_and_stale_access_tokens_are_rejected,
    expired_and_not_yet_valid_access_tokens_are_rejected,
    tokens_signed_with_a_previous_secret_still_work,
    disabling_a_user_rejects_their_live_access_token,
    a_disabled_user_cannot_log_in,
    only_admins_change_roles_and_disable_users,
    a_role_change_applies_to_live_tokens,
    profile_updates_validate_and_clear,
    deleting_an_account_needs_the_password_and_ends_login,
    an_admin_cannot_reset_their_own_password,
    a_login_rehashes_when_the_parameters_rise,
    each_state_change_leaves_exactly_one_event,
    admins_list_users_and_read_the_log,
    auth_attempts_are_throttled_per_address_and_per_account,
    an_admin_changes_role_and_disabled_together_or_not_at_all,
);

const PASSWORD: &str = "correct horse battery";

fn registration(email: &str) -> Registration {
    Registration {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: "Ada Lovelace".into(),
    }
}

fn credentials(email: &str, password: &str) -> Credentials {
    Credentials {
        email: email.into(),
        password: password.into(),
    }
}

async fn register(h: &Harness, email: &str) -> AuthSession {
    h.lms.register(registration(email)).await.unwrap()
}

async fn login(h: &Harness, email: &str) -> AuthSession {
    h.lms.login(credentials(email, PASSWORD)).await.unwrap()
}

async fn actor(h: &Harness, session: &AuthSession) -> Actor {
    h.lms.authenticate(&session.access_token).await.unwrap()
}

async fn admin(h: &Harness) -> Actor {
    let account = NewAccount {
        email: "root@example.com".into(),
        password: PASSWORD.into(),
        display_name: "Root".into(),
        role: Role::Admin,
    };
    h.lms.create_user(&Actor::System, account).await.unwrap();
    let session = login(h, "root@example.com").await;
    actor(h, &session).await
}

async fn all_events(h: &Harness) -> Vec<lms_core::Event> {
    h.store
        .events(&EventQuery {
            limit: Some(1000),
            ..EventQuery::default()
        })
        .await
        .unwrap()
}

fn assert_kind<T: std::fmt::Debug>(
    result: lms_core::Result<T>,
    kind: ErrorKind,
) -> lms_core::Error {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "{err}");
    err
}

async fn registering_signs_in_a_student(h: Harness) {
    let session = register(&h, " Ada@Example.com ").await;
    assert_eq!(session.user.email, "ada@example.com");
    assert_eq!(session.user.role, Role::Student);
    assert_eq!(session.token_type, "Bearer");
    assert_eq!(session.expires_in, 900);
    let who = actor(&h, &session).await;
    assert_eq!(who.user_id(), Some(session.user.id));
    assert_eq!(h.lms.current_user(&who).await.unwrap(), session.user);
}

async fn registration_names_every_bad_field_and_writes_nothing(h: Harness) {
    let err = assert_kind(
        h.lms
            .register(Registration {
                email: "not-an-email".into(),
                password: "password".into(),
                display_name: " ".into(),
            })
            .await,
        ErrorKind::InvalidInput,
    );
    let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["email", "password", "display_name"]);
    let short = assert_kind(
        h.lms
            .register(Registration {
                password: "x7!".into(),
                ..registration("ada@example.com")
            })
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(short.fields()[0].field, "password");
    assert!(all_events(&h).await.is_empty());
    assert!(
        h.store
            .list_users(&UserQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_duplicate_email_in_another_case_is_a_conflict(h: Harness) {
    register(&h, "ada@example.com").await;
    assert_kind(
        h.lms.register(registration("ADA@EXAMPLE.COM")).await,
        ErrorKind::Conflict,
    );
    assert_eq!(all_events(&h).await.len(), 2, "one registration, one login");
}

async fn login_ignores_email_case(h: Harness) {
    let registered = register(&h, "ada@example.com").await;
    let session = login(&h, "  ADA@example.COM").await;
    assert_eq!(session.user.id, registered.user.id);
}

async fn a_wrong_password_is_unauthenticated_and_counts(h: Harness) {
    let ada = register(&h, "ada@example.com").await.user;
    assert_kind(
        h.lms
            .login(credentials("ada@example.com", "wrong horse battery"))
            .await,
        ErrorKind::Unauthenticated,
    );
    let record = h.store.user(ada.id).await.unwrap().unwrap();
    assert_eq!(record.failed_logins, 1);
    let last = all_events(&h).await.pop().unwrap();
    assert_eq!(last.kind, kinds::USER_LOGIN_ATTEMPTED);
    assert_eq!(last.user_id, Some(ada.id.0));
    assert_eq!(
        (last.actor_kind.as_str(), last.actor_id),
        ("anonymous", None)
    );
}

async fn an_unknown_email_gets_the_same_answer_as_a_wrong_password(h: Harness) {
    register(&h, "ada@example.com").await;
    let unknown = assert_kind(
        h.lms.login(credentials("bob@example.com", PASSWORD)).await,
        ErrorKind::Unauthenticated,
    );
    let wrong = assert_kind(
        h.lms
            .login(credentials("ada@example.com", "wrong horse battery"))
            .await,
        ErrorKind::Unauthenticated,
    );
    assert_eq!(unknown.message(), wrong.message());
    let malformed = assert_kind(
        h.lms.login(credentials("nonsense", PASSWORD)).await,
        ErrorKind::Unauthenticated,
    );
    assert_eq!(malformed.message(), wrong.message());
}

async fn an_over_long_password_is_answered_and_counted_like_a_wrong_one(h: Harness) {
    let ada = register(&h, "ada@example.com").await.user;
    let too_long = "x".repeat(lms_core::domain::Password::MAX_CHARS + 1);
    let wrong = assert_kind(
        h.lms
            .login(credentials("ada@example.com", "wrong horse battery"))
            .await,
        ErrorKind::Unauthenticated,
    );
    let long = assert_kind(
        h.lms.login(credentials("ada@example.com", &too_long)).await,
        ErrorKind::Unauthenticated,
    );
    let unknown = assert_kind(
        h.lms.login(credentials("bob@example.com", &too_long)).await,
        ErrorKind::Unauthenticated,
    );
    assert_eq!(long.message(), wrong.message());
    assert_eq!(unknown.message(), wrong.message());
    let record = h.store.user(ada.id).await.unwrap().unwrap();
    assert_eq!(record.failed_logins, 2, "the over-long one counts too");
}

async fn lockout_holds_with_the_right_password_and_lifts_after_the_window(h: Harness) {
    // The probe below: a stored hash that is not a PHC string makes any
    // check of the password fail as `internal`.
    let bob = register(&h, "bob@example.com").await.user;
    h.set_password_hash(bob.id, "not a password hash").await;
    assert_kind(
        h.lms.login(credentials("bob@example.com", PASSWORD)).await,
        ErrorKind::Internal,
    );

    let ada = register(&h, "ada@example.com").await.user;
    for _ in 0..5 {
        assert_kind(
            h.lms
                .login(credentials("ada@example.com", "wrong horse battery"))
                .await,
            ErrorKind::Unauthenticated,
        );
    }
    let locked = assert_kind(
        h.lms.login(credentials("ada@example.com", PASSWORD)).await,
        ErrorKind::RateLimited,
    );
    assert_eq!(locked.retry_after(), Some(Duration::from_secs(900)));
    // Attempts during the lock are refused before hashing and not counted:
    // with the probe in place of the hash, any hashing would be `internal`.
    let stored = h.store.user(ada.id).await.unwrap().unwrap();
    h.set_password_hash(ada.id, "not a password hash").await;
    let events_before = all_events(&h).await.len();
    h.clock.advance(Duration::from_secs(14 * 60));
    for password in [PASSWORD, "wrong horse battery"] {
        let err = assert_kind(
            h.lms.login(credentials("ada@example.com", password)).await,
            ErrorKind::RateLimited,
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    }
    assert_eq!(all_events(&h).await.len(), events_before);
    let during = h.store.user(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (during.failed_logins, during.locked_until),
        (stored.failed_logins, stored.locked_until)
    );
    h.set_password_hash(ada.id, stored.password_hash.as_deref().unwrap())
        .await;
    h.clock.advance(Duration::from_secs(60));
    let session = login(&h, "ada@example.com").await;
    assert_eq!(session.user.id, ada.id);
}

async fn concurrent_wrong_logins_stop_at_the_limit_and_then_even_the_right_password_waits(
    h: Harness,
) {
    let ada = register(&h, "ada@example.com").await.user;
    let limit = h.lms.config().max_failed_logins as usize;
    let batch = |passwords: Vec<&'static str>| {
        let tasks: Vec<_> = passwords
            .into_iter()
            .map(|password| {
                let lms = h.lms.clone();
                tokio::spawn(async move {
                    lms.login(credentials("ada@example.com", password))
                        .await
                        .map(drop)
                })
            })
            .collect();
        async move {
            let mut kinds = Vec::new();
            for task in tasks {
                kinds.push(task.await.unwrap().map_err(|e| e.kind()));
            }
            kinds
        }
    };
    let outcomes = batch(vec!["wrong horse battery"; 20]).await;
    let count = |kind| outcomes.iter().filter(|o| **o == Err(kind)).count();
    // Exactly the limit's worth were checked (and failed); the rest were
    // refused before hashing.
    assert_eq!(count(ErrorKind::Unauthenticated), limit, "{outcomes:?}");
    assert_eq!(count(ErrorKind::RateLimited), 20 - limit, "{outcomes:?}");
    let attempts = |events: &[lms_core::Event]| {
        events
            .iter()
            .filter(|e| e.kind == kinds::USER_LOGIN_ATTEMPTED)
            .count()
    };
    assert_eq!(attempts(&all_events(&h).await), limit);

    // Locked now: a batch holding the right password gets nowhere either.
    let mut passwords = vec!["wrong horse battery"; 9];
    passwords.insert(4, PASSWORD);
    let outcomes = batch(passwords).await;
    assert!(
        outcomes.iter().all(|o| *o == Err(ErrorKind::RateLimited)),
        "{outcomes:?}"
    );
    let events = all_events(&h).await;
    assert_eq!(attempts(&events), limit);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == kinds::SESSION_STARTED)
            .count(),
        1,
        "only the registration's session"
    );
    assert!(
        h.store
            .user(ada.id)
            .await
            .unwrap()
            .unwrap()
            .locked_until
            .is_some()
    );
}

async fn a_successful_login_resets_the_failure_count(h: Harness) {
    let ada = register(&h, "ada@example.com").await.user;
    for _ in 0..4 {
        let _ = h
            .lms
            .login(credentials("ada@example.com", "wrong horse battery"))
            .await;
    }
    login(&h, "ada@example.com").await;
    assert_eq!(
        h.store.user(ada.id).await.unwrap().unwrap().failed_logins,
        0
    );
    let _ = h
        .lms
        .login(credentials("ada@example.com", "wrong horse battery"))
        .await;
    login(&h, "ada@example.com").await;
}

async fn refresh_rotates_and_reuse_revokes_the_session(h: Harness) {
    let first = register(&h, "ada@example.com").await;
    let second = h.lms.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.user.id, first.user.id);
    actor(&h, &second).await;
    let third = h.lms.refresh(&second.refresh_token).await.unwrap();

    // The first token comes back: someone copied it. The session ends.
    assert_kind(
        h.lms.refresh(&first.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.refresh(&third.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.authenticate(&third.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(h.lms.refresh("garbage").await, ErrorKind::Unauthenticated);
}

async fn an_expired_refresh_token_is_refused(h: Harness) {
    let session = register(&h, "ada@example.com").await;
    h.clock.advance(Duration::from_secs(30 * 24 * 3600));
    assert_kind(
        h.lms.refresh(&session.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
}

async fn logout_ends_the_session_and_its_access_token(h: Harness) {
    let a = register(&h, "ada@example.com").await;
    let b = login(&h, "ada@example.com").await;
    h.lms.logout(&a.refresh_token).await.unwrap();
    h.lms.logout(&a.refresh_token).await.unwrap();
    assert_kind(
        h.lms.authenticate(&a.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.refresh(&a.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    actor(&h, &b).await;
    h.lms.refresh(&b.refresh_token).await.unwrap();
}

async fn a_password_change_revokes_other_sessions_and_older_tokens(h: Harness) {
    let here = register(&h, "ada@example.com").await;
    let elsewhere = login(&h, "ada@example.com").await;
    let who = actor(&h, &here).await;
    let fresh = h
        .lms
        .change_password(
            &who,
            PasswordChange {
                current_password: PASSWORD.into(),
                new_password: "a much better passphrase".into(),
            },
        )
        .await
        .unwrap();
    // The old access tokens of both sessions are refused...
    assert_kind(
        h.lms.authenticate(&here.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.authenticate(&elsewhere.access_token).await,
        ErrorKind::Unauthenticated,
    );
    // ...the other session is over, this one goes on with the new token.
    assert_kind(
        h.lms.refresh(&elsewhere.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    h.lms.authenticate(&fresh.access_token).await.unwrap();
    h.lms.refresh(&here.refresh_token).await.unwrap();
    assert_kind(
        h.lms.login(credentials("ada@example.com", PASSWORD)).await,
        ErrorKind::Unauthenticated,
    );
    h.lms
        .login(credentials("ada@example.com", "a much better passphrase"))
        .await
        .unwrap();
}

async fn a_wrong_current_password_names_the_field_and_counts(h: Harness) {
    let session = register(&h, "ada@example.com").await;
    let who = actor(&h, &session).await;
    let err = assert_kind(
        h.lms
            .change_password(
                &who,
                PasswordChange {
                    current_password: "not my password".into(),
                    new_password: "a much better passphrase".into(),
                },
            )
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "current_password");
    let record = h.store.user(session.user.id).await.unwrap().unwrap();
    assert_eq!(record.failed_logins, 1);
    // The attempt is logged as the signed-in user's, not an anonymous one.
    let last = all_events(&h).await.pop().unwrap();
    assert_eq!(last.kind, kinds::USER_LOGIN_ATTEMPTED);
    assert_eq!(
        (last.actor_kind.as_str(), last.actor_id),
        ("user", Some(session.user.id.0))
    );
    actor(&h, &session).await;
    let weak = assert_kind(
        h.lms
            .change_password(
                &who,
                PasswordChange {
                    current_password: PASSWORD.into(),
                    new_password: "password1".into(),
                },
            )
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(weak.fields()[0].field, "new_password");
    // The same password again changes nothing, and is said so before any
    // check is counted.
    let before = h.store.user(session.user.id).await.unwrap().unwrap();
    let same = assert_kind(
        h.lms
            .change_password(
                &who,
                PasswordChange {
                    current_password: PASSWORD.into(),
                    new_password: PASSWORD.into(),
                },
            )
            .await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(same.fields()[0].field, "new_password");
    assert_eq!(
        h.store.user(session.user.id).await.unwrap().unwrap(),
        before
    );
}

/// The claims of a real token, to re-sign with variations.
fn claims_of(token: &str) -> (Header, Value) {
    let data = jsonwebtoken::dangerous::insecure_decode::<Value>(token).unwrap();
    (data.header, data.claims)
}

fn sign(header: &Header, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn b64(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn forged_and_stale_access_tokens_are_rejected(h: Harness) {
    let session = register(&h, "ada@example.com").await;
    let (header, claims) = claims_of(&session.access_token);
    assert_eq!(header.alg, Algorithm::HS256);
    let kid = header.kid.clone().expect("tokens carry a kid");
    for claim in ["iss", "aud", "sub", "role", "iat", "nbf", "exp"] {
        assert!(claims.get(claim).is_some(), "missing claim {claim}");
    }
    // Re-signing the same claims with the same key is accepted: the forgeries
    // below fail for what they change, not for being re-signed.
    h.lms
        .authenticate(&sign(&header, &claims, SECRET))
        .await
        .unwrap();

    let mut forged = Vec::new();
    // alg: none, with no signature.
    let none = json!({ "alg": "none", "typ": "JWT", "kid": kid });
    forged.push(format!("{}.{}.", b64(&none), b64(&claims)));
    // Another HMAC algorithm with the right secret.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let mut other = Header::new(alg);
        other.kid = Some(kid.clone());
        forged.push(sign(&other, &claims, SECRET));
    }
    // The wrong key, under the right kid.
    forged.push(sign(
        &header,
        &claims,
        "another-secret-of-enough-length-000000",
    ));
    // No kid, and an unknown kid.
    forged.push(sign(&Header::new(Algorithm::HS256), &claims, SECRET));
    let mut unknown = header.clone();
    unknown.kid = Some("0000000000000000".into());
    forged.push(sign(&unknown, &claims, SECRET));
    // Wrong audience, wrong issuer, missing exp.
    for (claim, value) in [("aud", json!("elsewhere")), ("iss", json!("evil"))] {
        let mut changed = claims.clone();
        changed[claim] = value;
        forged.push(sign(&header, &changed, SECRET));
    }
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    forged.push(sign(&header, &no_exp, SECRET));
    // A token of this user claiming admin still gets the stored role; one
    // naming another real user (same token version) fails because the
    // session it names is not theirs.
    let bob = register(&h, "bob@example.com").await;
    let (_, bob_claims) = claims_of(&bob.access_token);
    assert_eq!(bob_claims["ver"], claims["ver"]);
    let mut other_user = claims.clone();
    other_user["sub"] = json!(bob.user.id.0);
    forged.push(sign(&header, &other_user, SECRET));
    // A tampered payload under the original signature.
    let parts: Vec<_> = session.access_token.split('.').collect();
    let mut admin = claims.clone();
    admin["role"] = json!("admin");
    forged.push(format!("{}.{}.{}", parts[0], b64(&admin), parts[2]));
    forged.push("not.a.jwt".into());
    forged.push(String::new());

    for (i, token) in forged.iter().enumerate() {
        let err = h
            .lms
            .authenticate(token)
            .await
            .expect_err(&format!("forgery {i} accepted"));
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "forgery {i}: {err}");
    }

    let mut promoted = claims.clone();
    promoted["role"] = json!("admin");
    let who = h
        .lms
        .authenticate(&sign(&header, &promoted, SECRET))
        .await
        .unwrap();
    assert!(matches!(
        who,
        Actor::User {
            role: Role::Student,
            ..
        }
    ));
}

async fn expired_and_not_yet_valid_access_tokens_are_rejected(h: Harness) {
    let session = register(&h, "ada@example.com").await;
    let (header, claims) = claims_of(&session.access_token);
    h.clock.advance(Duration::from_secs(899));
    actor(&h, &session).await;
    h.clock.advance(Duration::from_secs(1));
    let expired = assert_kind(
        h.lms.authenticate(&session.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert!(expired.message().contains("expired"));

    let mut future = claims.clone();
    let nbf = claims["nbf"].as_i64().unwrap() + 3600;
    future["nbf"] = json!(nbf);
    future["exp"] = json!(nbf + 900);
    let early = assert_kind(
        h.lms.authenticate(&sign(&header, &future, SECRET)).await,
        ErrorKind::Unauthenticated,
    );
    assert!(early.message().contains("not yet valid"));
}

async fn tokens_signed_with_a_previous_secret_still_work(h: Harness) {
    let session = register(&h, "ada@example.com").await;
    let rotated = h.with_config(Config {
        jwt_secret: "a-brand-new-secret-of-enough-length-42".into(),
        jwt_previous_secrets: vec![SECRET.into()],
        ..common::config()
    });
    rotated.authenticate(&session.access_token).await.unwrap();
    let fresh = rotated
        .login(credentials("ada@example.com", PASSWORD))
        .await
        .unwrap();
    let (new_header, _) = claims_of(&fresh.access_token);
    let (old_header, _) = claims_of(&session.access_token);
    assert_ne!(new_header.kid, old_header.kid, "new tokens use the new key");
    // Once the old secret is dropped, its tokens stop working.
    let dropped = h.with_config(Config {
        jwt_secret: "a-brand-new-secret-of-enough-length-42".into(),
        ..common::config()
    });
    assert_kind(
        dropped.authenticate(&session.access_token).await,
        ErrorKind::Unauthenticated,
    );
    dropped.authenticate(&fresh.access_token).await.unwrap();
}

async fn disabling_a_user_rejects_their_live_access_token(h: Harness) {
    let admin = admin(&h).await;
    let ada = register(&h, "ada@example.com").await;
    actor(&h, &ada).await;
    h.lms.set_disabled(&admin, ada.user.id, true).await.unwrap();
    assert_kind(
        h.lms.authenticate(&ada.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.refresh(&ada.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    h.lms
        .set_disabled(&admin, ada.user.id, false)
        .await
        .unwrap();
    assert_kind(
        h.lms.authenticate(&ada.access_token).await,
        ErrorKind::Unauthenticated,
    );
    login(&h, "ada@example.com").await;
}

async fn a_disabled_user_cannot_log_in(h: Harness) {
    let ada = register(&h, "ada@example.com").await;
    h.lms
        .set_disabled(&Actor::System, ada.user.id, true)
        .await
        .unwrap();
    assert_kind(
        h.lms.login(credentials("ada@example.com", PASSWORD)).await,
        ErrorKind::Forbidden,
    );
    // Without the password, a disabled account looks like any other.
    assert_kind(
        h.lms
            .login(credentials("ada@example.com", "wrong horse battery"))
            .await,
        ErrorKind::Unauthenticated,
    );
}

async fn only_admins_change_roles_and_disable_users(h: Harness) {
    let admin = admin(&h).await;
    let ada = register(&h, "ada@example.com").await;
    let ada_actor = actor(&h, &ada).await;
    let bob = register(&h, "bob@example.com").await.user;

    assert_kind(
        h.lms.set_role(&ada_actor, bob.id, Role::Admin).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.set_role(&ada_actor, ada.user.id, Role::Admin).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.set_disabled(&ada_actor, bob.id, true).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.set_role(&Actor::Anonymous, bob.id, Role::Admin).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms
            .create_user(
                &ada_actor,
                NewAccount {
                    email: "eve@example.com".into(),
                    password: PASSWORD.into(),
                    display_name: "Eve".into(),
                    role: Role::Admin,
                },
            )
            .await,
        ErrorKind::Forbidden,
    );
    let admin_id = admin.user_id().unwrap();
    assert_kind(
        h.lms.set_role(&admin, admin_id, Role::Student).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.set_disabled(&admin, admin_id, true).await,
        ErrorKind::Forbidden,
    );
    // Naming their own role and state as they are changes nothing, and is
    // no error: a form sent whole does that.
    let same = lms_core::AccountUpdate {
        role: Some("admin".into()),
        disabled: Some(false),
    };
    let unchanged = h.lms.update_account(&admin, admin_id, same).await.unwrap();
    assert_eq!((unchanged.role, unchanged.disabled), (Role::Admin, false));

    let promoted = h
        .lms
        .set_role(&admin, bob.id, Role::Instructor)
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Instructor);
    let by_system = h
        .lms
        .set_role(&Actor::System, bob.id, Role::Admin)
        .await
        .unwrap();
    assert_eq!(by_system.role, Role::Admin);
    assert_kind(
        h.lms
            .set_role(&admin, lms_core::UserId::new(), Role::Admin)
            .await,
        ErrorKind::NotFound,
    );
}

async fn a_role_change_applies_to_live_tokens(h: Harness) {
    let ada = register(&h, "ada@example.com").await;
    h.lms
        .set_role(&Actor::System, ada.user.id, Role::Instructor)
        .await
        .unwrap();
    let who = actor(&h, &ada).await;
    assert!(matches!(
        who,
        Actor::User {
            role: Role::Instructor,
            ..
        }
    ));
}

async fn profile_updates_validate_and_clear(h: Harness) {
    let ada = register(&h, "ada@example.com").await;
    let who = actor(&h, &ada).await;
    let update: ProfileUpdate = serde_json::from_value(json!({
        "display_name": "Countess",
        "bio": "Wrote the first program.",
    }))
    .unwrap();
    let user = h.lms.update_profile(&who, update).await.unwrap();
    assert_eq!(user.display_name, "Countess");
    assert_eq!(user.bio.as_deref(), Some("Wrote the first program."));

    let clear: ProfileUpdate = serde_json::from_value(json!({ "bio": null })).unwrap();
    let user = h.lms.update_profile(&who, clear).await.unwrap();
    assert_eq!(user.bio, None);
    assert_eq!(user.display_name, "Countess");

    // A well-formed key that no upload of hers is stored under.
    let before = all_events(&h).await.len();
    let unknown: ProfileUpdate = serde_json::from_value(json!({
        "bio": "kept out",
        "avatar_key": "public/avatars/0193/ada.png",
    }))
    .unwrap();
    let err = assert_kind(
        h.lms.update_profile(&who, unknown).await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "avatar_key");
    assert_eq!(all_events(&h).await.len(), before);
    assert_eq!(h.lms.current_user(&who).await.unwrap(), user);

    let before = all_events(&h).await.len();
    let bad: ProfileUpdate = serde_json::from_value(json!({
        "display_name": "",
        "avatar_key": "../../etc/passwd",
    }))
    .unwrap();
    let err = assert_kind(
        h.lms.update_profile(&who, bad).await,
        ErrorKind::InvalidInput,
    );
    let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["display_name", "avatar_key"]);
    assert_eq!(all_events(&h).await.len(), before);
    assert_eq!(h.lms.current_user(&who).await.unwrap(), user);

    assert!(
        serde_json::from_value::<ProfileUpdate>(json!({ "role": "admin" })).is_err(),
        "a profile update cannot carry a role"
    );
    assert_kind(
        h.lms
            .update_profile(&Actor::Anonymous, ProfileUpdate::default())
            .await,
        ErrorKind::Unauthenticated,
    );
}

async fn deleting_an_account_needs_the_password_and_ends_login(h: Harness) {
    let ada = register(&h, "ada@example.com").await;
    let who = actor(&h, &ada).await;
    let err = assert_kind(
        h.lms.delete_account(&who, "wrong horse battery").await,
        ErrorKind::InvalidInput,
    );
    assert_eq!(err.fields()[0].field, "password");
    let last = all_events(&h).await.pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.actor_id),
        (kinds::USER_LOGIN_ATTEMPTED, Some(ada.user.id.0))
    );
    actor(&h, &ada).await;

    h.lms.delete_account(&who, PASSWORD).await.unwrap();
    assert_kind(
        h.lms.authenticate(&ada.access_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.refresh(&ada.refresh_token).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.login(credentials("ada@example.com", PASSWORD)).await,
        ErrorKind::Unauthenticated,
    );
    assert_kind(
        h.lms.user(&Actor::System, ada.user.id).await,
        ErrorKind::NotFound,
    );
    // The address is free again.
    let again = register(&h, "ada@example.com").await;
    assert_ne!(again.user.id, ada.user.id);
}

async fn an_admin_cannot_reset_their_own_password(h: Harness) {
    let admin = admin(&h).await;
    let admin_id = admin.user_id().unwrap();
    let before = all_events(&h).await.len();
    let err = assert_kind(
        h.lms
            .reset_password(&admin, admin_id, "a password of my choosing")
            .await,
        ErrorKind::Forbidden,
    );
    assert!(err.message().contains("change_password"), "{err}");
    assert_eq!(all_events(&h).await.len(), before);
    login(&h, "root@example.com").await;
    // Other users' passwords they may reset.
    let ada = register(&h, "ada@example.com").await.user;
    h.lms
        .reset_password(&admin, ada.id, "a password of my choosing")
        .await
        .unwrap();
}

async fn a_login_rehashes_when_the_parameters_rise(h: Harness) {
    let ada = register(&h, "ada@example.com").await.user;
    let old = h
        .store
        .user(ada.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(old.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{old}");
    let stronger = h.with_config(Config {
        argon2_iterations: 3,
        ..common::config()
    });
    stronger
        .login(credentials("ada@example.com", PASSWORD))
        .await
        .unwrap();
    let new = h
        .store
        .user(ada.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(new.starts_with("$argon2id$v=19$m=19456,t=3,p=1$"), "{new}");
    // The new hash still verifies, with either configuration.
    h.lms
        .login(credentials("ada@example.com", PASSWORD))
        .await
        .unwrap();
}

async fn each_state_change_leaves_exactly_one_event(h: Harness) {
    let mut log = Vec::new();
    let ada = h
        .lms
        .register(registration("ada@example.com"))
        .await
        .unwrap();
    // Registering is two changes in one step: the account, its first session.
    check(
        &h,
        &mut log,
        &[kinds::USER_REGISTERED, kinds::SESSION_STARTED],
    )
    .await;
    let who = actor(&h, &ada).await;
    let refreshed = h.lms.refresh(&ada.refresh_token).await.unwrap();
    check(&h, &mut log, &[kinds::SESSION_REFRESHED]).await;
    let update = ProfileUpdate {
        bio: Some(Some("hi".into())),
        ..ProfileUpdate::default()
    };
    h.lms.update_profile(&who, update.clone()).await.unwrap();
    check(&h, &mut log, &[kinds::USER_PROFILE_UPDATED]).await;
    // The same bio again changes nothing.
    h.lms.update_profile(&who, update).await.unwrap();
    check(&h, &mut log, &[]).await;
    // A password check is counted when it begins; a wrong password changes
    // nothing more.
    let _ = h
        .lms
        .login(credentials("ada@example.com", "wrong horse battery"))
        .await;
    check(&h, &mut log, &[kinds::USER_LOGIN_ATTEMPTED]).await;
    h.lms
        .change_password(
            &who,
            PasswordChange {
                current_password: PASSWORD.into(),
                new_password: "another fine passphrase".into(),
            },
        )
        .await
        .unwrap();
    check(
        &h,
        &mut log,
        &[kinds::USER_LOGIN_ATTEMPTED, kinds::USER_PASSWORD_CHANGED],
    )
    .await;
    h.lms
        .set_role(&Actor::System, ada.user.id, Role::Instructor)
        .await
        .unwrap();
    check(&h, &mut log, &[kinds::USER_ROLE_CHANGED]).await;
    h.lms
        .revoke_sessions(&Actor::System, ada.user.id)
        .await
        .unwrap();
    check(&h, &mut log, &[kinds::USER_SESSIONS_REVOKED]).await;
    h.lms.logout(&refreshed.refresh_token).await.unwrap();
    // Already revoked: logout changes nothing and logs nothing.
    check(&h, &mut log, &[]).await;
    h.lms
        .set_disabled(&Actor::System, ada.user.id, true)
        .await
        .unwrap();
    check(&h, &mut log, &[kinds::USER_DISABLED]).await;
    h.lms
        .set_disabled(&Actor::System, ada.user.id, false)
        .await
        .unwrap();
    check(&h, &mut log, &[kinds::USER_ENABLED]).await;
    let again = h
        .lms
        .login(credentials("ada@example.com", "another fine passphrase"))
        .await
        .unwrap();
    check(
        &h,
        &mut log,
        &[kinds::USER_LOGIN_ATTEMPTED, kinds::SESSION_STARTED],
    )
    .await;
    h.lms.logout(&again.refresh_token).await.unwrap();
    check(&h, &mut log, &[kinds::SESSION_ENDED]).await;
    h.lms
        .reset_password(&Actor::System, ada.user.id, "operator set this one")
        .await
        .unwrap();
    check(&h, &mut log, &[kinds::USER_PASSWORD_CHANGED]).await;
    let last = h
        .lms
        .login(credentials("ada@example.com", "operator set this one"))
        .await
        .unwrap();
    check(
        &h,
        &mut log,
        &[kinds::USER_LOGIN_ATTEMPTED, kinds::SESSION_STARTED],
    )
    .await;
    let who = actor(&h, &last).await;
    h.lms
        .delete_account(&who, "operator set this one")
        .await
        .unwrap();
    check(
        &h,
        &mut log,
        &[kinds::USER_LOGIN_ATTEMPTED, kinds::USER_DELETED],
    )
    .await;
}

/// Asserts the log holds exactly `log` plus `next`.
async fn check(h: &Harness, log: &mut Vec<String>, next: &[&str]) {
    log.extend(next.iter().map(|k| (*k).to_owned()));
    let seen: Vec<_> = all_events(h).await.into_iter().map(|e| e.kind).collect();
    assert_eq!(&seen, log);
}

async fn admins_list_users_and_read_the_log(h: Harness) {
    let admin = admin(&h).await;
    let ada = register(&h, "ada@example.com").await;
    let who = actor(&h, &ada).await;
    assert_kind(
        h.lms.list_users(&who, &UserQuery::default()).await,
        ErrorKind::Forbidden,
    );
    assert_kind(
        h.lms.events(&who, &EventQuery::default()).await,
        ErrorKind::Forbidden,
    );
    let users = h
        .lms
        .list_users(&admin, &UserQuery::default())
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    let events = h.lms.events(&admin, &EventQuery::default()).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == kinds::USER_CREATED && e.actor_kind == "system")
    );
    // A user reads themselves; not others.
    h.lms.user(&who, ada.user.id).await.unwrap();
    assert_kind(
        h.lms.user(&who, admin.user_id().unwrap()).await,
        ErrorKind::Forbidden,
    );
}

/// Each address and each account gets its configured rate; a refusal says
/// how long to wait and is not counted; actions and addresses are apart.
async fn auth_attempts_are_throttled_per_address_and_per_account(h: Harness) {
    let mut config = common::config();
    config.auth_rate_per_minute = 3;
    config.auth_account_rate_per_minute = 2;
    let lms = h.with_config(config);
    let a: IpAddr = "192.0.2.1".parse().unwrap();
    let b: IpAddr = "192.0.2.2".parse().unwrap();
    let login = AuthAction::Login;

    // Per account, whatever the address or the case of the e-mail.
    lms.throttle(login, Some(a), Some("ada@example.com"))
        .await
        .unwrap();
    lms.throttle(login, Some(b), Some("ADA@example.com"))
        .await
        .unwrap();
    let err = lms
        .throttle(login, Some(b), Some("ada@example.com"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));

    // Per address: a already spent one; two more pass, the next waits.
    lms.throttle(login, Some(a), Some("bob@example.com"))
        .await
        .unwrap();
    lms.throttle(login, Some(a), None).await.unwrap();
    let err = lms.throttle(login, Some(a), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(20)));

    // Another action has its own buckets.
    lms.throttle(AuthAction::Register, Some(a), Some("ada@example.com"))
        .await
        .unwrap();
    // Time refills the bucket at the steady rate.
    h.clock.advance(Duration::from_secs(20));
    lms.throttle(login, Some(a), None).await.unwrap();
    assert!(lms.throttle(login, Some(a), None).await.is_err());

    // The default handle (60 a minute) and a zero rate (off).
    let c: IpAddr = "2001:db8::1".parse().unwrap();
    for _ in 0..10 {
        h.lms.throttle(login, Some(c), None).await.unwrap();
    }
    let mut off = common::config();
    off.auth_rate_per_minute = 0;
    off.auth_account_rate_per_minute = 0;
    let off = h.with_config(off);
    for _ in 0..100 {
        off.throttle(login, Some(a), Some("ada@example.com"))
            .await
            .unwrap();
    }
}

/// Role and disabled change in one step; a refused half refuses the whole.
async fn an_admin_changes_role_and_disabled_together_or_not_at_all(h: Harness) {
    let admin = admin(&h).await;
    let ada = register(&h, "ada@example.com").await;
    let both = AccountUpdate {
        role: Some("instructor".into()),
        disabled: Some(true),
    };
    let user = h
        .lms
        .update_account(&admin, ada.user.id, both)
        .await
        .unwrap();
    assert_eq!((user.role, user.disabled), (Role::Instructor, true));
    let err = h.lms.authenticate(&ada.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);

    let bad = AccountUpdate {
        role: Some("owner".into()),
        disabled: Some(false),
    };
    let err = h
        .lms
        .update_account(&admin, ada.user.id, bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.fields()[0].field, "role");
    let still = h.lms.user(&admin, ada.user.id).await.unwrap();
    assert!(still.disabled, "a refused update changed nothing");

    let Actor::User { id: admin_id, .. } = admin else {
        panic!("admin is a user")
    };
    let own = AccountUpdate {
        role: Some("student".into()),
        disabled: None,
    };
    let err = h
        .lms
        .update_account(&admin, admin_id, own)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let student = actor(&h, &register(&h, "bob@example.com").await).await;
    let err = h
        .lms
        .update_account(&student, ada.user.id, AccountUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}
