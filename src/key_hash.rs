//! The hash a database's partitions use for its keys: SipHash-1-2 under a
//! key drawn at random per process, the variant Redis hashes its keys with.
//!
//! Keys come from clients, so the hash must keep an attacker from choosing
//! keys that collide (SipHash is a keyed pseudo-random function built for
//! exactly that). The standard library's default is SipHash-1-3 and is
//! fed a key as its length (eight bytes, one more compression round) and
//! then its bytes. Here a key is hashed as the one byte string it is: the
//! length prefix is skipped, since SipHash folds the length into its last
//! block anyway, and the finalisation runs two rounds, not three. For the
//! short keys a cache holds that is about half the rounds.
//!
//! Used only through [`KeyHashing`] for maps keyed by byte strings (or by
//! types that hash as one, like [`Entry`](crate::entry::Entry)); a type
//! that hashes several fields would lose their boundaries, which is why
//! nothing else uses it. It never allocates, locks or does I/O.

use std::hash::{BuildHasher, Hasher, RandomState};

/// Builds [`KeyHasher`]s under one random key, made per database.
#[derive(Debug, Clone)]
pub struct KeyHashing {
    k0: u64,
    k1: u64,
}

impl Default for KeyHashing {
    fn default() -> Self {
        KeyHashing::new()
    }
}

impl KeyHashing {
    /// A random key, from the standard library's per-process randomness.
    pub fn new() -> KeyHashing {
        let seed = RandomState::new();
        KeyHashing {
            k0: seed.hash_one(0x6b30_u64),
            k1: seed.hash_one(0x6b31_u64),
        }
    }
}

impl BuildHasher for KeyHashing {
    type Hasher = KeyHasher;

    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(Sip::<1, 2>::new(self.k0, self.k1))
    }
}

/// SipHash-1-2 of the bytes written, ignoring the length prefix that
/// `[u8]`'s `Hash` writes first (see the module's doc).
#[derive(Debug, Clone)]
pub struct KeyHasher(Sip<1, 2>);

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// The length prefix of a byte string: SipHash counts the length
    /// itself.
    #[inline]
    fn write_usize(&mut self, _len: usize) {}

    #[inline]
    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// SipHash-c-d over a stream of bytes (the compression rounds per block
/// and the finalisation rounds as parameters).
#[derive(Debug, Clone)]
struct Sip<const C: usize, const D: usize> {
    v: [u64; 4],
    /// Bytes not yet compressed (fewer than eight), little-endian.
    tail: u64,
    tail_len: usize,
    /// Bytes written in all (only its low byte is used).
    length: usize,
}

impl<const C: usize, const D: usize> Sip<C, D> {
    #[inline]
    fn new(k0: u64, k1: u64) -> Self {
        Sip {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            tail_len: 0,
            length: 0,
        }
    }

    #[inline(always)]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, block: u64) {
        self.v[3] ^= block;
        for _ in 0..C {
            Self::round(&mut self.v);
        }
        self.v[0] ^= block;
    }

    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len());
        if self.tail_len > 0 {
            // Top up the bytes left over from the last write first.
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail |= little_endian(&bytes[..take]) << (8 * self.tail_len);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            let block = self.tail;
            self.compress(block);
            self.tail = 0;
            self.tail_len = 0;
        }
        let mut blocks = bytes.chunks_exact(8);
        for block in &mut blocks {
            let mut word = [0u8; 8];
            word.copy_from_slice(block);
            self.compress(u64::from_le_bytes(word));
        }
        let rest = blocks.remainder();
        self.tail = little_endian(rest);
        self.tail_len = rest.len();
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut state = self.clone();
        let last = ((self.length as u64 & 0xff) << 56) | self.tail;
        state.compress(last);
        state.v[2] ^= 0xff;
        for _ in 0..D {
            Self::round(&mut state.v);
        }
        state.v[0] ^ state.v[1] ^ state.v[2] ^ state.v[3]
    }
}

/// Up to eight bytes as a little-endian integer.
#[inline(always)]
fn little_endian(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn sip24(k0: u64, k1: u64, pieces: &[&[u8]]) -> u64 {
        let mut h = Sip::<2, 4>::new(k0, k1);
        pieces.iter().for_each(|p| h.write(p));
        h.finish()
    }

    #[test]
    fn the_rounds_are_siphash_as_published() {
        // The reference vectors: key 00 01 .. 0f, messages 00 01 .. of
        // lengths 0 and 15.
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(sip24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
        assert_eq!(sip24(k0, k1, &[&message]), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn streaming_matches_the_standard_librarys_siphash_2_4_at_every_split() {
        let message: Vec<u8> = (0..40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..message.len() {
            let bytes = &message[..len];
            let mut std_sip = std::hash::SipHasher::new_with_keys(3, 5);
            std_sip.write(bytes);
            let want = std_sip.finish();
            for split in 0..=len {
                let (a, b) = bytes.split_at(split);
                assert_eq!(sip24(3, 5, &[a, b]), want, "len {len} split {split}");
            }
        }
    }

    #[test]
    // The point is to hash through `Hash`, not `hash_one`.
    #[allow(clippy::manual_hash_one)]
    fn a_key_hashes_as_its_bytes_and_keys_differ() {
        let hashing = KeyHashing::new();
        let by_slice = |key: &[u8]| hashing.hash_one(key);
        let mut direct = hashing.build_hasher();
        direct.write(b"user:1000");
        assert_eq!(by_slice(b"user:1000"), direct.finish());
        assert_ne!(by_slice(b"user:1000"), by_slice(b"user:1001"));
        assert_ne!(by_slice(b""), by_slice(b"\0"));
        // Two processes (here: two builders) draw different keys.
        assert_ne!(
            KeyHashing::new().hash_one(b"k"),
            KeyHashing::new().hash_one(b"k")
        );
        // `[u8]`'s Hash (length prefix, then bytes) agrees with one write.
        let mut via_hash = hashing.build_hasher();
        b"user:1000"[..].hash(&mut via_hash);
        assert_eq!(via_hash.finish(), by_slice(b"user:1000"));
    }
}
