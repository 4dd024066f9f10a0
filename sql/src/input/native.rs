//! The Native format: column-oriented blocks, as clickhouse-connect sends inserts.
//!
//! A body is blocks back to back. Each block: [BlockInfo, when `client_protocol_version` > 0],
//! varint column count, varint row count, then per column: name and type (varint-length
//! strings), [one custom-serialization byte from revision 54454], and, when the block has rows,
//! the column data:
//! - fixed-width numbers little-endian, `String` as varint length + bytes;
//! - `Nullable(T)`: one null-map byte per row (non-zero = NULL), then T for every row;
//! - `LowCardinality(T)`: u64 serialization version (1), then groups until the block's rows are
//!   covered: u64 index type (low byte: index width 1/2/4/8 bytes as 0..3; bit 8 global
//!   dictionary, bit 9 additional keys, bit 10 dictionary update), [u64 count + keys of the
//!   global dictionary], [u64 count + additional keys], u64 index count, the indexes. Keys of
//!   `LowCardinality(Nullable(T))` are plain T and key 0 stands for NULL.
//!
//! Columns are matched to the targets by name, per block; a target column a block lacks is NULL
//! for that block's rows.

use super::binary::{compatible, convert, read_raw, ChType, Reader};
use super::builder::{push_nulls, Cell, ColumnBuilder, Reason};
use super::{
    value_error, Ctx, InputError, Location, NAME_BYTES_MAX, NATIVE_REVISION_CUSTOM_SERIALIZATION,
};

const LC_VERSION_SHARED_WITH_ADDITIONAL_KEYS: u64 = 1;
const LC_INDEX_WIDTH_MASK: u64 = 0xFF;
const LC_NEED_GLOBAL_DICTIONARY: u64 = 1 << 8;
const LC_HAS_ADDITIONAL_KEYS: u64 = 1 << 9;
const LC_NEED_UPDATE_DICTIONARY: u64 = 1 << 10;

pub(crate) fn decode(data: &[u8], ctx: &mut Ctx<'_>) -> Result<(), InputError> {
    let mut r = Reader::new(data);
    let revision = ctx.opts.native_protocol_version;
    let field_max = ctx.opts.field_bytes_max;
    let mut seen = vec![false; ctx.b.cols.len()];
    while !r.is_empty() {
        let block_at = r.at();
        if revision > 0 {
            block_info(&mut r)?;
        }
        let columns = r.varint("the column count of a block")?;
        let rows = r.varint("the row count of a block")?;
        let rows = usize::try_from(rows).map_err(|_| InputError::TooManyRows {
            max: ctx.opts.rows_max,
        })?;
        ctx.reserve_rows(rows)?;
        seen.fill(false);
        for _ in 0..columns {
            let at = r.at();
            let name = r.string("a column name", "", NAME_BYTES_MAX)?;
            let type_name = r.string("a column type", "", NAME_BYTES_MAX)?;
            let type_name = String::from_utf8_lossy(type_name);
            if revision >= NATIVE_REVISION_CUSTOM_SERIALIZATION {
                let custom = r.u8("the custom serialization flag")?;
                if custom != 0 {
                    return Err(InputError::Syntax {
                        at,
                        message: format!(
                            "column '{}' uses a custom (sparse) serialization, which is not supported",
                            super::excerpt(name)
                        ),
                    });
                }
            }
            let column_name = String::from_utf8_lossy(name).into_owned();
            let ty = ChType::parse(&type_name).ok_or_else(|| InputError::UnsupportedType {
                at,
                column: column_name.clone(),
                ty: type_name.to_string(),
            })?;
            let sink = match ctx.target(name) {
                Some(ci) => {
                    if seen[ci] {
                        return Err(InputError::DuplicateColumn {
                            at,
                            column: column_name,
                        });
                    }
                    seen[ci] = true;
                    let col = &ctx.b.cols[ci];
                    if !compatible(&ty.base, col.ty) {
                        return Err(InputError::TypeMismatch {
                            at,
                            column: column_name,
                            from: ty.name.clone(),
                            to: col.ty.name(),
                        });
                    }
                    Some(ci)
                }
                None if ctx.opts.skip_unknown_fields => None,
                None => return Err(ctx.unknown_column(at, name)),
            };
            if rows == 0 {
                continue;
            }
            let sink = sink.map(|ci| &mut ctx.b.cols[ci]);
            if ty.low_cardinality {
                low_cardinality(&mut r, &ty, rows, sink, &column_name, field_max)?;
            } else {
                plain(&mut r, &ty, rows, sink, &column_name, field_max)?;
            }
        }
        for (ci, col) in ctx.b.cols.iter_mut().enumerate() {
            if !seen[ci] {
                push_nulls(col, rows).map_err(|_| InputError::MissingColumn {
                    at: block_at,
                    column: col.name.clone(),
                })?;
            }
        }
        ctx.b.commit_block(rows);
    }
    Ok(())
}

/// BlockInfo: (varint field number, value)* ending with field 0; field 1 is `is_overflows`
/// (u8), field 2 `bucket_num` (i32).
fn block_info(r: &mut Reader<'_>) -> Result<(), InputError> {
    loop {
        let at = r.at();
        match r.varint("a BlockInfo field number")? {
            0 => return Ok(()),
            1 => {
                r.u8("BlockInfo is_overflows")?;
            }
            2 => {
                r.array::<4>("BlockInfo bucket_num")?;
            }
            other => {
                return Err(InputError::Syntax {
                    at,
                    message: format!("unknown BlockInfo field {other}"),
                })
            }
        }
    }
}

fn push_raw(
    col: &mut ColumnBuilder,
    cell: Result<Cell<'_>, Reason>,
    at: Location,
    text: impl FnOnce() -> Vec<u8>,
) -> Result<(), InputError> {
    match cell.and_then(|c| col.push(c)) {
        Ok(()) => Ok(()),
        Err(reason) => Err(value_error(reason, at, col, &text())),
    }
}

/// A non-LowCardinality column of `rows` values, into `sink` or discarded.
fn plain<'a>(
    r: &mut Reader<'a>,
    ty: &ChType,
    rows: usize,
    mut sink: Option<&mut ColumnBuilder>,
    column: &str,
    field_max: usize,
) -> Result<(), InputError> {
    use super::binary::Base;
    use storage::ColumnType as T;
    let null_map_pos = r.pos();
    let nulls = if ty.nullable {
        Some(r.take(rows, "a null map")?)
    } else {
        None
    };
    if let Some(col) = sink.as_deref_mut() {
        let same_layout = matches!(
            (&ty.base, col.ty),
            (Base::Int(8), T::Int64 | T::Timestamp)
                | (Base::UInt(8), T::UInt64)
                | (Base::Float64, T::Float64)
                | (Base::DateTime64(9), T::Timestamp)
        );
        if same_layout {
            let bytes = r.take(rows.saturating_mul(8), &ty.name)?;
            return match col.extend_le8(bytes, nulls) {
                Ok(extended) => {
                    debug_assert!(extended);
                    Ok(())
                }
                Err(row) => Err(InputError::NullValue {
                    at: Location::Byte(null_map_pos + row),
                    column: col.name.clone(),
                }),
            };
        }
    }
    for i in 0..rows {
        let at = r.at();
        let raw = read_raw(r, &ty.base, column, field_max)?;
        if let Some(col) = sink.as_deref_mut() {
            let null = nulls.is_some_and(|n| n[i] != 0);
            let (cell, at) = if null {
                // A refused NULL is reported at its null-map byte.
                (Ok(Cell::Null), Location::Byte(null_map_pos + i))
            } else {
                (convert(raw, col.ty), at)
            };
            push_raw(col, cell, at, || raw.text())?;
        }
    }
    Ok(())
}

/// A dictionary key converted to the target type, or why it cannot be (reported only if a
/// row uses it).
type Key<'a> = Result<Cell<'a>, (Reason, Location, Vec<u8>)>;

fn keys<'a>(
    r: &mut Reader<'a>,
    ty: &ChType,
    sink: Option<&ColumnBuilder>,
    column: &str,
    field_max: usize,
) -> Result<Vec<Key<'a>>, InputError> {
    let at = r.at();
    let count = r.u64("a LowCardinality key count")?;
    // Every key takes at least one byte: a count beyond the data is corrupt, not a reason to
    // allocate.
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= r.remaining())
        .ok_or_else(|| InputError::Syntax {
            at,
            message: format!("LowCardinality dictionary of {count} keys does not fit in the data"),
        })?;
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let key_at = r.at();
        let raw = read_raw(r, &ty.base, column, field_max)?;
        keys.push(match sink {
            Some(col) => convert(raw, col.ty).map_err(|reason| (reason, key_at, raw.text())),
            None => Ok(Cell::Null),
        });
    }
    Ok(keys)
}

fn low_cardinality<'a>(
    r: &mut Reader<'a>,
    ty: &ChType,
    rows: usize,
    mut sink: Option<&mut ColumnBuilder>,
    column: &str,
    field_max: usize,
) -> Result<(), InputError> {
    let at = r.at();
    let version = r.u64("the LowCardinality serialization version")?;
    if version != LC_VERSION_SHARED_WITH_ADDITIONAL_KEYS {
        return Err(InputError::Syntax {
            at,
            message: format!(
                "column '{column}': unsupported LowCardinality serialization version {version}"
            ),
        });
    }
    let mut global: Option<Vec<Key<'a>>> = None;
    let mut done = 0usize;
    while done < rows {
        let at = r.at();
        let index_type = r.u64("a LowCardinality index type")?;
        let known = LC_INDEX_WIDTH_MASK
            | LC_NEED_GLOBAL_DICTIONARY
            | LC_HAS_ADDITIONAL_KEYS
            | LC_NEED_UPDATE_DICTIONARY;
        let width = match index_type & LC_INDEX_WIDTH_MASK {
            0 => 1,
            1 => 2,
            2 => 4,
            3 => 8,
            _ => 0,
        };
        if width == 0 || index_type & !known != 0 {
            return Err(InputError::Syntax {
                at,
                message: format!(
                    "column '{column}': invalid LowCardinality index type 0x{index_type:x}"
                ),
            });
        }
        let use_global = index_type & LC_NEED_GLOBAL_DICTIONARY != 0;
        if use_global && (global.is_none() || index_type & LC_NEED_UPDATE_DICTIONARY != 0) {
            global = Some(keys(r, ty, sink.as_deref(), column, field_max)?);
        }
        let additional = if index_type & LC_HAS_ADDITIONAL_KEYS != 0 {
            keys(r, ty, sink.as_deref(), column, field_max)?
        } else if use_global {
            Vec::new()
        } else {
            return Err(InputError::Syntax {
                at,
                message: format!("column '{column}': LowCardinality data without a dictionary"),
            });
        };
        let global_keys: &[Key<'a>] = match (&global, use_global) {
            (Some(g), true) => g,
            _ => &[],
        };
        let count_at = r.at();
        let count = r.u64("a LowCardinality index count")?;
        let left = rows - done;
        let count = usize::try_from(count).ok().filter(|&n| n <= left).ok_or_else(|| InputError::Syntax {
            at: count_at,
            message: format!("column '{column}': {count} LowCardinality indexes but {left} rows left in the block"),
        })?;
        let base = r.pos();
        let len = count.saturating_mul(width);
        let indexes = r.take(len, "LowCardinality indexes")?;
        let key_count = global_keys.len() + additional.len();
        for (i, chunk) in indexes.chunks_exact(width).enumerate() {
            let mut word = [0u8; 8];
            word[..width].copy_from_slice(chunk);
            let index = u64::from_le_bytes(word);
            let at = Location::Byte(base + i * width);
            let key = usize::try_from(index).ok().and_then(|k| {
                if k < global_keys.len() {
                    global_keys.get(k)
                } else {
                    additional.get(k - global_keys.len())
                }
            });
            let Some(key) = key else {
                return Err(InputError::Syntax {
                    at,
                    message: format!("column '{column}': LowCardinality index {index} out of range for {key_count} keys"),
                });
            };
            let Some(col) = sink.as_deref_mut() else {
                continue;
            };
            let cell = if ty.nullable && index == 0 {
                Ok(Cell::Null)
            } else {
                match key {
                    Ok(cell) => Ok(*cell),
                    Err((reason, key_at, text)) => {
                        return Err(value_error(reason.clone(), *key_at, col, text))
                    }
                }
            };
            push_raw(col, cell, at, Vec::new)?;
        }
        done += count;
    }
    Ok(())
}
