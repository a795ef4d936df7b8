//! What the rest of the server sees of a room: how to reach it and what to
//! send it. Connections hold a [`RoomHandle`]; the hub opens rooms with
//! [`super::run`] and learns that one closed when its task ends.

use axum::extract::ws::Message;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{ClientMessage, OpId, ProtocolError, Request, UserId};

/// Frames queued for one client before it counts as stuck and is dropped.
pub const CLIENT_QUEUE_CAPACITY: usize = 512;
/// Commands queued for a room before senders wait.
pub const ROOM_COMMAND_CAPACITY: usize = 1024;

/// Identifies one WebSocket connection within this process.
pub type ConnectionId = u64;

/// A connection's queue of encoded frames: text, and for a version 2
/// client a packed snapshot (binary) right after its welcome.
pub type Outbox = mpsc::Sender<Message>;

/// How a room answers a join: `Ok` once the welcome is queued.
pub type JoinAnswer = oneshot::Sender<Result<(), ProtocolError>>;

/// A connection asking to be part of the room.
#[derive(Clone)]
pub struct JoinRequest {
    pub conn: ConnectionId,
    pub user: UserId,
    /// The display name from `hello` (empty if none was given).
    pub name: String,
    pub last_seq: Option<u64>,
    /// The protocol version from `hello`: how a snapshot is sent.
    pub protocol: u32,
    /// What the client shows (from `hello`): from version 3, the first
    /// part of a snapshot holds what may paint there.
    pub view: Option<crate::geometry::Rect>,
    /// Came through a view link: shown as a viewer in the people list.
    pub viewer: bool,
    /// The edit key from `hello`: an editor needs the board's current one
    /// once its edit link was rotated.
    pub key: Option<String>,
    pub outbox: Outbox,
}

pub enum RoomCommand {
    Join {
        request: JoinRequest,
        accepted: JoinAnswer,
    },
    Leave {
        conn: ConnectionId,
    },
    Submit {
        conn: ConnectionId,
        op_id: OpId,
        request: Request,
    },
    /// `preview`, `preview_end`, `draft`, `draft_end`, `cursor` or `profile`.
    Ephemeral {
        conn: ConnectionId,
        message: ClientMessage,
    },
    /// The board's access tokens changed in the store (its edit link was
    /// rotated here): read them, and let go of editors with an old key.
    AccessChanged,
    /// `history` or `board_at`: a read of the board's history.
    Read {
        conn: ConnectionId,
        message: ClientMessage,
    },
}

/// The sending side of a room, held by connections and the hub.
#[derive(Clone)]
pub struct RoomHandle {
    pub(in crate::server) commands: mpsc::Sender<RoomCommand>,
}

impl RoomHandle {
    /// Sends a command; `false` if the room has closed.
    pub async fn send(&self, command: RoomCommand) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// Whether the room stopped taking commands (it closed, or is closing).
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}
