//! The randomness of random picks (`HRANDFIELD`, `SPOP`, `SRANDMEMBER`,
//! a table's random element): a splitmix64 stream a command seeds once, so
//! that one seed gives the same picks (tests rely on it) and the picks of
//! one reply are independent.
//!
//! Statistical quality only: nothing here is for secrets. Owns no state
//! beyond the stream, takes no lock, does no I/O.

/// A stream of random numbers (splitmix64) for one command's picks.
#[derive(Debug, Clone)]
pub struct Seeds(u64);

impl Seeds {
    /// A stream starting from `seed`: the same seed, the same stream.
    pub fn new(seed: u64) -> Seeds {
        Seeds(seed)
    }

    /// The next number.
    pub fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next number scaled into `0..n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        below(self.draw(), n)
    }
}

/// `random` scaled into `0..n` (0 for `n` = 0), without the bias of a
/// remainder.
pub fn below(random: u64, n: usize) -> usize {
    ((u128::from(random) * n as u128) >> 64) as usize
}

/// A seeded xorshift sequence for tests that must repeat their operations.
#[cfg(test)]
pub(crate) struct TestRng(pub(crate) u64);

#[cfg(test)]
impl TestRng {
    /// The next number.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 for `n` = 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_repeat_for_a_seed_and_differ_between_seeds() {
        let (mut a, mut b, mut c) = (Seeds::new(1), Seeds::new(1), Seeds::new(2));
        let xs: Vec<u64> = (0..4).map(|_| a.draw()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.draw()).collect();
        let zs: Vec<u64> = (0..4).map(|_| c.draw()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert!(below(u64::MAX, 10) < 10);
        assert_eq!(below(0, 10), 0);
        assert_eq!(below(5, 0), 0);
        assert!(a.below(7) < 7);
    }
}
