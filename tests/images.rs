//! Image uploads and downloads over real HTTP, against the server binary
//! on each store (redb, and MongoDB when the test command provides it):
//! what is taken and refused, limits, deduplication by content hash,
//! caching headers, edit rights, and images surviving a restart.

mod common;

use common::{
    board_id, http_exchange, http_post, json_field, mongodb_uri, unique_database, Body,
    HttpResponse, ServerProcess,
};
use whiteboard::server::images::hash;

/// A real 1×1 PNG.
const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x04\x00\x00\x00\xb5\x1c\x0c\x02\x00\x00\x00\x0b\x49\x44\x41\x54\x78\xda\x63\x64\x60\x00\x00\x00\x06\x00\x02\x30\x81\xd0\x2f\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// The SHA-256 of [`PNG`] (`sha256sum`).
const PNG_ID: &str = "63ef318d96b5d0d0ceba6e04a4e622b1158335cdc67c49e27839132c6f655058";

/// What the tests run with: a small upload limit, so that "too large" is
/// cheap to reach.
const MAX_BYTES: usize = 64 * 1024;

fn upload(server: &ServerProcess, board: &str, bytes: &[u8], key: Option<&str>) -> HttpResponse {
    let mut headers = vec![("Content-Type", "image/png")];
    headers.extend(key.map(|key| ("X-Edit-Key", key)));
    http_exchange(
        server.addr,
        "POST",
        &format!("/b/{board}/images"),
        &headers,
        Body::Sized(bytes),
    )
}

fn download(server: &ServerProcess, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_exchange(server.addr, "GET", path, headers, Body::Sized(b""))
}

/// A file of `size` bytes that starts as [`PNG`] does (signature and
/// header: a 1×1 image).
fn png_of(size: usize) -> Vec<u8> {
    let mut bytes = PNG[..33].to_vec();
    bytes.resize(size, 7);
    bytes
}

fn start(data_dir: &std::path::Path, env: &[(&str, &str)]) -> ServerProcess {
    let max = MAX_BYTES.to_string();
    let mut env = env.to_vec();
    env.push(("WHITEBOARD_MAX_IMAGE_BYTES", &max));
    ServerProcess::start_with(data_dir, &env)
}

/// Everything an image endpoint promises, against one running server;
/// then the server restarts (`restart`) and the image is still served.
fn check_images(mut server: ServerProcess, restart: impl FnOnce() -> ServerProcess) {
    let board = board_id("images-first").to_string();

    // An editor uploads a PNG: stored under its SHA-256.
    let stored = upload(&server, &board, PNG, None);
    assert_eq!(stored.status, 201, "{}", stored.text());
    let body = stored.text();
    let id = json_field(&body, "id");
    assert_eq!(id, PNG_ID);
    assert_eq!(json_field(&body, "url"), format!("/images/{id}"));
    assert_eq!(json_field(&body, "type"), "image/png");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(1), Some(1))
    );

    // Served as it was, for good.
    let served = download(&server, &format!("/images/{id}"), &[]);
    assert_eq!(served.status, 200);
    assert_eq!(served.body, PNG);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(
        served.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    assert!(served
        .header("content-security-policy")
        .is_some_and(|policy| policy.contains("sandbox")));
    let etag = served.header("etag").expect("an etag").to_owned();
    let again = download(
        &server,
        &format!("/images/{id}"),
        &[("If-None-Match", &etag)],
    );
    assert_eq!((again.status, again.body.len()), (304, 0));

    // The same bytes on another board, declared as something else: the
    // same image (its type read from its bytes), stored once.
    let other_board = board_id("images-second").to_string();
    let again = http_exchange(
        server.addr,
        "POST",
        &format!("/b/{other_board}/images"),
        &[("Content-Type", "image/gif")],
        Body::Sized(PNG),
    );
    assert_eq!(again.status, 201);
    assert_eq!(json_field(&again.text(), "id"), id);
    assert_eq!(json_field(&again.text(), "type"), "image/png");

    // Refused, with the reason, and nothing stored.
    let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let refused = upload(&server, &board, svg, None);
    assert_eq!(refused.status, 415);
    assert!(refused.text().contains("SVG"), "{}", refused.text());
    let disguised = upload(
        &server,
        &board,
        b"<!doctype html><script>alert(1)</script>",
        None,
    );
    assert_eq!(disguised.status, 415);
    assert!(
        disguised.text().contains("not a PNG, JPEG, WebP or GIF"),
        "{}",
        disguised.text()
    );
    assert_eq!(upload(&server, &board, b"", None).status, 415);
    // A PNG cut off before its size; one wider than a browser should decode.
    let cut = upload(&server, &board, &PNG[..12], None);
    assert_eq!(cut.status, 415);
    assert!(cut.text().contains("damaged"), "{}", cut.text());
    let mut wide = PNG.to_vec();
    wide[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    let refused = upload(&server, &board, &wide, None);
    assert_eq!(refused.status, 415);
    assert!(
        refused.text().contains("16384 pixels"),
        "{}",
        refused.text()
    );

    // Up to the limit, not one byte more, whether the length is declared
    // or not.
    let largest = png_of(MAX_BYTES);
    assert_eq!(upload(&server, &board, &largest, None).status, 201);
    let too_large = png_of(MAX_BYTES + 1);
    let refused = upload(&server, &board, &too_large, None);
    assert_eq!(refused.status, 413);
    assert!(
        refused.text().contains("(64 KiB at most)"),
        "{}",
        refused.text()
    );
    let undeclared = http_exchange(
        server.addr,
        "POST",
        &format!("/b/{board}/images"),
        &[],
        Body::Chunked(&too_large),
    );
    assert_eq!(undeclared.status, 413, "{}", undeclared.text());
    let cut_off_id = hash(&too_large);
    assert_eq!(
        download(&server, &format!("/images/{cut_off_id}"), &[]).status,
        404
    );

    // Unknown and malformed ids.
    let unknown = "0".repeat(64);
    assert_eq!(
        download(&server, &format!("/images/{unknown}"), &[]).status,
        404
    );
    let malformed = download(&server, "/images/not-a-hash", &[]);
    assert_eq!(malformed.status, 400);
    assert!(malformed.text().contains("64 lowercase hex digits"));

    // Once the edit link is rotated, only its key lets anyone upload.
    let locked = board_id("images-locked").to_string();
    let (status, rotated) = http_post(server.addr, &format!("/b/{locked}/edit-link"), None);
    assert_eq!(status, 200);
    let key = json_field(&rotated, "key");
    assert_eq!(upload(&server, &locked, PNG, None).status, 403);
    assert_eq!(
        upload(&server, &locked, PNG, Some("stale-key-0000")).status,
        403
    );
    assert_eq!(upload(&server, &locked, PNG, Some(&key)).status, 201);

    // Another site's page may not upload.
    let foreign = http_exchange(
        server.addr,
        "POST",
        &format!("/b/{board}/images"),
        &[("Origin", "https://evil.example")],
        Body::Sized(PNG),
    );
    assert_eq!(foreign.status, 403);

    // Stored for good: a restarted server serves it.
    assert!(server.stop());
    let server = restart();
    let served = download(&server, &format!("/images/{id}"), &[]);
    assert_eq!((served.status, served.body.as_slice()), (200, PNG));
}

#[test]
fn images_are_uploaded_checked_and_served_from_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    check_images(start(&path, &[]), || start(&path, &[]));
}

#[test]
fn images_are_uploaded_checked_and_served_from_mongodb() {
    let Some(uri) = mongodb_uri() else { return };
    let database = unique_database("images_http");
    let env = [
        ("MONGODB_URI", uri.as_str()),
        ("MONGODB_DB", database.as_str()),
    ];
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let second_path = second.path().to_owned();
    check_images(start(first.path(), &env), || start(&second_path, &env));
}

#[test]
fn uploads_past_an_address_budget_are_refused_for_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start_with(dir.path(), &[("WHITEBOARD_IMAGE_UPLOADS_PER_MINUTE", "1")]);
    let board = board_id("images-budget").to_string();
    let statuses: Vec<u16> = (0..22)
        .map(|_| upload(&server, &board, PNG, None).status)
        .collect();
    // A burst of twenty passes, then one a minute.
    assert_eq!(statuses.iter().filter(|status| **status == 201).count(), 20);
    assert_eq!(statuses[20..], [429, 429]);
}
