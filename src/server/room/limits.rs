//! What one board may hold, and how many people may be on it.
//!
//! A board is a link anyone may open, so its size is bounded by the
//! operator (`--people-per-board`, `--board-items`, `--board-bytes`), not
//! only by what a frame may carry. The rules are pure so they are
//! unit-tested here; the room asks them before it commits a request and
//! before it welcomes a join.
//!
//! Only what makes a board bigger is ever refused: erase, clear, undo and
//! redo always pass, so a full board can be cleaned up. Items count hidden
//! ones too (an erased item is kept for undo), and bytes are
//! [`crate::board::item_bytes`]'s estimate.

use crate::board::Board;
use crate::protocol::{ErrorCode, Person, ProtocolError, Request, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardLimits {
    /// Distinct people (not tabs) on the board, across instances.
    pub people: usize,
    /// Items the board keeps, hidden ones included.
    pub items: usize,
    /// What its items weigh ([`crate::board::item_bytes`]).
    pub bytes: usize,
}

impl BoardLimits {
    /// No limit: for tests of everything else.
    #[cfg(test)]
    pub const NONE: Self = Self {
        people: usize::MAX,
        items: usize::MAX,
        bytes: usize::MAX,
    };

    /// Whether `request` may go on `board`: refused with `limit_reached`
    /// when it would add items or bytes beyond the limits.
    pub fn admit(&self, board: &Board, request: &Request) -> Result<(), ProtocolError> {
        let strokes = match request {
            Request::AddStroke(stroke) => std::slice::from_ref(stroke),
            Request::AddStrokes(strokes) | Request::Update(strokes) => strokes.as_slice(),
            // A restore puts back states the board held before, as an
            // undo does; a version's name adds no item.
            Request::Erase(_)
            | Request::Clear
            | Request::Undo
            | Request::Redo
            | Request::Restore { .. }
            | Request::NameVersion(_) => return Ok(()),
        };
        let (items, bytes) = board.growth(strokes);
        if items > 0 && board.stroke_count().saturating_add(items) > self.items {
            return Err(full(format!(
                "the board holds {} items, its limit",
                self.items
            )));
        }
        if bytes > 0 && board.bytes().saturating_add(bytes) > self.bytes {
            return Err(full(format!(
                "the board holds {} MB, its limit",
                self.bytes / 1_000_000
            )));
        }
        Ok(())
    }

    /// Whether `user` may join a board `people` are on: someone already
    /// there (another tab) always may.
    pub fn admit_person(&self, people: &[Person], user: &UserId) -> Result<(), ProtocolError> {
        if people.len() >= self.people && !people.iter().any(|p| &p.user == user) {
            return Err(full(format!(
                "the board has {} people on it, its limit; try again later",
                self.people
            )));
        }
        Ok(())
    }
}

fn full(message: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::LimitReached, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::item_bytes;
    use crate::protocol::{Color, OpId, Point, Stroke, StrokeId, StrokeStyle};

    fn line(id: &str, points: usize) -> Stroke {
        Stroke::freehand(
            StrokeId::parse(id).unwrap(),
            StrokeStyle {
                color: Color::parse("#000000").unwrap(),
                width: 2.0,
            },
            (0..points)
                .map(|i| Point::new(i as f32, 0.0, 0.5))
                .collect(),
        )
    }

    fn board_with(strokes: &[Stroke]) -> Board {
        let mut board = Board::new();
        let author = UserId::parse("ada").unwrap();
        for (i, stroke) in strokes.iter().enumerate() {
            let op_id = OpId::parse(&format!("op{i}")).unwrap();
            board
                .commit(&author, &op_id, Request::AddStroke(stroke.clone()))
                .unwrap();
        }
        board
    }

    #[test]
    fn items_beyond_the_limit_are_refused_but_updates_and_erases_pass() {
        let board = board_with(&[line("a", 2), line("b", 2)]);
        let limits = BoardLimits {
            items: 2,
            ..BoardLimits::NONE
        };
        let refused = limits
            .admit(&board, &Request::AddStroke(line("c", 2)))
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::LimitReached);
        assert!(refused.message.contains("2 items"), "{refused}");
        // A batch counts each new item.
        let three = BoardLimits {
            items: 3,
            ..BoardLimits::NONE
        };
        assert!(three
            .admit(&board, &Request::AddStrokes(vec![line("c", 2)]))
            .is_ok());
        assert!(three
            .admit(
                &board,
                &Request::AddStrokes(vec![line("c", 2), line("d", 2)])
            )
            .is_err());
        // Changing what is there adds no item; cleaning up always passes.
        assert!(limits
            .admit(&board, &Request::Update(vec![line("a", 2)]))
            .is_ok());
        for request in [
            Request::Erase(vec![StrokeId::parse("a").unwrap()]),
            Request::Clear,
            Request::Undo,
            Request::Redo,
        ] {
            assert!(limits.admit(&board, &request).is_ok());
        }
    }

    #[test]
    fn bytes_beyond_the_limit_are_refused_and_lighter_updates_pass() {
        let board = board_with(&[line("a", 100)]);
        assert_eq!(board.bytes(), item_bytes(&line("a", 100)));
        let limits = BoardLimits {
            bytes: board.bytes() + item_bytes(&line("b", 10)),
            ..BoardLimits::NONE
        };
        assert!(limits
            .admit(&board, &Request::AddStroke(line("b", 10)))
            .is_ok());
        assert!(limits
            .admit(&board, &Request::AddStroke(line("b", 11)))
            .is_err());
        // Growing an item counts what it grows by (12 bytes a point);
        // shrinking one always passes.
        let ten_points = BoardLimits {
            bytes: board.bytes() + 10 * 12,
            ..BoardLimits::NONE
        };
        assert!(ten_points
            .admit(&board, &Request::Update(vec![line("a", 110)]))
            .is_ok());
        assert!(ten_points
            .admit(&board, &Request::Update(vec![line("a", 111)]))
            .is_err());
        let tight = BoardLimits {
            bytes: 1,
            ..BoardLimits::NONE
        };
        assert!(tight
            .admit(&board, &Request::Update(vec![line("a", 5)]))
            .is_ok());
    }

    #[test]
    fn a_full_board_takes_more_tabs_of_people_already_on_it() {
        let person = |id: &str| Person {
            user: UserId::parse(id).unwrap(),
            name: String::new(),
            viewer: false,
            following: None,
        };
        let people = [person("ada"), person("bob")];
        let limits = BoardLimits {
            people: 2,
            ..BoardLimits::NONE
        };
        let refused = limits
            .admit_person(&people, &UserId::parse("cy").unwrap())
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::LimitReached);
        assert!(limits
            .admit_person(&people, &UserId::parse("bob").unwrap())
            .is_ok());
        assert!(limits
            .admit_person(&people[..1], &UserId::parse("cy").unwrap())
            .is_ok());
    }
}
