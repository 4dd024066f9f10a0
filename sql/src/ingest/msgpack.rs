//! Arc's MessagePack write format → one [`DecodedTable`](super::DecodedTable) per measurement.
//!
//! The body is a top-level array of items, a map `{"batch": [items…]}`, or one item alone.
//! Each item is a map in one of two forms, which may be mixed in one body:
//!
//! - rows: `{"m": "cpu", "t": 1700000000000, "h": "server01", "tags": {…}, "fields": {…}}`
//! - columnar: `{"m": "cpu", "columns": {"time": […], "usage": […], …}}`, optionally with `h`
//!   and `tags` that hold for every row of the item.
//!
//! `t` and the `time` column are integers (or floats) in the request's [`Precision`]
//! (milliseconds unless the caller says otherwise) and are kept at full nanosecond precision;
//! MessagePack timestamp extensions (type -1) are taken as they are. A columnar item without a
//! `time` column takes its `t`; an absent time is `now_ns`. `h` is the `host` tag. Tags are
//! Symbol columns; in the rows form, field strings are String columns; in the columnar form,
//! string columns are Symbol columns, because there they carry the series identity (host,
//! region) that the rows form puts in `tags`. Integers are
//! Int64 (UInt64 above `i64::MAX`); a column that also receives floats within the request
//! becomes Float64. NULL (`nil`) values are NULLs. The shard key rule is line protocol's:
//! the `symbol` tag or column, else `host`, else `hostname`, else the series key.
//!
//! A broken encoding (truncated data, a reserved byte, a length past the end) fails the whole
//! body, since no later item can be found; a well-formed item with bad content is rejected
//! alone (columnar items as a whole, with the row that failed). Lengths are checked against the
//! bytes left before anything is read or reserved, and nested values are skipped without
//! recursion, so no input can exhaust the stack or memory.

use std::io::Write as _;

use storage::ColumnType;

use super::builder::{Collector, Item, Row, Span, TableBuilder, Val, KEY, TS};
use super::{
    excerpt, DecodeError, Decoded, ErrorSink, Limits, Location, Precision, Reason, TIMESTAMP_COLUMN,
};

/// How to read one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgpackOptions {
    /// The unit of integer `t` and `time` values.
    pub precision: Precision,
    /// The timestamp of rows that have none, in nanoseconds.
    pub now_ns: i64,
    pub limits: Limits,
    /// Column types fixed in advance for the row form, (table, column, type): see
    /// [`Collector::with_pins`]. Usually empty.
    pub pins: Vec<(String, String, ColumnType)>,
}

impl MsgpackOptions {
    /// Millisecond precision (Arc's) and default limits.
    pub fn new(now_ns: i64) -> MsgpackOptions {
        MsgpackOptions {
            precision: Precision::Milliseconds,
            now_ns,
            limits: Limits::default(),
            pins: Vec::new(),
        }
    }
}

/// Decodes a MessagePack body. Fails as a whole on a broken encoding or over a body bound;
/// rejected items are in [`Decoded::errors`] with their index.
pub fn decode(body: &[u8], opts: &MsgpackOptions) -> Result<Decoded, DecodeError> {
    opts.limits.check_body(body.len())?;
    let mut d = Decoder {
        body,
        opts,
        collector: Collector::new(opts.limits.clone()).with_pins(opts.pins.clone()),
        sink: ErrorSink::new(opts.limits.errors_max),
        row: Row::default(),
        series: Vec::new(),
        touched: Vec::new(),
    };
    let mut r = Reader::new(body);
    match r.next()? {
        Value::Array(n) => d.items(&mut r, n)?,
        Value::Map(n) => {
            let start = r.pos;
            if find_key(&mut r, n, b"batch")?.is_some() {
                r.pos = start;
                for _ in 0..n {
                    let key = r.next()?;
                    if !matches!(key, Value::Str(s, e) if &body[s..e] == b"batch") {
                        return Err(malformed(start, "unexpected key beside 'batch'"));
                    }
                    let at = r.pos;
                    match r.next()? {
                        Value::Array(items) => d.items(&mut r, items)?,
                        _ => return Err(malformed(at, "'batch' must be an array")),
                    }
                }
            } else {
                // One item on its own.
                r.pos = start;
                d.item(0, &mut r, n)?;
            }
        }
        _ => return Err(malformed(0, "expected an array or a map")),
    }
    if r.pos != body.len() {
        return Err(malformed(r.pos, "unexpected bytes after the message"));
    }
    Ok(Decoded {
        rows: d.collector.rows,
        tables: d.collector.finish(),
        errors: d.sink.errors,
        rejected: d.sink.rejected,
    })
}

fn malformed(offset: usize, message: &'static str) -> DecodeError {
    DecodeError::Malformed { offset, message }
}

/// One MessagePack value; strings as byte ranges of the body, containers as their length.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(usize, usize),
    Bin,
    Array(usize),
    Map(usize),
    Ext,
    /// The timestamp extension (type -1) in nanoseconds; `None` when out of the i64 range.
    Time(Option<i64>),
}

impl Value {
    fn kind(self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::UInt(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(..) => "string",
            Value::Bin => "binary",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Ext => "extension",
            Value::Time(_) => "timestamp",
        }
    }
}

/// Encoded size of each scalar with a size known from its first byte (0: any other value),
/// as [`Reader::skip`] steps over them.
const SCALAR_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 1,
            0xcc | 0xd0 => 2,
            0xcd | 0xd1 => 3,
            0xca | 0xce | 0xd2 => 5,
            0xcb | 0xcf | 0xd3 => 9,
            0xa0..=0xbf => 1 + (b as u8 & 0x1f),
            _ => 0,
        };
        b += 1;
    }
    t
};

/// A bounds-checked MessagePack reader: every read past the end is `Malformed` with the
/// offset; container lengths are checked against the bytes left.
struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(d: &'a [u8]) -> Reader<'a> {
        Reader { d, pos: 0 }
    }

    fn left(&self) -> usize {
        self.d.len() - self.pos
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<usize, DecodeError> {
        if n > self.left() {
            return Err(malformed(self.pos, "unexpected end of data"));
        }
        let at = self.pos;
        self.pos += n;
        Ok(at)
    }

    #[inline]
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let at = self.take(N)?;
        Ok(self.d[at..at + N].try_into().expect("N bytes"))
    }

    fn len8(&mut self) -> Result<usize, DecodeError> {
        Ok(self.fixed::<1>()?[0] as usize)
    }

    fn len16(&mut self) -> Result<usize, DecodeError> {
        Ok(u16::from_be_bytes(self.fixed()?) as usize)
    }

    fn len32(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_be_bytes(self.fixed()?) as usize)
    }

    fn str(&mut self, n: usize) -> Result<Value, DecodeError> {
        let at = self.take(n)?;
        Ok(Value::Str(at, at + n))
    }

    fn bin(&mut self, n: usize) -> Result<Value, DecodeError> {
        self.take(n)?;
        Ok(Value::Bin)
    }

    fn array(&self, n: usize) -> Result<Value, DecodeError> {
        // Every element takes at least one byte.
        if n > self.left() {
            return Err(malformed(self.pos, "array length past the end of the data"));
        }
        Ok(Value::Array(n))
    }

    fn map(&self, n: usize) -> Result<Value, DecodeError> {
        if n.saturating_mul(2) > self.left() {
            return Err(malformed(self.pos, "map length past the end of the data"));
        }
        Ok(Value::Map(n))
    }

    fn ext(&mut self, n: usize) -> Result<Value, DecodeError> {
        let ty = self.fixed::<1>()?[0] as i8;
        let at = self.take(n)?;
        if ty != -1 {
            return Ok(Value::Ext);
        }
        let b = &self.d[at..at + n];
        let (secs, nanos): (i64, i64) = match n {
            4 => (u32::from_be_bytes(b.try_into().expect("4")) as i64, 0),
            8 => {
                let v = u64::from_be_bytes(b.try_into().expect("8"));
                ((v & 0x3_ffff_ffff) as i64, (v >> 34) as i64)
            }
            12 => (
                i64::from_be_bytes(b[4..].try_into().expect("8")),
                u32::from_be_bytes(b[..4].try_into().expect("4")) as i64,
            ),
            _ => return Ok(Value::Ext),
        };
        Ok(Value::Time(
            secs.checked_mul(1_000_000_000)
                .and_then(|s| s.checked_add(nanos)),
        ))
    }

    /// The next value; for arrays and maps only their head.
    #[inline]
    fn next(&mut self) -> Result<Value, DecodeError> {
        let at = self.pos;
        let b = self.fixed::<1>()?[0];
        Ok(match b {
            0x00..=0x7f => Value::Int(b as i64),
            0x80..=0x8f => self.map((b & 0x0f) as usize)?,
            0x90..=0x9f => self.array((b & 0x0f) as usize)?,
            0xa0..=0xbf => self.str((b & 0x1f) as usize)?,
            0xc0 => Value::Nil,
            0xc1 => return Err(malformed(at, "reserved byte 0xc1")),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let n = self.len8()?;
                self.bin(n)?
            }
            0xc5 => {
                let n = self.len16()?;
                self.bin(n)?
            }
            0xc6 => {
                let n = self.len32()?;
                self.bin(n)?
            }
            0xc7 => {
                let n = self.len8()?;
                self.ext(n)?
            }
            0xc8 => {
                let n = self.len16()?;
                self.ext(n)?
            }
            0xc9 => {
                let n = self.len32()?;
                self.ext(n)?
            }
            0xca => Value::Float(f32::from_be_bytes(self.fixed()?) as f64),
            0xcb => Value::Float(f64::from_be_bytes(self.fixed()?)),
            0xcc => Value::Int(self.fixed::<1>()?[0] as i64),
            0xcd => Value::Int(u16::from_be_bytes(self.fixed()?) as i64),
            0xce => Value::Int(u32::from_be_bytes(self.fixed()?) as i64),
            0xcf => {
                let v = u64::from_be_bytes(self.fixed()?);
                match i64::try_from(v) {
                    Ok(v) => Value::Int(v),
                    Err(_) => Value::UInt(v),
                }
            }
            0xd0 => Value::Int(self.fixed::<1>()?[0] as i8 as i64),
            0xd1 => Value::Int(i16::from_be_bytes(self.fixed()?) as i64),
            0xd2 => Value::Int(i32::from_be_bytes(self.fixed()?) as i64),
            0xd3 => Value::Int(i64::from_be_bytes(self.fixed()?)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9 => {
                let n = self.len8()?;
                self.str(n)?
            }
            0xda => {
                let n = self.len16()?;
                self.str(n)?
            }
            0xdb => {
                let n = self.len32()?;
                self.str(n)?
            }
            0xdc => {
                let n = self.len16()?;
                self.array(n)?
            }
            0xdd => {
                let n = self.len32()?;
                self.array(n)?
            }
            0xde => {
                let n = self.len16()?;
                self.map(n)?
            }
            0xdf => {
                let n = self.len32()?;
                self.map(n)?
            }
            0xe0..=0xff => Value::Int(b as i8 as i64),
        })
    }

    /// Skips `n` whole values: scalars of a known size by a table lookup each, the rest (and
    /// everything after the first of them) through [`Reader::skip`]. Errors as `skip` would.
    #[inline]
    fn skip_values(&mut self, n: usize) -> Result<(), DecodeError> {
        let d = self.d;
        for k in 0..n {
            let pos = self.pos;
            let size = match d.get(pos) {
                Some(&b) => SCALAR_BYTES[b as usize] as usize,
                None => 0,
            };
            if size == 0 || size > d.len() - pos {
                for _ in k..n {
                    self.skip()?;
                }
                return Ok(());
            }
            self.pos = pos + size;
        }
        Ok(())
    }

    /// Skips one whole value, containers included, without recursion.
    fn skip(&mut self) -> Result<(), DecodeError> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            // Scalars of a known size are stepped over without decoding them.
            let Some(&b) = self.d.get(self.pos) else {
                return Err(malformed(self.pos, "unexpected end of data"));
            };
            let size = match b {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 1,
                0xcc | 0xd0 => 2,
                0xcd | 0xd1 => 3,
                0xca | 0xce | 0xd2 => 5,
                0xcb | 0xcf | 0xd3 => 9,
                0xa0..=0xbf => 1 + (b & 0x1f) as usize,
                _ => 0,
            };
            if size > 0 {
                self.take(size)?;
                continue;
            }
            match self.next()? {
                Value::Array(n) => pending += n,
                Value::Map(n) => pending += 2 * n,
                _ => {}
            }
            if pending > self.left() {
                return Err(malformed(
                    self.pos,
                    "container length past the end of the data",
                ));
            }
        }
        Ok(())
    }
}

/// Whether the map whose `n` entries start at `r.pos` has the string key `key`; leaves `r`
/// after the map.
fn find_key(r: &mut Reader<'_>, n: usize, key: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut found = None;
    for _ in 0..n {
        let key_at = r.pos;
        match r.next()? {
            Value::Str(s, e) if &r.d[s..e] == key => found = Some(r.pos),
            Value::Array(_) | Value::Map(_) => {
                r.pos = key_at;
                r.skip()?;
            }
            _ => {}
        }
        r.skip()?;
    }
    Ok(found)
}

/// An item error: where (the item, or one row of it) and why.
type ItemError = (Location, Reason);

/// The columns of a columnar item: where the first name starts, how many, how many rows.
#[derive(Debug, Clone, Copy)]
struct Shape {
    first_column: usize,
    columns: usize,
    rows: usize,
}

/// Where the parts of one item start in the body.
#[derive(Debug, Default)]
struct Parts {
    m: Option<(usize, usize)>,
    t: Option<Value>,
    h: Option<(usize, usize)>,
    tags: Option<usize>,
    fields: Option<usize>,
    columns: Option<usize>,
    shape: Option<Shape>,
}

fn utf8(bytes: &[u8]) -> Result<(), Reason> {
    std::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|_| Reason::InvalidUtf8)
}

/// A timestamp value in nanoseconds.
fn time_ns(v: Value, precision: Precision) -> Result<i64, Reason> {
    let range = |text: String| Reason::OutOfRange { kind: "time", text };
    match v {
        Value::Int(x) => precision.to_ns(x).ok_or_else(|| range(x.to_string())),
        Value::UInt(x) => Err(range(x.to_string())),
        Value::Float(x) => precision.float_to_ns(x).ok_or_else(|| range(x.to_string())),
        Value::Time(Some(ns)) => Ok(ns),
        Value::Time(None) => Err(range("timestamp extension".into())),
        other => Err(Reason::BadValue {
            kind: "time",
            text: other.kind().into(),
        }),
    }
}

struct Decoder<'a> {
    body: &'a [u8],
    opts: &'a MsgpackOptions,
    collector: Collector,
    sink: ErrorSink,
    row: Row,
    series: Vec<u8>,
    touched: Vec<usize>,
}

impl Decoder<'_> {
    fn items(&mut self, r: &mut Reader<'_>, n: usize) -> Result<(), DecodeError> {
        for i in 0..n {
            let start = r.pos;
            match r.next()? {
                Value::Map(entries) => self.item(i, r, entries)?,
                other => {
                    r.pos = start;
                    r.skip()?;
                    let reason = Reason::BadValue {
                        kind: "item (expected a map)",
                        text: other.kind().into(),
                    };
                    self.sink.push(Location::Item { item: i as u32 }, reason);
                }
            }
        }
        Ok(())
    }

    /// One item whose map head (`entries` entries) has been read.
    fn item(
        &mut self,
        index: usize,
        r: &mut Reader<'_>,
        entries: usize,
    ) -> Result<(), DecodeError> {
        let start = r.pos;
        let item = index as u32;
        let result = match self.parts(r, entries)? {
            Err(reason) => {
                // Step over the rest of the item; its encoding must still be whole.
                r.pos = start;
                for _ in 0..entries * 2 {
                    r.skip()?;
                }
                Err((Location::Item { item }, reason))
            }
            Ok(parts) => match parts.shape {
                Some(shape) => {
                    self.collector.check_rows(shape.rows)?;
                    self.columnar(item, &parts, shape)
                }
                None => {
                    self.collector.check_rows(1)?;
                    self.rows(item, &parts)
                }
            },
        };
        if let Err((at, reason)) = result {
            self.sink.push(at, reason);
        }
        Ok(())
    }

    /// Walks the item's map (`entries` entries after its head), noting where each part is and,
    /// for the columnar form, the shape of its columns. A broken encoding is an `Err`; bad
    /// content is an `Ok(Err)`, which leaves `r` inside the item.
    fn parts(
        &self,
        r: &mut Reader<'_>,
        entries: usize,
    ) -> Result<Result<Parts, Reason>, DecodeError> {
        let body = self.body;
        let mut p = Parts::default();
        for _ in 0..entries {
            let Value::Str(ks, ke) = r.next()? else {
                return Ok(Err(Reason::Syntax("item keys must be strings")));
            };
            let key = &body[ks..ke];
            let at = r.pos;
            if key == b"columns" {
                if p.columns.is_some() {
                    return Ok(Err(Reason::Duplicate {
                        name: "columns".into(),
                    }));
                }
                p.columns = Some(at);
                match Self::shape(body, r)? {
                    Ok(shape) => p.shape = Some(shape),
                    Err(reason) => return Ok(Err(reason)),
                }
                continue;
            }
            let v = r.next()?;
            r.pos = at;
            r.skip()?;
            let dup = || Reason::Duplicate { name: excerpt(key) };
            let want_map = |what: &'static str| match v {
                Value::Map(_) => Ok(at),
                other => Err(Reason::BadValue {
                    kind: what,
                    text: other.kind().into(),
                }),
            };
            match key {
                b"m" => {
                    let Value::Str(s, e) = v else {
                        return Ok(Err(Reason::BadValue {
                            kind: "measurement 'm'",
                            text: v.kind().into(),
                        }));
                    };
                    if p.m.replace((s, e)).is_some() {
                        return Ok(Err(dup()));
                    }
                }
                b"t" => {
                    if p.t.replace(v).is_some() {
                        return Ok(Err(dup()));
                    }
                }
                b"h" => match v {
                    Value::Str(s, e) => {
                        if p.h.replace((s, e)).is_some() {
                            return Ok(Err(dup()));
                        }
                    }
                    Value::Nil => {}
                    other => {
                        return Ok(Err(Reason::BadValue {
                            kind: "host 'h'",
                            text: other.kind().into(),
                        }))
                    }
                },
                b"tags" => {
                    let tags = match want_map("'tags' (expected a map)") {
                        Ok(at) => at,
                        Err(reason) => return Ok(Err(reason)),
                    };
                    if p.tags.replace(tags).is_some() {
                        return Ok(Err(dup()));
                    }
                }
                b"fields" => {
                    let fields = match want_map("'fields' (expected a map)") {
                        Ok(at) => at,
                        Err(reason) => return Ok(Err(reason)),
                    };
                    if p.fields.replace(fields).is_some() {
                        return Ok(Err(dup()));
                    }
                }
                _ => {
                    return Ok(Err(Reason::UnknownKey { key: excerpt(key) }));
                }
            }
        }
        Ok(Self::check_parts(body, p))
    }

    fn check_parts(body: &[u8], p: Parts) -> Result<Parts, Reason> {
        let Some((s, e)) = p.m else {
            return Err(Reason::Syntax("missing 'm' (the measurement)"));
        };
        utf8(&body[s..e])?;
        if let Some((s, e)) = p.h {
            utf8(&body[s..e])?;
        }
        match (p.fields.is_some(), p.columns.is_some()) {
            (true, true) => Err(Reason::Syntax(
                "an item has 'fields' or 'columns', not both",
            )),
            (false, false) => Err(Reason::Syntax("an item needs 'fields' or 'columns'")),
            _ => Ok(p),
        }
    }

    /// A tag value as text into `scratch`, or `None` for nil (no tag).
    fn tag_value(body: &[u8], v: Value, scratch: &mut Vec<u8>) -> Result<Option<Span>, Reason> {
        let start = scratch.len();
        match v {
            Value::Nil => return Ok(None),
            Value::Str(s, e) => {
                utf8(&body[s..e])?;
                return Ok(Some(Span::body(s, e)));
            }
            Value::Bool(b) => scratch.extend_from_slice(if b { b"true" } else { b"false" }),
            Value::Int(x) => write!(scratch, "{x}").expect("write to a Vec"),
            Value::UInt(x) => write!(scratch, "{x}").expect("write to a Vec"),
            Value::Float(x) => write!(scratch, "{x}").expect("write to a Vec"),
            other => {
                return Err(Reason::BadValue {
                    kind: "tag value",
                    text: other.kind().into(),
                })
            }
        }
        Ok(Some(Span {
            start: start as u32,
            end: scratch.len() as u32,
            scratch: true,
        }))
    }

    /// Reads a `tags` map into `row.items` (keys as body spans).
    fn read_tags(body: &[u8], at: usize, row: &mut Row) -> Result<(), Reason> {
        let mut r = Reader { d: body, pos: at };
        let broken = |_| Reason::Syntax("broken item");
        let Value::Map(n) = r.next().map_err(broken)? else {
            return Err(Reason::Syntax("'tags' must be a map"));
        };
        for _ in 0..n {
            let Value::Str(ks, ke) = r.next().map_err(broken)? else {
                return Err(Reason::Syntax("tag keys must be strings"));
            };
            let vat = r.pos;
            let v = r.next().map_err(broken)?;
            r.pos = vat;
            r.skip().map_err(broken)?;
            if ks == ke {
                return Err(Reason::Syntax("empty tag key"));
            }
            if let Some(span) = Self::tag_value(body, v, &mut row.scratch)? {
                row.items.push(Item {
                    key: Span::body(ks, ke),
                    val: Val::Tag(span),
                });
            }
        }
        Ok(())
    }

    /// A host `h` as a `host` tag item.
    fn host_item(row: &mut Row, h: (usize, usize)) {
        let start = row.scratch.len();
        row.scratch.extend_from_slice(b"host");
        row.items.push(Item {
            key: Span {
                start: start as u32,
                end: row.scratch.len() as u32,
                scratch: true,
            },
            val: Val::Tag(Span::body(h.0, h.1)),
        });
    }

    fn rows(&mut self, item: u32, p: &Parts) -> Result<(), ItemError> {
        let at = Location::Item { item };
        let body = self.body;
        let row = &mut self.row;
        row.clear();
        let (s, e) = p.m.expect("checked by parts");
        row.measurement = Span::body(s, e);
        row.ts = match p.t {
            Some(v) => time_ns(v, self.opts.precision).map_err(|r| (at, r))?,
            None => self.opts.now_ns,
        };
        if let Some(h) = p.h {
            Self::host_item(row, h);
        }
        if let Some(tags) = p.tags {
            Self::read_tags(body, tags, row).map_err(|r| (at, r))?;
        }
        let mut r = Reader {
            d: body,
            pos: p.fields.expect("rows form has fields"),
        };
        let broken = |_| (at, Reason::Syntax("broken item"));
        let Value::Map(n) = r.next().map_err(broken)? else {
            return Err((at, Reason::Syntax("'fields' must be a map")));
        };
        for _ in 0..n {
            let Value::Str(ks, ke) = r.next().map_err(broken)? else {
                return Err((at, Reason::Syntax("field keys must be strings")));
            };
            if ks == ke {
                return Err((at, Reason::Syntax("empty field key")));
            }
            let vat = r.pos;
            let v = r.next().map_err(broken)?;
            let val = match v {
                Value::Nil => continue,
                Value::Bool(b) => Val::Bool(b),
                Value::Int(x) => Val::I64(x),
                Value::UInt(x) => Val::U64(x),
                Value::Float(x) => Val::F64(x),
                Value::Str(s, e) => {
                    utf8(&body[s..e]).map_err(|r| (at, r))?;
                    Val::Str(Span::body(s, e))
                }
                Value::Time(Some(ns)) => Val::I64(ns),
                other => {
                    return Err((
                        at,
                        Reason::BadValue {
                            kind: "field value",
                            text: format!("{} in '{}'", other.kind(), excerpt(&body[ks..ke])),
                        },
                    ))
                }
            };
            r.pos = vat;
            r.skip().map_err(broken)?;
            row.items.push(Item {
                key: Span::body(ks, ke),
                val,
            });
        }
        self.collector
            .commit(body, &self.row, at, true)
            .map_err(|r| (at, r))
    }

    /// Walks a `columns` map at `r`: where the first name starts, how many columns, and their
    /// common length.
    fn shape(body: &[u8], r: &mut Reader<'_>) -> Result<Result<Shape, Reason>, DecodeError> {
        let Value::Map(n_columns) = r.next()? else {
            return Ok(Err(Reason::Syntax("'columns' must be a map")));
        };
        let first_column = r.pos;
        let mut rows: Option<usize> = None;
        for _ in 0..n_columns {
            let Value::Str(ks, ke) = r.next()? else {
                return Ok(Err(Reason::Syntax("column names must be strings")));
            };
            let Value::Array(len) = r.next()? else {
                return Ok(Err(Reason::BadValue {
                    kind: "column (expected an array)",
                    text: excerpt(&body[ks..ke]),
                }));
            };
            match rows {
                None => rows = Some(len),
                Some(first) if first != len => {
                    return Ok(Err(Reason::RaggedColumns { first, other: len }))
                }
                Some(_) => {}
            }
            r.skip_values(len)?;
        }
        Ok(Ok(Shape {
            first_column,
            columns: n_columns,
            rows: rows.unwrap_or(0),
        }))
    }

    fn columnar(&mut self, item: u32, p: &Parts, shape: Shape) -> Result<(), ItemError> {
        let at = Location::Item { item };
        let body = self.body;
        let rows = shape.rows;
        if rows == 0 {
            return Ok(());
        }
        // Item-level time and tags, as in the rows form, for every row.
        let row = &mut self.row;
        row.clear();
        row.ts = match p.t {
            Some(v) => time_ns(v, self.opts.precision).map_err(|r| (at, r))?,
            None => self.opts.now_ns,
        };
        if let Some(h) = p.h {
            Self::host_item(row, h);
        }
        if let Some(tags) = p.tags {
            Self::read_tags(body, tags, row).map_err(|r| (at, r))?;
        }
        let (ms, me) = p.m.expect("checked by parts");
        let ti = self.collector.table(&body[ms..me]).map_err(|r| (at, r))?;
        let limits = self.collector.limits.clone();
        let t = &mut self.collector.tables[ti];
        let (rows0, columns0) = (t.rows, t.columns.len());
        let result = fill_columnar(
            t,
            &limits,
            body,
            &self.row,
            shape,
            item,
            self.opts,
            &mut self.series,
            &mut self.touched,
        );
        match result {
            Ok(()) => {
                self.collector.rows += rows;
                Ok(())
            }
            Err(e) => {
                t.truncate(rows0, columns0);
                Err(e)
            }
        }
    }
}

/// The type a column created from value `v` gets (columnar form), or `None` for nil.
fn columnar_type(v: Value) -> Option<ColumnType> {
    match v {
        Value::Nil => None,
        Value::Bool(_) => Some(ColumnType::Bool),
        Value::Int(_) | Value::Time(_) => Some(ColumnType::Int64),
        Value::UInt(_) => Some(ColumnType::UInt64),
        Value::Float(_) => Some(ColumnType::Float64),
        // Strings in columns carry the series identity: Symbol.
        Value::Str(..) => Some(ColumnType::Symbol),
        Value::Bin | Value::Array(_) | Value::Map(_) | Value::Ext => Some(ColumnType::String),
    }
}

/// The ColumnType a value would have, for conflict messages.
fn value_type(v: Value, column: ColumnType) -> ColumnType {
    match v {
        Value::Str(..) if column != ColumnType::Symbol => ColumnType::String,
        _ => columnar_type(v).unwrap_or(column),
    }
}

/// Writes the rows of one columnar item into `t`; on error the caller truncates `t`.
#[allow(clippy::too_many_arguments)]
fn fill_columnar(
    t: &mut TableBuilder,
    limits: &Limits,
    body: &[u8],
    tags: &Row,
    shape: Shape,
    item: u32,
    opts: &MsgpackOptions,
    series: &mut Vec<u8>,
    touched: &mut Vec<usize>,
) -> Result<(), ItemError> {
    let Shape {
        first_column,
        columns: n_columns,
        rows,
    } = shape;
    let at = Location::Item { item };
    let row_at = |j: usize| Location::ItemRow {
        item,
        row: j as u32,
    };
    let broken = |_| (at, Reason::Syntax("broken item"));
    let r0 = t.rows;
    let end = r0 + rows;
    touched.clear();
    let mut has_time = false;
    let mut r = Reader {
        d: body,
        pos: first_column,
    };
    for _ in 0..n_columns {
        let Value::Str(ks, ke) = r.next().map_err(broken)? else {
            return Err((at, Reason::Syntax("column names must be strings")));
        };
        let name = &body[ks..ke];
        let Value::Array(_) = r.next().map_err(broken)? else {
            return Err((at, Reason::Syntax("columns must be arrays")));
        };
        if name == b"time" {
            if has_time {
                return Err((
                    at,
                    Reason::Duplicate {
                        name: "time".into(),
                    },
                ));
            }
            has_time = true;
            for j in 0..rows {
                let v = r.next().map_err(broken)?;
                let ns = time_ns(v, opts.precision).map_err(|e| (row_at(j), e))?;
                t.columns[TS].push_i64(ns);
            }
            continue;
        }
        if name == TIMESTAMP_COLUMN.as_bytes() {
            return Err((
                at,
                Reason::Reserved {
                    name: TIMESTAMP_COLUMN.into(),
                    why: "it is the designated timestamp column; send 'time'",
                },
            ));
        }
        if name.is_empty() {
            return Err((at, Reason::Syntax("empty column name")));
        }
        utf8(name).map_err(|e| (at, e))?;
        let mut col = t.find(name);
        if let Some(c) = col {
            if touched.contains(&c) {
                return Err((
                    at,
                    Reason::Duplicate {
                        name: excerpt(name),
                    },
                ));
            }
            touched.push(c);
        }
        for j in 0..rows {
            let v = r.next().map_err(broken)?;
            if matches!(v, Value::Array(_) | Value::Map(_)) {
                return Err((
                    row_at(j),
                    Reason::BadValue {
                        kind: "value",
                        text: format!("{} in column '{}'", v.kind(), excerpt(name)),
                    },
                ));
            }
            let c = match col {
                Some(c) => c,
                None => {
                    let Some(ty) = columnar_type(v) else {
                        continue; // NULLs before the column exists: padded below.
                    };
                    if t.columns.len() >= limits.columns_max {
                        return Err((
                            at,
                            Reason::TooManyColumns {
                                table: t.name.clone(),
                                max: limits.columns_max,
                            },
                        ));
                    }
                    let c = t.add_column(name, ty);
                    // Rows of this item before the first value are NULL.
                    for _ in 0..j {
                        t.columns[c].push_null();
                    }
                    touched.push(c);
                    col = Some(c);
                    c
                }
            };
            push_value(t, c, body, v).map_err(|e| (row_at(j), e))?;
        }
    }
    if !has_time {
        for _ in 0..rows {
            t.columns[TS].push_i64(tags.ts);
        }
    }
    // Item-level tags: the same value in every row.
    for item_tag in &tags.items {
        let Val::Tag(v) = item_tag.val else {
            continue;
        };
        let key = tags.bytes(body, item_tag.key);
        let value = tags.bytes(body, v);
        if key == TIMESTAMP_COLUMN.as_bytes() {
            return Err((
                at,
                Reason::Reserved {
                    name: TIMESTAMP_COLUMN.into(),
                    why: "it is the designated timestamp column",
                },
            ));
        }
        if value.len() > storage::dict::SYMBOL_BYTES_MAX {
            return Err((
                at,
                Reason::TooLong {
                    what: "tag value",
                    len: value.len(),
                    max: storage::dict::SYMBOL_BYTES_MAX,
                },
            ));
        }
        utf8(key).map_err(|e| (at, e))?;
        let c = match t.find(key) {
            Some(c) => c,
            None => {
                if t.columns.len() >= limits.columns_max {
                    return Err((
                        at,
                        Reason::TooManyColumns {
                            table: t.name.clone(),
                            max: limits.columns_max,
                        },
                    ));
                }
                t.add_column(key, ColumnType::Symbol)
            }
        };
        if touched.contains(&c) {
            return Err((at, Reason::Duplicate { name: excerpt(key) }));
        }
        touched.push(c);
        if t.columns[c].ty != ColumnType::Symbol {
            return Err((
                at,
                Reason::ConflictInRequest {
                    column: t.columns[c].name.clone(),
                    first: t.columns[c].ty,
                    got: ColumnType::Symbol,
                },
            ));
        }
        let code = t.intern_for(c, value);
        for _ in 0..rows {
            t.columns[c].push_code(code);
        }
    }
    // The shard key for rows without a `symbol` value.
    let symbol_given = t.columns[KEY].len() != r0;
    if !symbol_given || t.columns[KEY].valid.is_some() {
        for j in 0..rows {
            if symbol_given && t.columns[KEY].is_valid(r0 + j) {
                continue;
            }
            let code = shard_key(t, touched, r0 + j, series);
            if symbol_given {
                set_key(t, r0 + j, code);
            } else {
                t.columns[KEY].push_code(code);
            }
        }
    }
    // Columns the item did not name are NULL.
    for c in &mut t.columns {
        while c.len() < end {
            c.push_null();
        }
    }
    t.end_rows(rows, |j| Location::ItemRow {
        item,
        row: j as u32,
    });
    Ok(())
}

/// Replaces a NULL in the key column with `code`.
fn set_key(t: &mut TableBuilder, row: usize, code: u32) {
    let c = &mut t.columns[KEY];
    if let storage::Values::Sym(codes) = &mut c.values {
        codes[row] = code;
    }
    if let Some(v) = &mut c.valid {
        v[row] = 1;
    }
    c.last_code = code;
}

/// `host`, else `hostname`, else the series key of row `row` among the Symbol columns this
/// item wrote.
fn shard_key(t: &mut TableBuilder, touched: &[usize], row: usize, series: &mut Vec<u8>) -> u32 {
    let code_of = |t: &TableBuilder, name: &str| {
        let c = t.find(name.as_bytes())?;
        let col = &t.columns[c];
        (touched.contains(&c) && col.ty == ColumnType::Symbol && col.is_valid(row)).then(|| {
            match &col.values {
                storage::Values::Sym(codes) => codes[row],
                _ => unreachable!("Symbol columns hold codes"),
            }
        })
    };
    if let Some(code) = code_of(t, "host").or_else(|| code_of(t, "hostname")) {
        return code;
    }
    let mut tags: Vec<(&str, u32)> = touched
        .iter()
        .filter(|&&c| {
            c != KEY && t.columns[c].ty == ColumnType::Symbol && t.columns[c].is_valid(row)
        })
        .map(|&c| {
            let code = match &t.columns[c].values {
                storage::Values::Sym(codes) => codes[row],
                _ => unreachable!("Symbol columns hold codes"),
            };
            (t.columns[c].name.as_str(), code)
        })
        .collect();
    tags.sort_unstable();
    series.clear();
    super::builder::escape_measurement(series, t.name.as_bytes());
    for (name, code) in tags {
        series.push(b',');
        super::builder::escape_tag(series, name.as_bytes());
        series.push(b'=');
        super::builder::escape_tag(series, t.interner.get(code).as_bytes());
    }
    t.interner.intern(series)
}

/// Pushes one columnar value into column `c`, converting numbers as the rows form does.
fn push_value(t: &mut TableBuilder, c: usize, body: &[u8], v: Value) -> Result<(), Reason> {
    let ty = t.columns[c].ty;
    match (ty, v) {
        (_, Value::Nil) => t.columns[c].push_null(),
        (ColumnType::Symbol, Value::Str(s, e)) => {
            let bytes = &body[s..e];
            if bytes.len() > storage::dict::SYMBOL_BYTES_MAX {
                return Err(Reason::TooLong {
                    what: "tag value",
                    len: bytes.len(),
                    max: storage::dict::SYMBOL_BYTES_MAX,
                });
            }
            // A repeat of the previous value is known to be UTF-8.
            let last = t.columns[c].last_code;
            if last == u32::MAX || t.interner.get(last).as_bytes() != bytes {
                utf8(bytes)?;
            }
            let code = t.intern_for(c, bytes);
            t.columns[c].push_code(code);
        }
        (ColumnType::String, Value::Str(s, e)) => {
            let bytes = &body[s..e];
            utf8(bytes)?;
            t.columns[c].push_str(bytes);
        }
        (ColumnType::Int64, Value::Int(x)) => t.columns[c].push_i64(x),
        (ColumnType::Int64, Value::Time(Some(x))) => t.columns[c].push_i64(x),
        (ColumnType::Int64, Value::Float(x)) => {
            t.columns[c].promote_to_f64();
            t.columns[c].push_f64(x);
        }
        (ColumnType::Float64, Value::Int(x)) => t.columns[c].push_i64(x),
        (ColumnType::Float64, Value::UInt(x)) => t.columns[c].push_u64(x),
        (ColumnType::Float64, Value::Float(x)) => t.columns[c].push_f64(x),
        (ColumnType::UInt64, Value::UInt(x)) => t.columns[c].push_u64(x),
        (ColumnType::UInt64, Value::Int(x)) if x >= 0 => t.columns[c].push_i64(x),
        (ColumnType::Bool, Value::Bool(x)) => t.columns[c].push_bool(x),
        (_, Value::Bin | Value::Ext | Value::Array(_) | Value::Map(_) | Value::Time(None)) => {
            return Err(Reason::BadValue {
                kind: "value",
                text: v.kind().into(),
            })
        }
        (ty, v) => {
            return Err(Reason::ConflictInRequest {
                column: t.columns[c].name.clone(),
                first: ty,
                got: value_type(v, ty),
            })
        }
    }
    Ok(())
}

/// A small MessagePack writer for tests and fuzz seeds.
#[cfg(test)]
pub(crate) mod enc {
    #[derive(Debug, Default)]
    pub struct Enc(pub Vec<u8>);

    impl Enc {
        pub fn map(&mut self, n: usize) -> &mut Enc {
            match n {
                0..=15 => self.0.push(0x80 | n as u8),
                16..=0xffff => {
                    self.0.push(0xde);
                    self.0.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ => {
                    self.0.push(0xdf);
                    self.0.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            self
        }

        pub fn array(&mut self, n: usize) -> &mut Enc {
            match n {
                0..=15 => self.0.push(0x90 | n as u8),
                16..=0xffff => {
                    self.0.push(0xdc);
                    self.0.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ => {
                    self.0.push(0xdd);
                    self.0.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            self
        }

        pub fn bytes_str(&mut self, s: &[u8]) -> &mut Enc {
            let n = s.len();
            match n {
                0..=31 => self.0.push(0xa0 | n as u8),
                32..=0xff => self.0.extend_from_slice(&[0xd9, n as u8]),
                0x100..=0xffff => {
                    self.0.push(0xda);
                    self.0.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ => {
                    self.0.push(0xdb);
                    self.0.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            self.0.extend_from_slice(s);
            self
        }

        pub fn str(&mut self, s: &str) -> &mut Enc {
            self.bytes_str(s.as_bytes())
        }

        pub fn int(&mut self, v: i64) -> &mut Enc {
            if v >= 0 {
                return self.uint(v as u64);
            }
            if v >= -32 {
                self.0.push(v as i8 as u8);
            } else if v >= i8::MIN as i64 {
                self.0.extend_from_slice(&[0xd0, v as i8 as u8]);
            } else if v >= i16::MIN as i64 {
                self.0.push(0xd1);
                self.0.extend_from_slice(&(v as i16).to_be_bytes());
            } else if v >= i32::MIN as i64 {
                self.0.push(0xd2);
                self.0.extend_from_slice(&(v as i32).to_be_bytes());
            } else {
                self.0.push(0xd3);
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            self
        }

        pub fn uint(&mut self, v: u64) -> &mut Enc {
            if v <= 0x7f {
                self.0.push(v as u8);
            } else if v <= 0xff {
                self.0.extend_from_slice(&[0xcc, v as u8]);
            } else if v <= 0xffff {
                self.0.push(0xcd);
                self.0.extend_from_slice(&(v as u16).to_be_bytes());
            } else if v <= 0xffff_ffff {
                self.0.push(0xce);
                self.0.extend_from_slice(&(v as u32).to_be_bytes());
            } else {
                self.0.push(0xcf);
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            self
        }

        pub fn f64(&mut self, v: f64) -> &mut Enc {
            self.0.push(0xcb);
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }

        pub fn f32(&mut self, v: f32) -> &mut Enc {
            self.0.push(0xca);
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }

        pub fn bool(&mut self, v: bool) -> &mut Enc {
            self.0.push(if v { 0xc3 } else { 0xc2 });
            self
        }

        pub fn nil(&mut self) -> &mut Enc {
            self.0.push(0xc0);
            self
        }

        /// The timestamp extension (type -1), 96-bit form.
        pub fn timestamp(&mut self, secs: i64, nanos: u32) -> &mut Enc {
            self.0.extend_from_slice(&[0xc7, 12, 0xff]);
            self.0.extend_from_slice(&nanos.to_be_bytes());
            self.0.extend_from_slice(&secs.to_be_bytes());
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::enc::Enc;
    use super::*;
    use crate::ingest::DecodedTable;
    use storage::Values;

    fn opts() -> MsgpackOptions {
        MsgpackOptions::new(7)
    }

    fn dec(body: &[u8]) -> Decoded {
        let d = decode(body, &opts()).unwrap();
        for t in &d.tables {
            t.check_invariants();
        }
        d
    }

    fn col(t: &DecodedTable, name: &str) -> Vec<String> {
        let c = t
            .batch
            .columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        (0..c.data.len())
            .map(|i| {
                if !c.data.is_valid(i) {
                    return "∅".to_string();
                }
                match &c.data.values {
                    Values::I64(v) => v[i].to_string(),
                    Values::U64(v) => format!("{}u", v[i]),
                    Values::F64(v) => format!("{:?}", v[i]),
                    Values::Bool(v) => (v[i] != 0).to_string(),
                    Values::Sym(v) => format!("#{}", t.batch.symbols[v[i] as usize]),
                    Values::Str(v) => format!("{:?}", String::from_utf8_lossy(v.get(i))),
                }
            })
            .collect()
    }

    fn reasons(d: &Decoded) -> Vec<String> {
        d.errors.iter().map(|e| e.to_string()).collect()
    }

    /// `{"m": m, "t": t, "h": h, "fields": {usage: u}}`
    fn row_item(e: &mut Enc, m: &str, t: i64, h: &str, usage: f64) {
        e.map(4).str("m").str(m).str("t").int(t).str("h").str(h);
        e.str("fields").map(1).str("usage").f64(usage);
    }

    #[test]
    fn rows_form() {
        let mut e = Enc::default();
        e.array(1).map(5);
        e.str("m").str("cpu").str("t").int(1_700_000_000_123);
        e.str("h").str("server01");
        e.str("tags")
            .map(2)
            .str("region")
            .str("eu")
            .str("rack")
            .int(4);
        e.str("fields").map(6);
        e.str("usage")
            .f64(50.5)
            .str("count")
            .int(3)
            .str("ok")
            .bool(true);
        e.str("msg")
            .str("hi")
            .str("none")
            .nil()
            .str("big")
            .uint(u64::MAX);
        let d = dec(&e.0);
        let t = &d.tables[0];
        assert_eq!(t.name(), "cpu");
        assert_eq!(
            t.schema().collect::<Vec<_>>(),
            vec![
                ("timestamp", ColumnType::Timestamp),
                ("symbol", ColumnType::Symbol),
                ("host", ColumnType::Symbol),
                ("region", ColumnType::Symbol),
                ("rack", ColumnType::Symbol),
                ("usage", ColumnType::Float64),
                ("count", ColumnType::Int64),
                ("ok", ColumnType::Bool),
                ("msg", ColumnType::String),
                ("big", ColumnType::UInt64),
            ]
        );
        assert_eq!(col(t, "timestamp"), ["1700000000123000000"]);
        assert_eq!(col(t, "symbol"), ["#server01"]);
        assert_eq!(col(t, "rack"), ["#4"]);
        assert_eq!(col(t, "msg"), ["\"hi\""]);
        assert_eq!(t.origins, [Location::Item { item: 0 }]);
    }

    #[test]
    fn columnar_form() {
        let mut e = Enc::default();
        e.map(1).str("batch").array(1);
        e.map(3)
            .str("m")
            .str("cpu")
            .str("tags")
            .map(1)
            .str("dc")
            .str("x");
        e.str("columns").map(4);
        e.str("time").array(3).int(1).int(2).int(3);
        e.str("host").array(3).str("a").str("b").str("a");
        e.str("usage").array(3).f64(1.5).nil().int(2);
        e.str("n").array(3).nil().int(-5).int(6);
        let d = dec(&e.0);
        let t = &d.tables[0];
        assert_eq!(col(t, "timestamp"), ["1000000", "2000000", "3000000"]);
        assert_eq!(col(t, "host"), ["#a", "#b", "#a"]);
        assert_eq!(col(t, "symbol"), ["#a", "#b", "#a"]);
        assert_eq!(col(t, "dc"), ["#x", "#x", "#x"]);
        assert_eq!(col(t, "usage"), ["1.5", "∅", "2.0"]);
        assert_eq!(col(t, "n"), ["∅", "-5", "6"]);
        assert_eq!(
            t.origins,
            (0..3)
                .map(|row| Location::ItemRow { item: 0, row })
                .collect::<Vec<_>>()
        );
        assert_eq!(d.rows, 3);
    }

    #[test]
    fn mixed_forms_single_items_and_tables() {
        let mut e = Enc::default();
        e.array(3);
        row_item(&mut e, "cpu", 5, "h1", 1.0);
        e.map(2).str("m").str("mem").str("columns").map(2);
        e.str("time").array(2).int(1).int(2);
        e.str("free").array(2).int(10).int(20);
        row_item(&mut e, "cpu", 6, "h2", 2.0);
        let d = dec(&e.0);
        assert_eq!(d.tables.len(), 2);
        assert_eq!(col(d.table("cpu").unwrap(), "symbol"), ["#h1", "#h2"]);
        assert_eq!(col(d.table("mem").unwrap(), "symbol"), ["#mem", "#mem"]);
        assert_eq!(
            d.table("cpu").unwrap().origins[1],
            Location::Item { item: 2 }
        );

        let mut e = Enc::default();
        row_item(&mut e, "cpu", 5, "h1", 1.0);
        assert_eq!(col(&dec(&e.0).tables[0], "usage"), ["1.0"]);
    }

    #[test]
    fn precision_floats_extensions_and_now() {
        let body = |t: &dyn Fn(&mut Enc)| {
            let mut e = Enc::default();
            e.map(3).str("m").str("m").str("t");
            t(&mut e);
            e.str("fields").map(1).str("f").int(1);
            e.0
        };
        let ts = |b: &[u8], p: Precision| {
            let mut o = opts();
            o.precision = p;
            let d = decode(b, &o).unwrap();
            col(&d.tables[0], "timestamp")[0].clone()
        };
        let b = body(&|e| {
            e.int(1500);
        });
        assert_eq!(ts(&b, Precision::Nanoseconds), "1500");
        assert_eq!(ts(&b, Precision::Microseconds), "1500000");
        assert_eq!(ts(&b, Precision::Milliseconds), "1500000000");
        assert_eq!(ts(&b, Precision::Seconds), "1500000000000");
        let b = body(&|e| {
            e.f64(1.5);
        });
        assert_eq!(ts(&b, Precision::Milliseconds), "1500000");
        let b = body(&|e| {
            e.timestamp(1_700_000_000, 123_456_789);
        });
        assert_eq!(ts(&b, Precision::Seconds), "1700000000123456789");
        let b = body(&|e| {
            e.nil();
        });
        let d = decode(&b, &opts()).unwrap();
        assert_eq!(reasons(&d), ["item 0: invalid time 'nil'"]);
        let b = body(&|e| {
            e.int(i64::MAX);
        });
        let d = decode(&b, &opts()).unwrap();
        assert_eq!(
            reasons(&d),
            ["item 0: time '9223372036854775807' is out of range"]
        );
        let mut e = Enc::default();
        e.map(2)
            .str("m")
            .str("m")
            .str("fields")
            .map(1)
            .str("f")
            .int(1);
        assert_eq!(col(&dec(&e.0).tables[0], "timestamp"), ["7"]);
        let mut e = Enc::default();
        e.map(3)
            .str("m")
            .str("m")
            .str("t")
            .int(2)
            .str("columns")
            .map(1);
        e.str("f").array(2).int(1).int(2);
        assert_eq!(
            col(&dec(&e.0).tables[0], "timestamp"),
            ["2000000", "2000000"]
        );
    }

    #[test]
    fn numbers_widen_within_a_request() {
        let mut e = Enc::default();
        e.array(3);
        e.map(2)
            .str("m")
            .str("m")
            .str("fields")
            .map(1)
            .str("x")
            .int(1);
        e.map(2)
            .str("m")
            .str("m")
            .str("fields")
            .map(1)
            .str("x")
            .f32(2.5);
        e.map(2).str("m").str("m").str("columns").map(1);
        e.str("x").array(2).int(3).uint(u64::MAX);
        let d = dec(&e.0);
        let t = &d.tables[0];
        assert_eq!(col(t, "x"), ["1.0", "2.5", "3.0", "1.8446744073709552e19"]);
        assert_eq!(t.schema().last(), Some(("x", ColumnType::Float64)));
    }

    #[test]
    fn shard_key_rule() {
        let mut e = Enc::default();
        e.array(4);
        // A symbol tag wins over h.
        e.map(4).str("m").str("q").str("h").str("h1");
        e.str("tags").map(1).str("symbol").str("S");
        e.str("fields").map(1).str("f").int(1);
        // hostname.
        e.map(3)
            .str("m")
            .str("q")
            .str("tags")
            .map(2)
            .str("hostname")
            .str("n1")
            .str("b")
            .str("2");
        e.str("fields").map(1).str("f").int(1);
        // Series key from tags.
        e.map(3)
            .str("m")
            .str("q")
            .str("tags")
            .map(2)
            .str("z")
            .str("1")
            .str("a")
            .str("x y");
        e.str("fields").map(1).str("f").int(1);
        // Columnar: a symbol column with a hole, falling back per row.
        e.map(3)
            .str("m")
            .str("q")
            .str("tags")
            .map(1)
            .str("k")
            .str("v")
            .str("columns")
            .map(3);
        e.str("symbol").array(3).str("A").nil().nil();
        e.str("host").array(3).nil().str("hh").nil();
        e.str("f").array(3).int(1).int(2).int(3);
        let d = dec(&e.0);
        let t = &d.tables[0];
        assert_eq!(
            col(t, "symbol"),
            ["#S", "#n1", "#q,a=x\\ y,z=1", "#A", "#hh", "#q,k=v"]
        );
    }

    #[test]
    fn bad_items_are_rejected_alone() {
        let mut e = Enc::default();
        e.array(12);
        row_item(&mut e, "cpu", 1, "ok", 1.0);
        e.int(5);
        e.map(1).str("t").int(1);
        e.map(3)
            .str("m")
            .str("cpu")
            .str("fields")
            .map(0)
            .str("extra")
            .int(1);
        e.map(3)
            .str("m")
            .str("cpu")
            .str("fields")
            .map(0)
            .str("columns")
            .map(0);
        e.map(2).str("m").str("cpu").str("columns").map(2);
        e.str("time")
            .array(2)
            .int(1)
            .int(2)
            .str("x")
            .array(1)
            .int(1);
        // A bad value in row 1 of a columnar item undoes the whole item.
        e.map(2).str("m").str("cpu").str("columns").map(3);
        e.str("time").array(2).int(1).int(2);
        e.str("newtag").array(2).str("only-in-bad-item").str("z");
        e.str("usage").array(2).f64(1.0).str("oops");
        e.map(2)
            .str("m")
            .str("cpu")
            .str("fields")
            .map(1)
            .str("usage")
            .str("text");
        e.map(4).str("m").str("cpu").str("h").str("a");
        e.str("tags")
            .map(1)
            .str("host")
            .str("b")
            .str("fields")
            .map(0);
        e.map(2)
            .str("m")
            .str("cpu")
            .str("fields")
            .map(1)
            .str("timestamp")
            .int(1);
        e.map(2)
            .str("m")
            .str("cpu")
            .str("fields")
            .map(1)
            .str("s")
            .bytes_str(b"\xff");
        row_item(&mut e, "cpu", 2, "ok2", 2.0);
        let d = dec(&e.0);
        assert_eq!(
            reasons(&d),
            [
                "item 1: invalid item (expected a map) 'integer'",
                "item 2: missing 'm' (the measurement)",
                "item 3: unknown key 'extra'",
                "item 4: an item has 'fields' or 'columns', not both",
                "item 5: columns have different lengths (2 and 1)",
                "item 6, row 1: column 'usage' is Float64 earlier in this request but String here",
                "item 7: column 'usage' is Float64 earlier in this request but String here",
                "item 8: 'host' is given twice",
                "item 9: 'timestamp' is reserved: it is the designated timestamp column",
                "item 10: invalid UTF-8",
            ]
        );
        let t = &d.tables[0];
        assert_eq!(col(t, "symbol"), ["#ok", "#ok2"]);
        assert_eq!(
            t.batch.symbols,
            ["ok", "ok2"],
            "undone items leave no symbols"
        );
        assert!(
            t.schema().all(|(n, _)| n != "newtag"),
            "undone items leave no columns"
        );
        assert_eq!(d.rejected, 10);
    }

    #[test]
    fn broken_encodings_fail_the_body() {
        let mut e = Enc::default();
        e.array(2);
        row_item(&mut e, "cpu", 1, "a", 1.0);
        row_item(&mut e, "cpu", 2, "b", 2.0);
        let good = e.0.clone();
        assert_eq!(dec(&good).rows, 2);
        for cut in 0..good.len() {
            match decode(&good[..cut], &opts()) {
                Err(DecodeError::Malformed { .. }) => {}
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert_eq!(
            decode(&trailing, &opts()),
            Err(DecodeError::Malformed {
                offset: good.len(),
                message: "unexpected bytes after the message"
            })
        );
        assert!(matches!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff], &opts()),
            Err(DecodeError::Malformed { offset: 5, .. })
        ));
        assert!(matches!(
            decode(&[0x91, 0xc1], &opts()),
            Err(DecodeError::Malformed {
                offset: 1,
                message: "reserved byte 0xc1"
            })
        ));
        assert!(matches!(
            decode(&[0x05], &opts()),
            Err(DecodeError::Malformed { offset: 0, .. })
        ));
        assert!(matches!(
            decode(&[], &opts()),
            Err(DecodeError::Malformed { offset: 0, .. })
        ));
        // Deep nesting inside a value is skipped without recursion.
        let mut deep = vec![0x91u8; 100_000];
        deep.push(0xc0);
        let mut e = Enc::default();
        e.array(1)
            .map(2)
            .str("m")
            .str("m")
            .str("fields")
            .map(1)
            .str("f");
        e.0.extend_from_slice(&deep);
        let d = dec(&e.0);
        assert_eq!(reasons(&d), ["item 0: invalid field value 'array in 'f''"]);
        let mut e = Enc::default();
        e.map(2).str("batch").array(0).str("x").nil();
        assert!(matches!(
            decode(&e.0, &opts()),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn limits() {
        let mut e = Enc::default();
        e.map(2).str("m").str("m").str("columns").map(1);
        e.str("time").array(3).int(1).int(2).int(3);
        let mut o = opts();
        o.limits.rows_max = 2;
        assert_eq!(decode(&e.0, &o), Err(DecodeError::TooManyRows { max: 2 }));
        o.limits.rows_max = 3;
        assert_eq!(decode(&e.0, &o).unwrap().rows, 3);
        o.limits.body_bytes_max = 3;
        assert!(matches!(
            decode(&e.0, &o),
            Err(DecodeError::BodyTooLarge { .. })
        ));
        let mut e = Enc::default();
        e.map(2).str("m").str("m").str("columns").map(3);
        e.str("a")
            .array(1)
            .int(1)
            .str("b")
            .array(1)
            .int(1)
            .str("c")
            .array(1)
            .int(1);
        let mut o = opts();
        o.limits.columns_max = 4;
        let d = decode(&e.0, &o).unwrap();
        assert_eq!(
            reasons(&d),
            ["item 0: table 'm' would have more than 4 columns"]
        );
    }

    /// `cargo test -p sql --release ingest::msgpack::tests::speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn speed() {
        let symbols = [
            "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX",
        ];
        let (items, per_item) = (100, 10_000);
        let mut e = Enc::default();
        e.map(1).str("batch").array(items);
        for i in 0..items {
            e.map(2).str("m").str("trades").str("columns").map(4);
            e.str("time").array(per_item);
            for j in 0..per_item {
                e.int(1_732_111_200_000 + (i * per_item + j) as i64);
            }
            e.str("symbol").array(per_item);
            for j in 0..per_item {
                e.str(symbols[j % symbols.len()]);
            }
            e.str("price").array(per_item);
            for j in 0..per_item {
                e.f64(100.0 + j as f64 * 0.01);
            }
            e.str("volume").array(per_item);
            for j in 0..per_item {
                e.int(1 + j as i64 % 1000);
            }
        }
        let rows = items * per_item;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t0 = std::time::Instant::now();
            let d = decode(&e.0, &opts()).unwrap();
            best = best.min(t0.elapsed().as_secs_f64());
            assert_eq!(d.rows, rows);
        }
        println!(
            "msgpack columnar: {rows} rows, {} bytes, best {:.1} ms: {:.2} M rows/s",
            e.0.len(),
            best * 1e3,
            rows as f64 / best / 1e6
        );
        let mut e = Enc::default();
        let rows = 200_000;
        e.array(rows);
        for j in 0..rows {
            e.map(4)
                .str("m")
                .str("trades")
                .str("t")
                .int(1_732_111_200_000 + j as i64);
            e.str("tags")
                .map(1)
                .str("symbol")
                .str(symbols[j % symbols.len()]);
            e.str("fields")
                .map(2)
                .str("price")
                .f64(100.5)
                .str("volume")
                .int(j as i64 % 1000);
        }
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t0 = std::time::Instant::now();
            let d = decode(&e.0, &opts()).unwrap();
            best = best.min(t0.elapsed().as_secs_f64());
            assert_eq!(d.rows, rows);
        }
        println!(
            "msgpack rows: {rows} rows, best {:.1} ms: {:.2} M rows/s",
            best * 1e3,
            rows as f64 / best / 1e6
        );
    }
}
