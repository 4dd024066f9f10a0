//! The WAL record payload: one appended batch in columnar form, and its decoder.

use crate::batch::{ColumnBuf, StrValues, Values};
use crate::colfile::{as_bytes, as_bytes_mut, Pod};
use crate::index::Reader;
use crate::types::{Bitmap, ColumnId, Physical, TableId};

fn physical_tag(p: Physical) -> u8 {
    match p {
        Physical::I64 => 1,
        Physical::U64 => 2,
        Physical::F64 => 3,
        Physical::Bool => 4,
        Physical::Sym => 5,
        Physical::Str => 6,
    }
}

fn physical_from_tag(t: u8) -> Option<Physical> {
    Some(match t {
        1 => Physical::I64,
        2 => Physical::U64,
        3 => Physical::F64,
        4 => Physical::Bool,
        5 => Physical::Sym,
        6 => Physical::Str,
        _ => return None,
    })
}

/// Appends the payload for `ncols` columns (all of `rows` rows) of table `table_id`;
/// `column(i)` gives the i-th column's id and data.
pub(crate) fn encode<'a>(
    out: &mut Vec<u8>,
    table_id: TableId,
    rows: usize,
    symbols: &[String],
    ncols: usize,
    column: impl Fn(usize) -> (ColumnId, &'a ColumnBuf),
) {
    let mut size = 14 + symbols.iter().map(|s| 4 + s.len()).sum::<usize>();
    for i in 0..ncols {
        let (_, col) = column(i);
        size += 4 + col.validity.as_ref().map_or(0, |v| v.bytes().len());
        size += match &col.values {
            Values::I64(_) | Values::U64(_) | Values::F64(_) => 8 * rows,
            Values::Bool(_) => rows,
            Values::Sym(_) => 4 * rows,
            Values::Str(s) => 4 * (rows + 1) + s.bytes.len(),
        };
    }
    out.reserve(size);
    out.extend_from_slice(&table_id.to_le_bytes());
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    for s in symbols {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(ncols as u16).to_le_bytes());
    for i in 0..ncols {
        let (id, col) = column(i);
        debug_assert_eq!(col.len(), rows);
        out.extend_from_slice(&id.to_le_bytes());
        out.push(physical_tag(col.values.physical()));
        out.push(col.validity.is_some() as u8);
        if let Some(v) = &col.validity {
            out.extend_from_slice(v.bytes());
        }
        // The format is little-endian and so is the platform (asserted in colfile.rs): each
        // fixed-width column is one copy.
        match &col.values {
            Values::I64(v) => out.extend_from_slice(as_bytes(v)),
            Values::U64(v) => out.extend_from_slice(as_bytes(v)),
            Values::F64(v) => out.extend_from_slice(as_bytes(v)),
            Values::Bool(v) => out.extend_from_slice(v),
            Values::Sym(v) => out.extend_from_slice(as_bytes(v)),
            Values::Str(s) => {
                let base = s.offsets[0];
                if base == 0 {
                    out.extend_from_slice(as_bytes(&s.offsets));
                } else {
                    s.offsets
                        .iter()
                        .for_each(|x| out.extend_from_slice(&(x - base).to_le_bytes()));
                }
                out.extend_from_slice(&s.bytes[base as usize..s.offsets[rows] as usize]);
            }
        }
    }
}

/// A record's header, read without decoding its columns: enough for replay to decide whether
/// the record holds any row that is not sealed yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    pub table_id: TableId,
    pub rows: usize,
    nsym: usize,
    /// From the symbol list to the end of the payload.
    rest: &'a [u8],
}

/// Reads the header of a payload; `None` if it is malformed.
pub(crate) fn header(payload: &[u8]) -> Option<Header<'_>> {
    let mut r = Reader::new(payload);
    let table_id = r.u32()?;
    let rows = r.u32()? as usize;
    let nsym = r.u32()? as usize;
    Some(Header {
        table_id,
        rows,
        nsym,
        rest: &payload[r.at..],
    })
}

impl<'a> Header<'a> {
    /// The batch symbol dictionary, in code order (`None` for a malformed entry).
    pub fn symbols(&self) -> impl Iterator<Item = Option<&'a str>> + 'a {
        let mut r = Reader::new(self.rest);
        (0..self.nsym).map(move |_| {
            let len = r.u32()? as usize;
            std::str::from_utf8(r.take(len)?).ok()
        })
    }

    pub fn symbol_count(&self) -> usize {
        self.nsym
    }

    /// The physical type column `id` was logged with, walking the column headers and skipping
    /// their data; `None` if the record has no such column or is malformed.
    pub fn column_physical(&self, id: ColumnId) -> Option<Physical> {
        let mut r = Reader::new(self.rest);
        for _ in 0..self.nsym {
            let len = r.u32()? as usize;
            r.take(len)?;
        }
        let rows = self.rows;
        for _ in 0..r.u16()? {
            let col = r.u16()?;
            let physical = physical_from_tag(r.u8()?)?;
            if col == id {
                return Some(physical);
            }
            if r.u8()? == 1 {
                r.take(rows.div_ceil(8))?;
            }
            let bytes = match physical {
                Physical::I64 | Physical::U64 | Physical::F64 => rows.checked_mul(8)?,
                Physical::Bool => rows,
                Physical::Sym => rows.checked_mul(4)?,
                Physical::Str => {
                    let offsets = r.take(rows.checked_add(1)?.checked_mul(4)?)?;
                    let last = offsets.get(offsets.len() - 4..)?;
                    u32::from_le_bytes(last.try_into().ok()?) as usize
                }
            };
            r.take(bytes)?;
        }
        None
    }
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DecodedRecord {
    pub table_id: TableId,
    pub rows: usize,
    pub symbols: Vec<String>,
    pub columns: Vec<(ColumnId, ColumnBuf)>,
}

/// Decodes a payload; `None` if it is malformed (which a CRC-checked record never is unless
/// this version cannot read what an older one wrote).
pub(crate) fn decode(payload: &[u8]) -> Option<DecodedRecord> {
    let mut r = Reader::new(payload);
    let table_id = r.u32()?;
    let rows = r.u32()? as usize;
    let nsym = r.u32()? as usize;
    let mut symbols = Vec::with_capacity(nsym.min(1 << 16));
    for _ in 0..nsym {
        let len = r.u32()? as usize;
        symbols.push(String::from_utf8(r.take(len)?.to_vec()).ok()?);
    }
    let ncols = r.u16()? as usize;
    let mut columns = Vec::with_capacity(ncols);
    /// `n` little-endian numbers, copied in one go (the platform is little-endian).
    fn words<T: Pod + Default>(r: &mut Reader<'_>, n: usize) -> Option<Vec<T>> {
        let bytes = r.take(n.checked_mul(std::mem::size_of::<T>())?)?;
        let mut out = vec![T::default(); n];
        as_bytes_mut(&mut out).copy_from_slice(bytes);
        Some(out)
    }
    for _ in 0..ncols {
        let id = r.u16()?;
        let physical = physical_from_tag(r.u8()?)?;
        let validity = match r.u8()? {
            0 => None,
            1 => Some(Bitmap::from_bytes(r.take(rows.div_ceil(8))?.to_vec(), rows)),
            _ => return None,
        };
        let values = match physical {
            Physical::I64 => Values::I64(words::<i64>(&mut r, rows)?),
            Physical::U64 => Values::U64(words::<u64>(&mut r, rows)?),
            Physical::F64 => Values::F64(words::<f64>(&mut r, rows)?),
            Physical::Bool => Values::Bool(r.take(rows)?.to_vec()),
            Physical::Sym => {
                let codes = words::<u32>(&mut r, rows)?;
                if codes.iter().any(|&c| c as usize >= symbols.len()) {
                    return None;
                }
                Values::Sym(codes)
            }
            Physical::Str => {
                let offsets = words::<u32>(&mut r, rows + 1)?;
                if offsets[0] != 0 || offsets.windows(2).any(|w| w[0] > w[1]) {
                    return None;
                }
                let bytes = r.take(*offsets.last()? as usize)?.to_vec();
                Values::Str(StrValues { offsets, bytes })
            }
        };
        columns.push((id, ColumnBuf { values, validity }));
    }
    r.done().then_some(DecodedRecord {
        table_id,
        rows,
        symbols,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_physical_type_round_trips() {
        let cols = [
            ColumnBuf::new(Values::I64(vec![-1, i64::MAX, 3])),
            ColumnBuf::with_validity(
                Values::U64(vec![1, 0, 3]),
                Bitmap::from_bools([true, false, true]),
            ),
            ColumnBuf::new(Values::F64(vec![1.5, f64::NAN, -0.0])),
            ColumnBuf::new(Values::Bool(vec![1, 0, 1])),
            ColumnBuf::new(Values::Sym(vec![1, 0, 1])),
            ColumnBuf::new(Values::Str(StrValues::from_strs(["", "héllo", "x"]))),
        ];
        let refs: Vec<(ColumnId, &ColumnBuf)> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u16 * 3, c))
            .collect();
        let symbols = vec!["AAPL".to_string(), "MSFT".to_string()];
        let mut buf = Vec::new();
        encode(&mut buf, 7, 3, &symbols, refs.len(), |i| refs[i]);
        let d = decode(&buf).unwrap();
        assert_eq!((d.table_id, d.rows, &d.symbols), (7, 3, &symbols));
        for ((id, got), (want_id, want)) in d.columns.iter().zip(&refs) {
            assert_eq!(id, want_id);
            match (&got.values, &want.values) {
                (Values::F64(a), Values::F64(b)) => {
                    assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()))
                }
                _ => assert_eq!(got, *want),
            }
        }
        // Every truncation is rejected, never a panic.
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_none(), "cut {cut}");
        }
    }
}
