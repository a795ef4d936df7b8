//! The store seam: where boards live between server runs.
//!
//! A board is stored as an append-only log of [`Operation`]s plus, from time
//! to time, a snapshot of the whole [`Board`] so that loading does not replay
//! the full history. Rooms talk to a `dyn Store` and never know which
//! implementation they have: the embedded [`redb`](super::redb_store) store
//! today, MongoDB next.
//!
//! Contract (checked by `tests/store_contract.rs` for every implementation):
//! - `append` is durable when it returns `Ok`, and refuses an operation whose
//!   sequence number is not exactly one more than the last stored one
//!   ([`StoreError::SequenceConflict`]); the log never has gaps and never two
//!   operations with one number, even with several writers.
//! - After an `Err`, a prefix of the batch may be stored (a writer that raced
//!   on the same board, a connection lost mid-write). Callers must reload
//!   from the store before going on; operation ids make the requests of a
//!   stored prefix recognisable when they are retried.
//! - `load` returns the newest snapshot and every operation after it.
//! - an operation of any size is stored and read back whole (a clear or a
//!   restore of a huge board can pass MongoDB's 16 MiB document limit).
//! - a board's [`Access`] reads back as last written, and its view token
//!   finds the board (`board_of_view`); a replaced view token finds nothing;
//!   `set_access` writes only over the access it expects (compare and set).
//! - snapshots never move backwards, and several writers may save one
//!   board's snapshot at once (at the same or different sequence numbers)
//!   while it is loaded: every load finds a whole snapshot.
//! - history: every operation is kept, and so is a snapshot every
//!   `history_every` operations (see [`HISTORY_SNAPSHOT_OPS`]): the board
//!   at any sequence number is the newest kept snapshot at or before it
//!   plus the operations after that ([`board_at`]), never the whole log
//!   for a point after the first kept snapshot.
//! - images: `put_image` stores an image's bytes under their id (the
//!   caller hashed them), once: storing it again changes nothing; `image`
//!   reads them back whole, of any size up to the upload limit, stored in
//!   parts of at most [`IMAGE_PART_BYTES`]; an image is found only once
//!   all of it is stored.
//! - forgetting (`forget_before`): the newest history snapshot at or before
//!   the version named stays, with everything after it; the operations up
//!   to it and the older snapshots go. Every version from that snapshot on
//!   still reads back; an older one is [`StoreError::Forgotten`].

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::board::Board;
use crate::image::{ImageId, ImageType};
use crate::protocol::{BoardId, Operation};

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("operation {got} does not follow the stored sequence number {stored}")]
    SequenceConflict { stored: u64, got: u64 },
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The version asked for is older than the history kept
    /// ([`Store::forget_before`]).
    #[error("{FORGOTTEN}")]
    Forgotten,
}

/// Why a version older than the history kept cannot be read or restored
/// (also what clients are told).
pub const FORGOTTEN: &str = "that version of the board is no longer kept";

/// Who may do what on a board beyond knowing its id (see `docs/protocol.md`,
/// "View links"). Tokens are 128 random bits in base64url.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// The token of the board's view link, `/v/{token}`, once an editor
    /// made one: it shows the board and allows no change.
    pub view: Option<String>,
    /// Once the edit link was rotated, the key it carries: from then on the
    /// board's id alone no longer lets anyone edit.
    pub edit: Option<String>,
}

impl Access {
    /// Whether someone holding `key` (from the edit link's `#k=`) may edit:
    /// anyone may until the edit link was rotated, then only with its
    /// current key. Compared in constant time.
    pub fn lets_edit(&self, key: Option<&str>) -> bool {
        match (&self.edit, key) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(edit), Some(key)) => {
                edit.len() == key.len()
                    && edit
                        .bytes()
                        .zip(key.bytes())
                        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
                        == 0
            }
        }
    }
}

/// By default, a store keeps a snapshot for history when at least this many
/// operations lie between it and the last one it kept (`--history-snapshot-ops`):
/// reading the board at any point then replays at most about this many.
pub const HISTORY_SNAPSHOT_OPS: u64 = 5_000;

/// The board as it was at `seq` (its last operation then was `seq`): the
/// newest snapshot kept at or before it, and the operations after that.
/// Past the stored log's end, the board as stored.
/// An older version than the history kept is [`StoreError::Forgotten`].
pub async fn board_at(store: &dyn Store, id: &BoardId, seq: u64) -> Result<Board, StoreError> {
    let snapshot = store.snapshot_at_or_before(id, seq).await?;
    let from = snapshot.as_ref().map_or(0, Board::seq);
    let ops = store.ops_between(id, from, seq).await?;
    // The operations after the snapshot start right after it, unless they
    // were forgotten; with no snapshot that early, a board whose first
    // operation is gone has forgotten that far back.
    let gap = ops.first().is_some_and(|op| op.seq != from + 1);
    let first_gone = || async {
        Ok::<_, StoreError>(
            store.ops_between(id, 0, 1).await?.is_empty()
                && store.snapshot_at_or_before(id, u64::MAX).await?.is_some(),
        )
    };
    if gap || (snapshot.is_none() && seq > 0 && first_gone().await?) {
        return Err(StoreError::Forgotten);
    }
    let mut board = snapshot.unwrap_or_default();
    for op in ops {
        board.apply(&op);
    }
    Ok(board)
}

/// The newest operation numbered at most `upto` that was made before
/// `before_ms` (ms since the epoch; operations stored before times were
/// kept count as older), 0 if none: found by halving, each step reading one
/// operation, since operations are numbered in the order they were made.
/// An operation no longer kept counts as older.
pub async fn last_made_before(
    store: &dyn Store,
    id: &BoardId,
    upto: u64,
    before_ms: u64,
) -> Result<u64, StoreError> {
    let (mut older, mut newer) = (0, upto.saturating_add(1));
    while newer - older > 1 {
        let middle = older + (newer - older) / 2;
        let op = store.ops_between(id, middle - 1, middle).await?;
        match op.first() {
            Some(op) if op.at >= before_ms => newer = middle,
            _ => older = middle,
        }
    }
    Ok(older)
}

/// Images are stored in parts of at most this many bytes: far below
/// MongoDB's 16 MiB document limit, and no redb value larger than this.
pub const IMAGE_PART_BYTES: usize = 1024 * 1024;

/// An image's bytes and their type, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub kind: ImageType,
    pub bytes: Vec<u8>,
}

/// A board as stored: the newest snapshot (if any) and the operations after it.
#[derive(Debug, Default)]
pub struct StoredBoard {
    pub snapshot: Option<Board>,
    pub ops: Vec<Operation>,
}

impl StoredBoard {
    /// Replays the operations onto the snapshot.
    pub fn into_board(self) -> Board {
        let mut board = self.snapshot.unwrap_or_default();
        for op in &self.ops {
            board.apply(op);
        }
        board
    }
}

/// A board as stored in a snapshot (JSON, undo history included), encoded on
/// tokio's blocking pool: a 100,000-item board takes a few hundred
/// milliseconds, which must not stop a runtime thread (and the rooms and
/// connections on it).
pub async fn encode_snapshot(board: Arc<Board>) -> Result<Vec<u8>, StoreError> {
    tokio::task::spawn_blocking(move || serde_json::to_vec(&*board))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short description for logs, such as `redb at ./data/whiteboard.redb`.
    fn describe(&self) -> String;

    /// Appends operations (consecutive sequence numbers) to a board's log.
    async fn append(&self, board: &BoardId, ops: &[Operation]) -> Result<(), StoreError>;

    /// The newest snapshot and the operations after it.
    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError>;

    /// Operations with a sequence number greater than `after`, in order.
    async fn ops_after(&self, board: &BoardId, after: u64) -> Result<Vec<Operation>, StoreError>;

    /// Operations numbered `after + 1 ..= upto`, in order.
    async fn ops_between(
        &self,
        board: &BoardId,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Operation>, StoreError>;

    /// The newest snapshot at or before `seq`: the current one, or one kept
    /// for history (see the contract).
    async fn snapshot_at_or_before(
        &self,
        board: &BoardId,
        seq: u64,
    ) -> Result<Option<Board>, StoreError>;

    /// Forgets the board's history before its newest snapshot kept for
    /// history at or before `seq` (see the contract); returns that
    /// snapshot's number, the oldest version still kept (0: none was kept
    /// that early, and nothing is forgotten).
    async fn forget_before(&self, board: &BoardId, seq: u64) -> Result<u64, StoreError>;

    /// Replaces the board's snapshot if `board` is newer than the stored one.
    /// Implementations encode it with [`encode_snapshot`], off the runtime.
    async fn save_snapshot(&self, id: &BoardId, board: Arc<Board>) -> Result<(), StoreError>;

    /// The board's access tokens (none for a board that never had any).
    async fn access(&self, board: &BoardId) -> Result<Access, StoreError>;

    /// Replaces the board's access tokens with `access` if they are
    /// `expected` (`true`), or leaves them as they are (`false`): two
    /// instances making a view link or rotating the edit link at once must
    /// not hand out a token the other one overwrote. Its old view token, if
    /// replaced, finds the board no more.
    async fn set_access(
        &self,
        board: &BoardId,
        expected: &Access,
        access: &Access,
    ) -> Result<bool, StoreError>;

    /// The board whose view link carries `token`.
    async fn board_of_view(&self, token: &str) -> Result<Option<BoardId>, StoreError>;

    /// Stores `image` under `id`, the SHA-256 of its bytes, unless an image
    /// is stored under it already (its bytes are the same).
    async fn put_image(&self, id: &ImageId, image: StoredImage) -> Result<(), StoreError>;

    /// The image stored under `id`, if all of it is.
    async fn image(&self, id: &ImageId) -> Result<Option<StoredImage>, StoreError>;

    /// Makes everything written so far durable; called on shutdown.
    async fn flush(&self) -> Result<(), StoreError>;

    /// Whether the store is reachable now (for `/healthz`).
    async fn healthy(&self) -> bool {
        true
    }
}
