//! A snapshot sent in parts (protocol version 3): the first part loaded at
//! once, the rest kept until the view is painted.
//!
//! A big board's welcome brings first every item that may paint in the
//! view the `hello` named, then the others. The replica loads the first
//! part right away, so the browser paints the view from part of the board
//! (about 40 % of the benchmark's, for a view of a quarter of it), and keeps
//! the rest's bytes here (decoding and indexing some 60,000 items out of
//! sight would only delay that). Once the view is painted the
//! replica merges the rest: each part gives every stroke's position in the
//! whole snapshot's drawing order, so the two sets interleave exactly. It
//! does so a slice at a time ([`Rest::merge_slice`]), so that the page
//! keeps painting (all at once, 100,000 strokes took a task of 80–106 ms).
//!
//! Until then the board holds part of a snapshot: messages that come after
//! the snapshot are held and applied after the merge, in order, and a
//! reconnect asks for a whole snapshot again.

use std::sync::Arc;

use crate::board::{Board, Indexing};
use crate::geometry::Rect;
use crate::protocol::packed::{self, Part, PartReader};
use crate::protocol::{ServerMessage, SnapshotStroke, StrokeId};

/// Puts a part's strokes in the slots of their positions, shared.
fn place(
    slots: &mut [Option<Arc<SnapshotStroke>>],
    strokes: Vec<(usize, SnapshotStroke)>,
) -> Result<(), String> {
    packed::place(slots, strokes, Arc::new).map_err(|error| error.to_string())
}

/// A decoded first part: its items in drawing order and where each is in
/// the whole snapshot, and the whole snapshot's size and highest stacking
/// key.
pub(super) struct FirstPart {
    pub seq: u64,
    pub items: Vec<Arc<SnapshotStroke>>,
    pub positions: Vec<usize>,
    pub total: usize,
    pub top_z: f64,
    /// The whole snapshot's items by position, the first part's in place.
    slots: Vec<Option<Arc<SnapshotStroke>>>,
}

impl FirstPart {
    /// The first part in `bytes`, of a snapshot of `announced` bytes.
    pub fn decode(bytes: &[u8], announced: u64) -> Result<Self, String> {
        let Part {
            seq,
            top_z,
            total,
            strokes,
        } = packed::decode_part(bytes).map_err(|error| error.to_string())?;
        if (total as u64).saturating_mul(packed::MIN_PART_STROKE_BYTES as u64) > announced {
            return Err("a snapshot part claims more strokes than the snapshot can hold".into());
        }
        // In drawing order: each in the slot its position names, then the
        // slots in order, skipping those that stay empty.
        let mut slots = vec![None; total];
        place(&mut slots, strokes)?;
        let (positions, items) = slots
            .iter()
            .enumerate()
            .filter_map(|(position, slot)| Some((position, Arc::clone(slot.as_ref()?))))
            .unzip();
        Ok(Self {
            seq,
            items,
            positions,
            total,
            top_z,
            slots,
        })
    }

    /// Whether it is the whole snapshot.
    pub fn is_whole(&self) -> bool {
        self.positions.len() == self.total
    }

    /// The board in `bytes`, a snapshot in one part (a past version, a
    /// board kept on the device).
    pub fn whole_board(bytes: &[u8]) -> Result<Board, String> {
        let whole = Self::decode(bytes, bytes.len() as u64)?;
        if !whole.is_whole() {
            return Err("a snapshot in one part that does not hold all of it".into());
        }
        let mut board = Board::from_items(whole.seq, whole.items);
        board.raise_top_z(whole.top_z);
        Ok(board)
    }
}

/// Strokes of the rest decoded per slice of its merge (about 2 ms in the
/// browser).
const DECODED_PER_SLICE: usize = 1_000;
/// Ids of the whole board indexed per slice, once every stroke is in place.
const INDEXED_PER_SLICE: usize = 5_000;

/// What is still to come, or to merge, of a snapshot whose first part the
/// board holds.
pub(super) struct Rest {
    parts: Parts,
    /// Where each of the board's strokes is in the whole snapshot, in the
    /// board's order.
    positions: Vec<usize>,
    /// The view the first part was cut for: no item of the rest paints there.
    pub view: Option<Rect>,
    pub top_z: f64,
    /// Whether the welcome that announced it was applied (the first part
    /// loaded); messages after that are held.
    pub welcomed: bool,
    pub held: Vec<ServerMessage>,
    merge: Merge,
}

/// The parts after the first, as they arrive.
struct Parts {
    seq: u64,
    total: usize,
    /// Their sizes, in order.
    sizes: Vec<u64>,
    received: Vec<u8>,
}

impl Parts {
    fn expected(&self) -> u64 {
        self.sizes.iter().sum()
    }

    /// The bytes of the `part`-th, which start at `start`.
    fn bytes(&self, part: usize, start: usize) -> Result<&[u8], String> {
        self.sizes
            .get(part)
            .and_then(|&size| usize::try_from(size).ok())
            .and_then(|size| self.received.get(start..start.checked_add(size)?))
            .ok_or_else(|| "a snapshot part is missing".into())
    }

    /// A reader of the `part`-th, which starts at `start`.
    fn reader(&self, part: usize, start: usize) -> Result<PartReader, String> {
        let reader = PartReader::new(self.bytes(part, start)?).map_err(|e| e.to_string())?;
        if reader.seq != self.seq || reader.total != self.total {
            return Err("the parts of a snapshot disagree on its sequence or size".into());
        }
        Ok(reader)
    }
}

/// How far merging the rest got: its parts decoded into place a slice at a
/// time, then the whole board indexed a slice at a time.
struct Merge {
    slots: Vec<Option<Arc<SnapshotStroke>>>,
    /// The part being read (its index among the parts after the first),
    /// where its bytes start, and how far reading it got (from the first
    /// slice on).
    part: usize,
    start: usize,
    reader: Option<PartReader>,
    /// The rest's items so far, with their positions.
    arrived: Vec<(StrokeId, usize)>,
    /// Once every item is in place: the whole board, being indexed.
    indexing: Option<Indexing>,
}

/// A merged snapshot: the whole board, and the ids of the rest's items
/// with their positions (their places in its drawing order).
pub(super) struct Merged {
    pub board: Board,
    pub arrived: Vec<(StrokeId, usize)>,
}

impl Rest {
    /// After `first` (whose positions and slots it takes), the parts of
    /// `sizes` are to come, of which `received` came with the first part's
    /// last frame.
    pub fn new(
        first: &mut FirstPart,
        sizes: Vec<u64>,
        received: &[u8],
        view: Option<Rect>,
    ) -> Self {
        let expected: u64 = sizes.iter().sum();
        let capacity = usize::try_from(expected)
            .unwrap_or(0)
            .min(super::MAX_SNAPSHOT_RESERVATION);
        let mut bytes = Vec::with_capacity(capacity);
        bytes.extend_from_slice(received);
        let positions = std::mem::take(&mut first.positions);
        Self {
            parts: Parts {
                seq: first.seq,
                total: first.total,
                sizes,
                received: bytes,
            },
            merge: Merge {
                slots: std::mem::take(&mut first.slots),
                part: 0,
                start: 0,
                reader: None,
                arrived: Vec::with_capacity(first.total - positions.len()),
                indexing: None,
            },
            positions,
            view,
            top_z: first.top_z,
            welcomed: false,
            held: Vec::new(),
        }
    }

    pub fn is_complete(&self) -> bool {
        self.parts.received.len() as u64 == self.parts.expected()
    }

    /// Another binary frame: whether the rest is now complete.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<bool, String> {
        self.parts.received.extend_from_slice(bytes);
        let received = self.parts.received.len() as u64;
        if received > self.parts.expected() {
            return Err("more bytes of snapshot than announced".into());
        }
        Ok(self.is_complete())
    }

    /// Where each of the board's strokes is in the whole snapshot (the
    /// board holds the first part, in order).
    pub fn positions(&self) -> &[usize] {
        &self.positions
    }

    pub fn total(&self) -> usize {
        self.parts.total
    }

    /// One slice of merging the rest (complete) into the first part, whose
    /// sequence number is `seq`: the whole board once the last slice is
    /// done.
    pub fn merge_slice(&mut self, seq: u64) -> Result<Option<Merged>, String> {
        let (parts, merge) = (&self.parts, &mut self.merge);
        if let Some(indexing) = merge.indexing.as_mut() {
            if !indexing.step(INDEXED_PER_SLICE) {
                return Ok(None);
            }
            return Ok(merge.indexing.take().map(|indexing| Merged {
                board: indexing.finish(),
                arrived: std::mem::take(&mut merge.arrived),
            }));
        }
        let reader = match &mut merge.reader {
            Some(reader) => reader,
            empty => empty.insert(parts.reader(merge.part, merge.start)?),
        };
        let bytes = parts.bytes(merge.part, merge.start)?;
        let strokes = reader
            .read(bytes, DECODED_PER_SLICE)
            .map_err(|e| e.to_string())?;
        let done = reader.is_done();
        merge.arrived.extend(
            strokes
                .iter()
                .map(|(at, item)| (item.stroke.id.clone(), *at)),
        );
        place(&mut merge.slots, strokes)?;
        if done {
            merge.part += 1;
            merge.start += bytes.len();
            merge.reader = None;
            if merge.part == parts.sizes.len() {
                let items = std::mem::take(&mut merge.slots)
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .ok_or("the parts of a snapshot leave a position empty")?;
                merge.indexing = Some(Board::indexing(seq, items));
            }
        }
        Ok(None)
    }
}
