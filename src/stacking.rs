//! Stacking order: new `z` keys for moving a selection up or down.
//!
//! Items are drawn in ascending `z` (ties in the order they were added), and
//! an `update` can give an item any finite `z`. "To front" and "to back" put
//! the selection above or below everything; "forward" and "backward" move it
//! one item up or down by giving it keys strictly between that item and its
//! neighbour, so no other item has to change. The selection keeps its own
//! order. Pure, shared, so it is unit tested natively.

use std::collections::HashSet;

use crate::protocol::limits::MAX_Z;
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
/// order, with its key), each as its index in `shown` and its new key; empty
/// when nothing would change. Keys stay within ±[`MAX_Z`]: when the front or
/// back has no room left there, every shown item gets a new key (0, 1, 2, …
/// in the new order).
pub fn restack(
    shown: &[(StrokeId, f64)],
    selected: &HashSet<&StrokeId>,
    how: Restack,
) -> Vec<(usize, f64)> {
    let is_chosen = |i: usize| selected.contains(&shown[i].0);
    let chosen: Vec<usize> = (0..shown.len()).filter(|&i| is_chosen(i)).collect();
    if chosen.is_empty() {
        return Vec::new();
    }
    // Keys strictly between `low` and `high`, in order; `None` when the
    // floating point numbers there cannot tell them apart.
    let between = |low: f64, high: f64| {
        let step = (high - low) / (chosen.len() + 1) as f64;
        let mut keys = Vec::with_capacity(chosen.len());
        let mut below = low;
        for (k, &i) in (1..).zip(&chosen) {
            let z = low + step * f64::from(k);
            if z <= below {
                return None;
            }
            keys.push((i, z));
            below = z;
        }
        (below < high).then_some(keys)
    };
    let top = shown.iter().map(|(_, z)| *z).fold(f64::MIN, f64::max);
    let bottom = shown.iter().map(|(_, z)| *z).fold(f64::MAX, f64::min);
    let count = chosen.len() as f64;
    match how {
        Restack::ToFront => between(top, (top + count + 1.0).min(MAX_Z))
            .unwrap_or_else(|| renumbered(shown, is_chosen, true)),
        Restack::ToBack => between((bottom - count - 1.0).max(-MAX_Z), bottom)
            .unwrap_or_else(|| renumbered(shown, is_chosen, false)),
        Restack::Forward => {
            let Some(&last) = chosen.last() else {
                return Vec::new();
            };
            let Some(next) = (last + 1..shown.len()).find(|&i| !is_chosen(i)) else {
                return Vec::new(); // Already in front.
            };
            let low = shown[next].1;
            let high = shown.get(next + 1).map_or(low + 2.0, |(_, z)| *z);
            match between(low, high.min(MAX_Z)) {
                Some(keys) if high - low >= MIN_GAP => keys,
                _ => restack(shown, selected, Restack::ToFront),
            }
        }
        Restack::Backward => {
            let Some(&first) = chosen.first() else {
                return Vec::new();
            };
            let Some(previous) = (0..first).rev().find(|&i| !is_chosen(i)) else {
                return Vec::new(); // Already at the back.
            };
            let high = shown[previous].1;
            let low = previous.checked_sub(1).map_or(high - 2.0, |i| shown[i].1);
            match between(low.max(-MAX_Z), high) {
                Some(keys) if high - low >= MIN_GAP => keys,
                _ => restack(shown, selected, Restack::ToBack),
            }
        }
    }
}

/// Every shown item keyed by its place in the new order: the chosen ones
/// after (`to_front`) or before all the others, each group in its order.
fn renumbered(
    shown: &[(StrokeId, f64)],
    is_chosen: impl Fn(usize) -> bool,
    to_front: bool,
) -> Vec<(usize, f64)> {
    let (mut order, after): (Vec<usize>, Vec<usize>) =
        (0..shown.len()).partition(|&i| is_chosen(i) != to_front);
    order.extend(after);
    order
        .into_iter()
        .zip(0..)
        .map(|(i, place)| (i, f64::from(place)))
        .filter(|&(i, z)| shown[i].1 != z)
        .collect()
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
            .enumerate()
            .map(|(i, (id, z))| {
                let z = changes
                    .iter()
                    .find(|(c, _)| *c == i)
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

    #[test]
    fn keys_stay_within_limits_and_are_renumbered_when_no_room_is_left() {
        let at_limits = items(&[("a", -MAX_Z), ("b", 0.0), ("c", MAX_Z - 1.0), ("d", MAX_Z)]);
        for (chosen, how, order) in [
            (&["b"][..], Restack::ToFront, ["a", "c", "d", "b"]),
            (&["b", "c"][..], Restack::ToBack, ["b", "c", "a", "d"]),
            (&["c"][..], Restack::Forward, ["a", "b", "d", "c"]),
            (&["b"][..], Restack::Backward, ["b", "a", "c", "d"]),
        ] {
            let ids: Vec<StrokeId> = chosen.iter().map(|c| StrokeId::parse(c).unwrap()).collect();
            let keys = restack(&at_limits, &ids.iter().collect(), how);
            assert!(
                keys.iter().all(|(_, z)| z.abs() <= MAX_Z),
                "{how:?} {chosen:?}: {keys:?}"
            );
            assert_eq!(
                order_after(&at_limits, chosen, how),
                order,
                "{how:?} {chosen:?}"
            );
        }
        // Room left near the limit is used before anything is renumbered.
        let near = items(&[("a", 0.0), ("b", MAX_Z - 10.0)]);
        let a = StrokeId::parse("a").unwrap();
        let keys = restack(&near, &HashSet::from([&a]), Restack::ToFront);
        assert_eq!(keys.len(), 1, "only the chosen item moves: {keys:?}");
        assert!(keys[0].1 > MAX_Z - 10.0 && keys[0].1 <= MAX_Z);
    }
}
