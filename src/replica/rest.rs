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
//! whole snapshot's drawing order, so the two sets interleave exactly.
//!
//! Until then the board holds part of a snapshot: messages that come after
//! the snapshot are held and applied after the merge, in order, and a
//! reconnect asks for a whole snapshot again.

use std::sync::Arc;

use crate::geometry::Rect;
use crate::protocol::packed::{self, Part};
use crate::protocol::{ServerMessage, SnapshotStroke};

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
            .into_iter()
            .enumerate()
            .filter_map(|(position, slot)| slot.map(|item| (position, item)))
            .unzip();
        Ok(Self {
            seq,
            items,
            positions,
            total,
            top_z,
        })
    }

    /// Whether it is the whole snapshot.
    pub fn is_whole(&self) -> bool {
        self.positions.len() == self.total
    }
}

/// What is still to come, or to merge, of a snapshot whose first part the
/// board holds.
pub(super) struct Rest {
    seq: u64,
    total: usize,
    /// Where each of the board's strokes is in the whole snapshot, in the
    /// board's order.
    positions: Vec<usize>,
    /// The sizes of the parts after the first, in order.
    sizes: Vec<u64>,
    received: Vec<u8>,
    /// The view the first part was cut for: no item of the rest paints there.
    pub view: Option<Rect>,
    pub top_z: f64,
    /// Whether the welcome that announced it was applied (the first part
    /// loaded); messages after that are held.
    pub welcomed: bool,
    pub held: Vec<ServerMessage>,
}

impl Rest {
    /// After `first` (whose positions it takes), the parts of `sizes` are
    /// to come, of which `received` came with the first part's last frame.
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
        Self {
            seq: first.seq,
            total: first.total,
            positions: std::mem::take(&mut first.positions),
            sizes,
            received: bytes,
            view,
            top_z: first.top_z,
            welcomed: false,
            held: Vec::new(),
        }
    }

    fn expected(&self) -> u64 {
        self.sizes.iter().sum()
    }

    pub fn is_complete(&self) -> bool {
        self.received.len() as u64 == self.expected()
    }

    /// Another binary frame: whether the rest is now complete.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<bool, String> {
        self.received.extend_from_slice(bytes);
        let (received, expected) = (self.received.len() as u64, self.expected());
        if received > expected {
            return Err("more bytes of snapshot than announced".into());
        }
        Ok(received == expected)
    }

    /// The whole snapshot's items in drawing order: `board`'s (the first
    /// part's, in order) and the rest's, each in its place.
    pub fn merge(&self, board: &[Arc<SnapshotStroke>]) -> Result<Vec<Arc<SnapshotStroke>>, String> {
        let mut slots = vec![None; self.total];
        for (&position, item) in self.positions.iter().zip(board) {
            slots[position] = Some(Arc::clone(item));
        }
        let mut at = 0;
        for &size in &self.sizes {
            let end = at + usize::try_from(size).map_err(|_| "a part too big")?;
            let part = packed::decode_part(&self.received[at..end]).map_err(|e| e.to_string())?;
            if part.seq != self.seq || part.total != self.total {
                return Err("the parts of a snapshot disagree on its sequence or size".into());
            }
            place(&mut slots, part.strokes)?;
            at = end;
        }
        slots
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "the parts of a snapshot leave a position empty".into())
    }
}
