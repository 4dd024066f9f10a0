//! A fast non-cryptographic hasher (FxHash-style, as in rustc) for the in-memory maps on the
//! ingest path: hot buffers by (table, key) and the symbol dictionary. Never used for anything
//! persisted, so it may change freely.
//!
//! SipHash (std's default) costs ~20 ns per short key; this costs a multiply per word. It is
//! not DoS-resistant the way SipHash is, so every map draws a random seed from std's
//! `RandomState` when it is built: an attacker cannot precompute colliding symbols offline.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
#[cfg(test)]
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// One 64-bit state; each word is folded in with a rotate, xor and multiply.
#[derive(Debug, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes the bucket from the low bits and a tag from the top 7: a folded
        // multiply (high half xor low half of the 128-bit product) mixes both ends.
        let m = (self.hash as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

/// Builds [`FxHasher`]s that start from a per-map random seed.
#[derive(Debug, Clone, Copy)]
pub struct FxBuildHasher {
    seed: u64,
}

impl Default for FxBuildHasher {
    fn default() -> Self {
        FxBuildHasher {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;

    #[inline]
    fn build_hasher(&self) -> FxHasher {
        FxHasher { hash: self.seed }
    }
}

pub type FxHashMap<K, V> = HashMap<K, V, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_spread() {
        let b = FxBuildHasher::default();
        assert_eq!(b.hash_one("AAPL"), b.hash_one("AAPL"));
        assert_ne!(b.hash_one("a"), b.hash_one("a\0"));
        assert_ne!(b.hash_one((1u32, 2u64)), b.hash_one((2u32, 1u64)));
        // Sequential integer keys land in many distinct buckets of a small table.
        let buckets: HashSet<u64> = (0..1024u64).map(|k| b.hash_one((1u32, k)) & 1023).collect();
        assert!(
            buckets.len() > 600,
            "{} distinct buckets of 1024",
            buckets.len()
        );
        let tags: HashSet<u64> = (0..1024u64).map(|k| b.hash_one((1u32, k)) >> 57).collect();
        assert!(tags.len() > 120, "{} distinct top-7-bit tags", tags.len());
    }

    #[test]
    fn maps_work() {
        let mut m: FxHashMap<Box<str>, u32> = FxHashMap::default();
        for i in 0..10_000u32 {
            m.insert(format!("S{i}").into(), i);
        }
        assert!((0..10_000u32).all(|i| m[format!("S{i}").as_str()] == i));
    }
}
