//! Frame ordering: L1 may carry a batch after later ones (a re-post under a fresh nonce while
//! several were in flight), or the same batch twice (a poster that crashed between a fee bump
//! and its record). Frames are put in index order here before the deriver sees them.

use std::collections::BTreeMap;

use ordo_primitives::BatchFrame;

/// Frames in the order to apply them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ordered<'a> {
    /// Batches 0, 1, 2, ... up to the first gap; then every frame that does not decode (the
    /// deriver reports it); then the first frame after the gap (the deriver reports the gap).
    pub frames: Vec<&'a [u8]>,
    /// Indexes seen again after their first frame (the first one on the source counts), in
    /// source order.
    pub duplicates: Vec<u64>,
}

/// Orders `frames` (as read from the source) for [`Deriver::apply_frame`](crate::deriver::Deriver::apply_frame).
pub fn order_frames(frames: &[Vec<u8>]) -> Ordered<'_> {
    let mut waiting: BTreeMap<u64, &[u8]> = BTreeMap::new();
    let mut undecodable: Vec<&[u8]> = Vec::new();
    let mut duplicates = Vec::new();
    for frame in frames {
        let Ok(f) = BatchFrame::decode(frame) else {
            // Reported after the batches that do decode are applied in order.
            undecodable.push(frame);
            continue;
        };
        if waiting.contains_key(&f.header.index) {
            duplicates.push(f.header.index);
            continue;
        }
        waiting.insert(f.header.index, frame);
    }
    let mut ready: Vec<&[u8]> = Vec::new();
    let mut next = 0u64;
    while let Some(frame) = waiting.remove(&next) {
        ready.push(frame);
        next += 1;
    }
    // Applied in order up to the gap; then what does not decode, then the gap itself.
    ready.extend(undecodable);
    if let Some((_, frame)) = waiting.into_iter().next() {
        ready.push(frame);
    }
    Ordered {
        frames: ready,
        duplicates,
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;
    use ordo_primitives::{BatchHeader, CODEC_NONE};

    use super::*;

    fn frame(index: u64) -> Vec<u8> {
        BatchFrame {
            header: BatchHeader {
                index,
                first_block: index + 1,
                last_block: index + 1,
                last_block_hash: B256::ZERO,
                state_root: B256::ZERO,
                output_root: B256::ZERO,
                codec_id: CODEC_NONE,
                codec_hash: B256::ZERO,
            },
            data: vec![index as u8].into(),
        }
        .encode()
    }

    #[test]
    fn reordered_and_duplicate_frames_are_put_in_index_order() {
        let frames = vec![frame(1), frame(0), frame(1), frame(2)];
        let ordered = order_frames(&frames);
        assert_eq!(
            ordered.frames,
            vec![&frames[1][..], &frames[0][..], &frames[3][..]]
        );
        assert_eq!(ordered.duplicates, vec![1]);
    }

    #[test]
    fn undecodable_frames_come_after_the_ordered_run_and_before_the_gap() {
        let junk = vec![0xde, 0xad];
        let frames = vec![frame(0), frame(3), junk.clone(), frame(1)];
        let ordered = order_frames(&frames);
        assert_eq!(
            ordered.frames,
            vec![&frames[0][..], &frames[3][..], &junk[..], &frames[1][..]]
        );
        assert!(ordered.duplicates.is_empty());
    }
}
