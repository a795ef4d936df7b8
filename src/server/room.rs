//! One board's room: the task that owns the board while people are on it.
//!
//! Every durable request for a board passes through its room's single task,
//! which gives the board one total order: it resolves the request against the
//! board, numbers it with the next sequence number, stores it, and only then
//! applies it, delivers it to every local client and publishes it on the bus.
//! An operation that could not be stored is never applied or acknowledged.
//!
//! Clients are reached through bounded queues filled with `try_send`: a client
//! whose queue is full is dropped (it reconnects and catches up) instead of
//! slowing the room down for everyone else.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::bus::{Bus, BusEvent, Envelope, InstanceId, Subscription};
use super::hub::HubShared;
use super::store::{Store, StoreError};
use crate::board::Board;
use crate::protocol::{
    BoardId, ClientMessage, ErrorCode, OpId, Operation, ProtocolError, Request, ServerMessage,
    StrokeId, UserId, PROTOCOL_VERSION,
};

/// Frames queued for one client before it counts as stuck and is dropped.
pub const CLIENT_QUEUE_CAPACITY: usize = 512;
/// Commands queued for a room before senders wait.
pub const ROOM_COMMAND_CAPACITY: usize = 1024;
/// Operations kept in memory to answer reconnects without a snapshot.
pub const RECENT_OPS: usize = 2_000;
/// A snapshot is written after this many operations (and when the room closes).
pub const SNAPSHOT_INTERVAL: u64 = 500;
/// How long an empty room stays open for people who come back.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Identifies one WebSocket connection within this process.
pub type ConnectionId = u64;

/// A connection's queue of encoded frames.
pub type Outbox = mpsc::Sender<Arc<str>>;

/// A connection asking to be part of the room.
#[derive(Clone)]
pub struct JoinRequest {
    pub conn: ConnectionId,
    pub user: UserId,
    pub last_seq: Option<u64>,
    pub outbox: Outbox,
}

pub enum RoomCommand {
    Join {
        request: JoinRequest,
        accepted: oneshot::Sender<Result<(), ProtocolError>>,
    },
    Leave {
        conn: ConnectionId,
    },
    Submit {
        conn: ConnectionId,
        op_id: OpId,
        request: Request,
    },
    /// `preview` or `preview_end` from a client.
    Ephemeral {
        conn: ConnectionId,
        message: ClientMessage,
    },
}

/// The sending side of a room, held by connections.
#[derive(Clone)]
pub struct RoomHandle {
    pub(super) commands: mpsc::Sender<RoomCommand>,
}

impl RoomHandle {
    /// Sends a command; `false` if the room has closed.
    pub async fn send(&self, command: RoomCommand) -> bool {
        self.commands.send(command).await.is_ok()
    }
}

struct Client {
    user: UserId,
    outbox: Outbox,
    /// Strokes this client is drawing, ended for everyone if it leaves.
    previews: HashSet<StrokeId>,
}

pub(super) struct Room {
    id: BoardId,
    board: Board,
    recent: VecDeque<Operation>,
    clients: HashMap<ConnectionId, Client>,
    ops_since_snapshot: u64,
    presence_dirty: bool,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    instance: InstanceId,
}

fn encode(message: &ServerMessage) -> Arc<str> {
    message.encode().into()
}

fn error_frame(error: &ProtocolError, op_id: Option<OpId>) -> Arc<str> {
    encode(&ServerMessage::Error {
        code: error.code,
        message: error.message.clone(),
        op_id,
    })
}

impl Room {
    /// Loads the board and serves it until it is idle or the server stops.
    pub(super) async fn run(
        id: BoardId,
        mut commands: mpsc::Receiver<RoomCommand>,
        hub: Arc<HubShared>,
        generation: u64,
        shutdown: CancellationToken,
    ) {
        let loaded = async {
            let subscription = hub.bus.subscribe(&id).await.map_err(|e| e.to_string())?;
            let board = hub
                .store
                .load(&id)
                .await
                .map_err(|e| e.to_string())?
                .into_board();
            Ok::<_, String>((subscription, board))
        }
        .await;
        let (subscription, board) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                warn!(board = %id, %error, "could not open board");
                hub.retire(&id, generation);
                let refusal = ProtocolError::new(
                    ErrorCode::StorageUnavailable,
                    "the board could not be loaded; try again",
                );
                commands.close();
                while let Some(command) = commands.recv().await {
                    if let RoomCommand::Join { accepted, .. } = command {
                        let _ = accepted.send(Err(refusal.clone()));
                    }
                }
                return;
            }
        };
        debug!(board = %id, seq = board.seq(), strokes = board.stroke_count(), "room opened");
        let mut room = Room {
            id,
            board,
            recent: VecDeque::new(),
            clients: HashMap::new(),
            ops_since_snapshot: 0,
            presence_dirty: false,
            store: Arc::clone(&hub.store),
            bus: Arc::clone(&hub.bus),
            instance: hub.instance,
        };
        room.serve(&mut commands, subscription, &hub, generation, &shutdown)
            .await;
        room.save_snapshot().await;
        debug!(board = %room.id, "room closed");
    }

    async fn serve(
        &mut self,
        commands: &mut mpsc::Receiver<RoomCommand>,
        mut subscription: Subscription,
        hub: &HubShared,
        generation: u64,
        shutdown: &CancellationToken,
    ) {
        loop {
            let idle = self.clients.is_empty();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => return,
                },
                event = subscription.next() => self.handle_bus(event).await,
                _ = tokio::time::sleep(IDLE_TIMEOUT), if idle => {
                    // Unlist the room first so no new joins reach it, then turn
                    // away joins that were already queued: they retry and get a
                    // fresh room, which loads everything from the store.
                    hub.retire(&self.id, generation);
                    commands.close();
                    while let Some(command) = commands.recv().await {
                        if let RoomCommand::Join { request, accepted } = command {
                            drop(accepted);
                            debug!(conn = request.conn, "join raced with room close; client retries");
                        }
                    }
                    return;
                }
            }
            while self.presence_dirty {
                self.presence_dirty = false;
                let count = self.presence();
                self.deliver(encode(&ServerMessage::Presence { count }), None);
            }
        }
    }

    fn presence(&self) -> u32 {
        let users: HashSet<&UserId> = self.clients.values().map(|c| &c.user).collect();
        u32::try_from(users.len()).unwrap_or(u32::MAX)
    }

    async fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join { request, accepted } => {
                self.join(request);
                let _ = accepted.send(Ok(()));
            }
            RoomCommand::Leave { conn } => self.leave(conn),
            RoomCommand::Submit {
                conn,
                op_id,
                request,
            } => self.submit(conn, op_id, request).await,
            RoomCommand::Ephemeral { conn, message } => self.relay(conn, message).await,
        }
    }

    fn join(&mut self, request: JoinRequest) {
        let (snapshot, ops) = match self.ops_since(request.last_seq) {
            Some(ops) => (None, ops),
            None => (Some(self.board.snapshot()), Vec::new()),
        };
        let welcome = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            board: self.id.clone(),
            seq: self.board.seq(),
            snapshot,
            ops,
            presence: self.presence()
                + u32::from(!self.clients.values().any(|c| c.user == request.user)),
        };
        // The queue is new and empty, so this only fails if the client is gone.
        if request.outbox.try_send(encode(&welcome)).is_err() {
            return;
        }
        self.clients.insert(
            request.conn,
            Client {
                user: request.user,
                outbox: request.outbox,
                previews: HashSet::new(),
            },
        );
        self.presence_dirty = true;
    }

    /// The operations after `last_seq` if they are all still in memory.
    fn ops_since(&self, last_seq: Option<u64>) -> Option<Vec<Operation>> {
        let last_seq = last_seq?;
        if last_seq > self.board.seq() {
            return None; // The client knows a future we don't: start it afresh.
        }
        if last_seq == self.board.seq() {
            return Some(Vec::new());
        }
        let oldest = self.recent.front()?.seq;
        (oldest <= last_seq + 1).then(|| {
            self.recent
                .iter()
                .filter(|op| op.seq > last_seq)
                .cloned()
                .collect()
        })
    }

    fn leave(&mut self, conn: ConnectionId) {
        if let Some(client) = self.clients.remove(&conn) {
            self.presence_dirty = true;
            for stroke in client.previews {
                let end = ServerMessage::PreviewEnd {
                    author: client.user.clone(),
                    stroke,
                };
                self.deliver(encode(&end), None);
            }
        }
    }

    /// Sends a frame to every local client except `except`, dropping clients
    /// whose queue is full or closed.
    fn deliver(&mut self, frame: Arc<str>, except: Option<ConnectionId>) {
        let mut dropped = Vec::new();
        for (&conn, client) in &self.clients {
            if Some(conn) == except {
                continue;
            }
            if client.outbox.try_send(Arc::clone(&frame)).is_err() {
                dropped.push(conn);
            }
        }
        for conn in dropped {
            info!(board = %self.id, conn, "dropping a client that fell behind");
            // Dropping its queue's sender tells the connection to close.
            self.leave(conn);
        }
    }

    fn send_to(&mut self, conn: ConnectionId, frame: Arc<str>) {
        let full = self
            .clients
            .get(&conn)
            .is_some_and(|client| client.outbox.try_send(frame).is_err());
        if full {
            self.leave(conn);
        }
    }

    async fn publish(&self, frame: Arc<str>) {
        let envelope = Envelope {
            origin: self.instance,
            frame,
        };
        if let Err(error) = self.bus.publish(&self.id, envelope).await {
            warn!(board = %self.id, %error, "could not publish to the bus");
        }
    }

    async fn submit(&mut self, conn: ConnectionId, op_id: OpId, request: Request) {
        let Some(author) = self.clients.get(&conn).map(|c| c.user.clone()) else {
            return;
        };
        if let Some(seq) = self.board.applied_seq(&author, &op_id) {
            // A resend of something already stored: acknowledge it again.
            self.send_to(conn, encode(&ServerMessage::Ack { op_id, seq }));
            return;
        }
        let change = match self.board.resolve(&author, request) {
            Ok(change) => change,
            Err(error) => {
                self.send_to(conn, error_frame(&error, Some(op_id)));
                return;
            }
        };
        let op = Operation {
            seq: self.board.seq() + 1,
            author,
            op_id: op_id.clone(),
            change,
        };
        if let Err(error) = self.store.append(&self.id, std::slice::from_ref(&op)).await {
            warn!(board = %self.id, %error, "could not store an operation");
            if matches!(error, StoreError::SequenceConflict { .. }) {
                self.catch_up_from_store().await;
            }
            let refusal = ProtocolError::new(
                ErrorCode::StorageUnavailable,
                "the operation could not be saved; resend it",
            );
            self.send_to(conn, error_frame(&refusal, Some(op_id)));
            return;
        }
        if let crate::protocol::Change::AddStroke { stroke } = &op.change {
            if let Some(client) = self.clients.get_mut(&conn) {
                client.previews.remove(&stroke.id);
            }
        }
        let seq = op.seq;
        self.apply_stored(op).await;
        self.send_to(conn, encode(&ServerMessage::Ack { op_id, seq }));
    }

    /// Applies an operation that is in the store, delivers it locally and
    /// publishes it to other instances.
    async fn apply_stored(&mut self, op: Operation) {
        self.board.apply(&op);
        let frame = encode(&ServerMessage::Op { op: op.clone() });
        self.remember(op);
        self.deliver(Arc::clone(&frame), None);
        self.publish(frame).await;
        self.ops_since_snapshot += 1;
        if self.ops_since_snapshot >= SNAPSHOT_INTERVAL {
            self.save_snapshot().await;
        }
    }

    fn remember(&mut self, op: Operation) {
        self.recent.push_back(op);
        if self.recent.len() > RECENT_OPS {
            self.recent.pop_front();
        }
    }

    async fn save_snapshot(&mut self) {
        if self.ops_since_snapshot == 0 {
            return;
        }
        match self.store.save_snapshot(&self.id, &self.board).await {
            Ok(()) => self.ops_since_snapshot = 0,
            Err(error) => warn!(board = %self.id, %error, "could not save a snapshot"),
        }
    }

    async fn relay(&mut self, conn: ConnectionId, message: ClientMessage) {
        let Some(client) = self.clients.get_mut(&conn) else {
            return;
        };
        let author = client.user.clone();
        let outgoing = match message {
            ClientMessage::Preview {
                stroke,
                style,
                points,
            } => {
                client.previews.insert(stroke.clone());
                ServerMessage::Preview {
                    author,
                    stroke,
                    style,
                    points,
                }
            }
            ClientMessage::PreviewEnd { stroke } => {
                client.previews.remove(&stroke);
                ServerMessage::PreviewEnd { author, stroke }
            }
            _ => return,
        };
        let frame = encode(&outgoing);
        self.deliver(Arc::clone(&frame), Some(conn));
        self.publish(frame).await;
    }

    /// A frame published by another instance for this board.
    async fn handle_bus(&mut self, event: BusEvent) {
        let envelope = match event {
            BusEvent::Frame(envelope) if envelope.origin != self.instance => envelope,
            BusEvent::Frame(_) => return,
            BusEvent::Lagged(missed) => {
                warn!(board = %self.id, missed, "bus subscriber lagged; catching up from the store");
                self.catch_up_from_store().await;
                return;
            }
            BusEvent::Closed => return,
        };
        match ServerMessage::decode(&envelope.frame) {
            Ok(ServerMessage::Op { op }) => {
                if op.seq == self.board.seq() + 1 {
                    self.board.apply(&op);
                    self.remember(op);
                    self.deliver(envelope.frame, None);
                } else if op.seq > self.board.seq() {
                    self.catch_up_from_store().await;
                }
            }
            Ok(ServerMessage::Preview { .. } | ServerMessage::PreviewEnd { .. }) => {
                self.deliver(envelope.frame, None);
            }
            Ok(_) => {}
            Err(error) => warn!(board = %self.id, %error, "undecodable frame on the bus"),
        }
    }

    /// Applies whatever the store holds beyond our sequence number.
    async fn catch_up_from_store(&mut self) {
        match self.store.ops_after(&self.id, self.board.seq()).await {
            Ok(ops) => {
                for op in ops {
                    if op.seq != self.board.seq() + 1 {
                        break;
                    }
                    self.board.apply(&op);
                    let frame = encode(&ServerMessage::Op { op: op.clone() });
                    self.remember(op);
                    self.deliver(frame, None);
                }
            }
            Err(error) => warn!(board = %self.id, %error, "could not catch up from the store"),
        }
    }
}
