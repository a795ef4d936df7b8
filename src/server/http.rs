//! HTTP handlers that are not Leptos pages: the WebSocket endpoint, board
//! creation, the health check and metrics. Thin by design: they parse, then hand over.

use axum::extract::ws::WebSocketUpgrade;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::connection;
use super::error::AppError;
use super::AppState;
use crate::protocol::{limits, BoardId};

/// Bytes read from a socket at a time. The WebSocket layer zero-fills this
/// much before every read and keeps it per connection; its default (128 KiB)
/// cost a fifth of the server's CPU under load and most of an idle
/// connection's memory, while live frames are a few hundred bytes. Larger
/// frames still arrive whole (the buffer grows for them).
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// `GET /ws/{session_id}`: the board's real-time channel. A page of another
/// site gets 403 (see [`super::security`]); an address that holds as many
/// connections as it may gets 429.
pub async fn websocket(
    ws: WebSocketUpgrade,
    Path(session_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    let board = BoardId::parse(&session_id).map_err(AppError::InvalidBoardId)?;
    check_origin(&state, &headers)?;
    upgrade(ws, board, false, peer, &headers, state)
}

/// `GET /ws/v/{token}`: the real-time channel of the board whose view link
/// carries `token`, for watching only (see [`connection`]); 404 for a token
/// no board has (any more).
pub async fn view_websocket(
    ws: WebSocketUpgrade,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    check_origin(&state, &headers)?;
    let board = board_of_view(&state, &token).await?;
    upgrade(ws, board, true, peer, &headers, state)
}

/// Refuses a page of another site (see [`super::security`]).
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    match state.allowed_origins.allow(headers) {
        true => Ok(()),
        false => Err(AppError::ForeignOrigin),
    }
}

/// The board a view token names, if any does.
async fn board_of_view(state: &AppState, token: &str) -> Result<BoardId, AppError> {
    if token.len() != TOKEN_CHARS
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::UnknownViewLink);
    }
    state
        .store
        .board_of_view(token)
        .await
        .map_err(|e| AppError::Store(e.to_string()))?
        .ok_or(AppError::UnknownViewLink)
}

/// `POST /b/{id}/view-link`: the token of the board's view link (made on the
/// first call, the same afterwards), as `{"token": "…"}`. Knowing the board's
/// id is what lets anyone edit it, and what this asks for.
pub async fn view_link(
    Path(id): Path<String>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, AppError> {
    let board = BoardId::parse(&id).map_err(AppError::InvalidBoardId)?;
    check_origin(&state, &headers)?;
    let store_error = |e: super::store::StoreError| AppError::Store(e.to_string());
    let mut access = state.store.access(&board).await.map_err(store_error)?;
    if access.view.is_none() {
        access.view = Some(random_token()?);
        state
            .store
            .set_access(&board, &access)
            .await
            .map_err(store_error)?;
        // What the store holds now. `set_access` replaces the whole record
        // without comparing: if two instances make a link at the same
        // moment, the later write wins and the earlier caller's token stops
        // working (a compare-and-set comes with edit link rotation).
        access = state.store.access(&board).await.map_err(store_error)?;
    }
    Ok(axum::Json(serde_json::json!({ "token": access.view })))
}

/// Upgrades to a board's channel (the page's origin was checked) if the
/// client's address may have one more.
fn upgrade(
    ws: WebSocketUpgrade,
    board: BoardId,
    viewer: bool,
    peer: SocketAddr,
    headers: &HeaderMap,
    state: AppState,
) -> Result<Response, AppError> {
    let address = match state.trust_forwarded_for {
        true => forwarded_for(headers).unwrap_or(peer.ip()),
        false => peer.ip(),
    };
    let most = state.budgets.connections_per_address;
    let slot = state
        .addresses
        .enter(address, most)
        .ok_or(AppError::TooManyConnections(most))?;
    let tracker = state.tracker.clone();
    Ok(ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limits::HARD_FRAME_BYTES)
        .max_frame_size(limits::HARD_FRAME_BYTES)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                connection::serve(
                    socket,
                    board,
                    viewer,
                    state.hub,
                    state.shutdown,
                    state.liveness,
                    state.budgets,
                )
                .await;
                drop(slot);
            })
        }))
}

/// The client's address as the proxy in front saw it: the last entry of
/// `X-Forwarded-For` (entries before it are whatever the client sent).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?;
    value.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// `GET /new`: a fresh board with an unguessable id.
pub async fn new_board() -> Result<Redirect, AppError> {
    let id = new_board_id()?;
    Ok(Redirect::to(&format!("/b/{id}")))
}

/// `GET /healthz`: whether this instance can reach its store and bus:
/// 200 and `ok` when both answer, 503 and `degraded` otherwise.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (store_ok, bus_ok) = tokio::join!(state.store.healthy(), state.bus.healthy());
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let (status, summary) = if store_ok && bus_ok {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    let body = format!(
        "{summary}\nstore: {} ({})\nbus: {} ({})\nopen boards: {}\n",
        word(store_ok),
        state.store.describe(),
        word(bus_ok),
        state.bus.describe(),
        state.hub.open_rooms(),
    );
    (status, body)
}

/// `GET /metrics`: this instance's counters in the OpenMetrics text format
/// (see `server/metrics.rs` for what each means).
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        super::metrics::metrics().render(),
    )
}

/// Characters of a board id or token made here: 128 random bits in base64url.
const TOKEN_CHARS: usize = 22;

/// 128 random bits, base64url without padding: 22 characters.
fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Random(e.to_string()))?;
    Ok(base64url(&bytes))
}

/// A fresh board id ([`random_token`]).
pub fn new_board_id() -> Result<BoardId, AppError> {
    random_token().map(BoardId::from_trusted)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_address_is_the_one_the_proxy_added_last() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_for(&headers), None);
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 192.0.2.7"),
        );
        assert_eq!(forwarded_for(&headers), "192.0.2.7".parse().ok());
        headers.append("x-forwarded-for", HeaderValue::from_static("2001:db8::1"));
        assert_eq!(forwarded_for(&headers), "2001:db8::1".parse().ok());
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(forwarded_for(&headers), None);
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn board_ids_are_22_url_safe_characters_and_differ() {
        let a = new_board_id().unwrap();
        let b = new_board_id().unwrap();
        assert_eq!(a.as_str().len(), 22);
        assert!(BoardId::parse(a.as_str()).is_ok());
        assert_ne!(a, b);
    }
}

/// How the site's own files (`/pkg/…`: WASM, JS, CSS) may be cached.
#[derive(Clone)]
pub struct SiteCaching {
    /// Their names carry a hash of their content.
    pub hashed: bool,
    /// `/pkg/`.
    pub prefix: String,
}

/// Adds `Cache-Control` to the site's files: a name with a content hash
/// never changes meaning, so browsers keep it for a year without asking;
/// plain names must be revalidated, or a new release would meet old code.
pub async fn cache_site_files(
    State(caching): State<SiteCaching>,
    uri: Uri,
    mut response: Response,
) -> Response {
    if uri.path().starts_with(&caching.prefix) && response.status().is_success() {
        let policy = if caching.hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}
