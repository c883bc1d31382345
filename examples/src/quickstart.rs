//! Embeds lms-core in a Rust program: opens the embedded SQLite store,
//! registers a learner (or finds them registered), logs in, and prints who
//! the access token says is acting.
//!
//! ```sh
//! cargo run -p lms-examples --bin quickstart                 # ./lms-data/lms.db
//! cargo run -p lms-examples --bin quickstart -- postgres://localhost/lms
//! ```

use lms_core::{Config, Credentials, ErrorKind, Lms, Registration, Secret};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite://./lms-data/lms.db".to_owned());
    // Tokens only need to outlive this run, so a fresh secret will do; a
    // server keeps its secret (lms-http stores one in its data folder).
    let lms = Lms::open(&url, Config::with_jwt_secret(Secret::generate())).await?;
    println!("opened {} store at {url}", lms.store().backend());

    let email = "ada@example.com";
    let password = "analytical engine notes";
    match lms
        .register(Registration {
            email: email.into(),
            password: password.into(),
            display_name: "Ada Lovelace".into(),
        })
        .await
    {
        Ok(session) => println!("registered {} ({})", session.user.email, session.user.id),
        Err(e) if e.kind() == ErrorKind::Conflict => println!("{email} is already registered"),
        Err(e) => return Err(e.into()),
    }

    let session = lms
        .login(Credentials {
            email: email.into(),
            password: password.into(),
        })
        .await?;
    println!(
        "logged in; access token expires in {} s",
        session.expires_in
    );

    let actor = lms.authenticate(&session.access_token).await?;
    println!("actor: {}", serde_json::to_string(&actor)?);
    Ok(())
}
