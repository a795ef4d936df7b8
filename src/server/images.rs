//! Uploading and serving images: `POST /b/{id}/images` and
//! `GET /images/{id}` (see `docs/protocol.md`, "Images").
//!
//! An upload is the image's bytes as the request body. It is taken only from
//! someone who may edit the board (as for the board's links), only so often
//! per address, and only up to `--max-image-bytes`; its type is read from
//! its first bytes ([`ImageType::sniff`]), whatever it claims. It is stored
//! under the SHA-256 of its bytes, so the same image uploaded twice, to any
//! board, is stored once, and its address never changes meaning: it is
//! served with an immutable cache header and a policy that lets nothing in
//! it run.
//!
//! Images are not tied to a board in the store: an image's id is 256 bits
//! of hash, known only to whoever has its bytes or a board showing it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::error::{AppError, ByteSize};
use super::http::{admitted, check_origin, editor_access, store_error, IMMUTABLE};
use super::store::StoredImage;
use super::AppState;
use crate::image::{ImageId, ImageRefusal, ImageType, MAX_IMAGE_SIDE};
use crate::protocol::BoardId;

/// Uploads whose bodies are read at once, on this instance: each holds up
/// to `--max-image-bytes` in memory until it is stored; more wait.
const UPLOADS_READ_AT_ONCE: usize = 4;

/// What is served as an image may run nothing, even opened on its own.
const IMAGE_POLICY: &str = "default-src 'none'; sandbox";

/// What an upload may weigh, and the uploads being read.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_bytes: usize,
    reading: Arc<Semaphore>,
}

impl Limits {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            reading: Arc::new(Semaphore::new(UPLOADS_READ_AT_ONCE)),
        }
    }
}

/// `POST /b/{id}/images`: stores the body as an image for an editor of the
/// board, and answers 201 with `{"id", "url", "type", "bytes", "width",
/// "height"}`.
pub async fn upload(
    Path(board): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
    body: Body,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), AppError> {
    let board = BoardId::parse(&board).map_err(AppError::InvalidBoardId)?;
    check_origin(&state, &headers)?;
    if !admitted(&state, &state.image_uploads, peer, &headers) {
        return Err(AppError::TooManyImageUploads);
    }
    editor_access(&state, &board, &headers).await?;
    let max = state.image_limits.max_bytes;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(AppError::ImageTooLarge(ByteSize(max)));
    }
    let _reading = state
        .image_limits
        .reading
        .acquire()
        .await
        .map_err(|_| AppError::Store("the server is shutting down".into()))?;
    let bytes = read_body(body, max).await?;
    let kind = ImageType::sniff(&bytes).map_err(AppError::ImageRefused)?;
    // Both read the whole body at worst (a JPEG's size can come after
    // everything else), so neither runs on the runtime's threads.
    let (id, sides, bytes) =
        tokio::task::spawn_blocking(move || (hash(&bytes), dimensions(&bytes), bytes))
            .await
            .map_err(|error| AppError::Store(error.to_string()))?;
    let (width, height) = sides.map_err(AppError::ImageRefused)?;
    let size = bytes.len();
    let image = StoredImage { kind, bytes };
    state
        .store
        .put_image(&id, image)
        .await
        .map_err(store_error)?;
    tracing::debug!(%board, image = %id, size, "image stored");
    let answer = serde_json::json!({
        "id": id.as_str(),
        "url": id.path(),
        "type": kind.mime(),
        "bytes": size,
        "width": width,
        "height": height,
    });
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// An image's width and height in pixels, read from its header: one that
/// has none, or more than [`MAX_IMAGE_SIDE`] on a side, is refused.
fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageRefusal> {
    let size = imagesize::blob_size(bytes).map_err(|_| ImageRefusal::Unreadable)?;
    let side = |pixels: usize| u32::try_from(pixels).unwrap_or(u32::MAX);
    match (side(size.width), side(size.height)) {
        (0, _) | (_, 0) => Err(ImageRefusal::Unreadable),
        (width, height) if width.max(height) > MAX_IMAGE_SIDE => Err(ImageRefusal::TooManyPixels),
        sides => Ok(sides),
    }
}

/// The body's bytes, if there are at most `max` (a body sent without a
/// length, or with a false one, is cut off there).
async fn read_body(body: Body, max: usize) -> Result<Vec<u8>, AppError> {
    let mut chunks = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| AppError::UploadBrokenOff(error.to_string()))?;
        if bytes.len() + chunk.len() > max {
            return Err(AppError::ImageTooLarge(ByteSize(max)));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The id of `bytes`: their SHA-256 (tens of milliseconds for 10 MiB, so
/// callers run it off the runtime's threads).
pub fn hash(bytes: &[u8]) -> ImageId {
    ImageId::from_digest(&Sha256::digest(bytes).into())
}

/// `GET /images/{id}`: the image's bytes, with its type and an immutable
/// cache header; 304 to a browser that names it in `If-None-Match`.
pub async fn serve(
    Path(id): Path<String>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let id = ImageId::parse(&id).map_err(AppError::InvalidImageId)?;
    let etag = format!("\"{id}\"");
    let cached = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let image = state
            .store
            .image(&id)
            .await
            .map_err(store_error)?
            .ok_or(AppError::ImageNotFound)?;
        let mut response = Bytes::from(image.bytes).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(image.kind.mime()));
        response
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(IMAGE_POLICY),
    );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, etag);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_named_by_the_sha256_of_its_bytes() {
        // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            hash(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// A PNG's signature and header chunk (its checksum not checked).
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn an_image_is_as_large_as_its_header_says_within_limits() {
        assert_eq!(dimensions(&png_header(300, 200)), Ok((300, 200)));
        let gif = b"GIF89a\x40\x01\xc8\x00\x80\x00\x00";
        assert_eq!(dimensions(gif), Ok((320, 200)));
        let widest = MAX_IMAGE_SIDE;
        assert_eq!(dimensions(&png_header(widest, 1)), Ok((widest, 1)));
        assert_eq!(
            dimensions(&png_header(1, widest + 1)),
            Err(ImageRefusal::TooManyPixels)
        );
        assert_eq!(
            dimensions(&png_header(0, 10)),
            Err(ImageRefusal::Unreadable)
        );
        assert_eq!(
            dimensions(&png_header(300, 200)[..12]),
            Err(ImageRefusal::Unreadable),
            "cut off before its size"
        );
    }
}
