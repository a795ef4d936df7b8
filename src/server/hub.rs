//! The hub: finds or opens the room of a board.
//!
//! Rooms open on the first join and close themselves after being empty for a
//! while. A join that races with a closing room is turned away by that room
//! and retried here, landing in a fresh room. At most `--open-boards` rooms
//! are open at once: a join that would open one more is refused
//! (`limit_reached`), so memory stays bounded however many links are tried.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bus::{Envelope, Payload};
use super::metrics::metrics;
use super::room::{self, JoinRequest, RoomCommand, RoomContext, RoomHandle, ROOM_COMMAND_CAPACITY};
use crate::protocol::{BoardId, ErrorCode, ProtocolError};

/// The open rooms, and what a new room needs.
struct HubShared {
    context: RoomContext,
    rooms: Mutex<HashMap<BoardId, (u64, RoomHandle)>>,
    next_generation: AtomicU64,
    max_rooms: usize,
}

impl HubShared {
    /// Unlists a room, unless a newer room for the board replaced it already.
    fn retire(&self, board: &BoardId, generation: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if rooms.get(board).is_some_and(|(g, _)| *g == generation) {
            rooms.remove(board);
            metrics().open_boards.set(rooms.len() as i64);
        }
    }
}

#[derive(Clone)]
pub struct Hub {
    shared: Arc<HubShared>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// How often a join is retried when it races with a closing room.
const JOIN_ATTEMPTS: usize = 5;

impl Hub {
    pub fn new(
        context: RoomContext,
        max_rooms: usize,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            shared: Arc::new(HubShared {
                context,
                rooms: Mutex::new(HashMap::new()),
                next_generation: AtomicU64::new(1),
                max_rooms,
            }),
            tracker,
            shutdown,
        }
    }

    /// Number of open rooms (shown by `/healthz`).
    pub fn open_rooms(&self) -> usize {
        self.shared
            .rooms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// The board's open room, or a new one if this instance may open one more.
    fn room(&self, board: &BoardId) -> Result<(u64, RoomHandle), ProtocolError> {
        let mut rooms = self.shared.rooms.lock().unwrap_or_else(|e| e.into_inner());
        match rooms.get(board) {
            Some((generation, handle)) if !handle.is_closed() => {
                return Ok((*generation, handle.clone()));
            }
            Some(_) => {} // Closing: replaced below, the count stays.
            None if rooms.len() >= self.shared.max_rooms => {
                return Err(ProtocolError::new(
                    ErrorCode::LimitReached,
                    format!(
                        "this server has {} boards open, its limit; try again later",
                        self.shared.max_rooms
                    ),
                ));
            }
            None => {}
        }
        let generation = self.shared.next_generation.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::channel(ROOM_COMMAND_CAPACITY);
        let handle = RoomHandle { commands: sender };
        rooms.insert(board.clone(), (generation, handle.clone()));
        metrics().open_boards.set(rooms.len() as i64);
        let shared = Arc::clone(&self.shared);
        let opened = room::run(
            board.clone(),
            receiver,
            self.shared.context.clone(),
            self.shutdown.clone(),
        );
        let board = board.clone();
        self.tracker.spawn(async move {
            opened.await;
            shared.retire(&board, generation);
        });
        Ok((generation, handle))
    }

    /// The board's access tokens changed in the store: its room here (if
    /// open) and its rooms on other instances (through the bus) read them
    /// and let go of editors whose key no longer lets them edit.
    pub async fn access_changed(&self, board: &BoardId) {
        let open = {
            let rooms = self.shared.rooms.lock().unwrap_or_else(|e| e.into_inner());
            rooms.get(board).map(|(_, handle)| handle.clone())
        };
        if let Some(room) = open {
            room.send(RoomCommand::AccessChanged).await;
        }
        let envelope = Envelope {
            origin: self.shared.context.instance,
            payload: Payload::AccessChanged,
        };
        self.shared.context.bus.publish(board, envelope);
    }

    /// Adds a connection to a board's room; the room sends it `welcome` first.
    pub async fn join(
        &self,
        board: &BoardId,
        request: JoinRequest,
    ) -> Result<RoomHandle, ProtocolError> {
        for _ in 0..JOIN_ATTEMPTS {
            let (generation, handle) = self.room(board)?;
            let (accepted, answer) = oneshot::channel();
            let command = RoomCommand::Join {
                request: request.clone(),
                accepted,
            };
            if !handle.send(command).await {
                self.shared.retire(board, generation);
                continue;
            }
            match answer.await {
                Ok(Ok(())) => return Ok(handle),
                Ok(Err(refusal)) => return Err(refusal),
                Err(_) => continue, // The room closed while we queued: retry.
            }
        }
        Err(ProtocolError::new(
            ErrorCode::StorageUnavailable,
            "the board is busy; try again",
        ))
    }
}
