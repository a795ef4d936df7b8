//! The bitmap's coverage: what is pending after takes, changes and moves.

use super::*;

fn rect(x0: i32, y0: i32, x1: i32, y1: i32) -> PixelRect {
    PixelRect::new(x0, y0, x1, y1)
}

/// Total pending area, and that no two pending regions overlap.
fn pending_area(coverage: &Coverage<u32>) -> i64 {
    let pending = coverage.pending();
    for (i, a) in pending.iter().enumerate() {
        for b in &pending[i + 1..] {
            assert!(a.intersection(b).is_none(), "{a:?} overlaps {b:?}");
        }
    }
    pending.iter().map(PixelRect::area).sum()
}

/// Paints what is pending in `view`, as the board layer does: first, whole.
fn paint_in_sight(coverage: &mut Coverage<u32>, view: &PixelRect) {
    coverage.sight_first(view);
    while coverage
        .next()
        .is_some_and(|(region, _)| region.intersection(view).is_some())
    {
        coverage.finished_next();
    }
}

#[test]
fn a_union_holds_both_rectangles_and_an_empty_one_adds_nothing() {
    let a = rect(2, 3, 5, 7);
    assert_eq!(a.union(&rect(-1, 4, 3, 9)), rect(-1, 3, 5, 9));
    assert_eq!(a.union(&rect(0, 0, 0, 0)), a, "empty at the origin");
    assert_eq!(rect(40, 40, 40, 41).union(&a), a, "empty far away");
    assert_eq!(a.size(), (3, 4));
}

#[test]
fn a_rectangle_minus_another_is_what_is_left_of_it() {
    let outer = rect(0, 0, 10, 10);
    let pieces = outer.minus(&rect(2, 3, 5, 7));
    assert_eq!(pieces.iter().map(PixelRect::area).sum::<i64>(), 100 - 12);
    assert!(pieces
        .iter()
        .all(|p| p.intersection(&rect(2, 3, 5, 7)).is_none()));
    assert_eq!(outer.minus(&rect(20, 20, 30, 30)), vec![outer], "apart");
    assert!(outer.minus(&rect(-5, -5, 15, 15)).is_empty(), "covered");
    assert_eq!(outer.minus(&rect(5, -1, 11, 11)), vec![rect(0, 0, 5, 10)]);
}

#[test]
fn what_is_in_sight_comes_first_as_one_region_and_the_rest_waits() {
    let bitmap = rect(0, 0, 400, 200);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 64, (0, 0));
    let view = rect(100, 50, 300, 150);
    assert!(coverage.sight_first(&view));
    assert_eq!(coverage.next(), Some((view, None)), "the view, whole");
    assert_eq!(pending_area(&coverage), 400 * 200, "nothing lost");
    assert!(coverage.sight_first(&view), "still pending");
    assert_eq!(coverage.next(), Some((view, None)));
    coverage.finished_next();
    assert!(!coverage.sight_first(&view), "nothing in sight is pending");

    // The margin is painted region by region.
    let mut painted = 0;
    while let Some((region, progress)) = coverage.next() {
        assert_eq!(progress, None);
        assert!(region.intersection(&view).is_none());
        painted += region.area();
        coverage.finished_next();
    }
    assert_eq!(painted, 400 * 200 - 200 * 100);
    assert!(coverage.is_complete());
}

#[test]
fn painting_in_sight_resumes_over_frames_unless_the_view_cuts_its_region() {
    let bitmap = rect(0, 0, 400, 200);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 64, (0, 0));
    let view = rect(100, 50, 300, 150);
    coverage.sight_first(&view);
    coverage.advanced(7);
    // Next frame, same view: the half-painted view goes on where it stopped.
    assert!(coverage.sight_first(&view));
    assert_eq!(coverage.next(), Some((view, Some(7))));
    // The view moved and cuts it: what is in sight now starts over.
    let moved = rect(150, 50, 350, 150);
    assert!(coverage.sight_first(&moved));
    assert_eq!(coverage.next(), Some((moved, None)));
    assert_eq!(pending_area(&coverage), 400 * 200);
}

#[test]
fn a_half_painted_region_out_of_sight_waits_and_starts_over() {
    let bitmap = rect(0, 0, 400, 200);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 1_000, (0, 0));
    let left = rect(0, 0, 200, 200);
    // Only the left half is in sight and painted; the rest is half painted.
    coverage.sight_first(&left);
    coverage.finished_next();
    coverage.advanced(3);
    assert_eq!(coverage.next(), Some((rect(200, 0, 400, 200), Some(3))));
    assert!(
        !coverage.sight_first(&left),
        "nothing in sight: order and progress stay"
    );
    assert_eq!(coverage.next(), Some((rect(200, 0, 400, 200), Some(3))));
    // Something in sight changes: it comes first, the other starts over.
    coverage.invalidate(&rect(10, 10, 20, 20), &bitmap);
    assert!(coverage.sight_first(&left));
    assert_eq!(coverage.next(), Some((rect(10, 10, 20, 20), None)));
    coverage.finished_next();
    assert_eq!(coverage.next(), Some((rect(200, 0, 400, 200), None)));
}

#[test]
fn painting_resumes_where_it_stopped_unless_its_region_changes() {
    let bitmap = rect(0, 0, 100, 100);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 1_000, (0, 0));
    coverage.advanced(7);
    assert_eq!(coverage.next(), Some((bitmap, Some(7))));

    // A change elsewhere in the bitmap (already pending): no restart.
    let mut elsewhere = coverage.clone();
    elsewhere.invalidate(&rect(500, 500, 600, 600), &bitmap);
    assert_eq!(
        elsewhere.next(),
        Some((bitmap, Some(7))),
        "outside the bitmap"
    );

    // A change inside the half-painted region: it starts over.
    let mut changed = coverage.clone();
    changed.invalidate(&rect(10, 10, 20, 20), &bitmap);
    assert_eq!(changed.next(), Some((bitmap, None)));
    assert_eq!(pending_area(&changed), 100 * 100, "nothing added twice");

    // Painting the part of it in a view: the rest starts over.
    paint_in_sight(&mut coverage, &rect(0, 0, 50, 100));
    assert_eq!(coverage.next().map(|(_, progress)| progress), Some(None));
    assert_eq!(pending_area(&coverage), 50 * 100);
}

#[test]
fn a_change_in_a_painted_part_is_pending_again_once() {
    let bitmap = rect(0, 0, 100, 100);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 1_000, (0, 0));
    paint_in_sight(&mut coverage, &bitmap);
    assert!(coverage.is_complete());
    coverage.invalidate(&rect(-10, -10, 30, 30), &bitmap);
    coverage.invalidate(&rect(20, 20, 40, 40), &bitmap);
    assert_eq!(pending_area(&coverage), 30 * 30 + 20 * 20 - 10 * 10);
}

#[test]
fn a_pan_past_the_margin_keeps_what_moved_along_and_exposes_the_rest() {
    let bitmap = rect(0, 0, 100, 100);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 1_000, (0, 0));
    paint_in_sight(&mut coverage, &bitmap);
    coverage.invalidate(&rect(0, 0, 10, 10), &bitmap);
    coverage.advanced(3);
    // The content moves 30 pixels left: a strip of 30 on the right is new,
    // the pending corner moved out of the bitmap.
    coverage.shifted(-30, 0, &bitmap);
    assert_eq!(coverage.pending(), &[rect(70, 0, 100, 100)]);
    assert_eq!(coverage.next().map(|(_, progress)| progress), Some(None));

    // A move by more than the bitmap: all of it is new.
    coverage.shifted(0, 500, &bitmap);
    assert_eq!(pending_area(&coverage), 100 * 100);
}

#[test]
fn big_regions_are_tiles_and_the_nearest_come_first() {
    let bitmap = rect(0, 0, 300, 200);
    let coverage: Coverage<u32> = Coverage::unpainted(bitmap, 100, (250, 150));
    assert_eq!(coverage.pending().len(), 6);
    assert_eq!(pending_area(&coverage), 300 * 200);
    assert_eq!(
        coverage.next().map(|(region, _)| region),
        Some(rect(200, 100, 300, 200))
    );
    assert!(coverage
        .pending()
        .iter()
        .all(|tile| tile.x1 - tile.x0 <= 100 && tile.y1 - tile.y0 <= 100));

    // What a pan exposes is tiled too.
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 100, (0, 0));
    paint_in_sight(&mut coverage, &bitmap);
    coverage.shifted(0, -150, &bitmap);
    assert_eq!(
        coverage.pending().len(),
        6,
        "a strip of 300 x 150 in tiles of 100"
    );
    assert_eq!(pending_area(&coverage), 300 * 150);
}

#[test]
fn what_is_painted_is_the_bitmap_without_what_is_pending() {
    let bitmap = rect(0, 0, 100, 100);
    let mut coverage: Coverage<u32> = Coverage::unpainted(bitmap, 1_000, (0, 0));
    assert!(coverage.painted(bitmap, false).is_empty());
    paint_in_sight(&mut coverage, &rect(0, 0, 100, 50));
    coverage.invalidate(&rect(0, 0, 10, 10), &bitmap);
    let area = |parts: Vec<PixelRect>| parts.iter().map(PixelRect::area).sum::<i64>();
    assert_eq!(area(coverage.painted(bitmap, false)), 100 * 50 - 100);
    // The half painted next region (the bottom half) counts with `with_next`.
    coverage.advanced(3);
    assert_eq!(area(coverage.painted(bitmap, true)), 100 * 100 - 100);
}
