//! The embedded store: one [redb](https://docs.rs/redb) file in the data directory.
//!
//! redb was chosen over SQLite for reliability without a C dependency: it is
//! pure Rust, ACID, crash-safe by default (every commit is fsynced before it
//! returns), and copy-on-write, so a crash mid-write leaves the previous
//! committed state intact. redb is synchronous; reads and snapshots run on
//! tokio's blocking pool so the async runtime never waits on the disk.
//!
//! Appends go to one writer thread that commits everything queued, for all
//! boards, in one transaction: one fsync for many boards' operations instead
//! of a blocking thread per board queueing for redb's single write lock
//! (at 20 boards × 10 people that was ~200 commits a second, and the
//! threads crowding the cores doubled everyone's preview latency). The queue
//! needs no bound: each room has at most one append in flight.
//!
//! Layout:
//! - `ops`: key `(board id, seq)` → JSON of the [`Operation`];
//! - `snapshots`: key board id → `(seq, JSON of the Board)`.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::{encode_snapshot, Store, StoreError, StoredBoard};
use crate::board::Board;
use crate::protocol::{BoardId, Operation};

const OPS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("ops");
const SNAPSHOTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("snapshots");

/// File name inside the data directory.
pub const FILE_NAME: &str = "whiteboard.redb";

pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
    /// `None` only while dropping.
    appends: Option<mpsc::Sender<Append>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RedbStore {
    /// Stops the writer thread after what it has queued, so that the file is
    /// closed (and can be opened again) when the store is gone.
    fn drop(&mut self) {
        self.appends.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// One room's batch of operations for the writer thread.
struct Append {
    board: String,
    /// `(seq, JSON)`, consecutive.
    ops: Vec<(u64, Vec<u8>)>,
    done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// Appends taken into one transaction at most.
const MAX_APPENDS_PER_COMMIT: usize = 1024;

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl RedbStore {
    /// Opens (or creates) the store in `data_dir`, creating the directory.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(backend)?;
        let path = data_dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(backend)?;
        // Create the tables up front so that readers never see them missing.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(OPS).map_err(backend)?;
        txn.open_table(SNAPSHOTS).map_err(backend)?;
        txn.commit().map_err(backend)?;
        let db = Arc::new(db);
        let (appends, queue) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || write_appends(&writer_db, &queue))
            .map_err(backend)?;
        Ok(Self {
            db,
            path,
            appends: Some(appends),
            writer: Some(writer),
        })
    }

    /// Runs blocking database work off the async runtime.
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

fn decode_op(bytes: &[u8]) -> Result<Operation, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read_ops_after(db: &Database, board: &str, after: u64) -> Result<Vec<Operation>, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(OPS).map_err(backend)?;
    let range = table
        .range((board, after.saturating_add(1))..=(board, u64::MAX))
        .map_err(backend)?;
    range
        .map(|entry| {
            let (_, value) = entry.map_err(backend)?;
            decode_op(value.value())
        })
        .collect()
}

/// The writer thread: waits for an append, takes whatever else is queued,
/// commits them together and answers each. Ends when the store is dropped.
fn write_appends(db: &Database, queue: &mpsc::Receiver<Append>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_APPENDS_PER_COMMIT - 1));
        match commit_appends(db, &batch) {
            Ok(answers) => {
                for (append, answer) in batch.into_iter().zip(answers) {
                    let _ = append.done.send(answer);
                }
            }
            Err(error) => {
                for append in batch {
                    let _ = append.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Writes every append that continues its board's sequence in one
/// transaction. An append that does not is left out and answered with a
/// conflict; the others are unaffected by it.
fn commit_appends(
    db: &Database,
    batch: &[Append],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let mut answers = Vec::with_capacity(batch.len());
    {
        let mut table = txn.open_table(OPS).map_err(backend)?;
        let snapshots = txn.open_table(SNAPSHOTS).map_err(backend)?;
        for append in batch {
            let board = append.board.as_str();
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
            let conflict = append
                .ops
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
            for (seq, bytes) in &append.ops {
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
        let (done, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Backend("the redb writer thread stopped".into());
        self.appends
            .as_ref()
            .ok_or_else(stopped)?
            .send(Append {
                board: board.as_str().to_owned(),
                ops,
                done,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let board = board.as_str().to_owned();
        self.blocking(move |db| {
            let snapshot = {
                let txn = db.begin_read().map_err(backend)?;
                let table = txn.open_table(SNAPSHOTS).map_err(backend)?;
                let entry = table.get(board.as_str()).map_err(backend)?;
                match entry {
                    Some(entry) => {
                        let mut stored: Board = serde_json::from_slice(entry.value().1)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        stored.reindex();
                        Some(stored)
                    }
                    None => None,
                }
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

    async fn save_snapshot(&self, id: &BoardId, board: Arc<Board>) -> Result<(), StoreError> {
        let key = id.as_str().to_owned();
        let seq = board.seq();
        let bytes = encode_snapshot(board).await?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(SNAPSHOTS).map_err(backend)?;
                let stored_seq = table
                    .get(key.as_str())
                    .map_err(backend)?
                    .map(|entry| entry.value().0);
                if stored_seq.is_some_and(|stored| stored >= seq) {
                    return Ok(());
                }
                table
                    .insert(key.as_str(), (seq, bytes.as_slice()))
                    .map_err(backend)?;
            }
            txn.commit().map_err(backend)
        })
        .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every commit is already durable (redb's default `Durability::Immediate`).
        Ok(())
    }
}
