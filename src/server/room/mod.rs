//! One board's room: the task that owns the board while people are on it.
//!
//! The decisions live in [`state::RoomState`], a synchronous state machine
//! (order, dedup, presence, fan-out, outage holding); this task only feeds it
//! events and carries out its effects:
//! - commands from connections, frames from the bus and the clock become
//!   [`Event`]s;
//! - [`Effect::Publish`] hands a frame to the bus, which never waits;
//! - [`Effect::Store`] starts the one store job the room may have in flight
//!   (append, reload, read); its answer comes back as an event while the task
//!   goes on relaying live traffic, so a slow store or bus never stops a
//!   board's previews, cursors or presence;
//! - [`Effect::SaveSnapshot`] writes a snapshot beside everything else;
//! - [`Effect::Encode`] encodes the board's snapshot for welcomes on the
//!   blocking pool (a big board's takes tens of milliseconds, which the
//!   board's live relay would otherwise wait for), answered as
//!   [`Event::Encoded`];
//! - [`Effect::ReadAccess`] reads the board's access tokens (its edit link
//!   was rotated), answered as [`Event::Access`];
//! - [`Effect::Read`] answers a client's history read (`history.rs`),
//!   several at once, each answered as [`Event::ReadDone`].
//!
//! The room knows nothing of the hub: the hub learns that a room closed when
//! its task ends.

mod api;
mod history;
mod limits;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Message;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use self::api::{
    ConnectionId, JoinRequest, Outbox, RoomCommand, RoomHandle, CLIENT_QUEUE_CAPACITY,
    ROOM_COMMAND_CAPACITY,
};
pub use self::limits::BoardLimits;
use self::state::{Effect, Encoded, Event, RoomState, StoreAnswer, StoreJob};
use super::bus::{Bus, BusEvent, InstanceId, Subscription};
use super::metrics::metrics;
use super::store::{self as stores, Access, Store, StoreError};
use crate::board::Board;
use crate::protocol::{BoardId, ErrorCode, ProtocolError};

/// A history read running: its client and its answer.
type ReadJob = BoxFuture<'static, (ConnectionId, Result<Vec<Message>, ProtocolError>)>;

/// How long shutdown waits for a store job in flight before giving up on the
/// closing snapshot.
const SHUTDOWN_STORE_WAIT: Duration = Duration::from_secs(5);

/// What a room needs from its instance.
#[derive(Clone)]
pub struct RoomContext {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub instance: InstanceId,
    pub idle_timeout: Duration,
    pub limits: BoardLimits,
    /// Days of history kept (0: all of it).
    pub history_days: u64,
}

/// Loads the board and serves it until it is idle or the server stops.
pub async fn run(
    id: BoardId,
    mut commands: mpsc::Receiver<RoomCommand>,
    context: RoomContext,
    shutdown: CancellationToken,
) {
    // Subscribe before loading, so nothing published in between is missed.
    let loaded = async {
        let subscription = context
            .bus
            .subscribe(&id)
            .await
            .map_err(|e| e.to_string())?;
        let board = context
            .store
            .load(&id)
            .await
            .map_err(|e| e.to_string())?
            .into_board();
        let access = context.store.access(&id).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((subscription, board, access))
    }
    .await;
    let (subscription, board, access) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            warn!(board = %id, %error, "could not open board");
            let refusal = ProtocolError::new(
                ErrorCode::StorageUnavailable,
                "the board could not be loaded; try again",
            );
            turn_away_joins(&mut commands, Some(refusal)).await;
            return;
        }
    };
    debug!(board = %id, seq = board.seq(), strokes = board.stroke_count(), "room opened");
    if context.history_days > 0 {
        forget_old_history(&context, &id, board.seq());
    }
    let state = RoomState::new(
        id,
        context.instance,
        board,
        context.idle_timeout,
        context.limits,
        access,
        Instant::now(),
        wall_clock_ms(),
    );
    let mut room = Room {
        state,
        context,
        store_job: None,
        snapshot_job: None,
        encode_job: None,
        access_job: None,
        reads: FuturesUnordered::new(),
        held_reported: 0,
    };
    let closed_by_idle = room.serve(&mut commands, subscription, &shutdown).await;
    if closed_by_idle {
        // Those already queued retry (dropped answer) in a fresh room.
        turn_away_joins(&mut commands, None).await;
    }
    room.close().await;
}

/// Forgets the board's history older than the days kept, beside the room
/// (see `--history-days`): the operations up to the newest history
/// snapshot made before then, and the snapshots before it.
fn forget_old_history(context: &RoomContext, id: &BoardId, seq: u64) {
    let store = Arc::clone(&context.store);
    let id = id.clone();
    let before_ms = wall_clock_ms().saturating_sub(context.history_days.saturating_mul(86_400_000));
    tokio::spawn(async move {
        let forgotten = async {
            match stores::last_made_before(store.as_ref(), &id, seq, before_ms).await? {
                0 => Ok(0),
                last => store.forget_before(&id, last).await,
            }
        };
        match forgotten.await {
            Ok(0) => {}
            Ok(first) => info!(board = %id, first, "history before this version forgotten"),
            Err(error) => warn!(board = %id, %error, "could not forget old history"),
        }
    });
}

/// Closes the command queue (the hub opens a fresh room for new joins) and
/// answers the joins already queued: with `refusal`, or, without one, by
/// dropping the answer so that the hub retries the join in a fresh room.
async fn turn_away_joins(
    commands: &mut mpsc::Receiver<RoomCommand>,
    refusal: Option<ProtocolError>,
) {
    commands.close();
    while let Some(command) = commands.recv().await {
        if let RoomCommand::Join { request, accepted } = command {
            match &refusal {
                Some(refusal) => {
                    let _ = accepted.send(Err(refusal.clone()));
                }
                None => debug!(
                    conn = request.conn,
                    "join raced with room close; client retries"
                ),
            }
        }
    }
}

struct Room {
    state: RoomState,
    context: RoomContext,
    /// The store job the state asked for, answered as [`Event::Stored`].
    store_job: Option<BoxFuture<'static, StoreAnswer>>,
    snapshot_job: Option<BoxFuture<'static, ()>>,
    /// The encoding the state asked for, answered as [`Event::Encoded`].
    encode_job: Option<BoxFuture<'static, Encoded>>,
    /// The read of the access tokens the state asked for, answered as
    /// [`Event::Access`].
    access_job: Option<BoxFuture<'static, Result<Access, StoreError>>>,
    /// History reads running (the state bounds how many).
    reads: FuturesUnordered<ReadJob>,
    /// Held requests last added to the process-wide gauge.
    held_reported: i64,
}

/// Waits for a job if there is one; never resolves otherwise.
async fn next_of<T>(job: &mut Option<BoxFuture<'static, T>>) -> T {
    match job.as_mut() {
        Some(future) => {
            let output = future.await;
            *job = None;
            output
        }
        None => std::future::pending().await,
    }
}

impl Room {
    /// Serves until the room is idle (`true`) or the server stops (`false`).
    async fn serve(
        &mut self,
        commands: &mut mpsc::Receiver<RoomCommand>,
        mut subscription: Subscription,
        shutdown: &CancellationToken,
    ) -> bool {
        loop {
            let deadline = tokio::time::Instant::from_std(self.state.next_deadline());
            let event = tokio::select! {
                _ = shutdown.cancelled() => return false,
                command = commands.recv() => match command {
                    Some(command) => Event::from(command),
                    None => return false,
                },
                event = subscription.next() => match event {
                    BusEvent::Closed => {
                        // The bus dropped us: subscribe again and catch up.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        match self.context.bus.subscribe(self.state.id()).await {
                            Ok(fresh) => subscription = fresh,
                            Err(error) => warn!(board = %self.state.id(), %error, "could not resubscribe"),
                        }
                        Event::Bus(BusEvent::Resync)
                    }
                    event => Event::Bus(event),
                },
                answer = next_of(&mut self.store_job) => Event::Stored(answer),
                () = next_of(&mut self.snapshot_job) => continue,
                encoded = next_of(&mut self.encode_job) => Event::Encoded(encoded),
                access = next_of(&mut self.access_job) => Event::Access(access),
                Some((conn, answer)) = self.reads.next(), if !self.reads.is_empty() => {
                    Event::ReadDone(conn, answer)
                }
                _ = tokio::time::sleep_until(deadline) => Event::Tick,
            };
            self.handle(event);
            if self.state.should_close(Instant::now()) {
                return true;
            }
        }
    }

    fn handle(&mut self, event: Event) {
        for effect in self.state.handle(Instant::now(), event) {
            match effect {
                Effect::Publish(payload) => {
                    let envelope = super::bus::Envelope {
                        origin: self.context.instance,
                        payload,
                    };
                    self.context.bus.publish(self.state.id(), envelope);
                }
                Effect::Store(job) => self.start(job),
                Effect::ReadAccess => {
                    // Replaces one in flight: the newer read is what counts.
                    let store = Arc::clone(&self.context.store);
                    let id = self.state.id().clone();
                    self.access_job = Some(async move { store.access(&id).await }.boxed());
                }
                Effect::SaveSnapshot(board) => self.save_snapshot(board),
                Effect::Read { conn, read } => {
                    let store = Arc::clone(&self.context.store);
                    let id = self.state.id().clone();
                    self.reads.push(
                        async move { (conn, history::answer(store, id, read).await) }.boxed(),
                    );
                }
                Effect::Encode {
                    board,
                    format,
                    epoch,
                } => {
                    let pooled = Arc::clone(&board);
                    let encoding =
                        tokio::task::spawn_blocking(move || Encoded::new(&pooled, format, epoch));
                    // Replaces one still running: the state wants the newer.
                    self.encode_job = Some(
                        async move {
                            match encoding.await {
                                Ok(encoded) => encoded,
                                Err(error) => {
                                    // The pool is shutting down (or the
                                    // encoding panicked): the joins waiting
                                    // for it must not wait forever.
                                    warn!(%error, "could not encode a snapshot on the blocking pool");
                                    Encoded::new(&board, format, epoch)
                                }
                            }
                        }
                        .boxed(),
                    );
                }
            }
        }
        let held = self.state.held() as i64;
        if held != self.held_reported {
            metrics().held_requests.inc_by(held - self.held_reported);
            self.held_reported = held;
        }
    }

    fn start(&mut self, job: StoreJob) {
        let store = Arc::clone(&self.context.store);
        let id = self.state.id().clone();
        let future = async move {
            match job {
                StoreJob::Append(ops) => {
                    let started = Instant::now();
                    let result = store.append(&id, &ops).await;
                    metrics()
                        .store_append_seconds
                        .observe(started.elapsed().as_secs_f64());
                    metrics().store_append_batch.observe(ops.len() as f64);
                    StoreAnswer::Appended(result)
                }
                StoreJob::Reload { base_seq } => {
                    let reloaded = async {
                        let board = store.load(&id).await?.into_board();
                        let missed = store.ops_after(&id, base_seq).await?;
                        Ok((board, missed))
                    };
                    StoreAnswer::Reloaded(reloaded.await)
                }
                StoreJob::OpsAfter { after } => {
                    StoreAnswer::OpsAfter(store.ops_after(&id, after).await)
                }
                StoreJob::Version { seq } => {
                    StoreAnswer::Version(stores::board_at(store.as_ref(), &id, seq).await)
                }
            }
        };
        if self.store_job.replace(future.boxed()).is_some() {
            // The state asks for one job at a time; this would be a bug there.
            warn!(board = %self.state.id(), "a store job started while another was in flight");
        }
    }

    fn save_snapshot(&mut self, board: Arc<Board>) {
        if self.snapshot_job.is_some() {
            return; // The next interval (or closing) writes a newer one.
        }
        let store = Arc::clone(&self.context.store);
        let id = self.state.id().clone();
        self.snapshot_job = Some(
            async move {
                if let Err(error) = store.save_snapshot(&id, board).await {
                    warn!(board = %id, %error, "could not save a snapshot");
                }
            }
            .boxed(),
        );
    }

    /// Finishes the store work in flight and writes the closing snapshot if
    /// the board is exactly what is stored.
    async fn close(mut self) {
        if let Some(job) = self.store_job.take() {
            match tokio::time::timeout(SHUTDOWN_STORE_WAIT, job).await {
                Ok(answer) => {
                    self.handle(Event::Stored(answer));
                    // Anything the answer started is not carried out now.
                    self.store_job = None;
                }
                Err(_) => warn!(board = %self.state.id(), "store did not answer before closing"),
            }
        }
        if let Some(job) = self.snapshot_job.take() {
            job.await;
        }
        metrics().held_requests.dec_by(self.held_reported);
        if let Some(board) = self.state.closing_snapshot() {
            if let Err(error) = self
                .context
                .store
                .save_snapshot(self.state.id(), Arc::new(board.clone()))
                .await
            {
                warn!(board = %self.state.id(), %error, "could not save a snapshot");
            }
        }
        debug!(board = %self.state.id(), "room closed");
    }
}

impl From<RoomCommand> for Event {
    fn from(command: RoomCommand) -> Self {
        match command {
            RoomCommand::Join { request, accepted } => Event::Join(request, accepted),
            RoomCommand::Leave { conn } => Event::Leave(conn),
            RoomCommand::Submit {
                conn,
                op_id,
                request,
            } => Event::Submit((conn, op_id, request)),
            RoomCommand::Ephemeral { conn, message } => Event::Ephemeral(conn, message),
            RoomCommand::AccessChanged => Event::AccessChanged,
            RoomCommand::Read { conn, message } => Event::Read(conn, message),
        }
    }
}

/// The wall clock, in milliseconds since the Unix epoch (0 if it is set
/// before 1970): what a room stamps its operations from.
fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
