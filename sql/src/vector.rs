//! Column vectors that expressions evaluate to: borrowed from scans where possible, owned
//! when computed, with an optional validity vector.

use std::borrow::Cow;

use storage::{ColumnBuf, ColumnData, ColumnSlice, StrValues, SymbolDict, Values};

use crate::types::{BaseType, Column, DataType, Value};

/// Strings as offsets + bytes; `offsets` has one more entry than there are values and need
/// not start at 0.
#[derive(Debug, Clone)]
pub struct StrVec<'a> {
    pub offsets: Cow<'a, [u32]>,
    pub bytes: Cow<'a, [u8]>,
}

impl StrVec<'_> {
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    pub fn from_values(v: StrValues) -> StrVec<'static> {
        StrVec {
            offsets: Cow::Owned(v.offsets),
            bytes: Cow::Owned(v.bytes),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Vector<'a> {
    I64(Cow<'a, [i64]>),
    U64(Cow<'a, [u64]>),
    F64(Cow<'a, [f64]>),
    /// 0 or 1 per value.
    Bool(Cow<'a, [u8]>),
    Str(StrVec<'a>),
    /// Symbol ids of one shard's dictionary.
    Sym(Cow<'a, [u32]>, &'a SymbolDict),
    /// Every value NULL.
    Null(usize),
}

/// A typed vector plus validity (`None` = no NULLs; `valid[i] == false` = NULL).
#[derive(Debug, Clone)]
pub struct Col<'a> {
    pub ty: DataType,
    pub v: Vector<'a>,
    pub valid: Option<Cow<'a, [bool]>>,
}

impl<'a> Col<'a> {
    pub fn new(ty: DataType, v: Vector<'a>) -> Col<'a> {
        Col { ty, v, valid: None }
    }

    pub fn len(&self) -> usize {
        match &self.v {
            Vector::I64(v) => v.len(),
            Vector::U64(v) => v.len(),
            Vector::F64(v) => v.len(),
            Vector::Bool(v) => v.len(),
            Vector::Str(s) => s.len(),
            Vector::Sym(v, _) => v.len(),
            Vector::Null(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        !matches!(self.v, Vector::Null(_)) && self.valid.as_ref().is_none_or(|v| v[i])
    }

    pub fn has_nulls(&self) -> bool {
        matches!(self.v, Vector::Null(n) if n > 0)
            || self.valid.as_ref().is_some_and(|v| v.iter().any(|x| !x))
    }

    /// A borrowed view of this column (no copying).
    pub fn view(&self) -> Col<'_> {
        let v = match &self.v {
            Vector::I64(v) => Vector::I64(Cow::Borrowed(v)),
            Vector::U64(v) => Vector::U64(Cow::Borrowed(v)),
            Vector::F64(v) => Vector::F64(Cow::Borrowed(v)),
            Vector::Bool(v) => Vector::Bool(Cow::Borrowed(v)),
            Vector::Str(s) => Vector::Str(StrVec {
                offsets: Cow::Borrowed(&s.offsets),
                bytes: Cow::Borrowed(&s.bytes),
            }),
            Vector::Sym(v, d) => Vector::Sym(Cow::Borrowed(v), d),
            Vector::Null(n) => Vector::Null(*n),
        };
        Col {
            ty: self.ty,
            v,
            valid: self.valid.as_deref().map(Cow::Borrowed),
        }
    }

    /// The value at row `i` (allocates for strings; for row-wise paths).
    pub fn value(&self, i: usize) -> Value {
        if !self.is_valid(i) {
            return Value::Null;
        }
        match &self.v {
            Vector::I64(v) if self.ty.base == BaseType::DateTime64 => Value::Ts(v[i]),
            Vector::I64(v) => Value::Int(v[i]),
            Vector::U64(v) => Value::UInt(v[i]),
            Vector::F64(v) => Value::Float(v[i]),
            Vector::Bool(v) => Value::Bool(v[i] != 0),
            Vector::Str(s) => Value::Str(String::from_utf8_lossy(s.get(i)).into_owned()),
            Vector::Sym(v, d) => Value::Str(d.get(v[i]).unwrap_or("").to_string()),
            Vector::Null(_) => Value::Null,
        }
    }

    /// The string bytes at `i` for Str and Sym columns.
    #[inline]
    pub fn str_at(&self, i: usize) -> Option<&[u8]> {
        match &self.v {
            Vector::Str(s) => Some(s.get(i)),
            Vector::Sym(v, d) => d.get(v[i]).map(str::as_bytes),
            _ => None,
        }
    }

    /// Builds an owned column of type `ty` from values (NULL where `Value::Null`).
    pub fn from_values(ty: DataType, values: impl IntoIterator<Item = Value>) -> Col<'static> {
        let mut c = Column::new("", ty);
        for v in values {
            c.push(&v);
        }
        Col::from_column_buf(ty, c.data)
    }

    pub fn from_column_buf(ty: DataType, buf: ColumnBuf) -> Col<'static> {
        let len = buf.len();
        let valid = buf
            .validity
            .map(|b| Cow::Owned((0..len).map(|i| b.get(i)).collect::<Vec<bool>>()));
        let v = if ty.base == BaseType::Nothing {
            Vector::Null(len)
        } else {
            match buf.values {
                Values::I64(v) => Vector::I64(Cow::Owned(v)),
                Values::U64(v) => Vector::U64(Cow::Owned(v)),
                Values::F64(v) => Vector::F64(Cow::Owned(v)),
                Values::Bool(v) => Vector::Bool(Cow::Owned(v)),
                Values::Str(s) => Vector::Str(StrVec::from_values(s)),
                Values::Sym(_) => unreachable!("result buffers hold strings"),
            }
        };
        Col { ty, v, valid }
    }

    /// A borrowed view of a result column.
    pub fn from_result_column(c: &'a Column) -> Col<'a> {
        let len = c.len();
        let valid = c
            .data
            .validity
            .as_ref()
            .map(|b| Cow::Owned((0..len).map(|i| b.get(i)).collect::<Vec<bool>>()));
        let v = if c.ty.base == BaseType::Nothing {
            Vector::Null(len)
        } else {
            match &c.data.values {
                Values::I64(v) => Vector::I64(Cow::Borrowed(v)),
                Values::U64(v) => Vector::U64(Cow::Borrowed(v)),
                Values::F64(v) => Vector::F64(Cow::Borrowed(v)),
                Values::Bool(v) => Vector::Bool(Cow::Borrowed(v)),
                Values::Str(s) => Vector::Str(StrVec {
                    offsets: Cow::Borrowed(&s.offsets),
                    bytes: Cow::Borrowed(&s.bytes),
                }),
                Values::Sym(_) => unreachable!("result columns hold strings"),
            }
        };
        Col { ty: c.ty, v, valid }
    }

    /// A view of a scanned storage column.
    pub fn from_slice(s: &ColumnSlice<'a>, rows: usize, dict: &'a SymbolDict) -> Col<'a> {
        let ty = DataType::from_column_type(s.ty);
        let v = match s.data {
            ColumnData::I64(v) => Vector::I64(Cow::Borrowed(v)),
            ColumnData::U64(v) => Vector::U64(Cow::Borrowed(v)),
            ColumnData::F64(v) => Vector::F64(Cow::Borrowed(v)),
            ColumnData::Bool(v) => Vector::Bool(Cow::Borrowed(v)),
            ColumnData::Sym(v) => Vector::Sym(Cow::Borrowed(v), dict),
            ColumnData::Str { offsets, bytes } => Vector::Str(StrVec {
                offsets: Cow::Borrowed(offsets),
                bytes: Cow::Borrowed(bytes),
            }),
            ColumnData::Null => {
                return Col {
                    ty: ty.or_null(),
                    v: Vector::Null(rows),
                    valid: None,
                }
            }
        };
        let valid = s
            .validity
            .map(|b| Cow::Owned((0..b.len).map(|i| b.is_valid(i)).collect::<Vec<bool>>()));
        Col {
            ty: if valid.is_some() { ty.or_null() } else { ty },
            v,
            valid,
        }
    }

    /// The rows at `idx`, owned.
    pub fn gather(&self, idx: &[u32]) -> Col<'static> {
        fn g<T: Copy>(v: &[T], idx: &[u32]) -> Vec<T> {
            idx.iter().map(|&i| v[i as usize]).collect()
        }
        let v = match &self.v {
            Vector::I64(v) => Vector::I64(Cow::Owned(g(v, idx))),
            Vector::U64(v) => Vector::U64(Cow::Owned(g(v, idx))),
            Vector::F64(v) => Vector::F64(Cow::Owned(g(v, idx))),
            Vector::Bool(v) => Vector::Bool(Cow::Owned(g(v, idx))),
            Vector::Str(s) => {
                let mut out = StrValues::default();
                for &i in idx {
                    out.push(s.get(i as usize));
                }
                Vector::Str(StrVec::from_values(out))
            }
            Vector::Sym(v, d) => {
                let mut out = StrValues::default();
                for &i in idx {
                    out.push(d.get(v[i as usize]).unwrap_or("").as_bytes());
                }
                Vector::Str(StrVec::from_values(out))
            }
            Vector::Null(_) => Vector::Null(idx.len()),
        };
        Col {
            ty: self.ty,
            v,
            valid: self.valid.as_ref().map(|vv| Cow::Owned(g(vv, idx))),
        }
    }

    /// The rows `lo..hi`, owned (symbols become strings).
    pub fn slice_owned(&self, lo: usize, hi: usize) -> Col<'static> {
        let idx: Vec<u32> = (lo as u32..hi as u32).collect();
        self.gather(&idx)
    }

    /// Appends rows `lo..hi` to a result column of the same type family.
    pub fn append_to(&self, out: &mut Column, lo: usize, hi: usize) {
        let fast = self.valid.is_none() && out.data.validity.is_none();
        match (&self.v, &mut out.data.values) {
            (Vector::I64(v), Values::I64(d)) if fast => d.extend_from_slice(&v[lo..hi]),
            (Vector::U64(v), Values::U64(d)) if fast => d.extend_from_slice(&v[lo..hi]),
            (Vector::F64(v), Values::F64(d)) if fast => d.extend_from_slice(&v[lo..hi]),
            (Vector::Bool(v), Values::Bool(d)) if fast => d.extend_from_slice(&v[lo..hi]),
            (Vector::Str(s), Values::Str(d)) if fast => (lo..hi).for_each(|i| d.push(s.get(i))),
            (Vector::Sym(v, dict), Values::Str(d)) if fast => {
                (lo..hi).for_each(|i| d.push(dict.get(v[i]).unwrap_or("").as_bytes()))
            }
            _ => (lo..hi).for_each(|i| out.push(&self.value(i))),
        }
    }

    /// Values as f64 (NULL slots hold whatever the vector holds).
    pub fn to_f64(&self) -> Cow<'_, [f64]> {
        match &self.v {
            Vector::F64(v) => Cow::Borrowed(v),
            Vector::I64(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            Vector::U64(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            Vector::Bool(v) => Cow::Owned(v.iter().map(|&x| x as f64).collect()),
            _ => Cow::Owned(
                (0..self.len())
                    .map(|i| self.value(i).as_f64().unwrap_or(f64::NAN))
                    .collect(),
            ),
        }
    }

    /// Values as i64 (floats truncate; NULL slots hold whatever the vector holds).
    pub fn to_i64(&self) -> Cow<'_, [i64]> {
        match &self.v {
            Vector::I64(v) => Cow::Borrowed(v),
            Vector::U64(v) => Cow::Owned(v.iter().map(|&x| x as i64).collect()),
            Vector::F64(v) => Cow::Owned(v.iter().map(|&x| x as i64).collect()),
            Vector::Bool(v) => Cow::Owned(v.iter().map(|&x| x as i64).collect()),
            _ => Cow::Owned(
                (0..self.len())
                    .map(|i| self.value(i).as_i64().unwrap_or(0))
                    .collect(),
            ),
        }
    }

    /// Converts into an owned result column named `name`.
    pub fn into_column(self, name: &str) -> Column {
        let mut c = Column::new(name, self.ty);
        self.append_to(&mut c, 0, self.len());
        c
    }
}

/// Combines two validity vectors (NULL if either side is NULL).
pub fn and_valid<'x>(
    a: &Option<Cow<'_, [bool]>>,
    b: &Option<Cow<'_, [bool]>>,
) -> Option<Cow<'x, [bool]>> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(Cow::Owned(a.to_vec())),
        (Some(a), Some(b)) => Some(Cow::Owned(
            a.iter().zip(b.iter()).map(|(x, y)| *x && *y).collect(),
        )),
    }
}
