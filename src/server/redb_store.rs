//! The embedded store: one [redb](https://docs.rs/redb) file in the data directory.
//!
//! redb was chosen over SQLite for reliability without a C dependency: it is
//! pure Rust, ACID, crash-safe by default (every commit is fsynced before it
//! returns), and copy-on-write, so a crash mid-write leaves the previous
//! committed state intact. redb is synchronous; reads and snapshots run on
//! tokio's blocking pool so the async runtime never waits on the disk.
//!
//! Writes (appends and snapshots) go to one writer thread that commits
//! everything queued, for all boards, in one transaction: one fsync for many
//! boards' writes instead of a blocking thread per board queueing for
//! redb's single write lock (at 20 boards × 10 people that was ~200 commits
//! a second, and the threads crowding the cores doubled everyone's preview
//! latency; 5,000 boards closing within seconds each waited on a blocking
//! thread of their own for their closing snapshot, 512 threads, whose
//! memory stayed). The queue needs no bound: each room has at most one
//! append and one snapshot in flight. Access changes (an editor asking for
//! a view link: rare) commit on their own, so the writer's transactions
//! open no tables for them.
//!
//! Layout:
//! - `ops`: key `(board id, seq)` → JSON of the [`Operation`];
//! - `snapshots`: key board id → `(seq, JSON of the Board)`, the newest;
//! - `snapshot_history`: key `(board id, seq)` → JSON of the Board, the
//!   snapshots kept for history (one each `history_every` operations);
//! - `access`: key board id → `(view token, edit key)`, empty for none;
//! - `view_links`: key view token → board id;
//! - `images`: key image id → `(media type, bytes, parts)`, written after
//!   its parts, so an image found there is whole;
//! - `image_parts`: key `(image id, index)` → up to
//!   [`IMAGE_PART_BYTES`] of the image.
//!
//! An image is stored in a write transaction of its own (like access
//! changes): rare, and the writer's transactions open no tables for it.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::{
    encode_snapshot, Access, Store, StoreError, StoredBoard, StoredImage, IMAGE_PART_BYTES,
};
use crate::board::Board;
use crate::image::{ImageId, ImageType};
use crate::protocol::{BoardId, Operation};

const OPS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("ops");
const SNAPSHOTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("snapshots");
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("snapshot_history");
const ACCESS: TableDefinition<&str, (&str, &str)> = TableDefinition::new("access");
const VIEW_LINKS: TableDefinition<&str, &str> = TableDefinition::new("view_links");
const IMAGES: TableDefinition<&str, (&str, u64, u32)> = TableDefinition::new("images");
const IMAGE_PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("image_parts");

/// File name inside the data directory.
pub const FILE_NAME: &str = "whiteboard.redb";

pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
    /// `None` only while dropping.
    writes: Option<mpsc::Sender<Write>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// A snapshot is kept for history this many operations after the last
    /// one kept (0: none).
    history_every: u64,
}

impl Drop for RedbStore {
    /// Stops the writer thread after what it has queued, so that the file is
    /// closed (and can be opened again) when the store is gone.
    fn drop(&mut self) {
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// One room's write for the writer thread.
struct Write {
    board: String,
    change: Change,
    done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

enum Change {
    /// `(seq, JSON)`, consecutive, to append to the board's log.
    Ops(Vec<(u64, Vec<u8>)>),
    /// The board at `seq`, as JSON: kept unless a newer one is, and kept
    /// for history too if at least `history_every` operations lie between
    /// it and the last one kept (0: never).
    Snapshot {
        seq: u64,
        json: Vec<u8>,
        history_every: u64,
    },
}

/// Writes taken into one transaction at most.
const MAX_WRITES_PER_COMMIT: usize = 1024;

/// Pages of the file redb keeps in memory. Its default (1 GiB) let a
/// server that had opened 10,000 boards hold hundreds of MB it no longer
/// needed; an open board is in its room's memory anyway, so the cache only
/// speeds up loading boards that were closed a moment ago.
const CACHE_BYTES: usize = 16 << 20;

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl RedbStore {
    /// Opens (or creates) the store in `data_dir`, creating the directory.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(backend)?;
        let path = data_dir.join(FILE_NAME);
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(backend)?;
        // Create the tables up front so that readers never see them missing.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(OPS).map_err(backend)?;
        txn.open_table(SNAPSHOTS).map_err(backend)?;
        txn.open_table(HISTORY).map_err(backend)?;
        txn.open_table(ACCESS).map_err(backend)?;
        txn.open_table(VIEW_LINKS).map_err(backend)?;
        txn.open_table(IMAGES).map_err(backend)?;
        txn.open_table(IMAGE_PARTS).map_err(backend)?;
        txn.commit().map_err(backend)?;
        let db = Arc::new(db);
        let (writes, queue) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || write_queued(&writer_db, &queue))
            .map_err(backend)?;
        Ok(Self {
            db,
            path,
            writes: Some(writes),
            writer: Some(writer),
            history_every: super::store::HISTORY_SNAPSHOT_OPS,
        })
    }

    /// Keeps a snapshot for history every `ops` operations (0: none).
    pub fn with_history_every(mut self, ops: u64) -> Self {
        self.history_every = ops;
        self
    }

    /// Hands a write to the writer thread and waits for its commit.
    async fn write(&self, board: &BoardId, change: Change) -> Result<(), StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Backend("the redb writer thread stopped".into());
        self.writes
            .as_ref()
            .ok_or_else(stopped)?
            .send(Write {
                board: board.as_str().to_owned(),
                change,
                done,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs blocking database work (reads) off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(backend)?
    }
}

fn decode_snapshot(json: &[u8]) -> Result<Board, StoreError> {
    let mut stored: Board =
        serde_json::from_slice(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    stored.reindex();
    Ok(stored)
}

fn decode_op(bytes: &[u8]) -> Result<Operation, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read_ops_after(db: &Database, board: &str, after: u64) -> Result<Vec<Operation>, StoreError> {
    read_ops_between(db, board, after, u64::MAX)
}

fn read_ops_between(
    db: &Database,
    board: &str,
    after: u64,
    upto: u64,
) -> Result<Vec<Operation>, StoreError> {
    if after >= upto {
        return Ok(Vec::new());
    }
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(OPS).map_err(backend)?;
    let range = table
        .range((board, after + 1)..=(board, upto))
        .map_err(backend)?;
    range
        .map(|entry| {
            let (_, value) = entry.map_err(backend)?;
            decode_op(value.value())
        })
        .collect()
}

/// The writer thread: waits for a write, takes whatever else is queued,
/// commits them together and answers each. Ends when the store is dropped.
fn write_queued(db: &Database, queue: &mpsc::Receiver<Write>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_WRITES_PER_COMMIT - 1));
        match commit_writes(db, &batch) {
            Ok(answers) => {
                for (write, answer) in batch.into_iter().zip(answers) {
                    let _ = write.done.send(answer);
                }
            }
            Err(error) => {
                for write in batch {
                    let _ = write.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Writes a batch in one transaction: every append that continues its
/// board's sequence (one that does not is left out and answered with a
/// conflict; the others are unaffected by it), and every snapshot newer
/// than the board's stored one (an older one is dropped, answered `Ok`:
/// snapshots never move backwards).
fn commit_writes(
    db: &Database,
    batch: &[Write],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let mut answers = Vec::with_capacity(batch.len());
    {
        let mut table = txn.open_table(OPS).map_err(backend)?;
        let mut snapshots = txn.open_table(SNAPSHOTS).map_err(backend)?;
        let mut history = txn.open_table(HISTORY).map_err(backend)?;
        for write in batch {
            let board = write.board.as_str();
            let ops = match &write.change {
                Change::Ops(ops) => ops,
                Change::Snapshot {
                    seq,
                    json,
                    history_every,
                } => {
                    let stored = snapshots
                        .get(board)
                        .map_err(backend)?
                        .map(|entry| entry.value().0);
                    if stored.is_none_or(|stored| stored < *seq) {
                        snapshots
                            .insert(board, (*seq, json.as_slice()))
                            .map_err(backend)?;
                        let last_kept = history
                            .range((board, 0)..=(board, u64::MAX))
                            .map_err(backend)?
                            .next_back()
                            .transpose()
                            .map_err(backend)?
                            .map_or(0, |(key, _)| key.value().1);
                        if *history_every > 0 && *seq >= last_kept + history_every {
                            history
                                .insert((board, *seq), json.as_slice())
                                .map_err(backend)?;
                        }
                    }
                    answers.push(Ok(()));
                    continue;
                }
            };
            let mut stored = table
                .range((board, 0)..=(board, u64::MAX))
                .map_err(backend)?
                .next_back()
                .transpose()
                .map_err(backend)?
                .map(|(key, _)| key.value().1)
                .unwrap_or(0);
            if stored == 0 {
                stored = snapshots
                    .get(board)
                    .map_err(backend)?
                    .map_or(0, |entry| entry.value().0);
            }
            let conflict = ops
                .iter()
                .zip(stored + 1..)
                .find(|((seq, _), expected)| seq != expected);
            if let Some(((got, _), expected)) = conflict {
                answers.push(Err(StoreError::SequenceConflict {
                    stored: expected - 1,
                    got: *got,
                }));
                continue;
            }
            for (seq, bytes) in ops {
                table
                    .insert((board, *seq), bytes.as_slice())
                    .map_err(backend)?;
            }
            answers.push(Ok(()));
        }
    }
    txn.commit().map_err(backend)?;
    Ok(answers)
}

#[async_trait]
impl Store for RedbStore {
    fn describe(&self) -> String {
        format!("embedded redb store at {}", self.path.display())
    }

    async fn append(&self, board: &BoardId, ops: &[Operation]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let ops = ops
            .iter()
            .map(|op| Ok((op.seq, serde_json::to_vec(op).map_err(backend)?)))
            .collect::<Result<_, StoreError>>()?;
        self.write(board, Change::Ops(ops)).await
    }

    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| {
            let snapshot = {
                let txn = db.begin_read().map_err(backend)?;
                let table = txn.open_table(SNAPSHOTS).map_err(backend)?;
                let entry = table.get(board.as_str()).map_err(backend)?;
                entry
                    .map(|entry| decode_snapshot(entry.value().1))
                    .transpose()?
            };
            let after = snapshot.as_ref().map_or(0, Board::seq);
            let ops = read_ops_after(db, &board, after)?;
            Ok(StoredBoard { snapshot, ops })
        })
        .await
    }

    async fn ops_after(&self, board: &BoardId, after: u64) -> Result<Vec<Operation>, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| read_ops_after(db, &board, after))
            .await
    }

    async fn ops_between(
        &self,
        board: &BoardId,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Operation>, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| read_ops_between(db, &board, after, upto))
            .await
    }

    async fn snapshot_at_or_before(
        &self,
        board: &BoardId,
        seq: u64,
    ) -> Result<Option<Board>, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let newest = txn.open_table(SNAPSHOTS).map_err(backend)?;
            if let Some(entry) = newest.get(board.as_str()).map_err(backend)? {
                let (at, json) = entry.value();
                if at <= seq {
                    return decode_snapshot(json).map(Some);
                }
            }
            let history = txn.open_table(HISTORY).map_err(backend)?;
            let kept = history
                .range((board.as_str(), 0)..=(board.as_str(), seq))
                .map_err(backend)?
                .next_back()
                .transpose()
                .map_err(backend)?;
            kept.map(|(_, json)| decode_snapshot(json.value()))
                .transpose()
        })
        .await
    }

    async fn save_snapshot(&self, id: &BoardId, board: Arc<Board>) -> Result<(), StoreError> {
        let seq = board.seq();
        let json = encode_snapshot(board).await?;
        let history_every = self.history_every;
        self.write(
            id,
            Change::Snapshot {
                seq,
                json,
                history_every,
            },
        )
        .await
    }

    async fn access(&self, board: &BoardId) -> Result<Access, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let table = txn.open_table(ACCESS).map_err(backend)?;
            let entry = table.get(board.as_str()).map_err(backend)?;
            Ok(entry.map_or_else(Access::default, |entry| access_of(entry.value())))
        })
        .await
    }

    async fn set_access(
        &self,
        board: &BoardId,
        expected: &Access,
        access: &Access,
    ) -> Result<bool, StoreError> {
        let (board, expected, access) =
            (board.as_str().to_owned(), expected.clone(), access.clone());
        self.blocking(move |db| {
            // One write transaction at a time: the comparison and the write
            // cannot interleave with another instance's.
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(ACCESS).map_err(backend)?;
                let mut links = txn.open_table(VIEW_LINKS).map_err(backend)?;
                let stored = table
                    .get(board.as_str())
                    .map_err(backend)?
                    .map(|entry| access_of(entry.value()))
                    .unwrap_or_default();
                if stored != expected {
                    return Ok(false);
                }
                if let Some(old) = stored.view {
                    if access.view.as_deref() != Some(old.as_str()) {
                        links.remove(old.as_str()).map_err(backend)?;
                    }
                }
                let view = access.view.as_deref().unwrap_or("");
                let edit = access.edit.as_deref().unwrap_or("");
                table
                    .insert(board.as_str(), (view, edit))
                    .map_err(backend)?;
                if !view.is_empty() {
                    links.insert(view, board.as_str()).map_err(backend)?;
                }
            }
            txn.commit().map_err(backend)?;
            Ok(true)
        })
        .await
    }

    async fn forget_before(&self, board: &BoardId, seq: u64) -> Result<u64, StoreError> {
        let board = board.as_str().to_owned();
        // A transaction of its own, as for access: rare, and the writer's
        // transactions then open no tables for it.
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            let first = {
                let mut history = txn.open_table(HISTORY).map_err(backend)?;
                let kept = history
                    .range((board.as_str(), 0)..=(board.as_str(), seq))
                    .map_err(backend)?
                    .next_back()
                    .transpose()
                    .map_err(backend)?
                    .map(|(key, _)| key.value().1);
                let Some(first) = kept else {
                    return Ok(0);
                };
                history
                    .retain_in((board.as_str(), 0)..(board.as_str(), first), |_, _| false)
                    .map_err(backend)?;
                let mut ops = txn.open_table(OPS).map_err(backend)?;
                ops.retain_in((board.as_str(), 0)..=(board.as_str(), first), |_, _| false)
                    .map_err(backend)?;
                first
            };
            txn.commit().map_err(backend)?;
            Ok(first)
        })
        .await
    }

    async fn board_of_view(&self, token: &str) -> Result<Option<BoardId>, StoreError> {
        let token = token.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let links = txn.open_table(VIEW_LINKS).map_err(backend)?;
            let board = links.get(token.as_str()).map_err(backend)?;
            board
                .map(|board| {
                    BoardId::parse(board.value()).map_err(|e| StoreError::Corrupt(e.to_string()))
                })
                .transpose()
        })
        .await
    }

    async fn put_image(&self, id: &ImageId, image: StoredImage) -> Result<(), StoreError> {
        let id = id.clone();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut images = txn.open_table(IMAGES).map_err(backend)?;
                if images.get(id.as_str()).map_err(backend)?.is_some() {
                    return Ok(());
                }
                let mut parts = txn.open_table(IMAGE_PARTS).map_err(backend)?;
                let mut count = 0u32;
                for (index, part) in (0..).zip(image.bytes.chunks(IMAGE_PART_BYTES)) {
                    parts.insert((id.as_str(), index), part).map_err(backend)?;
                    count = index + 1;
                }
                let size = image.bytes.len() as u64;
                images
                    .insert(id.as_str(), (image.kind.mime(), size, count))
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn image(&self, id: &ImageId) -> Result<Option<StoredImage>, StoreError> {
        let id = id.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(backend)?;
            let images = txn.open_table(IMAGES).map_err(backend)?;
            let Some(entry) = images.get(id.as_str()).map_err(backend)? else {
                return Ok(None);
            };
            let (mime, size, count) = entry.value();
            let kind = ImageType::from_mime(mime)
                .ok_or_else(|| StoreError::Corrupt(format!("image {id} has type {mime}")))?;
            let parts = txn.open_table(IMAGE_PARTS).map_err(backend)?;
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            for part in parts
                .range((id.as_str(), 0)..(id.as_str(), count))
                .map_err(backend)?
            {
                bytes.extend_from_slice(part.map_err(backend)?.1.value());
            }
            if bytes.len() as u64 != size {
                return Err(StoreError::Corrupt(format!(
                    "image {id} has {} of its {size} bytes",
                    bytes.len()
                )));
            }
            Ok(Some(StoredImage { kind, bytes }))
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every commit is already durable (redb's default `Durability::Immediate`).
        Ok(())
    }
}

/// An `access` row: empty strings stand for tokens not made.
fn access_of((view, edit): (&str, &str)) -> Access {
    let token = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    Access {
        view: token(view),
        edit: token(edit),
    }
}
