//! One client's WebSocket, from `hello` to close.
//!
//! The connection task decodes and validates every frame, and charges it to
//! the connection's budget ([`super::budget`]), before anything reaches the
//! room, so bad input or a flood costs the sender an error frame (naming
//! the durable request it refuses) and nobody else anything. It writes the
//! frames its room queues for it (everything queued at once, then one
//! flush: a busy board costs one write per batch, not per frame; sockets
//! have `TCP_NODELAY`, so nothing waits for Nagle), and closes with a proper
//! close frame when the server shuts down (1001), when the room dropped it
//! for being too slow (1013), when it keeps sending garbage or stays over
//! budget (1008), when a frame is too large to read (1009), or when its
//! edit link was rotated (4403, the room's close frame).
//!
//! A connection that came through a view link lets only cursors, names and
//! history reads through: every other frame is refused as `forbidden` (naming a durable
//! request), and counts toward the invalid frames that close it.
//!
//! Liveness: the server pings every third of the liveness time, and a
//! connection that sent nothing for two of those periods (browsers answer
//! pings by themselves, at once) is taken for dead, closed (1013) and
//! leaves its board, so within the liveness time of its last frame: a
//! laptop closed mid-session or a network that vanished must not keep
//! someone in the people list, or a board open, for long. A write that does
//! not complete within the liveness time ends the connection too (a peer
//! gone without a word stops reading, and its socket's buffer fills).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::budget::{Admission, Budgets, ConnectionBudget};
use super::hub::Hub;
use super::metrics::{metrics, Lane};
use super::room::{
    ConnectionId, JoinRequest, Outbox, RoomCommand, RoomHandle, CLIENT_QUEUE_CAPACITY,
};
use crate::protocol::{
    close_code, BoardId, ClientMessage, ErrorCode, OpId, ProtocolError, ServerMessage,
    OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION,
};

/// How long a client may take to send `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Invalid frames tolerated on one connection before it is closed as abusive.
pub const MAX_INVALID_FRAMES: u32 = 20;
/// How long a close frame may take to write.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection closed while its peer is still sending (a frame too
/// large to read, a flood) stays open unread, so that its peer sees the close
/// frame rather than a reset.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Most queued frames written before one flush.
const MAX_FRAMES_PER_FLUSH: usize = 256;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// What happened to one incoming frame.
enum Verdict {
    Continue,
    Close,
}

struct Connection {
    id: ConnectionId,
    board: BoardId,
    /// Came through a view link.
    viewer: bool,
    socket: WebSocket,
    hub: Hub,
    room: Option<RoomHandle>,
    /// Handed to the room on join. The connection keeps no copy, so when the
    /// room drops it (the client fell behind, or the room closed) the queue
    /// ends and the connection knows.
    outbox: Option<Outbox>,
    invalid_frames: u32,
    budget: ConnectionBudget,
}

/// Serves one upgraded WebSocket until it closes, or until it stays silent
/// for `liveness`.
pub async fn serve(
    socket: WebSocket,
    board: BoardId,
    viewer: bool,
    hub: Hub,
    shutdown: CancellationToken,
    liveness: Duration,
    budgets: Budgets,
) {
    let (outbox, mut queue) = mpsc::channel(CLIENT_QUEUE_CAPACITY);
    let mut connection = Connection {
        id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
        board,
        viewer,
        socket,
        hub,
        room: None,
        outbox: Some(outbox),
        invalid_frames: 0,
        budget: ConnectionBudget::new(&budgets, Instant::now()),
    };
    debug!(conn = connection.id, board = %connection.board, "connection opened");
    metrics().connections.inc();
    let hello_deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(hello_deadline);
    let ping_every = liveness / 3;
    let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    loop {
        let joined = connection.room.is_some();
        tokio::select! {
            // Shutdown first, so that rooms closing for shutdown (which ends
            // our queue) are not mistaken for an eviction.
            biased;
            _ = shutdown.cancelled() => {
                connection.close(close_code::GOING_AWAY, "server shutting down").await;
                break;
            }
            _ = &mut hello_deadline, if !joined => {
                connection.close(close_code::POLICY_VIOLATION, "no hello in time").await;
                break;
            }
            _ = pings.tick() => {
                // Two pings unanswered; the next look would be too late.
                if heard.elapsed() >= 2 * ping_every {
                    debug!(conn = connection.id, "nothing heard; taken for dead");
                    connection.close(close_code::TRY_AGAIN_LATER, "nothing heard for too long; reconnect").await;
                    break;
                }
                let ping = connection.socket.send(Message::Ping(Bytes::new()));
                if !matches!(tokio::time::timeout(liveness, ping).await, Ok(Ok(()))) {
                    break;
                }
            }
            queued = queue.recv(), if joined => match queued {
                Some(frame) => {
                    let written = connection.write_queued(frame, &mut queue);
                    // The room closed it (its edit link was rotated), or it
                    // could not be written.
                    if !matches!(tokio::time::timeout(liveness, written).await, Ok(Ok(false))) {
                        break;
                    }
                }
                None => {
                    // The room let go of us: reconnect and catch up.
                    connection.close(close_code::TRY_AGAIN_LATER, "too far behind, or the board closed; reconnect").await;
                    break;
                }
            },
            incoming = connection.socket.recv() => {
                heard = Instant::now();
                let verdict = match incoming {
                    Some(Ok(Message::Text(text))) => connection.on_text(text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => {
                        connection.reject(ProtocolError::new(ErrorCode::Malformed, "binary frames are not supported"), None).await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Verdict::Continue,
                    Some(Err(error)) if is_too_big(&error) => {
                        connection.close_unread(close_code::MESSAGE_TOO_BIG, "frame too large").await;
                        Verdict::Close
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => Verdict::Close,
                };
                if matches!(verdict, Verdict::Close) {
                    break;
                }
            }
        }
    }
    if let Some(room) = connection.room.take() {
        room.send(RoomCommand::Leave {
            conn: connection.id,
        })
        .await;
    }
    metrics().connections.dec();
    debug!(conn = connection.id, "connection closed");
}

impl Connection {
    /// Writes `first` and whatever else is queued already, then flushes
    /// once; `true` if that closed the connection (a close frame from the
    /// room).
    async fn write_queued(
        &mut self,
        first: Message,
        queue: &mut mpsc::Receiver<Message>,
    ) -> Result<bool, axum::Error> {
        let mut closed = matches!(first, Message::Close(_));
        self.socket.feed(first).await?;
        for _ in 1..MAX_FRAMES_PER_FLUSH {
            if closed {
                break;
            }
            let Ok(frame) = queue.try_recv() else {
                break;
            };
            closed = matches!(frame, Message::Close(_));
            self.socket.feed(frame).await?;
        }
        self.socket.flush().await?;
        Ok(closed)
    }

    async fn on_text(&mut self, text: &str) -> Verdict {
        let message = match ClientMessage::decode(text) {
            Ok(message) => message,
            Err(error) => return self.reject(error, ClientMessage::refused_op_id(text)).await,
        };
        match (message, &self.room) {
            (
                ClientMessage::Hello {
                    protocol,
                    user,
                    last_seq,
                    name,
                    view,
                    key,
                },
                None,
            ) => {
                if !(OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&protocol) {
                    let error = ProtocolError::new(
                        ErrorCode::UnsupportedVersion,
                        format!(
                            "this server speaks protocol {OLDEST_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
                        ),
                    );
                    self.send_error(&error).await;
                    self.close(close_code::POLICY_VIOLATION, "unsupported protocol")
                        .await;
                    return Verdict::Close;
                }
                metrics().frames_in.add(Lane::Control, 1);
                let Some(outbox) = self.outbox.take() else {
                    return Verdict::Close;
                };
                let request = JoinRequest {
                    conn: self.id,
                    user,
                    name: name.unwrap_or_default(),
                    last_seq,
                    protocol,
                    view,
                    viewer: self.viewer,
                    key,
                    outbox,
                };
                match self.hub.join(&self.board, request).await {
                    Ok(room) => {
                        self.room = Some(room);
                        Verdict::Continue
                    }
                    Err(error) => {
                        self.send_error(&error).await;
                        match error.code {
                            ErrorCode::Forbidden => {
                                self.close(close_code::NO_ACCESS, "link replaced").await
                            }
                            _ => {
                                self.close(close_code::TRY_AGAIN_LATER, "board unavailable")
                                    .await
                            }
                        }
                        Verdict::Close
                    }
                }
            }
            (ClientMessage::Hello { .. }, Some(_)) => {
                self.reject(
                    ProtocolError::new(ErrorCode::UnexpectedMessage, "hello was already received"),
                    None,
                )
                .await
            }
            (message, None) => {
                let op_id = message.op_id().cloned();
                self.reject(
                    ProtocolError::new(
                        ErrorCode::UnexpectedMessage,
                        "the first message must be hello",
                    ),
                    op_id,
                )
                .await
            }
            (message, Some(_))
                if self.viewer
                    && !message.is_read()
                    && !matches!(
                        message,
                        ClientMessage::Cursor { .. }
                            | ClientMessage::Profile { .. }
                            | ClientMessage::Follow { .. }
                            | ClientMessage::View { .. }
                    ) =>
            {
                let op_id = message.op_id().cloned();
                self.reject(
                    ProtocolError::new(
                        ErrorCode::Forbidden,
                        "this link only shows the board; ask for its edit link",
                    ),
                    op_id,
                )
                .await
            }
            (message, Some(room)) => {
                // A read costs the store what a durable request does.
                let admission = if message.op_id().is_some() || message.is_read() {
                    self.budget.durable(Instant::now())
                } else {
                    self.budget.ephemeral(text.len(), Instant::now())
                };
                match admission {
                    Admission::Pass => {}
                    Admission::Drop { notify } => {
                        metrics().frames_over_budget.inc();
                        if notify {
                            let error = ProtocolError::new(
                                ErrorCode::RateLimited,
                                "over this connection's budget; dropped",
                            );
                            self.send_refusal(&error, message.op_id().cloned()).await;
                        }
                        return Verdict::Continue;
                    }
                    Admission::Close => {
                        metrics().frames_over_budget.inc();
                        // It is still sending: linger, or a reset may
                        // overtake the close frame.
                        self.close_unread(close_code::POLICY_VIOLATION, "over budget for too long")
                            .await;
                        return Verdict::Close;
                    }
                }
                let command = match message {
                    ephemeral @ (ClientMessage::Preview { .. }
                    | ClientMessage::PreviewEnd { .. }
                    | ClientMessage::Draft { .. }
                    | ClientMessage::DraftEnd
                    | ClientMessage::Cursor { .. }
                    | ClientMessage::Profile { .. }
                    | ClientMessage::Selection { .. }
                    | ClientMessage::Follow { .. }
                    | ClientMessage::View { .. }
                    | ClientMessage::Summon) => {
                        metrics().frames_in.add(Lane::Ephemeral, 1);
                        RoomCommand::Ephemeral {
                            conn: self.id,
                            message: ephemeral,
                        }
                    }
                    read @ (ClientMessage::History { .. }
                    | ClientMessage::BoardAt { .. }
                    | ClientMessage::Ops { .. }) => {
                        metrics().frames_in.add(Lane::Control, 1);
                        RoomCommand::Read {
                            conn: self.id,
                            message: read,
                        }
                    }
                    durable => match durable.into_request() {
                        Some((op_id, request)) => {
                            metrics().frames_in.add(Lane::Durable, 1);
                            RoomCommand::Submit {
                                conn: self.id,
                                op_id,
                                request,
                            }
                        }
                        None => return Verdict::Continue,
                    },
                };
                if room.send(command).await {
                    Verdict::Continue
                } else {
                    Verdict::Close
                }
            }
        }
    }

    /// Answers an invalid frame (naming the durable request it was, so its
    /// sender drops it); closes the connection once it looks abusive.
    async fn reject(&mut self, error: ProtocolError, op_id: Option<OpId>) -> Verdict {
        metrics().frames_in.add(Lane::Control, 1);
        self.invalid_frames += 1;
        debug!(conn = self.id, %error, "invalid frame");
        self.send_refusal(&error, op_id).await;
        if self.invalid_frames >= MAX_INVALID_FRAMES {
            self.close(close_code::POLICY_VIOLATION, "too many invalid frames")
                .await;
            return Verdict::Close;
        }
        Verdict::Continue
    }

    async fn send_error(&mut self, error: &ProtocolError) {
        self.send_refusal(error, None).await;
    }

    async fn send_refusal(&mut self, error: &ProtocolError, op_id: Option<OpId>) {
        let frame = ServerMessage::Error {
            code: error.code,
            message: error.message.clone(),
            op_id,
        }
        .encode();
        let _ = self.socket.send(Message::Text(frame.into())).await;
    }

    /// Closes a connection whose peer is still sending: the rest of a frame
    /// too large to read, or a flood. Dropping the socket with data unread
    /// would reset the connection, and a reset can overtake the close frame.
    /// So the socket lingers a moment (unread: reading on would take in the
    /// whole frame) while the peer reads the close frame and closes its side.
    async fn close_unread(&mut self, code: u16, reason: &str) {
        self.close(code, reason).await;
        tokio::time::sleep(CLOSE_LINGER).await;
    }

    /// Sends a close frame (for at most [`CLOSE_WRITE_TIMEOUT`]: the peer
    /// may be gone and its socket's buffer full).
    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let closing = self.socket.send(Message::Close(Some(frame)));
        let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, closing).await;
    }
}

/// Whether a read failed because a frame (or a message of several) was over
/// [`crate::protocol::limits::HARD_FRAME_BYTES`].
fn is_too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|error| matches!(error, tungstenite::Error::Capacity(_)))
}
