//! A board's snapshot as welcomes send it, encoded off the room's task and
//! shared.
//!
//! Encoding a big board takes long (100,000 strokes: 92 ms grouped by place
//! for version 3, 37 ms packed for version 2, a quarter of a second as JSON
//! for version 1). Done on the room's task, the first join after each change
//! stopped the board's live relay for that long. So the room asks for an
//! encoding ([`super::Effect::Encode`], with a clone of the board: copies of
//! pointers) and parks the joins that need it; the room's task runs
//! [`Encoded::new`] on the blocking pool and hands the result back
//! ([`super::Event::Encoded`]). Meanwhile the board goes on; the welcomes
//! of the joins that waited then carry the snapshot at the encoding's
//! sequence number and the operations since, which the room keeps in
//! memory. Every welcome while the board stays at that sequence number
//! shares it, so a class opening a board at once pays for one.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::value::RawValue;

use crate::board::Board;
use crate::protocol::packed::Grouped;
use crate::protocol::{IMAGES_SINCE, PACKED_SNAPSHOTS_SINCE, SNAPSHOT_PARTS_SINCE};

/// A join that waited for an encoding takes it with the operations since
/// if there are this many or fewer (more would make a welcome's text
/// long); otherwise the board is encoded again.
pub const MAX_OPS_AFTER_ENCODING: u64 = 500;

/// How a welcome's snapshot is encoded, by protocol version. Versions
/// before 5 get image items as placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Version 1: JSON in the welcome.
    Json,
    /// Version 2: packed, in binary frames.
    Packed,
    /// Versions 3 and 4: packed and grouped by place, cut in parts per view.
    GroupedPlaceholders,
    /// Version 5: as 3, with image items.
    Grouped,
}

impl Format {
    /// Formats there are (the size of [`Encodings`]'s table).
    const COUNT: usize = 4;

    pub fn of(protocol: u32) -> Self {
        if protocol >= IMAGES_SINCE {
            Self::Grouped
        } else if protocol >= SNAPSHOT_PARTS_SINCE {
            Self::GroupedPlaceholders
        } else if protocol >= PACKED_SNAPSHOTS_SINCE {
            Self::Packed
        } else {
            Self::Json
        }
    }
}

/// A snapshot in one format.
#[derive(Clone)]
pub enum Encoding {
    Json(Arc<RawValue>),
    Packed(Bytes),
    /// The groups and their bytes, from which each welcome cuts the parts
    /// its view asks for.
    Grouped(Arc<Grouped>, Bytes),
}

/// A board's snapshot encoded at `seq`, for the room that asked in `epoch`.
pub struct Encoded {
    pub epoch: u64,
    pub seq: u64,
    pub format: Format,
    pub encoding: Encoding,
}

impl Encoded {
    /// Encodes `board` (the work of the blocking pool).
    pub fn new(board: &Board, format: Format, epoch: u64) -> Self {
        let encoding = match format {
            Format::Json => Encoding::Json(Arc::from(board.snapshot_json())),
            Format::Packed => Encoding::Packed(Bytes::from(board.snapshot_packed())),
            Format::Grouped | Format::GroupedPlaceholders => {
                let placeholders = format == Format::GroupedPlaceholders;
                let (grouped, body) = board.snapshot_grouped(placeholders);
                Encoding::Grouped(Arc::new(grouped), Bytes::from(body))
            }
        };
        Self {
            epoch,
            seq: board.seq(),
            format,
            encoding,
        }
    }
}

/// The newest encoding in each format, and the one being made.
#[derive(Default)]
pub struct Encodings {
    /// Encodings of the board as it is since the last [`Self::forget`].
    epoch: u64,
    /// The newest in each format, by [`Format`].
    newest: [Option<Encoded>; Format::COUNT],
    /// The format being encoded, if any (one at a time).
    pub in_flight: Option<Format>,
}

impl Encodings {
    /// The encoding in `format`, if there is one, and its sequence number.
    pub fn get(&self, format: Format) -> Option<(u64, Encoding)> {
        self.newest[format as usize]
            .as_ref()
            .map(|encoded| (encoded.seq, encoded.encoding.clone()))
    }

    /// The board was replaced or taken back: what was encoded (or is being
    /// encoded) may not be what the board holds at its sequence number.
    pub fn forget(&mut self) {
        *self = Self {
            epoch: self.epoch + 1,
            ..Self::default()
        };
    }

    /// Starts an encoding in `format`: the epoch to give it.
    pub fn start(&mut self, format: Format) -> u64 {
        self.in_flight = Some(format);
        self.epoch
    }

    /// An encoding came back: kept if the board is still the one it was
    /// made from and it is newer than what is there.
    pub fn finish(&mut self, encoded: Encoded) {
        if encoded.epoch != self.epoch {
            return;
        }
        self.in_flight = None;
        let slot = &mut self.newest[encoded.format as usize];
        if slot.as_ref().is_none_or(|known| known.seq < encoded.seq) {
            *slot = Some(encoded);
        }
    }
}
