//! [`PrefixSet`]: the keys a block changed, asked "did anything under this path change?".

use alloy_trie::Nibbles;

/// Changed keys (full 64-nibble paths), sorted and unique. A trie path is *changed* when
/// some key in the set starts with it; unchanged subtries keep their stored hashes.
#[derive(Debug, Clone, Default)]
pub struct PrefixSet {
    keys: Vec<Nibbles>,
}

impl PrefixSet {
    /// The set of `keys` (any order, duplicates allowed).
    pub fn new(mut keys: Vec<Nibbles>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        Self { keys }
    }

    /// Whether some changed key starts with `prefix`.
    pub fn contains(&self, prefix: &Nibbles) -> bool {
        // Nibbles order is lexicographic with a prefix before its extensions, so the first
        // key not below `prefix` is the only candidate.
        let at = self.keys.partition_point(|k| k < prefix);
        self.keys.get(at).is_some_and(|k| k.starts_with(prefix))
    }

    /// The children of `path`, as a mask of nibbles, under which some key changed: the
    /// same as asking [`PrefixSet::contains`] for each child (the walk asks it of every
    /// node it enters).
    pub fn child_mask(&self, path: &Nibbles) -> u16 {
        by_child(self.under(path), path.len()).0
    }

    /// The keys that start with `path`: a contiguous run, the set being sorted (a prefix
    /// sorts before its extensions).
    pub fn under(&self, path: &Nibbles) -> &[Nibbles] {
        let start = self.keys.partition_point(|k| k < path);
        let len = self.keys[start..].partition_point(|k| k.starts_with(path));
        &self.keys[start..start + len]
    }

    /// No key changed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> &[Nibbles] {
        &self.keys
    }
}

/// `keys` (sorted, all under one node at `depth`) split by the child each leads to: the
/// mask of those children, and each one's keys (a contiguous run, the set being sorted).
/// A walk that hands each child its run ([`super::update_root_parallel`]'s in-place
/// rehash) never searches the whole set again.
pub(super) fn by_child(keys: &[Nibbles], depth: usize) -> (u16, [&[Nibbles]; 16]) {
    let mut under: [&[Nibbles]; 16] = [&[]; 16];
    let mut mask = 0u16;
    let mut start = 0;
    while start < keys.len() {
        // A key no longer than the node's path (the node's own path) leads to no child; in
        // sorted order it comes first.
        if keys[start].len() <= depth {
            start += 1;
            continue;
        }
        let nibble = keys[start].get_unchecked(depth);
        let end = start
            + 1
            + keys[start + 1..]
                .iter()
                .take_while(|k| k.get_unchecked(depth) == nibble)
                .count();
        under[nibble as usize] = &keys[start..end];
        mask |= 1 << nibble;
        start = end;
    }
    (mask, under)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_prefix_membership() {
        let set = PrefixSet::new(vec![
            Nibbles::from_nibbles([1, 2, 3]),
            Nibbles::from_nibbles([0, 15, 15]),
            Nibbles::from_nibbles([1, 2, 3]),
        ]);
        assert_eq!(set.keys().len(), 2);
        for yes in [vec![], vec![1], vec![1, 2], vec![1, 2, 3], vec![0, 15]] {
            assert!(set.contains(&Nibbles::from_nibbles(&yes)), "{yes:?}");
        }
        for no in [
            vec![2],
            vec![1, 3],
            vec![0, 14],
            vec![1, 2, 3, 0],
            vec![0, 0],
        ] {
            assert!(!set.contains(&Nibbles::from_nibbles(&no)), "{no:?}");
        }
        assert!(!PrefixSet::default().contains(&Nibbles::default()));
    }

    #[test]
    fn child_mask_agrees_with_contains() {
        use alloy_primitives::keccak256;
        let keys: Vec<Nibbles> = (0u32..300)
            .map(|i| Nibbles::unpack(keccak256(i.to_be_bytes())))
            .chain([
                Nibbles::from_nibbles([15; 64]),
                Nibbles::from_nibbles([0; 64]),
            ])
            .collect();
        let set = PrefixSet::new(keys.clone());
        let mut paths = vec![Nibbles::default()];
        for key in &keys {
            for len in 1..5 {
                paths.push(key.slice(..len));
            }
        }
        paths.push(Nibbles::from_nibbles([15; 63]));
        paths.push(Nibbles::from_nibbles([7, 7, 7, 7, 7]));
        for path in paths {
            let mut expected = 0u16;
            for nibble in 0..16u8 {
                let mut child = path;
                child.push(nibble);
                if set.contains(&child) {
                    expected |= 1 << nibble;
                }
            }
            assert_eq!(set.child_mask(&path), expected, "{path:?}");
        }
        assert_eq!(PrefixSet::default().child_mask(&Nibbles::default()), 0);
    }

    #[test]
    fn each_node_splits_its_keys_as_the_whole_set_answers() {
        use alloy_primitives::keccak256;
        // Random keys, and keys that differ from one of them in the last nibble only, so
        // long runs and deep paths are exercised.
        let mut keys: Vec<Nibbles> = (0u32..500)
            .map(|i| Nibbles::unpack(keccak256(i.to_be_bytes())))
            .collect();
        keys.extend(keys.clone().iter().take(40).map(|k| {
            let mut near = *k;
            near.set_at(63, (k.get_unchecked(63) + 1) % 16);
            near
        }));
        let set = PrefixSet::new(keys);
        // Walk down from the root the way the in-place rehash hands keys on, checking every
        // node against answers computed from the whole set.
        let mut todo = vec![(Nibbles::default(), set.keys())];
        let mut nodes = 0;
        while let Some((path, keys)) = todo.pop() {
            assert_eq!(keys, set.under(&path), "{path:?}");
            let (mask, under) = by_child(keys, path.len());
            let mut expected_mask = 0u16;
            for nibble in 0..16u8 {
                let mut child = path;
                child.push(nibble);
                let expected: Vec<Nibbles> = set
                    .keys()
                    .iter()
                    .filter(|k| k.starts_with(&child))
                    .copied()
                    .collect();
                assert_eq!(under[nibble as usize], &expected[..], "{child:?}");
                if set.contains(&child) {
                    expected_mask |= 1 << nibble;
                }
                if child.len() < 64 && !expected.is_empty() {
                    todo.push((child, under[nibble as usize]));
                }
            }
            assert_eq!(mask, expected_mask, "{path:?}");
            assert_eq!(set.child_mask(&path), expected_mask, "{path:?}");
            nodes += 1;
        }
        assert!(nodes > 500, "{nodes} nodes walked");
        assert_eq!(by_child(&[], 3), (0, [&[][..]; 16]));
    }
}
