//! One sort for everything the browser puts in order.
//!
//! Every `sort_by` call site is its own copy of the standard library's sort
//! (one per element type and comparison): 4–6 KB of WebAssembly apiece, and
//! the client had seven of them. Here each caller maps its elements to a
//! [`Key`] of two `u64`s, and one routine sorts (key, index) triples: one
//! copy serves them all. It is stable (the index breaks ties), which the
//! drawing order needs: equal stacking keys keep the order items were added
//! in. Shared, so the server's board orders with the same code.

/// What elements are sorted by: compared as a pair, first number first.
pub type Key = (u64, u64);

/// A float as a `u64` in the order of [`f64::total_cmp`].
pub fn f64_key(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The first 8 bytes of `text` from `skip` on, as a `u64` in the order of
/// the text's bytes (missing bytes count as 0, below any byte).
pub fn text_key(text: &str, skip: usize) -> u64 {
    let mut bytes = [0; 8];
    for (slot, byte) in bytes.iter_mut().zip(text.bytes().skip(skip)) {
        *slot = byte;
    }
    u64::from_be_bytes(bytes)
}

/// Sorts `items` by `key`, keeping the order of items with equal keys.
pub fn sort_by_key<T>(items: &mut Vec<T>, key: impl Fn(&T) -> Key) {
    let order = order_of(items.iter().map(key).collect());
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// The indices of `keys` in sorted order, stable: the one sort routine.
fn order_of(keys: Vec<Key>) -> Vec<usize> {
    let mut triples: Vec<(u64, u64, usize)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, (first, second))| (first, second, i))
        .collect();
    triples.sort_unstable();
    triples.into_iter().map(|(_, _, i)| i).collect()
}

/// Finishes sorting `items` that are in order but for a few neighbours
/// (sorted by a key that only approximates `less`): an insertion sort,
/// linear on such input, small in code.
pub fn settle_by<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_keys_keep_the_order_of_total_cmp() {
        let mut values = vec![
            f64::NEG_INFINITY,
            -1e15,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            0.5,
            3.0,
            1e15,
            f64::INFINITY,
        ];
        values.reverse();
        let mut by_key = values.clone();
        sort_by_key(&mut by_key, |v| (f64_key(*v), 0));
        values.sort_by(f64::total_cmp);
        assert_eq!(
            by_key.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn equal_keys_keep_their_order() {
        let mut items = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd'), (0, 'e')];
        sort_by_key(&mut items, |(k, _)| (*k, 0));
        assert_eq!(items.iter().map(|(_, c)| *c).collect::<String>(), "ebdac");
    }

    #[test]
    fn text_keys_then_settling_sort_texts() {
        let mut names = vec![
            "user-0000000b",
            "user-0000000a",
            "b",
            "a",
            "",
            "user-00000009z",
        ];
        sort_by_key(&mut names, |n| (text_key(n, 0), 0));
        settle_by(&mut names, |a, b| a < b);
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(names, expected);
    }
}
