//! What memory costs: the model behind `INFO memory` and `MEMORY USAGE`.
//!
//! The keyspace keeps a running count of the bytes it holds (see
//! [`keyspace`](crate::keyspace)); this module says what one allocation of
//! a given size really takes from the C allocator, and what a hash table or
//! a vector of a given capacity allocates, so that the count is the memory
//! the process grows by and not the sum of the sizes asked for.
//!
//! The allocator model is glibc's malloc on a 64-bit target, which Rust's
//! global allocator is on Linux: a request of `n` bytes takes a chunk of
//! `n` plus an 8-byte size word, rounded up to 16 bytes, 32 at least; from
//! [`OWN_PAGES_FROM`] (the threshold the server fixes at start, see
//! [`tune_allocator`](crate::os::tune_allocator)) it takes pages of its
//! own, the request plus a 16-byte header rounded up to whole pages. A test
//! checks the model against `malloc_usable_size`. Other allocators round
//! differently; there the count is an estimate within a few bytes an
//! allocation.
//!
//! Everything here is arithmetic: no allocation, no lock, no call into the
//! C library, so counting costs a few integer operations per change.

use crate::os::OWN_PAGES_FROM;

/// The size word glibc keeps before each chunk.
const SIZE_WORD: usize = 8;

/// glibc's chunk alignment on 64-bit targets.
const ALIGN: usize = 16;

/// glibc's smallest chunk.
const MIN_CHUNK: usize = 32;

/// The page size pages of their own come in.
const PAGE: usize = 4096;

/// Bytes the allocator takes for one allocation of `size` bytes (0 for
/// none: Rust never allocates a zero-sized block).
#[inline]
pub const fn chunk(size: usize) -> usize {
    if size == 0 {
        return 0;
    }
    let heap = round_up(size + SIZE_WORD, ALIGN);
    let heap = if heap < MIN_CHUNK { MIN_CHUNK } else { heap };
    if heap >= OWN_PAGES_FROM {
        // Its own pages: the chunk plus the size word of the mapping.
        round_up(heap + SIZE_WORD, PAGE)
    } else {
        heap
    }
}

/// What `malloc_usable_size` reports for an allocation of `size` bytes,
/// by the model: the chunk less its header.
#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
const fn usable(size: usize) -> usize {
    let chunk = chunk(size);
    if chunk >= OWN_PAGES_FROM {
        chunk - 2 * SIZE_WORD
    } else {
        chunk - SIZE_WORD
    }
}

const fn round_up(n: usize, to: usize) -> usize {
    (n + to - 1) & !(to - 1)
}

/// Bytes a `Vec` (or `BinaryHeap`) of `capacity` elements of `element`
/// bytes allocates.
#[inline]
pub const fn vec(capacity: usize, element: usize) -> usize {
    chunk(capacity * element)
}

/// Bytes a `HashSet` of `capacity` (as its `capacity()` reports it) and
/// elements of `element` bytes allocates: one slot and one control byte
/// per bucket, and a group's width of control bytes more.
///
/// The standard library's table (hashbrown) has a power-of-two number of
/// buckets, and reports as its capacity one less than the buckets below 8
/// buckets and seven eighths of them from 8 up; this inverts that (a test
/// checks it still holds).
#[inline]
pub const fn table(capacity: usize, element: usize) -> usize {
    if capacity == 0 {
        // The shared empty table: nothing allocated.
        return 0;
    }
    let buckets = buckets(capacity);
    // The slots, aligned to the control bytes' 16, then the control bytes.
    chunk(round_up(buckets * element, ALIGN) + buckets + GROUP)
}

/// Control bytes past the last bucket (the SSE2 group width).
const GROUP: usize = 16;

/// Buckets of a table whose `capacity()` is `capacity`.
const fn buckets(capacity: usize) -> usize {
    if capacity < 8 {
        capacity + 1
    } else {
        capacity / 7 * 8
    }
}

/// `bytes` as Redis's `bytesToHuman` writes it: `512B`, `1.50K`, `2.00M`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn small_chunks_round_to_sixteen_with_a_word_of_header() {
        assert_eq!(chunk(0), 0);
        assert_eq!(chunk(1), 32);
        assert_eq!(chunk(24), 32);
        assert_eq!(chunk(25), 48);
        assert_eq!(chunk(56), 64);
        assert_eq!(chunk(57), 80);
        // An entry of a 16-byte key and a 16-byte value: 24 + 16 + 16.
        assert_eq!(chunk(56), 64);
        // A big allocation takes whole pages.
        assert_eq!(chunk(1 << 20), (1 << 20) + PAGE);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_model_matches_what_glibc_hands_out() {
        // Below glibc's lowest mmap threshold (128 KiB) every request is
        // served from the heap, whatever the threshold is now.
        let heap = (1..=4200).chain((4200..120_000).step_by(997));
        // From 32 MiB up (glibc's highest threshold) every one gets pages
        // of its own.
        let own_pages = [32 << 20, (33 << 20) + 5, (40 << 20) + 4095];
        let (mut sizes, mut exact) = (0, 0);
        for size in heap.chain(own_pages) {
            let got = crate::os::usable_size_of_fresh_allocation(size).unwrap();
            // A free chunk whose rest would be smaller than the smallest
            // chunk is handed out whole: 16 bytes more, now and then, in a
            // heap that other tests' threads have left holes in.
            let extra = got.checked_sub(usable(size));
            assert!(
                extra.is_some_and(|e| e <= ALIGN),
                "a request of {size} bytes: {got} usable, the model says {}",
                usable(size)
            );
            sizes += 1;
            exact += usize::from(extra == Some(0));
        }
        assert!(exact * 10 >= sizes * 9, "{exact} of {sizes} exact");
    }

    #[test]
    fn table_capacities_map_back_to_powers_of_two() {
        // If the standard library changed its load factor, the buckets
        // inferred from a capacity would stop being powers of two.
        let mut set: HashSet<u64> = HashSet::new();
        let mut seen = vec![];
        for i in 0..200_000u64 {
            set.insert(i);
            let cap = set.capacity();
            if seen.last() != Some(&cap) {
                assert!(buckets(cap).is_power_of_two(), "capacity {cap}");
                assert!(buckets(cap) > set.len());
                seen.push(cap);
            }
        }
        assert!(seen.len() > 10);
        // 3,585 to 7,168 keys: 8,192 buckets of 8 bytes and 8,208 control
        // bytes, 73,744 bytes (the size the table asks for).
        assert_eq!(table(7168, 8), chunk(73_744));
        assert_eq!(table(3, 8), chunk(52));
        assert_eq!(table(0, 8), 0);
    }

    #[test]
    fn human_sizes_read_as_redis_writes_them() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(3 << 20), "3.00M");
        assert_eq!(human(5 << 30), "5.00G");
    }
}
