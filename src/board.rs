//! The board state machine: what a board is, and how operations change it.
//!
//! Shared by the server (which resolves requests into operations and keeps the
//! authoritative copy) and the browser (which applies the same operations to
//! its copy). Applying is deterministic and infallible, so every replica that
//! applies the same operations in the same order holds the same board.
//!
//! Undo and redo are per user. The server remembers, per author, a stack of
//! the author's undoable operations and what each one did (its [`Effect`]);
//! an undo takes back the top of the author's own stack and never touches
//! anybody else's work beyond the strokes that operation itself changed.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::geometry;
use crate::protocol::{
    BoardSnapshot, Change, ErrorCode, OpId, Operation, Point, ProtocolError, Request,
    SnapshotStroke, Stroke, StrokeId, UserId,
};

/// How many undoable operations each user can take back.
pub const UNDO_DEPTH: usize = 200;
/// How many recent operation ids per user are remembered to make resends idempotent.
pub const REMEMBERED_OP_IDS: usize = 512;

/// Which strokes an operation showed and hid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub show: Vec<StrokeId>,
    pub hide: Vec<StrokeId>,
}

/// One user's undo and redo stacks (sequence numbers of their operations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct UserHistory {
    undo: VecDeque<u64>,
    redo: Vec<u64>,
    /// Recent operation ids and the sequence numbers they were stored under.
    op_ids: VecDeque<(OpId, u64)>,
}

/// A board: its strokes in drawing order, their visibility, and the history
/// needed to resolve undo, redo and resends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    seq: u64,
    strokes: Vec<SnapshotStroke>,
    #[serde(skip)]
    index: HashMap<StrokeId, usize>,
    users: HashMap<UserId, UserHistory>,
    /// The effect of every operation still on some user's undo or redo stack.
    effects: HashMap<u64, Effect>,
}

impl Board {
    /// An empty board at sequence number 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds derived indexes after deserialising a stored board.
    pub fn reindex(&mut self) {
        self.index = self
            .strokes
            .iter()
            .enumerate()
            .map(|(i, s)| (s.stroke.id.clone(), i))
            .collect();
    }

    /// A board as a client sees it after a snapshot (no undo history).
    pub fn from_snapshot(snapshot: BoardSnapshot) -> Self {
        let mut board = Self {
            seq: snapshot.seq,
            strokes: snapshot.strokes,
            ..Self::default()
        };
        board.reindex();
        board
    }

    /// The wire form of this board.
    pub fn snapshot(&self) -> BoardSnapshot {
        BoardSnapshot {
            seq: self.seq,
            strokes: self.strokes.clone(),
        }
    }

    /// The sequence number of the last applied operation (0 for a new board).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Visible strokes in drawing order.
    pub fn visible_strokes(&self) -> impl Iterator<Item = &Stroke> {
        self.strokes.iter().filter(|s| s.visible).map(|s| &s.stroke)
    }

    pub fn stroke_count(&self) -> usize {
        self.strokes.len()
    }

    pub fn is_visible(&self, id: &StrokeId) -> bool {
        self.index.get(id).is_some_and(|&i| self.strokes[i].visible)
    }

    pub fn contains(&self, id: &StrokeId) -> bool {
        self.index.contains_key(id)
    }

    /// The sequence number under which `author`'s request `op_id` was stored,
    /// if it was (a resend after a lost acknowledgement).
    pub fn applied_seq(&self, author: &UserId, op_id: &OpId) -> Option<u64> {
        self.users
            .get(author)
            .and_then(|h| h.op_ids.iter().find(|(id, _)| id == op_id))
            .map(|(_, seq)| *seq)
    }

    /// Whether `author` has something to undo / redo.
    pub fn can_undo(&self, author: &UserId) -> bool {
        self.users.get(author).is_some_and(|h| !h.undo.is_empty())
    }

    pub fn can_redo(&self, author: &UserId) -> bool {
        self.users.get(author).is_some_and(|h| !h.redo.is_empty())
    }

    /// Visible strokes touched by a circle of `radius` swept along `path`.
    pub fn strokes_hit_by(&self, path: &[Point], radius: f32) -> Vec<StrokeId> {
        self.visible_strokes()
            .filter(|stroke| geometry::path_touches_stroke(path, radius, stroke))
            .map(|stroke| stroke.id.clone())
            .collect()
    }

    /// Turns a validated request into the change it makes to the board now,
    /// or refuses it. Does not modify the board.
    pub fn resolve(&self, author: &UserId, request: Request) -> Result<Change, ProtocolError> {
        let rejected = |message: &str| ProtocolError::new(ErrorCode::Rejected, message);
        match request {
            Request::AddStroke(stroke) => {
                if self.contains(&stroke.id) {
                    return Err(rejected("a stroke with this id already exists"));
                }
                Ok(Change::AddStroke { stroke })
            }
            Request::Erase(ids) => {
                let mut stroke_ids: Vec<StrokeId> =
                    ids.into_iter().filter(|id| self.is_visible(id)).collect();
                stroke_ids.sort();
                stroke_ids.dedup();
                if stroke_ids.is_empty() {
                    return Err(rejected("none of these strokes is on the board"));
                }
                Ok(Change::Erase { stroke_ids })
            }
            Request::Clear => {
                let stroke_ids: Vec<StrokeId> =
                    self.visible_strokes().map(|s| s.id.clone()).collect();
                if stroke_ids.is_empty() {
                    return Err(rejected("the board is already empty"));
                }
                Ok(Change::Clear { stroke_ids })
            }
            Request::Undo => {
                let target = self
                    .users
                    .get(author)
                    .and_then(|h| h.undo.back().copied())
                    .ok_or_else(|| rejected("nothing to undo"))?;
                let (show, hide) = self.replay_effect(target, false);
                Ok(Change::Undo { target, show, hide })
            }
            Request::Redo => {
                let target = self
                    .users
                    .get(author)
                    .and_then(|h| h.redo.last().copied())
                    .ok_or_else(|| rejected("nothing to redo"))?;
                let (show, hide) = self.replay_effect(target, true);
                Ok(Change::Redo { target, show, hide })
            }
        }
    }

    /// The strokes to show and hide to re-apply (`forward`) or take back the
    /// effect of operation `target`, limited to strokes whose visibility
    /// would actually change.
    fn replay_effect(&self, target: u64, forward: bool) -> (Vec<StrokeId>, Vec<StrokeId>) {
        let effect = self.effects.get(&target).cloned().unwrap_or_default();
        let (to_show, to_hide) = if forward {
            (effect.show, effect.hide)
        } else {
            (effect.hide, effect.show)
        };
        let show = to_show
            .into_iter()
            .filter(|id| self.contains(id) && !self.is_visible(id))
            .collect();
        let hide = to_hide
            .into_iter()
            .filter(|id| self.is_visible(id))
            .collect();
        (show, hide)
    }

    /// Applies an operation. Operations at or below the current sequence
    /// number are ignored (already applied); the caller guarantees there is
    /// no gap. Unknown stroke ids in `show`/`hide` are ignored.
    pub fn apply(&mut self, op: &Operation) {
        if op.seq <= self.seq {
            return;
        }
        self.seq = op.seq;
        let history = self.users.entry(op.author.clone()).or_default();
        history.op_ids.push_back((op.op_id.clone(), op.seq));
        if history.op_ids.len() > REMEMBERED_OP_IDS {
            history.op_ids.pop_front();
        }
        match &op.change {
            Change::AddStroke { stroke } => {
                self.index.insert(stroke.id.clone(), self.strokes.len());
                self.strokes.push(SnapshotStroke {
                    stroke: stroke.clone(),
                    visible: true,
                });
                self.record_undoable(
                    op,
                    Effect {
                        show: vec![stroke.id.clone()],
                        hide: vec![],
                    },
                );
            }
            Change::Erase { stroke_ids } | Change::Clear { stroke_ids } => {
                self.set_visible(stroke_ids, false);
                self.record_undoable(
                    op,
                    Effect {
                        show: vec![],
                        hide: stroke_ids.clone(),
                    },
                );
            }
            Change::Undo { target, show, hide } => {
                self.set_visible(show, true);
                self.set_visible(hide, false);
                let history = self.users.entry(op.author.clone()).or_default();
                if history.undo.back() == Some(target) {
                    history.undo.pop_back();
                    history.redo.push(*target);
                }
            }
            Change::Redo { target, show, hide } => {
                self.set_visible(show, true);
                self.set_visible(hide, false);
                let history = self.users.entry(op.author.clone()).or_default();
                if history.redo.last() == Some(target) {
                    history.redo.pop();
                    history.undo.push_back(*target);
                }
            }
        }
    }

    fn set_visible(&mut self, ids: &[StrokeId], visible: bool) {
        for id in ids {
            if let Some(&i) = self.index.get(id) {
                self.strokes[i].visible = visible;
            }
        }
    }

    /// A new action of the author: it goes on their undo stack and makes
    /// their redo stack obsolete.
    fn record_undoable(&mut self, op: &Operation, effect: Effect) {
        let history = self.users.entry(op.author.clone()).or_default();
        history.undo.push_back(op.seq);
        let mut forgotten: Vec<u64> = std::mem::take(&mut history.redo);
        if history.undo.len() > UNDO_DEPTH {
            forgotten.extend(history.undo.pop_front());
        }
        for seq in forgotten {
            self.effects.remove(&seq);
        }
        self.effects.insert(op.seq, effect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeStyle};

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn line(id: &str, y: f32) -> Stroke {
        Stroke {
            id: StrokeId::parse(id).unwrap(),
            style: StrokeStyle {
                color: Color::parse("#000000").unwrap(),
                width: 2.0,
            },
            points: vec![Point::new(0.0, y, 0.5), Point::new(100.0, y, 0.5)],
        }
    }

    /// Resolves and applies like the server does; returns the operation.
    fn submit(
        board: &mut Board,
        author: &UserId,
        request: Request,
    ) -> Result<Operation, ProtocolError> {
        let change = board.resolve(author, request)?;
        let op = Operation {
            seq: board.seq() + 1,
            author: author.clone(),
            op_id: OpId::parse(&format!("op{}", board.seq() + 1)).unwrap(),
            change,
        };
        board.apply(&op);
        Ok(op)
    }

    fn visible_ids(board: &Board) -> Vec<&str> {
        board.visible_strokes().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn sequence_numbers_increase_without_gaps() {
        let mut board = Board::new();
        let alice = user("alice");
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let op = submit(&mut board, &alice, Request::AddStroke(line(id, i as f32))).unwrap();
            assert_eq!(op.seq, i as u64 + 1);
        }
        assert_eq!(board.seq(), 3);
    }

    #[test]
    fn applying_an_old_operation_again_changes_nothing() {
        let mut board = Board::new();
        let alice = user("alice");
        let op = submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let before = board.clone();
        board.apply(&op);
        assert_eq!(board, before);
    }

    #[test]
    fn undo_takes_back_only_my_own_last_action() {
        let mut board = Board::new();
        let (alice, bob) = (user("alice"), user("bob"));
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &bob, Request::AddStroke(line("b1", 10.0))).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&board), vec!["b1"]);
        assert_eq!(
            board.resolve(&alice, Request::Undo).unwrap_err().code,
            ErrorCode::Rejected
        );
        submit(&mut board, &alice, Request::Redo).unwrap();
        assert_eq!(visible_ids(&board), vec!["a1", "b1"]);
        assert!(!board.can_redo(&alice));
    }

    #[test]
    fn undo_of_an_erase_and_of_a_clear_restores_strokes() {
        let mut board = Board::new();
        let (alice, bob) = (user("alice"), user("bob"));
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &bob, Request::AddStroke(line("b1", 10.0))).unwrap();
        submit(
            &mut board,
            &bob,
            Request::Erase(vec![StrokeId::parse("a1").unwrap()]),
        )
        .unwrap();
        assert_eq!(visible_ids(&board), vec!["b1"]);
        submit(&mut board, &alice, Request::Clear).unwrap();
        assert!(visible_ids(&board).is_empty());
        submit(&mut board, &alice, Request::Undo).unwrap(); // undoes alice's clear
        assert_eq!(visible_ids(&board), vec!["b1"]);
        submit(&mut board, &bob, Request::Undo).unwrap(); // undoes bob's erase
        assert_eq!(visible_ids(&board), vec!["a1", "b1"]);
    }

    #[test]
    fn a_new_action_clears_the_redo_stack() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("a2", 5.0))).unwrap();
        assert!(board.resolve(&alice, Request::Redo).is_err());
        assert_eq!(visible_ids(&board), vec!["a2"]);
    }

    #[test]
    fn undo_depth_is_bounded() {
        let mut board = Board::new();
        let alice = user("alice");
        for i in 0..UNDO_DEPTH + 5 {
            submit(
                &mut board,
                &alice,
                Request::AddStroke(line(&format!("s{i}"), i as f32)),
            )
            .unwrap();
        }
        for _ in 0..UNDO_DEPTH {
            submit(&mut board, &alice, Request::Undo).unwrap();
        }
        assert!(board.resolve(&alice, Request::Undo).is_err());
        assert_eq!(visible_ids(&board).len(), 5);
        assert!(board.effects.len() <= UNDO_DEPTH);
    }

    #[test]
    fn invalid_requests_are_rejected_without_changes() {
        let mut board = Board::new();
        let alice = user("alice");
        assert!(board.resolve(&alice, Request::Clear).is_err());
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let before = board.clone();
        assert!(board
            .resolve(&alice, Request::AddStroke(line("a", 3.0)))
            .is_err());
        assert!(board
            .resolve(
                &alice,
                Request::Erase(vec![StrokeId::parse("ghost").unwrap()])
            )
            .is_err());
        assert_eq!(board, before);
    }

    #[test]
    fn resends_are_recognised_by_operation_id() {
        let mut board = Board::new();
        let alice = user("alice");
        let op = submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        assert_eq!(board.applied_seq(&alice, &op.op_id), Some(1));
        assert_eq!(board.applied_seq(&user("bob"), &op.op_id), None);
    }

    #[test]
    fn stored_board_round_trips_through_json() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        submit(
            &mut board,
            &alice,
            Request::Erase(vec![StrokeId::parse("a").unwrap()]),
        )
        .unwrap();
        let mut restored: Board =
            serde_json::from_str(&serde_json::to_string(&board).unwrap()).unwrap();
        restored.reindex();
        assert_eq!(restored, board);
        submit(&mut restored, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&restored), vec!["a"]);
    }

    #[test]
    fn snapshot_replica_applies_the_same_operations_to_the_same_board() {
        let mut server = Board::new();
        let alice = user("alice");
        submit(&mut server, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let mut client = Board::from_snapshot(server.snapshot());
        let op = submit(
            &mut server,
            &alice,
            Request::Erase(vec![StrokeId::parse("a").unwrap()]),
        )
        .unwrap();
        client.apply(&op);
        let op = submit(&mut server, &alice, Request::Undo).unwrap();
        client.apply(&op);
        assert_eq!(client.snapshot(), server.snapshot());
    }

    #[test]
    fn eraser_hits_strokes_it_touches() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("top", 0.0))).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("bottom", 50.0))).unwrap();
        let swipe = [Point::new(50.0, -20.0, 0.5), Point::new(50.0, 20.0, 0.5)];
        assert_eq!(
            board.strokes_hit_by(&swipe, 4.0),
            vec![StrokeId::parse("top").unwrap()]
        );
        let miss = [Point::new(200.0, 0.0, 0.5)];
        assert!(board.strokes_hit_by(&miss, 4.0).is_empty());
    }
}
