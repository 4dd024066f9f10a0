//! RowBinary, RowBinaryWithNames and RowBinaryWithNamesAndTypes: values row after row.
//!
//! WithNames bodies start with a varint column count and the names (varint-length strings);
//! WithNamesAndTypes then carry one ClickHouse type name per column, which decides how each
//! value is read and converted. Without types, columns are read as
//! [`super::clickhouse_type_name`] names them. In a row, `Nullable(T)` is one flag byte
//! (non-zero = NULL) followed by T unless NULL; `LowCardinality(T)` is just T.

use storage::TableSchema;

use super::binary::{compatible, convert, read_raw, ChType, Reader};
use super::builder::Cell;
use super::{clickhouse_type_name, value_error, Ctx, InputError, NAME_BYTES_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    None,
    Names,
    NamesAndTypes,
}

/// The type a target column is read as when the body does not say.
fn default_type(ctx: &Ctx<'_>, schema: &TableSchema, ci: usize) -> ChType {
    let index = schema
        .column_index(&ctx.b.cols[ci].name)
        .expect("targets are columns of the schema");
    ChType::parse(&clickhouse_type_name(schema, index)).expect("our own type names parse")
}

pub(crate) fn decode(
    data: &[u8],
    ctx: &mut Ctx<'_>,
    schema: &TableSchema,
    header: Header,
) -> Result<(), InputError> {
    let mut r = Reader::new(data);
    let field_max = ctx.opts.field_bytes_max;
    // (target position or None to skip, type, column name as sent)
    let mut layout: Vec<(Option<usize>, ChType, String)> = Vec::new();
    match header {
        Header::None => {
            for ci in 0..ctx.b.cols.len() {
                layout.push((
                    Some(ci),
                    default_type(ctx, schema, ci),
                    ctx.b.cols[ci].name.clone(),
                ));
            }
        }
        Header::Names | Header::NamesAndTypes => {
            if r.is_empty() {
                return Ok(());
            }
            let at = r.at();
            let count = r.varint("the column count")?;
            let mut names: Vec<&[u8]> = Vec::new();
            for _ in 0..count {
                names.push(r.string("a column name", "", NAME_BYTES_MAX)?);
            }
            let map = ctx.header_map(at, names.iter().copied())?;
            for (name, target) in names.iter().zip(map) {
                let column = String::from_utf8_lossy(name).into_owned();
                let ty = if header == Header::NamesAndTypes {
                    let type_at = r.at();
                    let type_name = String::from_utf8_lossy(r.string(
                        "a column type",
                        &column,
                        NAME_BYTES_MAX,
                    )?)
                    .into_owned();
                    let ty =
                        ChType::parse(&type_name).ok_or_else(|| InputError::UnsupportedType {
                            at: type_at,
                            column: column.clone(),
                            ty: type_name.clone(),
                        })?;
                    if let Some(ci) = target {
                        let to = ctx.b.cols[ci].ty;
                        if !compatible(&ty.base, to) {
                            return Err(InputError::TypeMismatch {
                                at: type_at,
                                column,
                                from: type_name,
                                to: to.name(),
                            });
                        }
                    }
                    ty
                } else {
                    match target {
                        Some(ci) => default_type(ctx, schema, ci),
                        // Without a type there is no way to know how long the value is.
                        None => return Err(ctx.unknown_column(at, name)),
                    }
                };
                layout.push((target, ty, column));
            }
        }
    }
    if layout.is_empty() && !r.is_empty() {
        return Err(InputError::Syntax {
            at: r.at(),
            message: "row data for zero columns".into(),
        });
    }
    while !r.is_empty() {
        let row_at = r.at();
        let row = ctx.start_row()?;
        for (target, ty, column) in &layout {
            let at = r.at();
            let null = ty.nullable && r.u8("a Nullable flag")? != 0;
            let raw = if null {
                None
            } else {
                Some(read_raw(&mut r, &ty.base, column, field_max)?)
            };
            let Some(ci) = *target else { continue };
            let cell = match raw {
                None => Ok(Cell::Null),
                Some(raw) => convert(raw, ctx.b.cols[ci].ty),
            };
            if let Err(reason) = cell.and_then(|cell| ctx.b.push(ci, cell)) {
                let text = raw.map_or_else(|| b"NULL".to_vec(), |raw| raw.text());
                return Err(value_error(reason, at, &ctx.b.cols[ci], &text));
            }
        }
        ctx.finish_row(row, row_at, Ok(()))?;
    }
    Ok(())
}
