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
    /// same as asking [`PrefixSet::contains`] for each child, with one search per changed
    /// child instead of one per child (the walk asks it of every node it enters).
    pub fn child_mask(&self, path: &Nibbles) -> u16 {
        let depth = path.len();
        let mut at = self.keys.partition_point(|k| k < path);
        let mut mask = 0u16;
        while let Some(key) = self.keys.get(at) {
            if !key.starts_with(path) {
                break;
            }
            if key.len() == depth {
                at += 1;
                continue;
            }
            let nibble = key.get_unchecked(depth);
            mask |= 1 << nibble;
            let mut child = *path;
            child.push(nibble);
            // The keys under this child are contiguous: go past them.
            let Some(next) = child.increment() else {
                break;
            };
            at += self.keys[at..].partition_point(|k| k < &next);
        }
        mask
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
}
