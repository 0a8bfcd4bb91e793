//! CRC-32 (the IEEE 802.3 polynomial, as in zlib, PNG and gzip), our own.
//!
//! Reflected polynomial `0xEDB88320`, initial value and final XOR
//! `0xFFFFFFFF`: the check value of `"123456789"` is `0xCBF43926`. Eight
//! tables built at compile time let [`Crc32::update`] consume eight bytes per
//! step ("slicing-by-8"), so checking a snapshot of tens of megabytes costs
//! milliseconds. This module only computes; it never does I/O.

/// The reflected IEEE polynomial.
const POLYNOMIAL: u32 = 0xEDB8_8320;

/// `TABLES[0]` is the classic byte-at-a-time table; `TABLES[k][b]` is the
/// CRC contribution of byte `b` followed by `k` zero bytes.
static TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        let mut slice = 1;
        while slice < 8 {
            let prev = tables[slice - 1][byte];
            tables[slice][byte] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            slice += 1;
        }
        byte += 1;
    }
    tables
}

/// A running CRC-32; feed it with [`Crc32::update`], read it with [`Crc32::value`].
#[derive(Debug, Clone, Copy)]
pub struct Crc32 {
    /// The register, kept inverted between updates.
    register: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// The CRC of no bytes yet.
    pub const fn new() -> Self {
        Crc32 { register: !0 }
    }

    /// The CRC-32 of `bytes` in one call.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut crc = Crc32::new();
        crc.update(bytes);
        crc.value()
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &TABLES;
        let mut crc = self.register;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ crc;
            let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
            crc = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][((hi >> 8) & 0xff) as usize]
                ^ t[1][((hi >> 16) & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in words.remainder() {
            crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.register = crc;
    }

    /// The checksum of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.register
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit by bit, straight from the definition: the reference the tables must match.
    fn bitwise(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLYNOMIAL
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn known_vectors_match_the_ieee_crc32() {
        assert_eq!(Crc32::of(b"123456789"), 0xCBF4_3926);
        assert_eq!(Crc32::of(b""), 0);
        assert_eq!(Crc32::of(b"a"), 0xE8B7_BE43);
        assert_eq!(
            Crc32::of(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(Crc32::of(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(Crc32::of(&[0xFFu8; 32]), 0xFF6C_AB0B);
    }

    #[test]
    fn slicing_by_eight_agrees_with_the_bitwise_definition_at_every_length() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in 0..data.len() {
            assert_eq!(Crc32::of(&data[..len]), bitwise(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn feeding_in_pieces_gives_the_same_checksum_as_one_call() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut crc = Crc32::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.value(), Crc32::of(&data), "split at {split}");
        }
    }
}
