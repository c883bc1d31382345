//! `lms media` against local storage in a temporary data folder (and a
//! real S3-compatible server): files land where the ticket said, assets are
//! recorded and attached, printed links open on a server with the same
//! secret, and bad input stores nothing.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::{SECRET, Store, import_course, tmp};
use lms_core::{LocalStorage, Secret};
use lms_tests::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};

on_both_stores!(
    uploads_land_in_local_storage_and_are_attached,
    bad_uploads_are_refused_and_store_nothing,
);

/// The lecture ids of the imported course: a video, an article, a video.
fn lectures(course: &serde_json::Value) -> Vec<String> {
    course["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["lectures"].as_array().unwrap().iter())
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A file of `len` bytes that are not all alike.
fn file(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

/// A store whose media live in a fresh data folder, with the server's secret.
fn with_local_media(s: Store) -> (Store, PathBuf) {
    let data = tmp("data");
    std::fs::create_dir_all(&data).unwrap();
    let s = s
        .with_env("LMS_DATA_DIR", data.to_str().unwrap())
        .with_env("LMS_JWT_SECRET", SECRET);
    (s, data)
}

fn uploads_land_in_local_storage_and_are_attached(s: Store) {
    let (s, data) = with_local_media(s);
    s.user("ada@example.com", "instructor");
    s.user("bob@example.com", "student");
    let course = import_course(&s, "ada@example.com");
    let ids = lectures(&course);

    // A lecture video: the bytes under the asset's key, its type beside.
    let (video, bytes) = file(&data, "Intro Lecture.mp4", 300_000);
    let asset = s.json(&[
        "media",
        "upload",
        "--video",
        &ids[0],
        video.to_str().unwrap(),
    ]);
    assert_eq!(asset["status"], "stored");
    assert_eq!(asset["purpose"], "lecture_video");
    assert_eq!(asset["size"], 300_000);
    assert_eq!(asset["content_type"], "video/mp4");
    assert_eq!(asset["lecture_id"], ids[0].as_str());
    assert_eq!(
        asset["owner_id"], course["owner_id"],
        "recorded as the owner's"
    );
    let key = asset["object_key"].as_str().unwrap();
    assert!(key.starts_with("private/videos/"), "{key}");
    assert!(key.ends_with("/Intro-Lecture.mp4"), "{key}");
    let media = data.join("media");
    assert_eq!(std::fs::read(media.join(key)).unwrap(), bytes);
    assert_eq!(
        std::fs::read_to_string(media.join(".meta").join(key)).unwrap(),
        "video/mp4"
    );
    let id = asset["id"].as_str().unwrap();
    assert_eq!(s.json(&["media", "show", id]), asset);
    let shown = s.run(&["media", "show", id], 0);
    assert!(
        shown.contains("lecture_video") && shown.contains("stored"),
        "{shown}"
    );

    // Playback without Mux: a signed link the server (same secret) opens.
    let playback = s.json(&["media", "playback", &ids[0]]);
    assert_eq!(playback["kind"], "file");
    assert_eq!(playback["content_type"], "video/mp4");
    let url = playback["url"].as_str().unwrap();
    let local = LocalStorage::new(&media, "http://127.0.0.1:8080", &Secret::new(SECRET));
    let (path, query) = url
        .strip_prefix("http://127.0.0.1:8080/media/")
        .and_then(|rest| rest.split_once('?'))
        .unwrap_or_else(|| panic!("{url}"));
    assert_eq!(path, key);
    let now = chrono::Utc::now();
    local.authorize("GET", key, Some(query), now).unwrap();
    let other = LocalStorage::new(
        &media,
        "http://127.0.0.1:8080",
        &Secret::new("x".repeat(40)),
    );
    assert!(other.authorize("GET", key, Some(query), now).is_err());

    // An attachment on the article, listed with its link.
    let (pdf, _) = file(&data, "notes.pdf", 1234);
    let attached = s.json(&[
        "media",
        "upload",
        "--attachment",
        &ids[1],
        pdf.to_str().unwrap(),
    ]);
    assert_eq!(attached["purpose"], "lecture_attachment");
    let files = s.lines(&["media", "attachments", &ids[1]]);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["id"], attached["id"]);
    assert_eq!(files[0]["file_name"], "notes.pdf");
    assert_eq!(files[0]["size"], 1234);
    let table = s.run(&["media", "attachments", &ids[1]], 0);
    assert!(
        table.starts_with("ID") && table.contains("notes.pdf"),
        "{table}"
    );
    assert!(s.lines(&["media", "attachments", &ids[2]]).is_empty());

    // An avatar in a user's name and a thumbnail: public images.
    let (png, png_bytes) = file(&data, "me.png", 4096);
    let avatar = s.json(&[
        "media",
        "upload",
        "--avatar",
        "bob@example.com",
        png.to_str().unwrap(),
    ]);
    let bob = s.json(&["users", "show", "bob@example.com"]);
    assert_eq!(avatar["owner_id"], bob["id"]);
    assert_eq!(bob["avatar_key"], avatar["object_key"]);
    let avatar_key = avatar["object_key"].as_str().unwrap();
    assert_eq!(
        avatar["public_url"],
        format!("http://127.0.0.1:8080/media/{avatar_key}").as_str()
    );
    assert_eq!(std::fs::read(media.join(avatar_key)).unwrap(), png_bytes);
    let (cover, _) = file(&data, "cover.data", 2048);
    let thumbnail = s.run(
        &[
            "media",
            "upload",
            "--thumbnail",
            "rust-from-scratch",
            "--content-type",
            "image/webp",
            cover.to_str().unwrap(),
        ],
        0,
    );
    assert!(
        thumbnail.contains("course_thumbnail") && thumbnail.contains("url: "),
        "{thumbnail}"
    );
    let thumbnail_key = s.json(&["courses", "show", "rust-from-scratch"])["thumbnail_key"].clone();
    assert!(
        thumbnail_key
            .as_str()
            .is_some_and(|k| k.starts_with("public/thumbnails/") && thumbnail.contains(k)),
        "{thumbnail_key} {thumbnail}"
    );
    assert_eq!(
        s.lines(&["events", "list", "--type", "asset.stored"]).len(),
        4
    );
    // Nothing is left half-written.
    let partial = std::fs::read_dir(media.join(".tmp")).unwrap().count();
    assert_eq!(partial, 0);
}

fn bad_uploads_are_refused_and_store_nothing(s: Store) {
    let (s, data) = with_local_media(s);
    s.user("ada@example.com", "instructor");
    let course = import_course(&s, "ada@example.com");
    let ids = lectures(&course);
    let (pdf, _) = file(&data, "notes.pdf", 100);
    let (clip, _) = file(&data, "clip.mp4", 100);
    let (odd, _) = file(&data, "clip.xyz", 100);

    // A pdf is no video; an article takes no video; an unknown extension
    // needs --content-type: 2, naming the argument.
    let stderr = s.fail(
        &["media", "upload", "--video", &ids[0], pdf.to_str().unwrap()],
        2,
    );
    assert!(stderr.contains("content_type"), "{stderr}");
    let stderr = s.fail(
        &[
            "media",
            "upload",
            "--video",
            &ids[1],
            clip.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        stderr.contains("lecture_id: is not a video lecture"),
        "{stderr}"
    );
    let stderr = s.fail(
        &["media", "upload", "--video", &ids[0], odd.to_str().unwrap()],
        2,
    );
    assert!(
        stderr.contains("content_type") && stderr.contains("--content-type"),
        "{stderr}"
    );
    let stderr = s.fail(
        &[
            "media",
            "upload",
            "--video",
            "not-an-id",
            clip.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        stderr.contains("video: is not a valid lecture id"),
        "{stderr}"
    );
    let missing = data.join("missing.mp4");
    let stderr = s.fail(
        &[
            "media",
            "upload",
            "--video",
            &ids[0],
            missing.to_str().unwrap(),
        ],
        2,
    );
    assert!(stderr.contains("file: cannot read"), "{stderr}");
    // Exactly one target.
    s.fail(&["media", "upload", clip.to_str().unwrap()], 2);
    s.fail(
        &[
            "media",
            "upload",
            "--video",
            &ids[0],
            "--avatar",
            "ada@example.com",
            clip.to_str().unwrap(),
        ],
        2,
    );
    // Unknown things are 4.
    let unknown = uuid::Uuid::now_v7().to_string();
    s.fail(
        &[
            "media",
            "upload",
            "--video",
            &unknown,
            clip.to_str().unwrap(),
        ],
        4,
    );
    s.fail(&["media", "show", &unknown], 4);
    let stderr = s.fail(&["media", "show", "nope"], 2);
    assert!(stderr.contains("upload"), "{stderr}");
    s.fail(&["media", "playback", &ids[0]], 4);

    // Nothing was stored or recorded.
    assert!(
        s.lines(&["events", "list", "--type", "asset.upload_started"])
            .is_empty()
    );
    assert!(!data.join("media").join("private").exists());

    // Links signed with a throwaway secret would not open: told so.
    s.json(&[
        "media",
        "upload",
        "--video",
        &ids[0],
        clip.to_str().unwrap(),
    ]);
    let without = Store {
        url: s.url.clone(),
        schema: s.schema.clone(),
        env: vec![("LMS_DATA_DIR".into(), data.to_str().unwrap().into())],
    };
    let stderr = without.fail(&["media", "playback", &ids[0]], 2);
    assert!(
        stderr.contains("jwt_secret") && stderr.contains("LMS_JWT_SECRET"),
        "{stderr}"
    );
    // lms-http's generated secret in the data folder is found.
    std::fs::write(data.join("jwt-secret"), SECRET).unwrap();
    let playback = without.json(&["media", "playback", &ids[0]]);
    assert_eq!(playback["kind"], "file");
    // Images are Mux's: a file plays without them even when asked.
    let asked = without.json(&["media", "playback", "--thumbnail", "--storyboard", &ids[0]]);
    assert_eq!(asked["kind"], "file");
    assert_eq!(asked["thumbnail_url"], serde_json::Value::Null);
    assert_eq!(asked["storyboard_url"], serde_json::Value::Null);
}

/// With S3 settings the bytes go to the bucket by the presigned PUT, which
/// the server checks (SigV4, type, length), and completion finds them.
#[test]
fn an_upload_goes_to_s3_with_the_presigned_put() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(S3Server::start());
    let s = Store::sqlite()
        .with_env("LMS_S3_BUCKET", BUCKET)
        .with_env("LMS_S3_ENDPOINT", &server.endpoint)
        .with_env("LMS_S3_FORCE_PATH_STYLE", "true")
        .with_env("LMS_S3_ACCESS_KEY_ID", ACCESS_KEY)
        .with_env("LMS_S3_SECRET_ACCESS_KEY", SECRET_KEY);
    s.user("ada@example.com", "instructor");
    let course = import_course(&s, "ada@example.com");
    let ids = lectures(&course);
    let dir = tmp("files");
    std::fs::create_dir_all(&dir).unwrap();
    let (pdf, bytes) = file(&dir, "slides.pdf", 70_000);
    let asset = s.json(&[
        "media",
        "upload",
        "--attachment",
        &ids[1],
        pdf.to_str().unwrap(),
    ]);
    assert_eq!(asset["status"], "stored");
    let key = asset["object_key"].as_str().unwrap();
    assert_eq!(server.object(key).unwrap(), bytes);
    // The link printed is S3's own presigned GET.
    let files = s.lines(&["media", "attachments", &ids[1]]);
    let url = files[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&server.endpoint) && url.contains("X-Amz-Signature"),
        "{url}"
    );
    // The storage's answer to a wrong credential is a provider error (7),
    // and no asset is completed.
    let wrong = Store {
        url: s.url.clone(),
        schema: None,
        env: s
            .env
            .iter()
            .map(|(k, v)| match k.as_str() {
                "LMS_S3_SECRET_ACCESS_KEY" => (k.clone(), "not-the-secret".to_owned()),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    };
    let stderr = wrong.fail(
        &[
            "media",
            "upload",
            "--attachment",
            &ids[1],
            pdf.to_str().unwrap(),
        ],
        7,
    );
    assert!(stderr.contains("storage"), "{stderr}");
    assert_eq!(
        s.lines(&["events", "list", "--type", "asset.stored"]).len(),
        1
    );
    // The server's own check agrees with the store.
    let storage = runtime.block_on(async {
        let config = lms_core::Config {
            s3_bucket: Some(BUCKET.into()),
            s3_endpoint: Some(server.endpoint.clone()),
            s3_force_path_style: true,
            s3_access_key_id: Some(ACCESS_KEY.into()),
            s3_secret_access_key: SECRET_KEY.into(),
            ..lms_core::Config::with_jwt_secret(SECRET)
        };
        let lms = s.core(config).await;
        lms.storage().head(key).await.unwrap()
    });
    assert_eq!(storage.unwrap().size, 70_000);
}
