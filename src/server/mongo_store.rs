//! The MongoDB store, used when `MONGODB_URI` is set.
//!
//! Collections (in the database named by `--mongodb-db`, default `whiteboard`):
//! - `ops`: one document per operation, `{board, seq, op}` with `op` the
//!   operation's protocol JSON; a unique index on `(board, seq)` makes the
//!   database itself refuse a second operation with the same number, which is
//!   what keeps several instances from forking a board. An operation whose
//!   JSON is longer than [`OP_INLINE_BYTES`] (a clear or a restore of a huge
//!   board can pass MongoDB's 16 MiB document limit) is `{board, seq,
//!   op_version, op_parts}` instead, its JSON in `op_parts`.
//! - `op_parts`: such an operation's JSON in parts of [`CHUNK_BYTES`],
//!   `{board, seq, version, index, data}`, unique by `(board, version,
//!   index)`. They are written before the `ops` document that names them,
//!   so a stored operation's parts are all there; parts of an operation that
//!   lost its number to another writer are deleted when that shows.
//! - `boards`: one metadata document per board, `{_id, created_at,
//!   last_active, title, snapshot: {seq, version, parts}, view_token,
//!   edit_key}` (the last two when set, see [`Access`]); each instance
//!   refreshes `last_active` at most once a minute per board while appending
//!   (and whenever it saves a snapshot). `snapshot` points at the board's
//!   current snapshot.
//! - `snapshot_parts`: snapshots of a board, each split into parts of
//!   [`CHUNK_BYTES`] (far below MongoDB's 16 MiB document limit), `{board,
//!   seq, version, index, parts, history, data}`, unique by `(board,
//!   version, index)`. `history` marks a version kept for history (one each
//!   `history_every` operations): later writes leave those alone.
//! - `images`: one document per image, `{_id: image id, type, bytes,
//!   parts, created_at}`, written after its parts, so an image found there
//!   is whole.
//! - `image_parts`: an image's bytes in parts of [`IMAGE_PART_BYTES`],
//!   `{image, index, data}`, unique by `(image, index)`. Two instances
//!   storing one image at once write the same parts (an image's id is the
//!   hash of its bytes): whichever part is there first stays.
//!
//! Several instances may snapshot one board at once (a rolling restart
//! closes and reopens its room on two of them, at the same sequence
//! number). Each write is a new version (a fresh `ObjectId`): its parts go
//! in beside every other version's, then the board's pointer switches to it
//! only if it is newer than the one there, and only then are older versions
//! deleted; a write that lost the race deletes its own parts. A reader that
//! finds the pointed-to version half deleted (it was replaced meanwhile)
//! follows the new pointer. (Snapshots written before versions, in
//! `snapshot_chunks` under `snapshot_seq`, are no longer read: those boards
//! load from their operations, which are all kept, until their next
//! snapshot.)
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
use mongodb::bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Document};
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::options::{ClientOptions, IndexOptions, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};

use super::store::{
    encode_snapshot, Access, Store, StoreError, StoredBoard, StoredImage, IMAGE_PART_BYTES,
};
use crate::board::Board;
use crate::image::{ImageId, ImageType};
use crate::protocol::{BoardId, Operation};

/// Snapshot chunk size: 1 MiB of JSON per document (images are cut the
/// same way, so no part of one is larger than the store contract allows).
pub const CHUNK_BYTES: usize = 1024 * 1024;
const _: () = assert!(CHUNK_BYTES <= IMAGE_PART_BYTES);
/// Operations whose JSON is longer than this are stored in parts.
pub const OP_INLINE_BYTES: usize = 4 * CHUNK_BYTES;
/// How long an operation waits for a reachable server before failing (so
/// clients learn quickly that saving is delayed, instead of after 30 s).
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often appends refresh a board's `last_active`: a journaled write per
/// append would double the writes that acknowledgements wait for.
const METADATA_INTERVAL: Duration = Duration::from_secs(60);
/// Boards remembered in `metadata_written` before stale ones are forgotten.
const METADATA_ENTRIES_BEFORE_TRIM: usize = 4096;
/// Boards whose last sequence number is remembered: past this many the
/// memory is emptied (boards still being drawn on read theirs again, one
/// round trip each), so boards long closed do not stay in it forever.
const LAST_SEQ_ENTRIES: usize = 16_384;
/// MongoDB's duplicate key error.
const DUPLICATE_KEY: i32 = 11000;
/// How often a load follows a snapshot pointer that moved while it read.
const SNAPSHOT_READ_ATTEMPTS: usize = 3;

/// Where a board's current snapshot is: `boards.snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SnapshotPointer {
    seq: u64,
    version: ObjectId,
    parts: u32,
}

pub struct MongoStore {
    database: Database,
    ops: Collection<Document>,
    boards: Collection<Document>,
    chunks: Collection<Document>,
    op_parts: Collection<Document>,
    images: Collection<Document>,
    image_parts: Collection<Document>,
    description: String,
    /// Last sequence number known to be stored per board, to refuse gaps
    /// without a round trip; refreshed from the database when in doubt.
    last_seq: Mutex<HashMap<BoardId, u64>>,
    /// When this instance last wrote each board's metadata document.
    metadata_written: Mutex<HashMap<BoardId, Instant>>,
    /// A snapshot is kept for history this many operations after the last
    /// one kept (0: none).
    history_every: u64,
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
            chunks: database.collection("snapshot_parts"),
            op_parts: database.collection("op_parts"),
            images: database.collection("images"),
            image_parts: database.collection("image_parts"),
            description: format!(
                "MongoDB at {} (database {})",
                super::redact_credentials(uri),
                database.name()
            ),
            database,
            last_seq: Mutex::new(HashMap::new()),
            metadata_written: Mutex::new(HashMap::new()),
            history_every: super::store::HISTORY_SNAPSHOT_OPS,
        };
        store.ping().await?;
        store.create_indexes().await?;
        Ok(store)
    }

    /// Keeps a snapshot for history every `ops` operations (0: none).
    pub fn with_history_every(mut self, ops: u64) -> Self {
        self.history_every = ops;
        self
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
        let parts = IndexModel::builder()
            .keys(doc! { "board": 1, "version": 1, "index": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("board_version_index_unique".to_owned())
                    .build(),
            )
            .build();
        self.chunks
            .create_index(parts.clone())
            .await
            .map_err(backend)?;
        self.op_parts.create_index(parts).await.map_err(backend)?;
        // View links find their board.
        let views = IndexModel::builder()
            .keys(doc! { "view_token": 1 })
            .options(
                IndexOptions::builder()
                    .name("view_token".to_owned())
                    .build(),
            )
            .build();
        self.boards.create_index(views).await.map_err(backend)?;
        // Clearing out older versions deletes by sequence number.
        let by_seq = IndexModel::builder()
            .keys(doc! { "board": 1, "seq": 1 })
            .options(IndexOptions::builder().name("board_seq".to_owned()).build())
            .build();
        self.chunks.create_index(by_seq).await.map_err(backend)?;
        let image_parts = IndexModel::builder()
            .keys(doc! { "image": 1, "index": 1 })
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("image_index_unique".to_owned())
                    .build(),
            )
            .build();
        self.image_parts
            .create_index(image_parts)
            .await
            .map_err(backend)?;
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
        let (last_op, pointer) = tokio::try_join!(last_op, self.snapshot_pointer(board))?;
        let from_ops = match last_op {
            Some(document) => seq_of(&document)?,
            None => 0,
        };
        let from_snapshot = pointer.map_or(0, |pointer| pointer.seq);
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
                if cache.len() >= LAST_SEQ_ENTRIES && !cache.contains_key(board) {
                    cache.clear();
                }
                cache.insert(board.clone(), seq);
            }
            None => {
                cache.remove(board);
            }
        }
    }

    /// Where the board's current snapshot is, if it has one.
    async fn snapshot_pointer(
        &self,
        board: &BoardId,
    ) -> Result<Option<SnapshotPointer>, StoreError> {
        let Some(meta) = self
            .boards
            .find_one(doc! { "_id": board.as_str() })
            .projection(doc! { "snapshot": 1 })
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let Ok(pointer) = meta.get_document("snapshot") else {
            return Ok(None);
        };
        pointer_in(pointer).map(Some)
    }

    async fn read_ops(&self, board: &BoardId, after: u64) -> Result<Vec<Operation>, StoreError> {
        self.read_ops_between(board, after, i64::MAX as u64).await
    }

    async fn read_ops_between(
        &self,
        board: &BoardId,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Operation>, StoreError> {
        if after >= upto {
            return Ok(Vec::new());
        }
        let after = i64::try_from(after).map_err(backend)?;
        let upto = i64::try_from(upto).unwrap_or(i64::MAX);
        let cursor = self
            .ops
            .find(doc! { "board": board.as_str(), "seq": { "$gt": after, "$lte": upto } })
            .sort(doc! { "seq": 1 })
            .await
            .map_err(backend)?;
        let documents: Vec<Document> = cursor.try_collect().await.map_err(backend)?;
        let mut ops = Vec::with_capacity(documents.len());
        for document in &documents {
            let op = match document.get_str("op") {
                Ok(json) => serde_json::from_str(json),
                Err(_) => serde_json::from_slice(&self.read_op_parts(board, document).await?),
            };
            ops.push(op.map_err(corrupt)?);
        }
        Ok(ops)
    }

    /// The JSON of an operation stored in parts (`document` names them).
    async fn read_op_parts(
        &self,
        board: &BoardId,
        document: &Document,
    ) -> Result<Vec<u8>, StoreError> {
        let version = document.get_object_id("op_version").map_err(corrupt)?;
        let count = document.get_i32("op_parts").map_err(corrupt)?;
        let parts = parts_of(&self.op_parts, board, version).await?;
        if parts.len() != count as usize {
            return Err(corrupt(format!(
                "an operation stored in {count} parts has {}",
                parts.len()
            )));
        }
        joined_data(&parts)
    }

    /// Writes `json`, the operation `seq`'s, in parts under a new version,
    /// and returns the `ops` document that names them.
    async fn write_op_parts(
        &self,
        board: &BoardId,
        seq: i64,
        json: &[u8],
    ) -> Result<Document, StoreError> {
        let version = ObjectId::new();
        let fields = doc! { "board": board.as_str(), "seq": seq, "version": version };
        let parts = part_documents(json, &fields);
        let count = parts.len() as i32;
        self.op_parts.insert_many(parts).await.map_err(backend)?;
        Ok(doc! { "board": board.as_str(), "seq": seq, "op_version": version, "op_parts": count })
    }

    /// Deletes the parts written for `documents` that no stored operation
    /// names (their insert failed or lost the number to another writer).
    async fn forget_unstored_parts(&self, board: &BoardId, documents: &[Document]) {
        for version in documents
            .iter()
            .filter_map(|d| d.get_object_id("op_version").ok())
        {
            let named = self
                .ops
                .find_one(doc! { "board": board.as_str(), "op_version": version })
                .await;
            if let Ok(None) = named {
                let _ = self
                    .op_parts
                    .delete_many(doc! { "board": board.as_str(), "version": version })
                    .await;
            }
        }
    }

    async fn read_snapshot(&self, board: &BoardId) -> Result<Option<Board>, StoreError> {
        let pointer = self.snapshot_pointer(board).await?;
        self.read_snapshot_from(board, pointer).await
    }

    /// The snapshot `pointer` names (the board's current one, read by the
    /// caller), following the board's pointer if a newer one replaced it
    /// while it was read.
    async fn read_snapshot_from(
        &self,
        board: &BoardId,
        mut pointer: Option<SnapshotPointer>,
    ) -> Result<Option<Board>, StoreError> {
        for _ in 0..SNAPSHOT_READ_ATTEMPTS {
            let Some(current) = pointer else {
                return Ok(None);
            };
            if let Some(json) = self.read_parts(board, current).await? {
                return decode_snapshot(&json).map(Some);
            }
            // Parts missing: a newer snapshot replaced this one meanwhile
            // (or the store is corrupt, if the pointer did not move).
            pointer = self.snapshot_pointer(board).await?;
            if pointer == Some(current) {
                break;
            }
        }
        Err(StoreError::Corrupt(format!(
            "the snapshot of {board} misses parts"
        )))
    }

    /// A snapshot version's bytes, or `None` if some of its parts are gone.
    async fn read_parts(
        &self,
        board: &BoardId,
        pointer: SnapshotPointer,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let parts = parts_of(&self.chunks, board, pointer.version).await?;
        if parts.len() != pointer.parts as usize {
            return Ok(None);
        }
        joined_data(&parts).map(Some)
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
                    "$setOnInsert": { "created_at": now, "title": mongodb::bson::Bson::Null },
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

/// A stored snapshot's JSON as a board, indexed.
/// `bytes` in parts of [`CHUNK_BYTES`]: each a copy of `fields` with its
/// `index` and its `data`.
fn part_documents(bytes: &[u8], fields: &Document) -> Vec<Document> {
    bytes
        .chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(index, chunk)| {
            let mut part = fields.clone();
            part.insert("index", index as i32);
            let data = Binary {
                subtype: BinarySubtype::Generic,
                bytes: chunk.to_vec(),
            };
            part.insert("data", data);
            part
        })
        .collect()
}

/// The parts of `version` of something of `board`'s in `collection`, in
/// order.
async fn parts_of(
    collection: &Collection<Document>,
    board: &BoardId,
    version: ObjectId,
) -> Result<Vec<Document>, StoreError> {
    let cursor = collection
        .find(doc! { "board": board.as_str(), "version": version })
        .sort(doc! { "index": 1 })
        .await
        .map_err(backend)?;
    cursor.try_collect().await.map_err(backend)
}

/// The bytes of `parts`, one after another.
fn joined_data(parts: &[Document]) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend_from_slice(&part.get_binary_generic("data").map_err(corrupt)?[..]);
    }
    Ok(bytes)
}

fn decode_snapshot(json: &[u8]) -> Result<Board, StoreError> {
    let mut stored: Board = serde_json::from_slice(json).map_err(corrupt)?;
    stored.reindex();
    Ok(stored)
}

/// A snapshot version named by `{seq, version, parts}` (a board's pointer,
/// or a part of a version kept for history).
fn pointer_in(document: &Document) -> Result<SnapshotPointer, StoreError> {
    Ok(SnapshotPointer {
        seq: seq_of(document)?,
        version: document.get_object_id("version").map_err(corrupt)?,
        parts: u32::try_from(document.get_i32("parts").map_err(corrupt)?).map_err(corrupt)?,
    })
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
        let mut documents = Vec::with_capacity(ops.len());
        for op in ops {
            let seq = i64::try_from(op.seq).map_err(backend)?;
            let json = serde_json::to_string(op).map_err(backend)?;
            documents.push(if json.len() <= OP_INLINE_BYTES {
                doc! { "board": board.as_str(), "seq": seq, "op": json }
            } else {
                // Its parts first: an `ops` document names only parts
                // that are all stored.
                self.write_op_parts(board, seq, json.as_bytes()).await?
            });
        }
        // One ordered insert for the whole batch (group commit). If it fails
        // part-way (a racing writer, a lost connection) a prefix may be
        // stored; the caller reloads and finds it (see the Store contract).
        let inserted = self.ops.insert_many(documents.iter()).ordered(true).await;
        if inserted.is_err() {
            self.forget_unstored_parts(board, &documents).await;
        }
        match inserted {
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

    async fn ops_between(
        &self,
        board: &BoardId,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Operation>, StoreError> {
        self.read_ops_between(board, after, upto).await
    }

    async fn snapshot_at_or_before(
        &self,
        board: &BoardId,
        seq: u64,
    ) -> Result<Option<Board>, StoreError> {
        let pointer = self.snapshot_pointer(board).await?;
        if pointer.is_some_and(|pointer| pointer.seq <= seq) {
            if let Some(newest) = self.read_snapshot_from(board, pointer).await? {
                if newest.seq() <= seq {
                    return Ok(Some(newest));
                }
            }
        }
        // Versions kept for history are deleted only when history before
        // them is forgotten (`forget_before`): a version read meanwhile
        // misses parts, and its read fails.
        let at = i64::try_from(seq).unwrap_or(i64::MAX);
        let Some(kept) = self
            .chunks
            .find_one(doc! { "board": board.as_str(), "history": true, "seq": { "$lte": at } })
            .sort(doc! { "seq": -1 })
            .projection(doc! { "seq": 1, "version": 1, "parts": 1 })
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let json = self
            .read_parts(board, pointer_in(&kept)?)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("a history snapshot of {board} misses parts"))
            })?;
        decode_snapshot(&json).map(Some)
    }

    async fn forget_before(&self, board: &BoardId, seq: u64) -> Result<u64, StoreError> {
        let at = i64::try_from(seq).unwrap_or(i64::MAX);
        let Some(kept) = self
            .chunks
            .find_one(doc! { "board": board.as_str(), "history": true, "seq": { "$lte": at } })
            .sort(doc! { "seq": -1 })
            .projection(doc! { "seq": 1 })
            .await
            .map_err(backend)?
        else {
            return Ok(0);
        };
        let first = seq_of(&kept)?;
        let upto = i64::try_from(first).map_err(backend)?;
        // The operations up to the snapshot kept, then the older snapshots.
        let older = doc! { "board": board.as_str(), "seq": { "$lte": upto } };
        self.ops.delete_many(older.clone()).await.map_err(backend)?;
        self.op_parts.delete_many(older).await.map_err(backend)?;
        self.chunks
            .delete_many(doc! { "board": board.as_str(), "history": true, "seq": { "$lt": upto } })
            .await
            .map_err(backend)?;
        Ok(first)
    }

    async fn save_snapshot(&self, id: &BoardId, board: Arc<Board>) -> Result<(), StoreError> {
        if let Some(stored) = self.snapshot_pointer(id).await? {
            if stored.seq >= board.seq() {
                return Ok(());
            }
        }
        let seq = i64::try_from(board.seq()).map_err(backend)?;
        let version = ObjectId::new();
        let history = self.history_every > 0 && {
            let last_kept = self
                .chunks
                .find_one(doc! { "board": id.as_str(), "history": true })
                .sort(doc! { "seq": -1 })
                .projection(doc! { "seq": 1 })
                .await
                .map_err(backend)?
                .map(|kept| seq_of(&kept))
                .transpose()?
                .unwrap_or(0);
            board.seq() >= last_kept + self.history_every
        };
        let json = encode_snapshot(board).await?;
        let count = json.chunks(CHUNK_BYTES).count() as i32;
        let fields = doc! {
            "board": id.as_str(),
            "seq": seq,
            "version": version,
            "parts": count,
            "history": history,
        };
        let parts = part_documents(&json, &fields);
        // The new version's parts first, then the pointer to them, then
        // older versions: a reader following the pointer finds a whole
        // snapshot, or a newer pointer.
        self.chunks.insert_many(parts).await.map_err(backend)?;
        let now = DateTime::now();
        let switched = self
            .boards
            .update_one(
                doc! { "_id": id.as_str(), "$or": [ { "snapshot.seq": { "$lt": seq } }, { "snapshot": { "$exists": false } } ] },
                doc! {
                    "$set": { "snapshot": { "seq": seq, "version": version, "parts": count }, "last_active": now },
                    "$setOnInsert": { "created_at": now, "title": mongodb::bson::Bson::Null },
                },
            )
            .upsert(true)
            .await
            .map(|result| result.modified_count > 0 || result.upserted_id.is_some())
            // The board's document exists with a snapshot as new: the
            // upsert's insert collided with it.
            .or_else(|error| if is_duplicate_key(&error) { Ok(false) } else { Err(error) })
            .map_err(backend)?;
        let stale = if switched {
            doc! { "board": id.as_str(), "history": { "$ne": true }, "$or": [ { "seq": { "$lt": seq } }, { "seq": seq, "version": { "$ne": version } } ] }
        } else {
            doc! { "board": id.as_str(), "version": version }
        };
        self.chunks.delete_many(stale).await.map_err(backend)?;
        Ok(())
    }

    async fn access(&self, board: &BoardId) -> Result<Access, StoreError> {
        let meta = self
            .boards
            .find_one(doc! { "_id": board.as_str() })
            .projection(doc! { "view_token": 1, "edit_key": 1 })
            .await
            .map_err(backend)?;
        let token = |field: &str| {
            meta.as_ref()
                .and_then(|meta| meta.get_str(field).ok())
                .map(str::to_owned)
        };
        Ok(Access {
            view: token("view_token"),
            edit: token("edit_key"),
        })
    }

    async fn set_access(
        &self,
        board: &BoardId,
        expected: &Access,
        access: &Access,
    ) -> Result<bool, StoreError> {
        // The filter names the expected tokens (absent when not made), so
        // the update changes the board only as it was expected: atomic per
        // document. A board with no document yet is inserted by the upsert
        // when nothing was expected; a board whose tokens differ matches
        // nothing, and the upsert's insert then collides with its `_id`.
        let mut filter = doc! { "_id": board.as_str() };
        for (field, value) in [("view_token", &expected.view), ("edit_key", &expected.edit)] {
            match value {
                Some(token) => filter.insert(field, token.as_str()),
                None => filter.insert(field, doc! { "$exists": false }),
            };
        }
        let (mut set, mut unset) = (Document::new(), Document::new());
        for (field, value) in [("view_token", &access.view), ("edit_key", &access.edit)] {
            match value {
                Some(token) => set.insert(field, token.as_str()),
                None => unset.insert(field, ""),
            };
        }
        let now = DateTime::now();
        set.insert("last_active", now);
        let mut update = doc! {
            "$set": set,
            "$setOnInsert": { "created_at": now, "title": mongodb::bson::Bson::Null },
        };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        let nothing_expected = *expected == Access::default();
        match self
            .boards
            .update_one(filter, update)
            .upsert(nothing_expected)
            .await
        {
            Ok(result) => Ok(result.matched_count > 0 || result.upserted_id.is_some()),
            Err(error) if is_duplicate_key(&error) => Ok(false),
            Err(error) => Err(backend(error)),
        }
    }

    async fn board_of_view(&self, token: &str) -> Result<Option<BoardId>, StoreError> {
        let meta = self
            .boards
            .find_one(doc! { "view_token": token })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        meta.map(|meta| BoardId::parse(meta.get_str("_id").map_err(corrupt)?).map_err(corrupt))
            .transpose()
    }

    async fn put_image(&self, id: &ImageId, image: StoredImage) -> Result<(), StoreError> {
        let stored = self
            .images
            .find_one(doc! { "_id": id.as_str() })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        if stored.is_some() {
            return Ok(());
        }
        let parts = part_documents(&image.bytes, &doc! { "image": id.as_str() });
        let count = parts.len() as i64;
        // Unordered: a part another upload of the same image stored already
        // is refused as a duplicate, and the others still go in.
        match self.image_parts.insert_many(parts).ordered(false).await {
            Ok(_) => {}
            Err(error) if is_duplicate_key(&error) => {}
            Err(error) => return Err(backend(error)),
        }
        let meta = doc! {
            "_id": id.as_str(),
            "type": image.kind.mime(),
            "bytes": image.bytes.len() as i64,
            "parts": count,
            "created_at": DateTime::now(),
        };
        match self.images.insert_one(meta).await {
            Ok(_) => Ok(()),
            Err(error) if is_duplicate_key(&error) => Ok(()),
            Err(error) => Err(backend(error)),
        }
    }

    async fn image(&self, id: &ImageId) -> Result<Option<StoredImage>, StoreError> {
        let Some(meta) = self
            .images
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let mime = meta.get_str("type").map_err(corrupt)?;
        let kind = ImageType::from_mime(mime)
            .ok_or_else(|| corrupt(format!("image {id} has type {mime}")))?;
        let size = meta.get_i64("bytes").map_err(corrupt)?;
        let count = meta.get_i64("parts").map_err(corrupt)?;
        let parts: Vec<Document> = self
            .image_parts
            .find(doc! { "image": id.as_str(), "index": { "$lt": count } })
            .sort(doc! { "index": 1 })
            .await
            .map_err(backend)?
            .try_collect()
            .await
            .map_err(backend)?;
        let bytes = joined_data(&parts)?;
        if parts.len() as i64 != count || bytes.len() as i64 != size {
            return Err(corrupt(format!(
                "image {id} has {} of its {size} bytes",
                bytes.len()
            )));
        }
        Ok(Some(StoredImage { kind, bytes }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write was acknowledged as journaled before it returned.
        Ok(())
    }

    async fn healthy(&self) -> bool {
        self.ping().await.is_ok()
    }
}
