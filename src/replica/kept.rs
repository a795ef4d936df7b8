//! What a tab keeps of its board on the device, so that a reload, a closed
//! tab or a closed laptop loses nothing drawn (the browser side,
//! `client::offline`, puts it in IndexedDB).
//!
//! Two things are kept, apart, because they change at different rates:
//! - **the board as last confirmed**, packed the way a `version` answer
//!   packs a past board (protocol version 3's format, in one part), so the
//!   decoder the browser already has reads it back;
//! - **the requests not confirmed yet**, in order, with their op ids, so
//!   that sending them again is recognised by the server (it acknowledges a
//!   resend instead of applying it twice).
//!
//! The requests are kept as a list of operations that have no number yet
//! (`seq` 0), each holding the change its request asks for,
//! unresolved: an `undo` as an undo of nothing in particular, a `clear` as
//! a clear of no listed items, a `restore` as a restore of its version
//! with no differences. The mapping is one to one ([`asked_change`],
//! [`request_asking`]). The browser reads operations already, in one pass
//! (`protocol::tag_first`); reading `ClientMessage` back instead
//! would bring serde's buffering decoder into the WebAssembly (about
//! 15 KB).

use crate::board::Board;
use crate::protocol::packed::{self, Packing};
use crate::protocol::{Change, ClientMessage, OpId, Operation, Request, UserId};

use super::rest::FirstPart;
use super::Pending;

/// Starts packing the board to keep: every item (hidden ones too, which
/// undo may show again) in drawing order, in one part, a slice at a time
/// (see [`Packing`]).
pub fn packing(board: &Board) -> Packing {
    Packing::new(board.seq(), board.top_z(), board.items().to_vec())
}

/// The bytes to keep, once `packing` has packed every item.
pub fn packed(packing: Packing) -> Vec<u8> {
    let (grouped, body) = packing.finish();
    packed::joined(&grouped.parts(None), &body)
}

/// The board packed to keep, all at once.
pub fn pack_board(board: &Board) -> Vec<u8> {
    let mut packing = packing(board);
    packing.step(usize::MAX);
    packed(packing)
}

/// A kept board read back.
pub fn unpack_board(bytes: &[u8]) -> Result<Board, String> {
    FirstPart::whole_board(bytes)
}

/// The change a request asks for, before the server resolves it.
fn asked_change(request: Request) -> Change {
    match request {
        Request::AddStroke(stroke) => Change::AddStroke { stroke },
        Request::AddStrokes(strokes) => Change::AddStrokes { strokes },
        Request::Update(strokes) => Change::Update { strokes },
        Request::Erase(stroke_ids) => Change::Erase { stroke_ids },
        Request::Clear => Change::Clear {
            stroke_ids: Vec::new(),
        },
        Request::Undo => Change::Undo {
            target: 0,
            show: Vec::new(),
            hide: Vec::new(),
            set: Vec::new(),
        },
        Request::Redo => Change::Redo {
            target: 0,
            show: Vec::new(),
            hide: Vec::new(),
            set: Vec::new(),
        },
        Request::Restore { seq } => Change::Restore {
            version: seq,
            show: Vec::new(),
            hide: Vec::new(),
            set: Vec::new(),
        },
        Request::NameVersion(name) => Change::NameVersion { name },
    }
}

/// The request that asks for `change` (the inverse of [`asked_change`]).
fn request_asking(change: Change) -> Request {
    match change {
        Change::AddStroke { stroke } => Request::AddStroke(stroke),
        Change::AddStrokes { strokes } => Request::AddStrokes(strokes),
        Change::Update { strokes } => Request::Update(strokes),
        Change::Erase { stroke_ids } => Request::Erase(stroke_ids),
        Change::Clear { .. } => Request::Clear,
        Change::Undo { .. } => Request::Undo,
        Change::Redo { .. } => Request::Redo,
        Change::Restore { version, .. } => Request::Restore { seq: version },
        Change::NameVersion { name } => Request::NameVersion(name),
    }
}

/// The pending requests as kept (JSON: an array of operations numbered 0).
pub fn pending_text(pending: &[Pending], author: &UserId) -> String {
    let operations: Vec<Operation> = pending
        .iter()
        .filter_map(|p| {
            let (op_id, request) = p.message.clone().into_request()?;
            Some(Operation {
                seq: 0,
                author: author.clone(),
                op_id,
                at: 0,
                name: None,
                change: asked_change(request),
            })
        })
        .collect();
    serde_json::to_string(&operations).unwrap_or_else(|_| "[]".into())
}

/// A pending list's text as kept, stamped with `now` (ms since the
/// epoch): the stamp, a line break, the text.
pub fn stamped(text: &str, now: u64) -> String {
    format!("{now}\n{text}")
}

/// A kept pending list's stamp and text.
pub fn unstamped(value: &str) -> Option<(u64, &str)> {
    let (at, text) = value.split_once('\n')?;
    Some((at.parse().ok()?, text))
}

/// Each key's newest value among `kept` and `copies` (key, stamped list)
/// pairs: the browser keeps a pending list in IndexedDB and, when a page
/// is hidden with a write still due, a copy elsewhere; either may be the
/// newer one. Unreadable values count as oldest.
pub fn newest(
    mut kept: Vec<(String, String)>,
    copies: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let stamp = |value: &str| unstamped(value).map_or(0, |(at, _)| at);
    for (key, copy) in copies {
        match kept.iter_mut().find(|(k, _)| *k == key) {
            Some((_, value)) if stamp(value) >= stamp(&copy) => {}
            Some((_, value)) => *value = copy,
            None => kept.push((key, copy)),
        }
    }
    kept
}

/// Kept pending requests read back, in order. Any that fails the checks a
/// request gets before it is sent is left out (it would only be refused).
pub fn read_pending(text: &str) -> Result<Vec<Pending>, String> {
    let operations: Vec<Operation> =
        serde_json::from_str(text).map_err(|error| error.to_string())?;
    Ok(operations
        .into_iter()
        .filter_map(|op| {
            let message = ClientMessage::from_request(op.op_id, request_asking(op.change));
            message.validate().ok()?;
            let op_id: OpId = message.op_id()?.clone();
            Some(Pending { op_id, message })
        })
        .collect())
}
