//! Arrow (IPC file) and ArrowStream (IPC stream) output, with the schema ClickHouse 26.9 writes:
//! `Int8`..`Int64`, `UInt8`..`UInt64`, `Float64`, `Boolean`, `Utf8`, `Timestamp(ns, "UTC")` and
//! `Null`, each field
//! nullable exactly when its ClickHouse type is.
//!
//! Unlike ClickHouse, the buffers are not LZ4-compressed (its default
//! `output_format_arrow_compression_method = 'lz4_frame'`); every Arrow reader accepts both.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, NullArray,
    RecordBatch, RecordBatchOptions, StringArray, TimestampNanosecondArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_ipc::writer::{FileWriter, StreamWriter};
use arrow_schema::{ArrowError, DataType as ArrowType, Schema, SchemaRef, TimeUnit};

use super::{Encoder, Field, FormatError, QueryStats};
use crate::types::{BaseType, Column, ResultSet};

enum Writer {
    File(FileWriter<Vec<u8>>),
    Stream(StreamWriter<Vec<u8>>),
}

impl Writer {
    /// Moves what the IPC writer produced so far to `out`. The writers count their own offsets,
    /// so taking their buffer away between calls leaves the file footer correct.
    fn drain_into(&mut self, out: &mut Vec<u8>) {
        let buf = match self {
            Writer::File(w) => w.get_mut(),
            Writer::Stream(w) => w.get_mut(),
        };
        out.append(buf);
    }
}

struct ArrowEncoder {
    stream: bool,
    schema: SchemaRef,
    writer: Option<Writer>,
}

pub(super) fn encoder(stream: bool) -> Box<dyn Encoder> {
    Box::new(ArrowEncoder {
        stream,
        schema: Arc::new(Schema::empty()),
        writer: None,
    })
}

fn arrow_type(base: BaseType) -> ArrowType {
    match base {
        BaseType::Int64 => ArrowType::Int64,
        BaseType::UInt64 => ArrowType::UInt64,
        BaseType::Int8 => ArrowType::Int8,
        BaseType::Int16 => ArrowType::Int16,
        BaseType::Int32 => ArrowType::Int32,
        BaseType::UInt8 => ArrowType::UInt8,
        BaseType::UInt16 => ArrowType::UInt16,
        BaseType::UInt32 => ArrowType::UInt32,
        BaseType::Float64 => ArrowType::Float64,
        BaseType::Bool => ArrowType::Boolean,
        BaseType::String => ArrowType::Utf8,
        BaseType::DateTime64 => ArrowType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        BaseType::Nothing => ArrowType::Null,
    }
}

fn nulls(column: &Column) -> Option<NullBuffer> {
    if !column.ty.nullable {
        return None;
    }
    let bitmap = column.data.validity.as_ref()?;
    // Storage bitmaps are Arrow's layout: bit i of byte i / 8, LSB first, set = valid.
    let bits = BooleanBuffer::new(Buffer::from(bitmap.bytes()), 0, bitmap.len());
    Some(NullBuffer::new(bits))
}

fn array(column: &Column) -> Result<ArrayRef, FormatError> {
    use storage::Values;
    let nulls = nulls(column);
    let array: ArrayRef = match (column.ty.base, &column.data.values) {
        (BaseType::Int64, Values::I64(v)) => {
            Arc::new(Int64Array::new(ScalarBuffer::from(v.clone()), nulls))
        }
        (BaseType::DateTime64, Values::I64(v)) => Arc::new(
            TimestampNanosecondArray::new(ScalarBuffer::from(v.clone()), nulls)
                .with_timezone("UTC"),
        ),
        (BaseType::UInt64, Values::U64(v)) => {
            Arc::new(UInt64Array::new(ScalarBuffer::from(v.clone()), nulls))
        }
        // Narrow integers are in range, so the `as` casts keep every value.
        (BaseType::Int8, Values::I64(v)) => Arc::new(Int8Array::new(narrow(v), nulls)),
        (BaseType::Int16, Values::I64(v)) => Arc::new(Int16Array::new(narrow(v), nulls)),
        (BaseType::Int32, Values::I64(v)) => Arc::new(Int32Array::new(narrow(v), nulls)),
        (BaseType::UInt8, Values::I64(v)) => Arc::new(UInt8Array::new(narrow(v), nulls)),
        (BaseType::UInt16, Values::I64(v)) => Arc::new(UInt16Array::new(narrow(v), nulls)),
        (BaseType::UInt32, Values::I64(v)) => Arc::new(UInt32Array::new(narrow(v), nulls)),
        (BaseType::Float64, Values::F64(v)) => {
            Arc::new(Float64Array::new(ScalarBuffer::from(v.clone()), nulls))
        }
        (BaseType::Bool, Values::Bool(v)) => Arc::new(BooleanArray::new(
            v.iter().map(|&b| b != 0).collect::<BooleanBuffer>(),
            nulls,
        )),
        (BaseType::String, Values::Str(s)) => Arc::new(string_array(&column.name, s, nulls)?),
        (BaseType::Nothing, _) => Arc::new(NullArray::new(column.len())),
        (base, v) => panic!(
            "column {} of type {base:?} holds {:?} values",
            column.name,
            v.physical()
        ),
    };
    Ok(array)
}

/// The values of a narrow integer column at their own width.
fn narrow<T>(v: &[i64]) -> ScalarBuffer<T>
where
    T: arrow_buffer::ArrowNativeType + TryFrom<i64>,
{
    v.iter()
        .map(|&x| {
            T::try_from(x)
                .ok()
                .expect("a narrow integer column holds values in range")
        })
        .collect::<Vec<T>>()
        .into()
}

/// A `Utf8` array; bytes that are not UTF-8 are replaced by U+FFFD, since Arrow readers reject
/// invalid `Utf8` data (ClickHouse copies the bytes as they are).
fn string_array(
    name: &str,
    s: &storage::StrValues,
    nulls: Option<NullBuffer>,
) -> Result<StringArray, FormatError> {
    let too_large = || {
        ArrowError::InvalidArgumentError(format!(
            "column {name}: over 2 GiB of strings in one block"
        ))
    };
    let offsets: Vec<i32> = s
        .offsets
        .iter()
        .map(|&o| i32::try_from(o))
        .collect::<Result<_, _>>()
        .map_err(|_| too_large())?;
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    // `try_new` checks the bytes are UTF-8 and every offset falls on a character boundary.
    if let Ok(array) =
        StringArray::try_new(offsets, Buffer::from(s.bytes.as_slice()), nulls.clone())
    {
        return Ok(array);
    }
    let lossy: Vec<String> = (0..s.len())
        .map(|i| String::from_utf8_lossy(s.get(i)).into_owned())
        .collect();
    let mut array = StringArray::from_iter_values(lossy);
    if let Some(nulls) = nulls {
        let (offsets, values, _) = array.into_parts();
        array = StringArray::try_new(offsets, values, Some(nulls))?;
    }
    Ok(array)
}

impl Encoder for ArrowEncoder {
    fn begin(&mut self, fields: &[Field], out: &mut Vec<u8>) -> Result<(), FormatError> {
        let schema = Schema::new(
            fields
                .iter()
                .map(|f| arrow_schema::Field::new(&f.name, arrow_type(f.ty.base), f.ty.nullable))
                .collect::<Vec<_>>(),
        );
        let mut writer = if self.stream {
            Writer::Stream(StreamWriter::try_new(Vec::new(), &schema)?)
        } else {
            Writer::File(FileWriter::try_new(Vec::new(), &schema)?)
        };
        writer.drain_into(out);
        self.schema = Arc::new(schema);
        self.writer = Some(writer);
        Ok(())
    }

    fn block(
        &mut self,
        _: &[Field],
        block: &ResultSet,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        if block.rows() == 0 {
            return Ok(());
        }
        let arrays = block
            .columns
            .iter()
            .map(array)
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(block.rows()));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)?;
        let writer = self.writer.as_mut().expect("begin ran");
        match writer {
            Writer::File(w) => w.write(&batch)?,
            Writer::Stream(w) => w.write(&batch)?,
        }
        writer.drain_into(out);
        Ok(())
    }

    fn finish(
        &mut self,
        _: &[Field],
        _: u64,
        _: &QueryStats,
        out: &mut Vec<u8>,
    ) -> Result<(), FormatError> {
        let writer = self.writer.as_mut().expect("begin ran");
        match writer {
            Writer::File(w) => w.finish()?,
            Writer::Stream(w) => w.finish()?,
        }
        writer.drain_into(out);
        Ok(())
    }
}
