//! The MongoDB store, used when `MONGODB_URI` is set.
//!
//! Collections (in the database named by `--mongodb-db`, default `whiteboard`):
//! - `ops`: one document per operation, `{board, seq, op}` with `op` the
//!   operation's protocol JSON; a unique index on `(board, seq)` makes the
//!   database itself refuse a second operation with the same number, which is
//!   what keeps several instances from forking a board.
//! - `boards`: one metadata document per board, `{_id, created_at,
//!   last_active, title, snapshot_seq, snapshot_chunks}`; each instance
//!   refreshes `last_active` at most once a minute per board while appending
//!   (and whenever it saves a snapshot).
//! - `snapshot_chunks`: the newest snapshot of a board, split into chunks of
//!   [`CHUNK_BYTES`] (far below MongoDB's 16 MiB document limit), `{board, seq,
//!   index, data}`.
//!
//! Every write asks for a journaled acknowledgement, so an operation
//! acknowledged to a client survives a crash of the database server. An
//! append is one ordered `insert_many` when this instance wrote the board's
//! previous operation; otherwise (another instance did) it first reads the
//! last stored number, to refuse a gap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{doc, spec::BinarySubtype, Binary, DateTime, Document};
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::options::{ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};

use super::store::{encode_snapshot, Store, StoreError, StoredBoard};
use crate::board::Board;
use crate::protocol::{BoardId, Operation};

/// Snapshot chunk size: 1 MiB of JSON per document.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// How long an operation waits for a reachable server before failing (so
/// clients learn quickly that saving is delayed, instead of after 30 s).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often appends refresh a board's `last_active`: a journaled write per
/// append would double the writes that acknowledgements wait for.
const METADATA_INTERVAL: Duration = Duration::from_secs(60);
/// Boards remembered in `metadata_written` before stale ones are forgotten.
const METADATA_ENTRIES_BEFORE_TRIM: usize = 4096;
/// MongoDB's duplicate key error.
const DUPLICATE_KEY: i32 = 11000;

pub struct MongoStore {
    database: Database,
    ops: Collection<Document>,
    boards: Collection<Document>,
    chunks: Collection<Document>,
    description: String,
    /// Last sequence number known to be stored per board, to refuse gaps
    /// without a round trip; refreshed from the database when in doubt.
    last_seq: Mutex<HashMap<BoardId, u64>>,
    /// When this instance last wrote each board's metadata document.
    metadata_written: Mutex<HashMap<BoardId, Instant>>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn is_duplicate_key(error: &MongoError) -> bool {
    match error.kind.as_ref() {
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|e| e.code == DUPLICATE_KEY)),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes.
    pub async fn connect(uri: &str, database: &str) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri).await.map_err(backend)?;
        options
            .server_selection_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        options
            .app_name
            .get_or_insert_with(|| "whiteboard".to_owned());
        let client = Client::with_options(options).map_err(backend)?;
        let durable = WriteConcern::builder().journal(true).build();
        let database = client.database_with_options(
            database,
            mongodb::options::DatabaseOptions::builder()
                .write_concern(durable)
                .build(),
        );
        let store = Self {
            ops: database.collection("ops"),
            boards: database.collection("boards"),
            chunks: database.collection("snapshot_chunks"),
            description: format!(
                "MongoDB at {} (database {})",
                super::redact_credentials(uri),
                database.name()
            ),
            database,
            last_seq: Mutex::new(HashMap::new()),
            metadata_written: Mutex::new(HashMap::new()),
        };
        store.ping().await?;
        store.create_indexes().await?;
        Ok(store)
    }

    /// Whether the server answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn create_indexes(&self) -> Result<(), StoreError> {
        let unique = IndexModel::builder()
            .keys(doc! { "board": 1, "seq": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("board_seq_unique".to_owned())
                    .build(),
            )
            .build();
        self.ops.create_index(unique).await.map_err(backend)?;
        let chunks = IndexModel::builder()
            .keys(doc! { "board": 1, "seq": 1, "index": 1 })
            .options(
                IndexOptions::builder()
                    .name("board_seq_index".to_owned())
                    .build(),
            )
            .build();
        self.chunks.create_index(chunks).await.map_err(backend)?;
        Ok(())
    }

    /// The newest operation's number, or the snapshot's if that is newer.
    /// Both are read at once: one round trip's wait.
    async fn stored_last_seq(&self, board: &BoardId) -> Result<u64, StoreError> {
        let last_op = async {
            self.ops
                .find_one(doc! { "board": board.as_str() })
                .sort(doc! { "seq": -1 })
                .await
                .map_err(backend)
        };
        let (last_op, meta) = tokio::try_join!(last_op, self.board_meta(board))?;
        let from_ops = match last_op {
            Some(document) => seq_of(&document)?,
            None => 0,
        };
        let from_snapshot = meta.map_or(0, |meta| meta.0);
        Ok(from_ops.max(from_snapshot))
    }

    fn cached_last_seq(&self, board: &BoardId) -> Option<u64> {
        self.last_seq
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(board)
            .copied()
    }

    fn remember_last_seq(&self, board: &BoardId, seq: Option<u64>) {
        let mut cache = self.last_seq.lock().unwrap_or_else(|e| e.into_inner());
        match seq {
            Some(seq) => {
                cache.insert(board.clone(), seq);
            }
            None => {
                cache.remove(board);
            }
        }
    }

    /// `(snapshot_seq, snapshot_chunks)` from the board's metadata document.
    async fn board_meta(&self, board: &BoardId) -> Result<Option<(u64, u32)>, StoreError> {
        let Some(meta) = self
            .boards
            .find_one(doc! { "_id": board.as_str() })
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let seq = meta.get_i64("snapshot_seq").unwrap_or(0);
        let chunks = meta.get_i32("snapshot_chunks").unwrap_or(0);
        Ok(Some((
            u64::try_from(seq).map_err(corrupt)?,
            u32::try_from(chunks).map_err(corrupt)?,
        )))
    }

    async fn read_ops(&self, board: &BoardId, after: u64) -> Result<Vec<Operation>, StoreError> {
        let after = i64::try_from(after).map_err(backend)?;
        let cursor = self
            .ops
            .find(doc! { "board": board.as_str(), "seq": { "$gt": after } })
            .sort(doc! { "seq": 1 })
            .await
            .map_err(backend)?;
        let documents: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        documents
            .iter()
            .map(|document| {
                let json = document.get_str("op").map_err(corrupt)?;
                serde_json::from_str(json).map_err(corrupt)
            })
            .collect()
    }

    async fn read_snapshot(&self, board: &BoardId) -> Result<Option<Board>, StoreError> {
        let Some((seq, count)) = self.board_meta(board).await? else {
            return Ok(None);
        };
        if seq == 0 {
            return Ok(None);
        }
        let seq = i64::try_from(seq).map_err(corrupt)?;
        let cursor = self
            .chunks
            .find(doc! { "board": board.as_str(), "seq": seq })
            .sort(doc! { "index": 1 })
            .await
            .map_err(backend)?;
        let chunks: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        if chunks.len() != count as usize {
            return Err(StoreError::Corrupt(format!(
                "snapshot {seq} of {board} has {} of {count} chunks",
                chunks.len()
            )));
        }
        let mut json = Vec::new();
        for chunk in &chunks {
            json.extend_from_slice(&chunk.get_binary_generic("data").map_err(corrupt)?[..]);
        }
        let mut stored: Board = serde_json::from_slice(&json).map_err(corrupt)?;
        stored.reindex();
        Ok(Some(stored))
    }

    /// Whether appends should refresh the board's metadata now (at most once
    /// per [`METADATA_INTERVAL`]; always on this instance's first append).
    fn metadata_due(&self, board: &BoardId) -> bool {
        let now = Instant::now();
        let mut written = self
            .metadata_written
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(at) = written.get(board) {
            if now.duration_since(*at) < METADATA_INTERVAL {
                return false;
            }
        }
        if written.len() >= METADATA_ENTRIES_BEFORE_TRIM {
            // Older entries say nothing any more: forget them.
            written.retain(|_, at| now.duration_since(*at) < METADATA_INTERVAL);
        }
        written.insert(board.clone(), now);
        true
    }

    /// Creates the board's metadata document if missing and sets `last_active`.
    async fn touch_metadata(&self, board: &BoardId) {
        let now = DateTime::now();
        let touched = self
            .boards
            .update_one(
                doc! { "_id": board.as_str() },
                doc! {
                    "$set": { "last_active": now },
                    "$setOnInsert": { "created_at": now, "title": mongodb::bson::Bson::Null, "snapshot_seq": 0_i64, "snapshot_chunks": 0_i32 },
                },
            )
            .upsert(true)
            .await;
        if let Err(error) = touched {
            // The operations are stored; metadata is best effort.
            tracing::warn!(%board, %error, "could not update board metadata");
        }
    }
}

fn seq_of(document: &Document) -> Result<u64, StoreError> {
    u64::try_from(document.get_i64("seq").map_err(corrupt)?).map_err(corrupt)
}

#[async_trait]
impl Store for MongoStore {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn append(&self, board: &BoardId, ops: &[Operation]) -> Result<(), StoreError> {
        let Some(first) = ops.first() else {
            return Ok(());
        };
        let consecutive = ops.windows(2).all(|pair| pair[1].seq == pair[0].seq + 1);
        let cached = self.cached_last_seq(board);
        let mut stored = match cached {
            Some(seq) => seq,
            None => self.stored_last_seq(board).await?,
        };
        if cached.is_some() && first.seq != stored + 1 {
            // The cache may be behind another instance's writes: ask the database.
            stored = self.stored_last_seq(board).await?;
            self.remember_last_seq(board, Some(stored));
        }
        if !consecutive || first.seq != stored + 1 {
            let got = ops
                .windows(2)
                .find(|pair| pair[1].seq != pair[0].seq + 1)
                .map_or(first.seq, |pair| pair[1].seq);
            return Err(StoreError::SequenceConflict { stored, got });
        }
        let documents = ops
            .iter()
            .map(|op| {
                Ok(doc! {
                    "board": board.as_str(),
                    "seq": i64::try_from(op.seq).map_err(backend)?,
                    "op": serde_json::to_string(op).map_err(backend)?,
                })
            })
            .collect::<Result<Vec<Document>, StoreError>>()?;
        // One ordered insert for the whole batch (group commit). If it fails
        // part-way (a racing writer, a lost connection) a prefix may be
        // stored; the caller reloads and finds it (see the Store contract).
        match self.ops.insert_many(documents).ordered(true).await {
            Ok(_) => {}
            Err(error) if is_duplicate_key(&error) => {
                self.remember_last_seq(board, None);
                let stored = self.stored_last_seq(board).await.unwrap_or(stored);
                return Err(StoreError::SequenceConflict {
                    stored,
                    got: first.seq,
                });
            }
            Err(error) => {
                self.remember_last_seq(board, None);
                return Err(backend(error));
            }
        }
        let last = ops[ops.len() - 1].seq;
        self.remember_last_seq(board, Some(last));
        if self.metadata_due(board) {
            self.touch_metadata(board).await;
        }
        Ok(())
    }

    async fn load(&self, board: &BoardId) -> Result<StoredBoard, StoreError> {
        let snapshot = self.read_snapshot(board).await?;
        let after = snapshot.as_ref().map_or(0, Board::seq);
        let ops = self.read_ops(board, after).await?;
        let last = ops.last().map_or(after, |op| op.seq);
        self.remember_last_seq(board, Some(last));
        Ok(StoredBoard { snapshot, ops })
    }

    async fn ops_after(&self, board: &BoardId, after: u64) -> Result<Vec<Operation>, StoreError> {
        self.read_ops(board, after).await
    }

    async fn save_snapshot(&self, id: &BoardId, board: Arc<Board>) -> Result<(), StoreError> {
        let seq = i64::try_from(board.seq()).map_err(backend)?;
        if let Some((stored, _)) = self.board_meta(id).await? {
            if stored >= board.seq() {
                return Ok(());
            }
        }
        let json = encode_snapshot(board).await?;
        let chunks: Vec<Document> = json
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(|(index, bytes)| {
                doc! {
                    "board": id.as_str(),
                    "seq": seq,
                    "index": index as i32,
                    "data": Binary { subtype: BinarySubtype::Generic, bytes: bytes.to_vec() },
                }
            })
            .collect();
        let count = chunks.len() as i32;
        // Chunks first, then the pointer to them, then the old chunks: a
        // reader following the pointer always finds a complete snapshot.
        self.chunks
            .delete_many(doc! { "board": id.as_str(), "seq": seq })
            .await
            .map_err(backend)?;
        self.chunks.insert_many(chunks).await.map_err(backend)?;
        let now = DateTime::now();
        self.boards
            .update_one(
                doc! { "_id": id.as_str(), "$or": [ { "snapshot_seq": { "$lt": seq } }, { "snapshot_seq": { "$exists": false } } ] },
                doc! {
                    "$set": { "snapshot_seq": seq, "snapshot_chunks": count, "last_active": now },
                    "$setOnInsert": { "created_at": now, "title": mongodb::bson::Bson::Null },
                },
            )
            .upsert(true)
            .await
            .or_else(|error| if is_duplicate_key(&error) { Ok(Default::default()) } else { Err(error) })
            .map_err(backend)?;
        self.chunks
            .delete_many(doc! { "board": id.as_str(), "seq": { "$lt": seq } })
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write was acknowledged as journaled before it returned.
        Ok(())
    }

    async fn healthy(&self) -> bool {
        self.ping().await.is_ok()
    }
}
