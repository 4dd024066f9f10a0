//! The WAL record payload: one appended batch in columnar form, and its decoder.

use crate::batch::{ColumnBuf, StrValues, Values};
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

/// Appends the payload for `columns` (all of `rows` rows) of table `table_id`.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    table_id: TableId,
    rows: usize,
    symbols: &[String],
    columns: &[(ColumnId, &ColumnBuf)],
) {
    out.extend_from_slice(&table_id.to_le_bytes());
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    out.extend_from_slice(&(symbols.len() as u32).to_le_bytes());
    for s in symbols {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&(columns.len() as u16).to_le_bytes());
    for (id, col) in columns {
        debug_assert_eq!(col.len(), rows);
        out.extend_from_slice(&id.to_le_bytes());
        out.push(physical_tag(col.values.physical()));
        out.push(col.validity.is_some() as u8);
        if let Some(v) = &col.validity {
            out.extend_from_slice(v.bytes());
        }
        match &col.values {
            Values::I64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::U64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::Bool(v) => out.extend_from_slice(v),
            Values::Sym(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Values::Str(s) => {
                s.offsets
                    .iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                out.extend_from_slice(&s.bytes);
            }
        }
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
    fn words<T, const N: usize>(
        r: &mut Reader<'_>,
        n: usize,
        f: fn([u8; N]) -> T,
    ) -> Option<Vec<T>> {
        let bytes = r.take(n.checked_mul(N)?)?;
        Some(
            bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().expect("N bytes")))
                .collect(),
        )
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
            Physical::I64 => Values::I64(words(&mut r, rows, i64::from_le_bytes)?),
            Physical::U64 => Values::U64(words(&mut r, rows, u64::from_le_bytes)?),
            Physical::F64 => Values::F64(words(&mut r, rows, f64::from_le_bytes)?),
            Physical::Bool => Values::Bool(r.take(rows)?.to_vec()),
            Physical::Sym => {
                let codes = words(&mut r, rows, u32::from_le_bytes)?;
                if codes.iter().any(|&c| c as usize >= symbols.len()) {
                    return None;
                }
                Values::Sym(codes)
            }
            Physical::Str => {
                let offsets = words(&mut r, rows + 1, u32::from_le_bytes)?;
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
        encode(&mut buf, 7, 3, &symbols, &refs);
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
