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
}
