//! Stacking order: new `z` keys for moving a selection up or down.
//!
//! Items are drawn in ascending `z` (ties in the order they were added), and
//! an `update` can give an item any finite `z`. "To front" and "to back" put
//! the selection above or below everything; "forward" and "backward" move it
//! one item up or down by giving it keys strictly between that item and its
//! neighbour, so no other item has to change. The selection keeps its own
//! order. Pure, shared, so it is unit tested natively.

use std::collections::HashSet;

use crate::protocol::StrokeId;

/// Where to move the selection in the stacking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restack {
    ToFront,
    Forward,
    Backward,
    ToBack,
}

/// Keys closer than this cannot be split further; the move then goes all
/// the way to the front or back (also for old boards, where every key is 0).
const MIN_GAP: f64 = 1e-6;

/// New keys for the selected items of `shown` (every visible item in drawing
/// order, with its key), in drawing order; empty when nothing would change.
pub fn restack(
    shown: &[(StrokeId, f64)],
    selected: &HashSet<&StrokeId>,
    how: Restack,
) -> Vec<(StrokeId, f64)> {
    let chosen: Vec<&(StrokeId, f64)> = shown
        .iter()
        .filter(|(id, _)| selected.contains(id))
        .collect();
    if chosen.is_empty() {
        return Vec::new();
    }
    let is_chosen = |i: usize| selected.contains(&shown[i].0);
    let between = |low: f64, high: f64| {
        let step = (high - low) / (chosen.len() + 1) as f64;
        chosen
            .iter()
            .zip(1..)
            .map(|((id, _), k)| (id.clone(), low + step * f64::from(k)))
            .collect::<Vec<_>>()
    };
    let top = shown.iter().map(|(_, z)| *z).fold(f64::MIN, f64::max);
    let bottom = shown.iter().map(|(_, z)| *z).fold(f64::MAX, f64::min);
    let count = chosen.len() as f64;
    match how {
        Restack::ToFront => between(top, top + count + 1.0),
        Restack::ToBack => between(bottom - count - 1.0, bottom),
        Restack::Forward => {
            let Some(last) = (0..shown.len()).rev().find(|&i| is_chosen(i)) else {
                return Vec::new();
            };
            let Some(next) = (last + 1..shown.len()).find(|&i| !is_chosen(i)) else {
                return Vec::new(); // Already in front.
            };
            let low = shown[next].1;
            let high = shown.get(next + 1).map_or(low + 2.0, |(_, z)| *z);
            if high - low < MIN_GAP {
                return restack(shown, selected, Restack::ToFront);
            }
            between(low, high)
        }
        Restack::Backward => {
            let Some(first) = (0..shown.len()).find(|&i| is_chosen(i)) else {
                return Vec::new();
            };
            let Some(previous) = (0..first).rev().find(|&i| !is_chosen(i)) else {
                return Vec::new(); // Already at the back.
            };
            let high = shown[previous].1;
            let low = previous.checked_sub(1).map_or(high - 2.0, |i| shown[i].1);
            if high - low < MIN_GAP {
                return restack(shown, selected, Restack::ToBack);
            }
            between(low, high)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(keys: &[(&str, f64)]) -> Vec<(StrokeId, f64)> {
        keys.iter()
            .map(|(id, z)| (StrokeId::parse(id).unwrap(), *z))
            .collect()
    }

    /// The drawing order after applying the new keys (stable on ties).
    fn order_after(shown: &[(StrokeId, f64)], chosen: &[&str], how: Restack) -> Vec<String> {
        let ids: Vec<StrokeId> = chosen.iter().map(|c| StrokeId::parse(c).unwrap()).collect();
        let selected: HashSet<&StrokeId> = ids.iter().collect();
        let changes = restack(shown, &selected, how);
        let mut after: Vec<(StrokeId, f64)> = shown
            .iter()
            .map(|(id, z)| {
                let z = changes
                    .iter()
                    .find(|(c, _)| c == id)
                    .map_or(*z, |(_, z)| *z);
                (id.clone(), z)
            })
            .collect();
        after.sort_by(|a, b| a.1.total_cmp(&b.1));
        after
            .into_iter()
            .map(|(id, _)| id.as_str().to_owned())
            .collect()
    }

    #[test]
    fn forward_and_backward_move_one_item_at_a_time() {
        let shown = items(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0)]);
        assert_eq!(
            order_after(&shown, &["b"], Restack::Forward),
            ["a", "c", "b", "d"]
        );
        assert_eq!(
            order_after(&shown, &["c"], Restack::Backward),
            ["a", "c", "b", "d"]
        );
        assert_eq!(
            order_after(&shown, &["c"], Restack::Forward),
            ["a", "b", "d", "c"]
        );
        // A selection moves together and keeps its order.
        assert_eq!(
            order_after(&shown, &["a", "b"], Restack::Forward),
            ["c", "a", "b", "d"]
        );
    }

    #[test]
    fn front_and_back_go_past_everything() {
        let shown = items(&[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
        assert_eq!(
            order_after(&shown, &["a", "b"], Restack::ToFront),
            ["c", "a", "b"]
        );
        assert_eq!(
            order_after(&shown, &["c"], Restack::ToBack),
            ["c", "a", "b"]
        );
    }

    #[test]
    fn nothing_changes_at_the_end_and_ties_fall_back_to_front_or_back() {
        let shown = items(&[("a", 1.0), ("b", 2.0)]);
        let b = StrokeId::parse("b").unwrap();
        assert!(restack(&shown, &HashSet::from([&b]), Restack::Forward).is_empty());
        let a = StrokeId::parse("a").unwrap();
        assert!(restack(&shown, &HashSet::from([&a]), Restack::Backward).is_empty());
        // Old boards: every key is 0.
        let flat = items(&[("a", 0.0), ("b", 0.0), ("c", 0.0)]);
        assert_eq!(
            order_after(&flat, &["a"], Restack::Forward),
            ["b", "c", "a"]
        );
        assert_eq!(
            order_after(&flat, &["c"], Restack::Backward),
            ["c", "a", "b"]
        );
    }
}
