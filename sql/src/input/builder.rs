//! Column builders for the input decoders: typed appends with per-row rollback, finished into a `Batch`.

use storage::{Batch, Bitmap, ColumnBuf, ColumnType, Physical, Values};

/// One value already converted to a target column's physical type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(&'a [u8]),
}

/// Why a value was refused; the decoder adds the location, column and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    Parse,
    OutOfRange,
    /// NULL (or a missing value) in the designated timestamp or symbol column.
    Null,
    ColumnTooLarge {
        max: usize,
    },
    /// A symbol (a dictionary entry) must be UTF-8 of at most `SYMBOL_BYTES_MAX` bytes.
    BadSymbol {
        len: usize,
    },
}

/// The values of one target column plus one validity flag per row.
#[derive(Debug)]
pub(crate) struct ColumnBuilder {
    pub name: String,
    pub ty: ColumnType,
    /// The designated timestamp or symbol column: never NULL.
    pub required: bool,
    values: Values,
    valid: Vec<bool>,
    bytes_max: usize,
}

impl ColumnBuilder {
    pub fn new(name: String, ty: ColumnType, required: bool, bytes_max: usize) -> ColumnBuilder {
        let physical = match ty.physical() {
            // Decoders hand symbols over as strings; storage interns them.
            Physical::Sym => Physical::Str,
            p => p,
        };
        ColumnBuilder {
            name,
            ty,
            required,
            values: Values::empty(physical),
            valid: Vec::new(),
            bytes_max: bytes_max.min(u32::MAX as usize),
        }
    }

    pub fn len(&self) -> usize {
        self.valid.len()
    }

    pub fn push(&mut self, cell: Cell<'_>) -> Result<(), Reason> {
        match (cell, &mut self.values) {
            (Cell::Null, values) => {
                if self.required {
                    return Err(Reason::Null);
                }
                values.push_default();
                self.valid.push(false);
                return Ok(());
            }
            (Cell::I64(x), Values::I64(v)) => v.push(x),
            (Cell::U64(x), Values::U64(v)) => v.push(x),
            (Cell::F64(x), Values::F64(v)) => v.push(x),
            (Cell::Bool(x), Values::Bool(v)) => v.push(x as u8),
            (Cell::Str(s), Values::Str(v)) => {
                if self.ty == ColumnType::Symbol
                    && (s.len() > storage::dict::SYMBOL_BYTES_MAX
                        || std::str::from_utf8(s).is_err())
                {
                    return Err(Reason::BadSymbol { len: s.len() });
                }
                if v.bytes.len() + s.len() > self.bytes_max {
                    return Err(Reason::ColumnTooLarge {
                        max: self.bytes_max,
                    });
                }
                v.push(s);
            }
            (cell, values) => {
                // Converters produce the column's own physical type; anything else is a bug.
                debug_assert!(false, "cell {cell:?} for {:?} column", values.physical());
                return Err(Reason::Parse);
            }
        }
        self.valid.push(true);
        Ok(())
    }

    /// Appends `bytes.len() / 8` little-endian 8-byte values, for columns of 8-byte numbers
    /// whose source has the same layout (the Native fast path); `nulls` is a Native null map
    /// (non-zero = NULL, whose value slot is then zeroed). Returns `Ok(false)`, appending
    /// nothing, for other columns, and `Err(row)` for a NULL in a required column.
    pub fn extend_le8(&mut self, bytes: &[u8], nulls: Option<&[u8]>) -> Result<bool, usize> {
        let count = bytes.len() / 8;
        debug_assert_eq!(bytes.len() % 8, 0);
        debug_assert!(nulls.is_none_or(|n| n.len() == count));
        if let Some(row) = nulls
            .filter(|_| self.required)
            .and_then(|n| n.iter().position(|&b| b != 0))
        {
            return Err(row);
        }
        let words = bytes.chunks_exact(8).enumerate().map(|(i, c)| {
            let mut w = [0u8; 8];
            if nulls.is_none_or(|n| n[i] == 0) {
                w.copy_from_slice(c);
            }
            w
        });
        match &mut self.values {
            Values::I64(v) => v.extend(words.map(i64::from_le_bytes)),
            Values::U64(v) => v.extend(words.map(u64::from_le_bytes)),
            Values::F64(v) => v.extend(words.map(f64::from_le_bytes)),
            _ => return Ok(false),
        }
        match nulls {
            None => self.valid.resize(self.values.len(), true),
            Some(n) => self.valid.extend(n.iter().map(|&b| b == 0)),
        }
        Ok(true)
    }

    /// Drops every value from row `len` on.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        match &mut self.values {
            Values::I64(v) => v.truncate(len),
            Values::U64(v) => v.truncate(len),
            Values::F64(v) => v.truncate(len),
            Values::Bool(v) => v.truncate(len),
            Values::Sym(v) => v.truncate(len),
            Values::Str(v) => {
                v.offsets.truncate(len + 1);
                let end = v.offsets[len] as usize;
                v.bytes.truncate(end);
            }
        }
        self.valid.truncate(len);
    }

    pub fn finish(self) -> ColumnBuf {
        debug_assert_eq!(self.values.len(), self.valid.len());
        if self.valid.iter().all(|&v| v) {
            ColumnBuf::new(self.values)
        } else {
            ColumnBuf::with_validity(self.values, Bitmap::from_bools(self.valid))
        }
    }
}

/// The target columns of one decode, appended a row (text formats) or a block (Native) at a time.
#[derive(Debug)]
pub(crate) struct Builder {
    pub cols: Vec<ColumnBuilder>,
    /// Committed rows; every column holds exactly this many values between rows.
    rows: usize,
    /// Which columns already have a value in the row being built.
    filled: Vec<bool>,
}

impl Builder {
    pub fn new(cols: Vec<ColumnBuilder>) -> Builder {
        let filled = vec![false; cols.len()];
        Builder {
            cols,
            rows: 0,
            filled,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_filled(&self, ci: usize) -> bool {
        self.filled[ci]
    }

    /// Sets column `ci` of the current row.
    pub fn push(&mut self, ci: usize, cell: Cell<'_>) -> Result<(), Reason> {
        debug_assert!(!self.filled[ci], "column {ci} set twice in one row");
        self.cols[ci].push(cell)?;
        self.filled[ci] = true;
        Ok(())
    }

    /// Commits the current row, filling columns it did not set with NULL. A required column
    /// left unset is returned as `Err(ci)` and the row stays open (the caller aborts it).
    pub fn end_row(&mut self) -> Result<(), usize> {
        if let Some(ci) =
            (0..self.cols.len()).find(|&ci| !self.filled[ci] && self.cols[ci].required)
        {
            return Err(ci);
        }
        for (col, filled) in self.cols.iter_mut().zip(&mut self.filled) {
            if !*filled {
                let pushed = col.push(Cell::Null);
                debug_assert!(pushed.is_ok());
            }
            *filled = false;
        }
        self.rows += 1;
        debug_assert!(self.cols.iter().all(|c| c.len() == self.rows));
        Ok(())
    }

    /// Forgets whatever the current row appended.
    pub fn abort_row(&mut self) {
        for col in &mut self.cols {
            col.truncate(self.rows);
        }
        self.filled.fill(false);
    }

    /// Commits `count` rows that a columnar decoder appended to every column directly.
    pub fn commit_block(&mut self, count: usize) {
        self.rows += count;
        assert!(
            self.cols.iter().all(|c| c.len() == self.rows),
            "block columns must all hold {} rows",
            self.rows
        );
    }

    pub fn finish(self, table: &str) -> Batch {
        let mut batch = Batch::new(table);
        for col in self.cols {
            debug_assert_eq!(col.len(), self.rows);
            let name = col.name.clone();
            batch = batch.column(name, col.finish());
        }
        batch
    }
}

/// Pushes a NULL `count` times, e.g. for a column a Native block does not carry.
pub(crate) fn push_nulls(col: &mut ColumnBuilder, count: usize) -> Result<(), Reason> {
    for _ in 0..count {
        col.push(Cell::Null)?;
    }
    Ok(())
}
