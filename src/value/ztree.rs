//! The big encoding of sorted sets: a member-to-score table and a counted
//! B+tree ordering the table's nodes by (score, member).
//!
//! (Skeleton: filled in by the commits that follow.)

use super::table::{Pair, Table};

/// A big sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZTree {
    table: Table<Pair>,
}

impl ZTree {
    /// Members.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Bytes taken from the allocator, not counting the `ZTree` itself.
    pub fn footprint(&self) -> usize {
        self.table.footprint()
    }
}
