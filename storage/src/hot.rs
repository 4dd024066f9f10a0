//! Hot column buffers: the unsealed rows of one (table, symbol), appended in arrival order.

use crate::batch::ColumnBuf;
use crate::types::{Seq, TableSchema};

/// Rows of one (table, key) not yet sealed. Columns are in schema order and always equally long.
#[derive(Debug, Clone)]
pub struct HotBuffer {
    pub cols: Vec<ColumnBuf>,
    /// Seq of the oldest record with a row here (the WAL must keep it).
    pub min_seq: Seq,
    /// Seq of the newest record with a row here.
    pub max_seq: Seq,
    /// When the first row arrived (for age-based sealing).
    pub created_ns: i64,
    /// Whether the timestamp column is non-decreasing.
    pub sorted: bool,
    /// Queued for sealing at the next commit.
    pub queued: bool,
}

impl HotBuffer {
    pub fn new(schema: &TableSchema) -> HotBuffer {
        HotBuffer {
            cols: schema
                .columns
                .iter()
                .map(|c| ColumnBuf::empty(c.ty.physical()))
                .collect(),
            min_seq: 0,
            max_seq: 0,
            created_ns: 0,
            sorted: true,
            queued: false,
        }
    }

    pub fn rows(&self) -> usize {
        self.cols.first().map_or(0, |c| c.len())
    }

    /// Approximate heap bytes held (for the memory budget).
    pub fn bytes(&self) -> usize {
        self.cols
            .iter()
            .map(|c| match &c.values {
                crate::batch::Values::Str(s) => s.bytes.len() + 4 * s.len(),
                crate::batch::Values::Bool(v) => v.len(),
                crate::batch::Values::Sym(v) => 4 * v.len(),
                v => 8 * v.len(),
            })
            .sum()
    }

    /// Heap bytes allocated for the columns (capacity).
    pub fn capacity_bytes(&self) -> usize {
        self.cols.iter().map(|c| c.values.capacity_bytes()).sum()
    }

    /// Empties the buffer, keeping its allocations.
    pub fn clear(&mut self) {
        for c in &mut self.cols {
            c.clear();
        }
        self.min_seq = 0;
        self.max_seq = 0;
        self.created_ns = 0;
        self.sorted = true;
        self.queued = false;
    }

    pub fn ts(&self, ts_index: usize) -> &[i64] {
        match &self.cols[ts_index].values {
            crate::batch::Values::I64(v) => v,
            other => panic!("timestamp column holds {:?}", other.physical()),
        }
    }

    /// Stable-sorts all columns by timestamp (equal timestamps keep arrival order).
    pub fn sort_by_time(&mut self, ts_index: usize) {
        if self.sorted {
            return;
        }
        let ts = self.ts(ts_index);
        let mut perm: Vec<u32> = (0..ts.len() as u32).collect();
        perm.sort_by_key(|&i| ts[i as usize]);
        for col in &mut self.cols {
            let mut sorted = ColumnBuf::empty(col.values.physical());
            sorted.gather_from(col, &perm);
            *col = sorted;
        }
        self.sorted = true;
    }

    /// Keeps only the rows for which `keep(row)` holds.
    pub fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        let rows: Vec<u32> = (0..self.rows())
            .filter(|&i| keep(i))
            .map(|i| i as u32)
            .collect();
        if rows.len() == self.rows() {
            return;
        }
        for col in &mut self.cols {
            let mut kept = ColumnBuf::empty(col.values.physical());
            kept.gather_from(col, &rows);
            *col = kept;
        }
    }

    pub fn check_invariants(&self, ts_index: usize) {
        let n = self.rows();
        for c in &self.cols {
            assert_eq!(c.len(), n, "hot columns have equal lengths");
            if let Some(v) = &c.validity {
                assert_eq!(v.len(), n, "validity covers every row");
            }
        }
        if self.sorted {
            assert!(
                self.ts(ts_index).windows(2).all(|w| w[0] <= w[1]),
                "sorted flag is true"
            );
        }
        assert!(n == 0 || self.min_seq <= self.max_seq);
    }
}
