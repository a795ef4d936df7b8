//! History reads (`history`, `board_at`, `ops`, protocol version 4): what the
//! room's task runs, beside everything else, when its state asks for one
//! with [`super::state::Effect::Read`].
//!
//! A read never touches the room's board: it reads the store (a page of
//! stored operations; the nearest snapshot kept at or before a version and
//! the operations after it, see [`crate::server::store::board_at`]) and
//! encodes the answer's frames, packing a version's snapshot on the
//! blocking pool as a welcome's is. The state then queues the frames for
//! the client that asked, so a slow store or a big version stalls nobody,
//! and live drawing never waits for history.

use std::sync::Arc;

use axum::extract::ws::Message;

use super::state::{for_protocol, part_frames};
use crate::protocol::{BoardId, ErrorCode, ProtocolError, ServerMessage, IMAGES_SINCE};
use crate::server::store::{self, Store, FORGOTTEN};

/// A history read, bounded by the room against what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryRead {
    /// Summaries of the operations numbered `after + 1 ..= upto`.
    Page { after: u64, upto: u64 },
    /// The board as it was after operation `seq`, for a client speaking
    /// `protocol` (older than 5: image items as placeholders).
    BoardAt { seq: u64, protocol: u32 },
    /// The operations numbered `after + 1 ..= upto`, whole, up to
    /// [`OPS_PAGE_BYTES`] of them, as a client speaking `protocol` reads
    /// them.
    Ops {
        after: u64,
        upto: u64,
        protocol: u32,
    },
}

/// An `ops` answer stops adding operations past this many bytes of JSON
/// (a page of big strokes would otherwise be tens of megabytes).
pub const OPS_PAGE_BYTES: usize = 1 << 20;

/// Reads and encodes the answer to `read`: its frames in order, or the
/// error to send instead.
pub async fn answer(
    store: Arc<dyn Store>,
    board: BoardId,
    read: HistoryRead,
) -> Result<Vec<Message>, ProtocolError> {
    let unavailable = |error: store::StoreError| {
        if let store::StoreError::Forgotten = error {
            return ProtocolError::invalid(FORGOTTEN);
        }
        tracing::warn!(%board, %error, "could not read the board's history");
        ProtocolError::new(
            ErrorCode::StorageUnavailable,
            "the board's history cannot be read right now; try again",
        )
    };
    match read {
        HistoryRead::Page { after, upto } => {
            let ops = store
                .ops_between(&board, after, upto)
                .await
                .map_err(unavailable)?;
            let entries = ops.iter().map(|op| op.summary()).collect();
            Ok(vec![text(&ServerMessage::History { entries })])
        }
        HistoryRead::Ops {
            after,
            upto,
            protocol,
        } => {
            let ops = store
                .ops_between(&board, after, upto)
                .await
                .map_err(unavailable)?;
            if ops.first().is_some_and(|op| op.seq != after + 1) {
                return Err(ProtocolError::invalid(FORGOTTEN));
            }
            Ok(vec![ops_page(&for_protocol(ops, protocol))])
        }
        HistoryRead::BoardAt { seq, protocol } => {
            let version = store::board_at(store.as_ref(), &board, seq)
                .await
                .map_err(unavailable)?;
            let placeholders = protocol < IMAGES_SINCE;
            let encoded =
                tokio::task::spawn_blocking(move || version_frames(seq, &version, placeholders))
                    .await
                    .map_err(|error| {
                        ProtocolError::new(ErrorCode::StorageUnavailable, error.to_string())
                    })?;
            Ok(encoded)
        }
    }
}

/// A `version` message and the binary frames of its snapshot: packed as
/// for a version 3 welcome, in one part of one group (no view to favour).
fn version_frames(seq: u64, version: &crate::board::Board, placeholders: bool) -> Vec<Message> {
    let (grouped, body) = version.snapshot_whole(placeholders);
    let plans = grouped.parts(None);
    let frames = part_frames(&plans, &body.into());
    let header = ServerMessage::Version {
        seq,
        packed_snapshot: frames.iter().map(|f| f.len() as u64).sum(),
        snapshot_parts: plans.iter().map(|plan| plan.len() as u64).collect(),
    };
    std::iter::once(text(&header))
        .chain(frames.into_iter().map(Message::Binary))
        .collect()
}

/// An `ops` message with the first of `ops` that fit in
/// [`OPS_PAGE_BYTES`] (at least one), each encoded once.
fn ops_page(ops: &[crate::protocol::Operation]) -> Message {
    let mut frame = String::from(r#"{"type":"ops","ops":["#);
    for op in ops {
        let encoded = serde_json::to_string(op).unwrap_or_default();
        if frame.len() + encoded.len() > OPS_PAGE_BYTES && !frame.ends_with('[') {
            break;
        }
        if !frame.ends_with('[') {
            frame.push(',');
        }
        frame.push_str(&encoded);
    }
    frame.push_str("]}");
    Message::Text(frame.into())
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(message.encode().into())
}
