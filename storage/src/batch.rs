//! Owned columnar data: the `Batch` that writers append and the column buffers hot data lives in.

use crate::types::{Bitmap, Physical};

/// Variable-length strings: `offsets` has one more entry than there are values and starts at 0;
/// value `i` is `bytes[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrValues {
    pub offsets: Vec<u32>,
    pub bytes: Vec<u8>,
}

impl Default for StrValues {
    fn default() -> Self {
        StrValues {
            offsets: vec![0],
            bytes: Vec::new(),
        }
    }
}

impl StrValues {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    pub fn push(&mut self, v: &[u8]) {
        self.bytes.extend_from_slice(v);
        self.offsets.push(self.bytes.len() as u32);
    }

    pub fn from_strs<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> StrValues {
        let mut s = StrValues::default();
        for v in values {
            s.push(v.as_ref().as_bytes());
        }
        s
    }
}

/// The values of one column, in its physical layout. A NULL slot holds a default value
/// (0, 0.0, false, empty string) and is marked in the column's validity bitmap.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    /// One byte per value, 0 or 1.
    Bool(Vec<u8>),
    /// Symbol ids. In an appended [`Batch`] they index `Batch::symbols`; in hot buffers they are
    /// ids of the shard's symbol dictionary.
    Sym(Vec<u32>),
    Str(StrValues),
}

impl Values {
    pub fn empty(physical: Physical) -> Values {
        match physical {
            Physical::I64 => Values::I64(Vec::new()),
            Physical::U64 => Values::U64(Vec::new()),
            Physical::F64 => Values::F64(Vec::new()),
            Physical::Bool => Values::Bool(Vec::new()),
            Physical::Sym => Values::Sym(Vec::new()),
            Physical::Str => Values::Str(StrValues::default()),
        }
    }

    pub fn physical(&self) -> Physical {
        match self {
            Values::I64(_) => Physical::I64,
            Values::U64(_) => Physical::U64,
            Values::F64(_) => Physical::F64,
            Values::Bool(_) => Physical::Bool,
            Values::Sym(_) => Physical::Sym,
            Values::Str(_) => Physical::Str,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::I64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Sym(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push_default(&mut self) {
        match self {
            Values::I64(v) => v.push(0),
            Values::U64(v) => v.push(0),
            Values::F64(v) => v.push(0.0),
            Values::Bool(v) => v.push(0),
            Values::Sym(v) => v.push(0),
            Values::Str(v) => v.push(b""),
        }
    }

    /// Appends `src[i]` for each `i` in `rows`. Both sides must have the same physical type.
    pub fn gather_from(&mut self, src: &Values, rows: &[u32]) {
        macro_rules! gather {
            ($d:expr, $s:expr) => {{
                $d.reserve(rows.len());
                $d.extend(rows.iter().map(|&r| $s[r as usize]))
            }};
        }
        match (self, src) {
            (Values::I64(d), Values::I64(s)) => gather!(d, s),
            (Values::U64(d), Values::U64(s)) => gather!(d, s),
            (Values::F64(d), Values::F64(s)) => gather!(d, s),
            (Values::Bool(d), Values::Bool(s)) => gather!(d, s),
            (Values::Sym(d), Values::Sym(s)) => gather!(d, s),
            (Values::Str(d), Values::Str(s)) => {
                for &r in rows {
                    d.push(s.get(r as usize));
                }
            }
            (d, s) => panic!("gather {:?} into {:?}", s.physical(), d.physical()),
        }
    }

    /// Appends every value of `src`.
    pub fn extend_from(&mut self, src: &Values) {
        match (self, src) {
            (Values::I64(d), Values::I64(s)) => d.extend_from_slice(s),
            (Values::U64(d), Values::U64(s)) => d.extend_from_slice(s),
            (Values::F64(d), Values::F64(s)) => d.extend_from_slice(s),
            (Values::Bool(d), Values::Bool(s)) => d.extend_from_slice(s),
            (Values::Sym(d), Values::Sym(s)) => d.extend_from_slice(s),
            (Values::Str(d), Values::Str(s)) => {
                let base = d.bytes.len() as u32 - s.offsets[0];
                d.bytes.extend_from_slice(
                    &s.bytes[s.offsets[0] as usize..s.offsets[s.len()] as usize],
                );
                d.offsets.extend(s.offsets[1..].iter().map(|&o| o + base));
            }
            (d, s) => panic!("extend {:?} into {:?}", s.physical(), d.physical()),
        }
    }

    /// Makes room for `additional` more values without reallocating.
    pub fn reserve(&mut self, additional: usize) {
        match self {
            Values::I64(v) => v.reserve(additional),
            Values::U64(v) => v.reserve(additional),
            Values::F64(v) => v.reserve(additional),
            Values::Bool(v) => v.reserve(additional),
            Values::Sym(v) => v.reserve(additional),
            Values::Str(v) => v.offsets.reserve(additional),
        }
    }

    /// Heap bytes allocated (capacity, not length).
    pub fn capacity_bytes(&self) -> usize {
        match self {
            Values::I64(v) => v.capacity() * 8,
            Values::U64(v) => v.capacity() * 8,
            Values::F64(v) => v.capacity() * 8,
            Values::Bool(v) => v.capacity(),
            Values::Sym(v) => v.capacity() * 4,
            Values::Str(v) => v.offsets.capacity() * 4 + v.bytes.capacity(),
        }
    }

    pub fn clear(&mut self) {
        match self {
            Values::I64(v) => v.clear(),
            Values::U64(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Sym(v) => v.clear(),
            Values::Str(v) => {
                // offsets[0] is always 0: keep it and the allocations.
                v.offsets.truncate(1);
                v.bytes.clear();
            }
        }
    }
}

/// A borrowed, typed view of a column's values: resolved once per batch, so that copying a
/// group of rows is a typed loop rather than an enum dispatch per call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValuesRef<'a> {
    I64(&'a [i64]),
    U64(&'a [u64]),
    F64(&'a [f64]),
    Bool(&'a [u8]),
    Sym(&'a [u32]),
    Str(&'a StrValues),
}

impl Values {
    pub(crate) fn as_ref(&self) -> ValuesRef<'_> {
        match self {
            Values::I64(v) => ValuesRef::I64(v),
            Values::U64(v) => ValuesRef::U64(v),
            Values::F64(v) => ValuesRef::F64(v),
            Values::Bool(v) => ValuesRef::Bool(v),
            Values::Sym(v) => ValuesRef::Sym(v),
            Values::Str(v) => ValuesRef::Str(v),
        }
    }
}

/// Appends `src[r]` for each `r` in `rows` (all of `src` when `rows` is `None`).
#[inline]
fn append_typed<T: Copy>(dst: &mut Vec<T>, src: &[T], rows: Option<&[u32]>) {
    match rows {
        None => dst.extend_from_slice(src),
        Some(rows) => dst.extend(rows.iter().map(|&r| src[r as usize])),
    }
}

/// A column's values plus its validity bitmap (`None` = no NULLs).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBuf {
    pub values: Values,
    pub validity: Option<Bitmap>,
}

impl ColumnBuf {
    pub fn new(values: Values) -> ColumnBuf {
        ColumnBuf {
            values,
            validity: None,
        }
    }

    pub fn with_validity(values: Values, validity: Bitmap) -> ColumnBuf {
        assert_eq!(values.len(), validity.len(), "validity length");
        ColumnBuf {
            values,
            validity: Some(validity),
        }
    }

    pub fn empty(physical: Physical) -> ColumnBuf {
        ColumnBuf::new(Values::empty(physical))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.as_ref().is_none_or(|b| b.get(i))
    }

    pub fn null_count(&self) -> usize {
        self.validity.as_ref().map_or(0, |b| b.null_count())
    }

    /// Appends `count` NULLs.
    pub fn push_nulls(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        let len = self.len();
        let validity = self.validity.get_or_insert_with(|| Bitmap::all_valid(len));
        for _ in 0..count {
            self.values.push_default();
            validity.push(false);
        }
    }

    /// Appends `src[i]` (value and validity) for each `i` in `rows`.
    pub fn gather_from(&mut self, src: &ColumnBuf, rows: &[u32]) {
        self.gather_parts(&src.values, src.validity.as_ref(), rows);
    }

    /// Appends `values[i]` with validity `validity[i]` for each `i` in `rows`.
    pub fn gather_parts(&mut self, values: &Values, validity: Option<&Bitmap>, rows: &[u32]) {
        let len = self.len();
        self.values.gather_from(values, rows);
        match (&mut self.validity, validity) {
            (None, None) => {}
            (Some(d), None) => d.extend_valid(rows.len()),
            (d, Some(s)) => {
                let d = d.get_or_insert_with(|| Bitmap::all_valid(len));
                for &r in rows {
                    d.push(s.get(r as usize));
                }
            }
        }
    }

    /// Appends rows `rows` of (`values`, `validity`), or all of them when `rows` is `None`.
    /// Returns the string bytes appended (0 unless this is a String column).
    pub(crate) fn append_rows(
        &mut self,
        values: ValuesRef<'_>,
        validity: Option<&Bitmap>,
        rows: Option<&[u32]>,
    ) -> usize {
        let len = self.len();
        let mut str_bytes = 0;
        match (&mut self.values, values) {
            (Values::I64(d), ValuesRef::I64(s)) => append_typed(d, s, rows),
            (Values::U64(d), ValuesRef::U64(s)) => append_typed(d, s, rows),
            (Values::F64(d), ValuesRef::F64(s)) => append_typed(d, s, rows),
            (Values::Bool(d), ValuesRef::Bool(s)) => append_typed(d, s, rows),
            (Values::Sym(d), ValuesRef::Sym(s)) => append_typed(d, s, rows),
            (Values::Str(d), ValuesRef::Str(s)) => {
                let before = d.bytes.len();
                match rows {
                    None => {
                        let base = d.bytes.len() as u32 - s.offsets[0];
                        d.bytes.extend_from_slice(
                            &s.bytes[s.offsets[0] as usize..s.offsets[s.len()] as usize],
                        );
                        d.offsets.extend(s.offsets[1..].iter().map(|&o| o + base));
                    }
                    Some(rows) => {
                        for &r in rows {
                            d.push(s.get(r as usize));
                        }
                    }
                }
                str_bytes = d.bytes.len() - before;
            }
            (d, s) => panic!("append {s:?} into {:?}", d.physical()),
        }
        let count = rows.map_or_else(|| self.values.len() - len, <[u32]>::len);
        match (&mut self.validity, validity) {
            (None, None) => {}
            (Some(d), None) => d.extend_valid(count),
            (d, Some(s)) => {
                let d = d.get_or_insert_with(|| Bitmap::all_valid(len));
                match rows {
                    None => (0..s.len()).for_each(|i| d.push(s.get(i))),
                    Some(rows) => rows.iter().for_each(|&r| d.push(s.get(r as usize))),
                }
            }
        }
        str_bytes
    }

    /// Appends every row of `src`.
    pub fn extend_from(&mut self, src: &ColumnBuf) {
        self.extend_parts(&src.values, src.validity.as_ref());
    }

    /// Appends every value of `values`, with validity `validity`.
    pub fn extend_parts(&mut self, values: &Values, validity: Option<&Bitmap>) {
        let len = self.len();
        self.values.extend_from(values);
        match (&mut self.validity, validity) {
            (None, None) => {}
            (Some(d), None) => d.extend_valid(values.len()),
            (d, Some(s)) => {
                let d = d.get_or_insert_with(|| Bitmap::all_valid(len));
                for i in 0..s.len() {
                    d.push(s.get(i));
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.values.clear();
        self.validity = None;
    }
}

/// One named column of an appended batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchColumn {
    pub name: String,
    pub data: ColumnBuf,
}

/// What writers append: columns by name for one table. Symbol columns may carry either strings
/// (`Values::Str`) or codes into the batch-local `symbols` dictionary (`Values::Sym`), which lets
/// decoders intern each distinct symbol once per batch. Columns of the table that the batch
/// does not name are stored as NULL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub table: String,
    pub symbols: Vec<String>,
    pub columns: Vec<BatchColumn>,
}

impl Batch {
    pub fn new(table: impl Into<String>) -> Batch {
        Batch {
            table: table.into(),
            symbols: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// Rows in the batch (the length of its first column).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.data.len())
    }

    pub fn column(mut self, name: impl Into<String>, data: ColumnBuf) -> Batch {
        self.columns.push(BatchColumn {
            name: name.into(),
            data,
        });
        self
    }

    pub fn i64s(self, name: impl Into<String>, v: Vec<i64>) -> Batch {
        self.column(name, ColumnBuf::new(Values::I64(v)))
    }

    pub fn u64s(self, name: impl Into<String>, v: Vec<u64>) -> Batch {
        self.column(name, ColumnBuf::new(Values::U64(v)))
    }

    pub fn f64s(self, name: impl Into<String>, v: Vec<f64>) -> Batch {
        self.column(name, ColumnBuf::new(Values::F64(v)))
    }

    pub fn strs<S: AsRef<str>>(
        self,
        name: impl Into<String>,
        v: impl IntoIterator<Item = S>,
    ) -> Batch {
        self.column(name, ColumnBuf::new(Values::Str(StrValues::from_strs(v))))
    }

    /// A Symbol column given as codes into `dict`, which becomes the batch dictionary.
    pub fn symbol_codes(
        mut self,
        name: impl Into<String>,
        dict: Vec<String>,
        codes: Vec<u32>,
    ) -> Batch {
        assert!(
            self.symbols.is_empty() || self.symbols == dict,
            "a batch has one symbol dictionary"
        );
        self.symbols = dict;
        self.column(name, ColumnBuf::new(Values::Sym(codes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_keeps_values_and_nulls() {
        let src = ColumnBuf::with_validity(
            Values::I64(vec![1, 2, 3, 4]),
            Bitmap::from_bools([true, false, true, true]),
        );
        let mut dst = ColumnBuf::new(Values::I64(vec![9]));
        dst.gather_from(&src, &[3, 1]);
        assert_eq!(dst.values, Values::I64(vec![9, 4, 2]));
        assert_eq!(dst.validity, Some(Bitmap::from_bools([true, true, false])));
        dst.push_nulls(2);
        assert_eq!(dst.len(), 5);
        assert_eq!(dst.null_count(), 3);
    }

    #[test]
    fn strings_gather_and_extend() {
        let src = ColumnBuf::new(Values::Str(StrValues::from_strs(["a", "", "ccc"])));
        let mut dst = ColumnBuf::empty(Physical::Str);
        dst.gather_from(&src, &[2, 0]);
        dst.extend_from(&src);
        match &dst.values {
            Values::Str(s) => {
                let all: Vec<&[u8]> = (0..s.len()).map(|i| s.get(i)).collect();
                assert_eq!(all, vec![&b"ccc"[..], b"a", b"a", b"", b"ccc"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
