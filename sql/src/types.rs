//! Result types: ClickHouse-named data types, scalar values and the columnar `ResultSet`.

use std::fmt;

use storage::{Bitmap, ColumnBuf, StrValues, Values};

/// The type of a result column, named as ClickHouse names it so clients understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseType {
    Int64,
    UInt64,
    /// The narrow integers are logical types: their values live in 64-bit signed vectors
    /// (every value of each fits in an i64), always within the type's range, and output formats
    /// write them at their own width.
    Int8,
    Int16,
    Int32,
    UInt8,
    UInt16,
    UInt32,
    Float64,
    Bool,
    String,
    /// Nanoseconds since the epoch, UTC: ClickHouse `DateTime64(9)`.
    DateTime64,
    /// The type of a bare `NULL` literal: ClickHouse `Nullable(Nothing)`.
    Nothing,
}

impl BaseType {
    /// `(signed, bits)` of an integer type (Bool is not an integer here).
    pub fn int_bits(self) -> Option<(bool, u32)> {
        use BaseType::*;
        Some(match self {
            Int8 => (true, 8),
            Int16 => (true, 16),
            Int32 => (true, 32),
            Int64 => (true, 64),
            UInt8 => (false, 8),
            UInt16 => (false, 16),
            UInt32 => (false, 32),
            UInt64 => (false, 64),
            _ => return None,
        })
    }

    /// The integer type of a sign and a width in bits (8, 16, 32 or 64; wider caps at 64).
    pub fn int(signed: bool, bits: u32) -> BaseType {
        use BaseType::*;
        match (signed, bits) {
            (true, 0..=8) => Int8,
            (true, 9..=16) => Int16,
            (true, 17..=32) => Int32,
            (true, _) => Int64,
            (false, 0..=8) => UInt8,
            (false, 9..=16) => UInt16,
            (false, 17..=32) => UInt32,
            (false, _) => UInt64,
        }
    }

    pub fn is_int(self) -> bool {
        self.int_bits().is_some()
    }

    /// Whether this is one of the integers narrower than 64 bits.
    pub fn is_narrow_int(self) -> bool {
        self.int_bits().is_some_and(|(_, bits)| bits < 64)
    }

    /// `v` wrapped into this type's range, as ClickHouse converts integers (`toUInt8(300)` is
    /// 44, `toInt8(200)` is -56); other types return `v` unchanged.
    #[inline]
    pub fn wrap(self, v: i64) -> i64 {
        use BaseType::*;
        match self {
            Int8 => v as i8 as i64,
            Int16 => v as i16 as i64,
            Int32 => v as i32 as i64,
            UInt8 => v as u8 as i64,
            UInt16 => v as u16 as i64,
            UInt32 => v as u32 as i64,
            _ => v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataType {
    pub base: BaseType,
    pub nullable: bool,
}

impl DataType {
    pub const INT64: DataType = DataType::new(BaseType::Int64);
    pub const UINT64: DataType = DataType::new(BaseType::UInt64);
    pub const INT8: DataType = DataType::new(BaseType::Int8);
    pub const INT16: DataType = DataType::new(BaseType::Int16);
    pub const INT32: DataType = DataType::new(BaseType::Int32);
    pub const UINT8: DataType = DataType::new(BaseType::UInt8);
    pub const UINT16: DataType = DataType::new(BaseType::UInt16);
    pub const UINT32: DataType = DataType::new(BaseType::UInt32);
    pub const FLOAT64: DataType = DataType::new(BaseType::Float64);
    pub const BOOL: DataType = DataType::new(BaseType::Bool);
    pub const STRING: DataType = DataType::new(BaseType::String);
    pub const DATETIME64: DataType = DataType::new(BaseType::DateTime64);
    pub const NULL: DataType = DataType {
        base: BaseType::Nothing,
        nullable: true,
    };

    pub const fn new(base: BaseType) -> DataType {
        DataType {
            base,
            nullable: false,
        }
    }

    pub fn nullable(self, nullable: bool) -> DataType {
        DataType {
            base: self.base,
            nullable,
        }
    }

    pub fn or_null(self) -> DataType {
        self.nullable(true)
    }

    pub fn is_numeric(self) -> bool {
        self.base.is_int() || matches!(self.base, BaseType::Float64 | BaseType::Bool)
    }

    /// ClickHouse's type of an integer literal: the smallest of UInt8..UInt64 that holds a
    /// non-negative value, the smallest of Int8..Int64 that holds a negative one.
    pub fn of_int_literal(v: &Value) -> DataType {
        let base = match *v {
            Value::Int(x) if x >= 0 => BaseType::int(false, 64 - (x as u64).leading_zeros()),
            Value::Int(x) => BaseType::int(true, 65 - x.leading_ones()),
            Value::UInt(_) => BaseType::UInt64,
            ref other => return other.data_type(),
        };
        DataType::new(base)
    }

    /// The ClickHouse type name, e.g. `Nullable(Float64)`.
    pub fn clickhouse_name(self) -> String {
        let base = match self.base {
            BaseType::Int64 => "Int64",
            BaseType::UInt64 => "UInt64",
            BaseType::Int8 => "Int8",
            BaseType::Int16 => "Int16",
            BaseType::Int32 => "Int32",
            BaseType::UInt8 => "UInt8",
            BaseType::UInt16 => "UInt16",
            BaseType::UInt32 => "UInt32",
            BaseType::Float64 => "Float64",
            BaseType::Bool => "Bool",
            BaseType::String => "String",
            BaseType::DateTime64 => "DateTime64(9)",
            BaseType::Nothing => "Nothing",
        };
        if self.nullable {
            format!("Nullable({base})")
        } else {
            base.to_string()
        }
    }

    /// The physical layout a column of this type is stored in.
    pub fn physical(self) -> storage::Physical {
        match self.base {
            BaseType::Int64
            | BaseType::Int8
            | BaseType::Int16
            | BaseType::Int32
            | BaseType::UInt8
            | BaseType::UInt16
            | BaseType::UInt32
            | BaseType::DateTime64 => storage::Physical::I64,
            BaseType::UInt64 => storage::Physical::U64,
            BaseType::Float64 => storage::Physical::F64,
            BaseType::Bool | BaseType::Nothing => storage::Physical::Bool,
            BaseType::String => storage::Physical::Str,
        }
    }

    pub fn from_column_type(ty: storage::ColumnType) -> DataType {
        use storage::ColumnType as C;
        DataType::new(match ty {
            C::Int64 => BaseType::Int64,
            C::UInt64 => BaseType::UInt64,
            C::Float64 => BaseType::Float64,
            C::Bool => BaseType::Bool,
            C::Timestamp => BaseType::DateTime64,
            C::Symbol | C::String => BaseType::String,
        })
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.clickhouse_name())
    }
}

/// One scalar value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// Nanoseconds since the epoch.
    Ts(i64),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::NULL,
            Value::Int(_) => DataType::INT64,
            Value::UInt(_) => DataType::UINT64,
            Value::Float(_) => DataType::FLOAT64,
            Value::Bool(_) => DataType::BOOL,
            Value::Str(_) => DataType::STRING,
            Value::Ts(_) => DataType::DATETIME64,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(v) | Value::Ts(v) => Some(v as f64),
            Value::UInt(v) => Some(v as f64),
            Value::Float(v) => Some(v),
            Value::Bool(v) => Some(v as u8 as f64),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) | Value::Ts(v) => Some(v),
            Value::UInt(v) => i64::try_from(v).ok(),
            Value::Float(v) if v.is_finite() => Some(v as i64),
            Value::Bool(v) => Some(v as i64),
            _ => None,
        }
    }
}

/// A named, typed result column. Values live in storage's column buffer layout (NULL slots
/// hold a default value and are marked in `data.validity`).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: DataType,
    pub data: ColumnBuf,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: DataType) -> Column {
        Column {
            name: name.into(),
            ty,
            data: ColumnBuf::empty(ty.physical()),
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_null(&self, row: usize) -> bool {
        !self.data.is_valid(row)
    }

    /// The value at `row` (allocates for strings; for formats and tests, not hot loops).
    pub fn value(&self, row: usize) -> Value {
        if self.is_null(row) {
            return Value::Null;
        }
        match (&self.data.values, self.ty.base) {
            (Values::I64(v), BaseType::DateTime64) => Value::Ts(v[row]),
            (Values::I64(v), _) => Value::Int(v[row]),
            (Values::U64(v), _) => Value::UInt(v[row]),
            (Values::F64(v), _) => Value::Float(v[row]),
            (Values::Bool(_), BaseType::Nothing) => Value::Null,
            (Values::Bool(v), _) => Value::Bool(v[row] != 0),
            (Values::Str(s), _) => Value::Str(String::from_utf8_lossy(s.get(row)).into_owned()),
            (Values::Sym(_), _) => unreachable!("result columns hold strings, not symbol ids"),
        }
    }

    /// Appends `v`, which must be NULL or of this column's type (numbers are converted).
    pub fn push(&mut self, v: &Value) {
        if v.is_null() {
            self.data.push_nulls(1);
            return;
        }
        match &mut self.data.values {
            Values::I64(d) => d.push(match *v {
                Value::UInt(x) => self.ty.base.wrap(x as i64),
                ref o => self.ty.base.wrap(o.as_i64().unwrap_or_default()),
            }),
            Values::U64(d) => d.push(match *v {
                Value::UInt(x) => x,
                ref o => o.as_i64().unwrap_or_default() as u64,
            }),
            Values::F64(d) => d.push(v.as_f64().unwrap_or(f64::NAN)),
            Values::Bool(d) => d.push(matches!(v, Value::Bool(true)) as u8),
            Values::Str(d) => match v {
                Value::Str(s) => d.push(s.as_bytes()),
                other => d.push(crate::format_value(other).as_bytes()),
            },
            Values::Sym(_) => unreachable!("result columns hold strings"),
        }
        if let Some(b) = &mut self.data.validity {
            b.push(true);
        }
    }

    pub fn str_values(&self) -> Option<&StrValues> {
        match &self.data.values {
            Values::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn validity(&self) -> Option<&Bitmap> {
        self.data.validity.as_ref()
    }
}

/// A query result: equally long columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub columns: Vec<Column>,
}

impl ResultSet {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// A one-column, one-row result (for `SELECT version()` and friends).
    pub fn single(name: &str, v: Value) -> ResultSet {
        let mut c = Column::new(name, v.data_type());
        c.push(&v);
        ResultSet { columns: vec![c] }
    }

    pub fn row(&self, row: usize) -> Vec<Value> {
        self.columns.iter().map(|c| c.value(row)).collect()
    }
}
