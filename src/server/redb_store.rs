//! The embedded store: one [redb](https://docs.rs/redb) file in the data directory.
//!
//! redb was chosen over SQLite for reliability without a C dependency: it is
//! pure Rust, ACID, crash-safe by default (every commit is fsynced before it
//! returns), and copy-on-write, so a crash mid-write leaves the previous
//! committed state intact. redb is synchronous; every call runs on tokio's
//! blocking pool so the async runtime never waits on the disk.
//!
//! Layout:
//! - `ops`: key `(board id, seq)` → JSON of the [`Operation`];
//! - `snapshots`: key board id → `(seq, JSON of the Board)`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::{Store, StoreError, StoredBoard};
use crate::board::Board;
use crate::protocol::{BoardId, Operation};

const OPS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("ops");
const SNAPSHOTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("snapshots");

/// File name inside the data directory.
pub const FILE_NAME: &str = "whiteboard.redb";

pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
}

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
        Ok(Self {
            db: Arc::new(db),
            path,
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

#[async_trait]
impl Store for RedbStore {
    fn describe(&self) -> String {
        format!("embedded redb store at {}", self.path.display())
    }

    async fn append(&self, board: &BoardId, ops: &[Operation]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let board = board.as_str().to_owned();
        let encoded: Vec<(u64, Vec<u8>)> = ops
            .iter()
            .map(|op| Ok((op.seq, serde_json::to_vec(op).map_err(backend)?)))
            .collect::<Result<_, StoreError>>()?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(backend)?;
            {
                let mut table = txn.open_table(OPS).map_err(backend)?;
                let mut stored = table
                    .range((board.as_str(), 0)..=(board.as_str(), u64::MAX))
                    .map_err(backend)?
                    .next_back()
                    .transpose()
                    .map_err(backend)?
                    .map(|(key, _)| key.value().1)
                    .unwrap_or(0);
                if stored == 0 {
                    let snapshots = txn.open_table(SNAPSHOTS).map_err(backend)?;
                    let snapshot_seq = snapshots
                        .get(board.as_str())
                        .map_err(backend)?
                        .map(|entry| entry.value().0);
                    stored = snapshot_seq.unwrap_or(0);
                }
                for (seq, bytes) in &encoded {
                    if *seq != stored + 1 {
                        // Dropping the transaction without commit discards the batch.
                        return Err(StoreError::SequenceConflict { stored, got: *seq });
                    }
                    table
                        .insert((board.as_str(), *seq), bytes.as_slice())
                        .map_err(backend)?;
                    stored = *seq;
                }
            }
            txn.commit().map_err(backend)
        })
        .await
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

    async fn save_snapshot(&self, id: &BoardId, board: &Board) -> Result<(), StoreError> {
        let key = id.as_str().to_owned();
        let seq = board.seq();
        let bytes = serde_json::to_vec(board).map_err(backend)?;
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
