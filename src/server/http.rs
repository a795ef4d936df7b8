//! HTTP handlers that are not Leptos pages: the WebSocket endpoints, board
//! creation, a board's links (view link, edit link rotation), the health
//! check and metrics. Thin by design: they parse, then hand over.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::budget::RequestsPerAddress;
use super::connection;
use super::error::AppError;
use super::store::{Access, StoreError};
use super::AppState;
use crate::protocol::{close_code, limits, validate_token, BoardId, ErrorCode, ServerMessage};

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
/// carries `token`, for watching only (see [`connection`]). A token no board
/// has (any more) gets the socket, an `error` `forbidden` and close
/// [`close_code::NO_ACCESS`], so that the page can say so rather than
/// retry: a browser learns nothing of a refused upgrade.
pub async fn view_websocket(
    ws: WebSocketUpgrade,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<Response, AppError> {
    check_origin(&state, &headers)?;
    match board_of_view(&state, &token).await? {
        Some(board) => upgrade(ws, board, true, peer, &headers, state),
        None => Ok(ws.on_upgrade(|mut socket| async move {
            let refusal = ServerMessage::Error {
                code: ErrorCode::Forbidden,
                message: "no board has this view link (any more)".into(),
                op_id: None,
            };
            let close = CloseFrame {
                code: close_code::NO_ACCESS,
                reason: "unknown view link".into(),
            };
            let _ = socket.send(Message::Text(refusal.encode().into())).await;
            let _ = socket.send(Message::Close(Some(close))).await;
        })),
    }
}

/// Refuses a page of another site (see [`super::security`]).
pub(super) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    match state.allowed_origins.allow(headers) {
        true => Ok(()),
        false => Err(AppError::ForeignOrigin),
    }
}

/// The board a view token names, if any does.
async fn board_of_view(state: &AppState, token: &str) -> Result<Option<BoardId>, AppError> {
    if validate_token(token).is_err() {
        return Ok(None);
    }
    state.store.board_of_view(token).await.map_err(store_error)
}

pub(super) fn store_error(error: StoreError) -> AppError {
    AppError::Store(error.to_string())
}

/// The request header that carries the edit key of the caller's edit link
/// (`/b/{id}#k={key}`; a fragment never reaches the server by itself).
const EDIT_KEY_HEADER: &str = "x-edit-key";

/// The board's access tokens, for a caller whose edit key (or none, before
/// the edit link was rotated) lets them edit it.
pub(super) async fn editor_access(
    state: &AppState,
    board: &BoardId,
    headers: &HeaderMap,
) -> Result<Access, AppError> {
    let key = headers
        .get(EDIT_KEY_HEADER)
        .and_then(|value| value.to_str().ok());
    let access = state.store.access(board).await.map_err(store_error)?;
    match access.lets_edit(key) {
        true => Ok(access),
        false => Err(AppError::StaleEditLink),
    }
}

/// How often a change of a board's access tokens is tried when another
/// instance changed them in between (each try reads them afresh).
const ACCESS_ATTEMPTS: usize = 3;

/// Changes the access tokens of board `id` for an editor, after the checks
/// every link request passes (a valid id, the page's origin, the address's
/// budget): reads them, checks the caller's edit key against them, asks
/// `change` for the new ones (`None`: nothing to change) and writes them if
/// nobody else changed them meanwhile, else tries again. The board, and
/// what the store holds in the end.
async fn change_access(
    state: &AppState,
    id: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
    change: impl Fn(&Access) -> Result<Option<Access>, AppError>,
) -> Result<(BoardId, Access), AppError> {
    let board = &BoardId::parse(id).map_err(AppError::InvalidBoardId)?;
    check_origin(state, headers)?;
    check_link_budget(state, peer, headers)?;
    for _ in 0..ACCESS_ATTEMPTS {
        let access = editor_access(state, board, headers).await?;
        let Some(changed) = change(&access)? else {
            return Ok((board.clone(), access));
        };
        if state
            .store
            .set_access(board, &access, &changed)
            .await
            .map_err(store_error)?
        {
            return Ok((board.clone(), changed));
        }
    }
    Err(AppError::AccessContended)
}

/// `POST /b/{id}/view-link`: the token of the board's view link (made on the
/// first call, the same afterwards), as `{"token": "…"}`, for an editor:
/// anyone who knows the board's id until its edit link was rotated, then
/// only with the current key in `X-Edit-Key`.
pub async fn view_link(
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, AppError> {
    let (_, access) = change_access(&state, &id, peer, &headers, |access| match access.view {
        Some(_) => Ok(None),
        None => Ok(Some(Access {
            view: Some(random_token()?),
            ..access.clone()
        })),
    })
    .await?;
    Ok(axum::Json(serde_json::json!({ "token": access.view })))
}

/// `POST /b/{id}/edit-link`: rotates the board's edit link, for an editor
/// (as for [`view_link`]): a new edit key, as `{"key": "…"}`, the edit
/// link now being `/b/{id}#k={key}`. From then on the old link (the board's
/// id alone, or with the old key) opens nothing, and people connected
/// with it, on every instance, are let go (`forbidden`, close
/// [`close_code::NO_ACCESS`]). The view link stays.
pub async fn edit_link(
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, AppError> {
    let (board, access) = change_access(&state, &id, peer, &headers, |access| {
        Ok(Some(Access {
            edit: Some(random_token()?),
            ..access.clone()
        }))
    })
    .await?;
    state.hub.access_changed(&board).await;
    Ok(axum::Json(serde_json::json!({ "key": access.edit })))
}

/// The client's address: the peer's, or the proxy's word for it.
fn client_address(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    match state.trust_forwarded_for {
        true => forwarded_for(headers).unwrap_or(peer.ip()),
        false => peer.ip(),
    }
}

/// Refuses a client address that asked for links too often.
fn check_link_budget(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    match admitted(state, &state.link_requests, peer, headers) {
        true => Ok(()),
        false => Err(AppError::TooManyLinkRequests),
    }
}

/// Whether the client's address may make one more request of the kind
/// `requests` counts.
pub(super) fn admitted(
    state: &AppState,
    requests: &RequestsPerAddress,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> bool {
    let address = client_address(state, peer, headers);
    requests.admit(address, tokio::time::Instant::now())
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
    let address = client_address(&state, peer, headers);
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

/// How what never changes meaning is cached (hashed site files, images):
/// for a year, without asking again.
pub(super) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

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
            IMMUTABLE
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}
