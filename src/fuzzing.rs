//! The invariants that fuzzing checks, and the inputs it checks them on,
//! shared by the `cargo fuzz` targets (`fuzz/`) and a bounded property test
//! here that runs in the test command.
//!
//! - [`frames`]: any bytes a client or server could send, through every
//!   decoder and validation: none panics.
//! - [`board`]: bytes read as a script of requests by three authors
//!   ([`Script`]); the server's board commits the valid ones, and then:
//!   applying is deterministic, replicas that apply the same operations
//!   (from the start, or from a snapshot part way) hold the same items as
//!   the server, the stored form loads back equal, a speculative run rolls
//!   back exactly, and every operation survives its wire form.
//!
//! Built only for tests and with the `fuzzing` feature: nothing here ships.

use crate::board::Board;
use crate::protocol::{
    packed, BoardSnapshot, ClientMessage, Color, OpId, Operation, Point, Request, ServerMessage,
    Stroke, StrokeId, StrokeKind, StrokeStyle, UserId,
};

/// Decodes `bytes` as every kind of frame; panics only if a decoder does.
pub fn frames(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(message) = ClientMessage::decode(text) {
            let _ = message.validate();
            // What the server sends on is what it read.
            let again = ClientMessage::decode(&message.encode());
            assert!(again.is_ok(), "a decoded message re-encodes: {text}");
        }
        let _ = ClientMessage::refused_op_id(text);
        let _ = ServerMessage::decode(text);
    }
    let _ = packed::decode(bytes);
    let _ = packed::decode_part(bytes);
    if let Some((&count, rest)) = bytes.split_first() {
        let sizes: Vec<u64> = rest
            .iter()
            .take(usize::from(count % 8))
            .map(|&b| u64::from(b) * 7)
            .collect();
        let _ = packed::assemble(rest, &sizes);
    }
}

/// Bytes read one at a time as choices; zeros once they run out.
pub struct Script<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Script<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn is_done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn below(&mut self, bound: u8) -> u8 {
        self.byte() % bound
    }

    /// A coordinate: mostly small, sometimes at or past the limits.
    fn coordinate(&mut self) -> f32 {
        match self.below(64) {
            0 => 1_000_000.0,
            1 => -1_000_000.5,
            2..=5 => f32::from(self.byte()) * 4_000.0,
            _ => f32::from(self.byte()) - 128.0,
        }
    }

    /// An id from a pool of 12, so that requests meet the same items.
    fn stroke_id(&mut self) -> StrokeId {
        StrokeId::from_trusted(format!("s{}", self.below(12)))
    }

    fn stroke(&mut self) -> Stroke {
        let id = self.stroke_id();
        let style = StrokeStyle {
            color: Color::parse(["#1e1e1e", "#e03131", "#1971c2"][usize::from(self.below(3))])
                .expect("valid colours"),
            width: [0.5, 2.0, 128.0, 0.1, 2.0, 4.0, 8.0, 1.0][usize::from(self.below(8))],
        };
        let count = usize::from(self.below(4)) + 1;
        let points = (0..count)
            .map(|_| Point::new(self.coordinate(), self.coordinate(), 0.5))
            .collect();
        let mut stroke = Stroke::freehand(id, style, points);
        stroke.kind = match self.below(7) {
            0 => StrokeKind::Rectangle,
            1 => StrokeKind::Ellipse,
            2 => StrokeKind::Arrow,
            3 => {
                stroke.text =
                    Some(["note", "", " ", "long text"][usize::from(self.below(4))].into());
                stroke.font_size = Some(20.0);
                StrokeKind::Text
            }
            4 => {
                stroke.image = Some(crate::image::ImageId::from_digest(&[self.byte(); 32]));
                StrokeKind::Image
            }
            _ => StrokeKind::Freehand,
        };
        stroke.z = match self.below(8) {
            0 => 1e15,
            1 => -1e15,
            2 => f64::from(self.byte()),
            _ => 0.0,
        };
        stroke
    }

    /// The next author and request.
    fn request(&mut self) -> (UserId, Request) {
        let author = UserId::from_trusted(["ada", "bob", "cy"][usize::from(self.below(3))].into());
        let request = match self.below(10) {
            0..=2 => Request::AddStroke(self.stroke()),
            3 => Request::AddStrokes((0..self.below(4) + 1).map(|_| self.stroke()).collect()),
            4 | 5 => Request::Update((0..self.below(3) + 1).map(|_| self.stroke()).collect()),
            6 => Request::Erase((0..self.below(3) + 1).map(|_| self.stroke_id()).collect()),
            7 => Request::Clear,
            8 => Request::Undo,
            _ => Request::Redo,
        };
        (author, request)
    }
}

/// Runs a script of requests through a server's board and checks every
/// replica against it (see the module's documentation); how many
/// operations the server stored.
pub fn board(bytes: &[u8]) -> usize {
    let mut script = Script::new(bytes);
    let mut server = Board::new();
    let mut ops: Vec<Operation> = Vec::new();
    // Where the script speculates: a run taken back must leave no trace.
    let speculate_at = usize::from(script.byte());
    let mut before_speculation = None;
    while !script.is_done() {
        let (author, request) = script.request();
        let op_id = OpId::from_trusted(format!("o{}", ops.len()));
        if ClientMessage::from_request(op_id.clone(), request.clone())
            .validate()
            .is_err()
        {
            continue;
        }
        if ops.len() == speculate_at && before_speculation.is_none() {
            before_speculation = Some((server.clone(), ops.len()));
            server.speculate();
        }
        if let Ok(op) = server.commit(&author, &op_id, request) {
            let wire = ServerMessage::Op { op: op.clone() }.encode();
            match ServerMessage::decode(&wire) {
                Ok(ServerMessage::Op { op: decoded }) => assert_eq!(decoded, op, "{wire}"),
                other => panic!("an operation did not survive its wire form: {other:?}"),
            }
            ops.push(op);
        }
    }
    if let Some((before, count)) = before_speculation {
        let mut rolled = server.clone();
        rolled.roll_back();
        assert_eq!(rolled, before, "a rolled back run leaves no trace");
        // Replay what the run did on the state before it: the same board.
        let mut replayed = before;
        for op in &ops[count..] {
            replayed.apply(op);
        }
        server.confirm();
        assert_eq!(replayed.items(), server.items());
    }

    // Replicas: from the start, twice (determinism), and from a snapshot
    // taken part way.
    let replay = |ops: &[Operation]| {
        let mut replica = Board::new();
        for op in ops {
            replica.apply(op);
        }
        replica
    };
    let first = replay(&ops);
    assert_eq!(first, replay(&ops), "applying is deterministic");
    assert_eq!(first.items(), server.items());
    let middle = ops.len() / 2;
    let snapshot: BoardSnapshot = replay(&ops[..middle]).snapshot();
    let mut joined = Board::from_snapshot(snapshot);
    for op in &ops[middle..] {
        joined.apply(op);
    }
    assert_eq!(joined.items(), server.items(), "joined part way");
    assert_eq!(joined.seq(), server.seq());
    // The packed form a browser takes holds the same items.
    let packed = packed::decode(&server.snapshot_packed()).expect("packed snapshots decode");
    assert_eq!(packed.strokes.len(), server.items().len());

    // The stored form (undo history included) loads back as the same board.
    let json = serde_json::to_vec(&server).expect("boards serialise");
    let mut stored: Board = serde_json::from_slice(&json).expect("stored boards load");
    stored.reindex();
    assert_eq!(stored, server, "the stored form loads back equal");
    ops.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (a fixed LCG: the same cases every run).
    fn case(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn replicas_agree_on_a_thousand_scripts() {
        let stored: usize = (0..1_000)
            .map(|seed| board(&case(seed, 200 + (seed as usize % 5) * 400)))
            .sum();
        // Enough of the scripts are valid to exercise the board.
        assert!(stored > 10_000, "only {stored} operations stored");
    }

    #[test]
    fn no_decoder_panics_on_a_thousand_frames() {
        for seed in 0..1_000 {
            let bytes = case(seed, seed as usize % 300);
            frames(&bytes);
            // Also near-misses of real frames.
            let mut text = br##"{"type":"add_stroke","op_id":"o1","stroke":{"id":"s","color":"#000000","width":2,"points":[[0,0]]}}"##.to_vec();
            let at = seed as usize % text.len();
            text[at] = bytes.first().copied().unwrap_or(b'x');
            frames(&text);
        }
    }
}
