//! Shared pieces of RowBinary and Native: a bounds-checked reader, ClickHouse type names, and
//! conversion of ClickHouse values to Ronto column types.

use storage::ColumnType;

use super::builder::{Cell, Reason};
use super::scalar::parse_text;
use super::{InputError, Location};

const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_SEC;

/// Reads little-endian values and LEB128 varints, never past the end: running out is
/// `UnexpectedEnd` with the byte offset.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub fn at(&self) -> Location {
        Location::Byte(self.pos)
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn end(&self, what: &str) -> InputError {
        InputError::UnexpectedEnd {
            at: self.at(),
            expected: what.to_string(),
        }
    }

    pub fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], InputError> {
        if count > self.remaining() {
            return Err(self.end(what));
        }
        let bytes = &self.data[self.pos..self.pos + count];
        self.pos += count;
        Ok(bytes)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], InputError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, InputError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, InputError> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    pub fn varint(&mut self, what: &str) -> Result<u64, InputError> {
        let start = self.at();
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            let bits = (byte & 0x7F) as u64;
            if i == 9 && bits > 1 {
                break;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(InputError::Syntax {
            at: start,
            message: format!("{what}: varint longer than 64 bits"),
        })
    }

    /// A varint length and that many bytes, refused over `max` bytes.
    pub fn string(&mut self, what: &str, column: &str, max: usize) -> Result<&'a [u8], InputError> {
        let at = self.at();
        let len = self.varint(what)?;
        match usize::try_from(len) {
            Ok(len) if len <= max => self.take(len, what),
            _ => Err(InputError::FieldTooLong {
                at,
                column: column.to_string(),
                len: usize::try_from(len).unwrap_or(usize::MAX),
                max,
            }),
        }
    }
}

/// The value type inside the Nullable/LowCardinality wrappers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// Signed integer of this many bytes.
    Int(usize),
    /// Unsigned integer of this many bytes.
    UInt(usize),
    Float32,
    Float64,
    Bool,
    String,
    FixedString(usize),
    /// u32 seconds.
    DateTime,
    /// i64 ticks of 10^-precision seconds.
    DateTime64(u32),
    /// u16 days.
    Date,
    /// i32 days.
    Date32,
    /// A scaled integer of 4 or 8 bytes.
    Decimal {
        bytes: usize,
        scale: u32,
    },
}

/// A ClickHouse column type as a client names it in a header: `Nullable(Float64)`,
/// `LowCardinality(Nullable(String))`, `DateTime64(9, 'UTC')`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChType {
    pub base: Base,
    pub nullable: bool,
    pub low_cardinality: bool,
    pub name: String,
}

fn unwrap_type<'n>(s: &'n str, wrapper: &str) -> Option<&'n str> {
    let rest = s.strip_prefix(wrapper)?.trim_start().strip_prefix('(')?;
    Some(rest.strip_suffix(')')?.trim())
}

impl ChType {
    pub fn parse(name: &str) -> Option<ChType> {
        let s = name.trim();
        let (inner, nullable, low_cardinality) =
            if let Some(inner) = unwrap_type(s, "LowCardinality") {
                match unwrap_type(inner, "Nullable") {
                    Some(base) => (base, true, true),
                    None => (inner, false, true),
                }
            } else if let Some(inner) = unwrap_type(s, "Nullable") {
                (inner, true, false)
            } else {
                (s, false, false)
            };
        Some(ChType {
            base: parse_base(inner)?,
            nullable,
            low_cardinality,
            name: s.to_string(),
        })
    }
}

fn parse_base(s: &str) -> Option<Base> {
    let (ident, args) = match s.find('(') {
        Some(i) => {
            let args = s[i + 1..].trim_end().strip_suffix(')')?;
            (
                s[..i].trim(),
                args.split(',').map(str::trim).collect::<Vec<_>>(),
            )
        }
        None => (s, Vec::new()),
    };
    let number = |i: usize| -> Option<u32> { args.get(i)?.parse().ok() };
    let base = match (ident, args.len()) {
        ("Int8", 0) => Base::Int(1),
        ("Int16", 0) => Base::Int(2),
        ("Int32", 0) => Base::Int(4),
        ("Int64", 0) => Base::Int(8),
        ("UInt8", 0) => Base::UInt(1),
        ("UInt16", 0) => Base::UInt(2),
        ("UInt32", 0) => Base::UInt(4),
        ("UInt64", 0) => Base::UInt(8),
        ("Float32", 0) => Base::Float32,
        ("Float64", 0) => Base::Float64,
        ("Bool" | "Boolean", 0) => Base::Bool,
        ("String", 0) => Base::String,
        ("FixedString", 1) => Base::FixedString(args[0].parse().ok().filter(|&n: &usize| n > 0)?),
        ("DateTime", 0 | 1) => Base::DateTime,
        ("DateTime64", 1 | 2) => Base::DateTime64(number(0).filter(|&p| p <= 9)?),
        ("Date", 0) => Base::Date,
        ("Date32", 0) => Base::Date32,
        ("Decimal32", 1) => Base::Decimal {
            bytes: 4,
            scale: number(0).filter(|&s| s <= 9)?,
        },
        ("Decimal64", 1) => Base::Decimal {
            bytes: 8,
            scale: number(0).filter(|&s| s <= 18)?,
        },
        ("Decimal", 2) => {
            let (precision, scale) = (number(0)?, number(1)?);
            if !(1..=18).contains(&precision) || scale > precision {
                return None;
            }
            Base::Decimal {
                bytes: if precision <= 9 { 4 } else { 8 },
                scale,
            }
        }
        _ => return None,
    };
    Some(base)
}

/// Whether values of `base` can go into a `target` column at all (individual values may still
/// be out of range or, for strings, unparseable).
pub(crate) fn compatible(base: &Base, target: ColumnType) -> bool {
    let integer = matches!(base, Base::Int(_) | Base::UInt(_));
    let string = matches!(base, Base::String | Base::FixedString(_));
    let decimal = matches!(base, Base::Decimal { .. });
    let temporal = matches!(
        base,
        Base::DateTime | Base::DateTime64(_) | Base::Date | Base::Date32
    );
    match target {
        ColumnType::Int64 | ColumnType::UInt64 => {
            integer || string || decimal || *base == Base::Bool
        }
        ColumnType::Float64 => {
            integer
                || string
                || decimal
                || matches!(base, Base::Float32 | Base::Float64 | Base::Bool)
        }
        ColumnType::Bool => integer || string || *base == Base::Bool,
        ColumnType::Timestamp => integer || string || temporal,
        ColumnType::Symbol | ColumnType::String => string,
    }
}

/// One binary value before conversion to the column type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Raw<'a> {
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(&'a [u8]),
    Seconds(i64),
    Ticks { value: i64, precision: u32 },
    Days(i64),
    Decimal { value: i64, scale: u32 },
}

impl Raw<'_> {
    /// The value as text, for error messages.
    pub fn text(&self) -> Vec<u8> {
        match *self {
            Raw::Int(v) | Raw::Seconds(v) | Raw::Days(v) => v.to_string().into_bytes(),
            Raw::UInt(v) => v.to_string().into_bytes(),
            Raw::Float(v) => v.to_string().into_bytes(),
            Raw::Bool(v) => v.to_string().into_bytes(),
            Raw::Str(s) => s.to_vec(),
            Raw::Ticks { value, precision }
            | Raw::Decimal {
                value,
                scale: precision,
            } => format!("{value}e-{precision}").into_bytes(),
        }
    }
}

/// Reads one value of `base` in its RowBinary/Native layout.
pub(crate) fn read_raw<'a>(
    r: &mut Reader<'a>,
    base: &Base,
    column: &str,
    field_max: usize,
) -> Result<Raw<'a>, InputError> {
    fn int<const N: usize>(r: &mut Reader<'_>, what: &str) -> Result<[u8; N], InputError> {
        r.array::<N>(what)
    }
    Ok(match *base {
        Base::Int(1) => Raw::Int(i8::from_le_bytes(int::<1>(r, "Int8")?) as i64),
        Base::Int(2) => Raw::Int(i16::from_le_bytes(int::<2>(r, "Int16")?) as i64),
        Base::Int(4) => Raw::Int(i32::from_le_bytes(int::<4>(r, "Int32")?) as i64),
        Base::Int(_) => Raw::Int(i64::from_le_bytes(int::<8>(r, "Int64")?)),
        Base::UInt(1) => Raw::UInt(u8::from_le_bytes(int::<1>(r, "UInt8")?) as u64),
        Base::UInt(2) => Raw::UInt(u16::from_le_bytes(int::<2>(r, "UInt16")?) as u64),
        Base::UInt(4) => Raw::UInt(u32::from_le_bytes(int::<4>(r, "UInt32")?) as u64),
        Base::UInt(_) => Raw::UInt(u64::from_le_bytes(int::<8>(r, "UInt64")?)),
        Base::Float32 => Raw::Float(f32::from_le_bytes(int::<4>(r, "Float32")?) as f64),
        Base::Float64 => Raw::Float(f64::from_le_bytes(int::<8>(r, "Float64")?)),
        Base::Bool => Raw::Bool(r.u8("Bool")? != 0),
        Base::String => Raw::Str(r.string("String", column, field_max)?),
        Base::FixedString(n) => {
            if n > field_max {
                return Err(InputError::FieldTooLong {
                    at: r.at(),
                    column: column.to_string(),
                    len: n,
                    max: field_max,
                });
            }
            let bytes = r.take(n, "FixedString")?;
            // ClickHouse pads with zero bytes; the value is what precedes the padding.
            let len = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            Raw::Str(&bytes[..len])
        }
        Base::DateTime => Raw::Seconds(u32::from_le_bytes(int::<4>(r, "DateTime")?) as i64),
        Base::DateTime64(precision) => Raw::Ticks {
            value: i64::from_le_bytes(int::<8>(r, "DateTime64")?),
            precision,
        },
        Base::Date => Raw::Days(u16::from_le_bytes(int::<2>(r, "Date")?) as i64),
        Base::Date32 => Raw::Days(i32::from_le_bytes(int::<4>(r, "Date32")?) as i64),
        Base::Decimal { bytes: 4, scale } => Raw::Decimal {
            value: i32::from_le_bytes(int::<4>(r, "Decimal32")?) as i64,
            scale,
        },
        Base::Decimal { scale, .. } => Raw::Decimal {
            value: i64::from_le_bytes(int::<8>(r, "Decimal64")?),
            scale,
        },
    })
}

/// A decimal as an integer, only when it has no fractional part.
fn decimal_int(value: i64, scale: u32) -> Result<i64, Reason> {
    let unit = 10i64.checked_pow(scale).ok_or(Reason::OutOfRange)?;
    if value % unit == 0 {
        Ok(value / unit)
    } else {
        Err(Reason::OutOfRange)
    }
}

fn ns(value: i64, unit_ns: i64) -> Result<i64, Reason> {
    value.checked_mul(unit_ns).ok_or(Reason::OutOfRange)
}

/// Converts a binary value to a `target` column's type. Pairs that [`compatible`] refuses
/// never get here; should one, it is a parse error rather than a panic.
pub(crate) fn convert(raw: Raw<'_>, target: ColumnType) -> Result<Cell<'_>, Reason> {
    let range = |_| Reason::OutOfRange;
    match (target, raw) {
        (_, Raw::Str(s)) => parse_text(target, s),
        (ColumnType::Int64, Raw::Int(v)) => Ok(Cell::I64(v)),
        (ColumnType::Int64, Raw::UInt(v)) => i64::try_from(v).map(Cell::I64).map_err(range),
        (ColumnType::Int64, Raw::Bool(v)) => Ok(Cell::I64(v as i64)),
        (ColumnType::Int64, Raw::Decimal { value, scale }) => {
            decimal_int(value, scale).map(Cell::I64)
        }
        (ColumnType::UInt64, Raw::Int(v)) => u64::try_from(v).map(Cell::U64).map_err(range),
        (ColumnType::UInt64, Raw::UInt(v)) => Ok(Cell::U64(v)),
        (ColumnType::UInt64, Raw::Bool(v)) => Ok(Cell::U64(v as u64)),
        (ColumnType::UInt64, Raw::Decimal { value, scale }) => {
            let v = decimal_int(value, scale)?;
            u64::try_from(v).map(Cell::U64).map_err(range)
        }
        (ColumnType::Float64, Raw::Int(v)) => Ok(Cell::F64(v as f64)),
        (ColumnType::Float64, Raw::UInt(v)) => Ok(Cell::F64(v as f64)),
        (ColumnType::Float64, Raw::Float(v)) => Ok(Cell::F64(v)),
        (ColumnType::Float64, Raw::Bool(v)) => Ok(Cell::F64(if v { 1.0 } else { 0.0 })),
        (ColumnType::Float64, Raw::Decimal { value, scale }) => {
            Ok(Cell::F64(value as f64 / 10f64.powi(scale as i32)))
        }
        (ColumnType::Bool, Raw::Bool(v)) => Ok(Cell::Bool(v)),
        (ColumnType::Bool, Raw::Int(v @ (0 | 1))) => Ok(Cell::Bool(v == 1)),
        (ColumnType::Bool, Raw::UInt(v @ (0 | 1))) => Ok(Cell::Bool(v == 1)),
        (ColumnType::Bool, Raw::Int(_) | Raw::UInt(_)) => Err(Reason::OutOfRange),
        (ColumnType::Timestamp, Raw::Int(v)) => Ok(Cell::I64(v)),
        (ColumnType::Timestamp, Raw::UInt(v)) => i64::try_from(v).map(Cell::I64).map_err(range),
        (ColumnType::Timestamp, Raw::Seconds(v)) => ns(v, NS_PER_SEC).map(Cell::I64),
        (ColumnType::Timestamp, Raw::Days(v)) => ns(v, NS_PER_DAY).map(Cell::I64),
        (ColumnType::Timestamp, Raw::Ticks { value, precision }) => {
            let unit = 10i64.pow(9 - precision.min(9));
            ns(value, unit).map(Cell::I64)
        }
        _ => Err(Reason::Parse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        let t = ChType::parse("LowCardinality(Nullable(String))").unwrap();
        assert_eq!(
            (t.base.clone(), t.nullable, t.low_cardinality),
            (Base::String, true, true)
        );
        let t = ChType::parse("Nullable(DateTime64(3, 'UTC'))").unwrap();
        assert_eq!((t.base, t.nullable), (Base::DateTime64(3), true));
        assert_eq!(
            ChType::parse("DateTime('Europe/Amsterdam')").unwrap().base,
            Base::DateTime
        );
        assert_eq!(
            ChType::parse("Decimal(18, 4)").unwrap().base,
            Base::Decimal { bytes: 8, scale: 4 }
        );
        assert_eq!(
            ChType::parse("FixedString(3)").unwrap().base,
            Base::FixedString(3)
        );
        for bad in [
            "Int128",
            "Array(Int64)",
            "Nullable(LowCardinality(String))",
            "DateTime64(10)",
            "Decimal(38, 2)",
            "",
            "Nullable(",
            "FixedString(0)",
        ] {
            assert_eq!(ChType::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn varints() {
        let mut r = Reader::new(&[
            0x80, 0x01, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        ]);
        assert_eq!(r.varint("x"), Ok(128));
        assert_eq!(r.varint("x"), Ok(127));
        assert_eq!(r.varint("x"), Ok(u64::MAX));
        let mut r = Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
        assert!(matches!(r.varint("x"), Err(InputError::Syntax { .. })));
        let mut r = Reader::new(&[0x80]);
        assert!(matches!(
            r.varint("x"),
            Err(InputError::UnexpectedEnd { .. })
        ));
    }

    #[test]
    fn conversions() {
        use ColumnType as T;
        assert_eq!(
            convert(Raw::UInt(u64::MAX), T::Int64),
            Err(Reason::OutOfRange)
        );
        assert_eq!(convert(Raw::Int(-1), T::UInt64), Err(Reason::OutOfRange));
        assert_eq!(
            convert(Raw::Seconds(2), T::Timestamp),
            Ok(Cell::I64(2_000_000_000))
        );
        assert_eq!(
            convert(
                Raw::Ticks {
                    value: 5,
                    precision: 3
                },
                T::Timestamp
            ),
            Ok(Cell::I64(5_000_000))
        );
        assert_eq!(
            convert(
                Raw::Ticks {
                    value: i64::MAX,
                    precision: 6
                },
                T::Timestamp
            ),
            Err(Reason::OutOfRange)
        );
        assert_eq!(
            convert(Raw::Days(1), T::Timestamp),
            Ok(Cell::I64(NS_PER_DAY))
        );
        assert_eq!(
            convert(
                Raw::Decimal {
                    value: 12345,
                    scale: 2
                },
                T::Float64
            ),
            Ok(Cell::F64(123.45))
        );
        assert_eq!(
            convert(
                Raw::Decimal {
                    value: 12300,
                    scale: 2
                },
                T::Int64
            ),
            Ok(Cell::I64(123))
        );
        assert_eq!(
            convert(
                Raw::Decimal {
                    value: 12345,
                    scale: 2
                },
                T::Int64
            ),
            Err(Reason::OutOfRange)
        );
        assert_eq!(convert(Raw::Int(2), T::Bool), Err(Reason::OutOfRange));
        assert_eq!(convert(Raw::Str(b"1.5"), T::Float64), Ok(Cell::F64(1.5)));
        assert!(!compatible(&Base::Float64, T::Int64));
        assert!(!compatible(&Base::Int(8), T::String));
        assert!(compatible(&Base::DateTime64(6), T::Timestamp));
    }
}
