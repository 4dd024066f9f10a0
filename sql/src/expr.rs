//! Bound, typed scalar expressions and their vectorized evaluation over a chunk of columns.

use std::borrow::Cow;

use crate::error::{Result, SqlError};
use crate::text::{format_ts_ns, parse_datetime};
use crate::types::{BaseType, DataType, Value};
use crate::vector::{and_valid, Col, StrVec, Vector};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::NotEq => "!=",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }

    /// The comparison with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flip(self) -> BinOp {
        match self {
            BinOp::Lt => BinOp::Gt,
            BinOp::LtEq => BinOp::GtEq,
            BinOp::Gt => BinOp::Lt,
            BinOp::GtEq => BinOp::LtEq,
            o => o,
        }
    }
}

/// Scalar functions evaluated row by row or vectorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Abs,
    Round,
    Floor,
    Ceil,
    Sqrt,
    Ln,
    Log2,
    Log10,
    Exp,
    Pow,
    Least,
    Greatest,
    Coalesce,
    If,
    ToString,
    ToFloat64,
    /// `toInt8` .. `toUInt64`: conversion to an integer type (wrapping, as ClickHouse).
    ToInt(BaseType),
    Lower,
    Upper,
    Length,
    Concat,
    Substring,
    /// `xbar(x, step)`: floor(x / step) * step; on timestamps the step is in ns.
    Xbar,
    /// Buckets of `step` ns aligned to `offset` ns past the epoch (weeks start on Monday).
    XbarOffset(i64),
    /// Buckets of `step` ns restarting at each UTC midnight.
    XbarInDay,
    EpochS,
    EpochMs,
    EpochUs,
    EpochNs,
    /// ns → DateTime64 from an integer in the given unit (1 = ns, 1e3 = µs, 1e6 = ms, 1e9 = s).
    FromUnix(i64),
    /// String or number → DateTime64 (numbers are seconds, as ClickHouse's toDateTime).
    ToDateTime,
    /// `toDateTime64(x, scale)`: numbers are in units of 10^-scale s.
    ToDateTime64,
    IsNaN,
    ToYear,
    ToMonth,
    ToDayOfMonth,
    ToHour,
    ToMinute,
    ToSecond,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Input column `index` of the chunk.
    Column {
        index: usize,
        ty: DataType,
    },
    Literal(Value, DataType),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>, DataType),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Value>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: String,
        negated: bool,
        case_insensitive: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        ty: DataType,
    },
    Cast(Box<Expr>, DataType),
    Func {
        func: Func,
        args: Vec<Expr>,
        ty: DataType,
    },
}

impl Expr {
    pub fn ty(&self) -> DataType {
        match self {
            Expr::Column { ty, .. } | Expr::Literal(_, ty) => *ty,
            Expr::Binary { ty, .. }
            | Expr::Case { ty, .. }
            | Expr::Func { ty, .. }
            | Expr::Neg(_, ty) => *ty,
            Expr::Cast(_, ty) => *ty,
            Expr::Not(e) => DataType::BOOL.nullable(e.ty().nullable),
            Expr::IsNull { .. } => DataType::BOOL,
            Expr::InList { expr, .. } | Expr::Like { expr, .. } => {
                DataType::BOOL.nullable(expr.ty().nullable)
            }
        }
    }

    pub fn literal(v: Value) -> Expr {
        let ty = v.data_type();
        Expr::Literal(v, ty)
    }

    /// Input columns this expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Column { index, .. } => {
                if !out.contains(index) {
                    out.push(*index)
                }
            }
            Expr::Literal(..) => {}
            Expr::Binary { left, right, .. } => {
                left.columns(out);
                right.columns(out);
            }
            Expr::Not(e) | Expr::Neg(e, _) | Expr::Cast(e, _) => e.columns(out),
            Expr::IsNull { expr, .. } | Expr::InList { expr, .. } | Expr::Like { expr, .. } => {
                expr.columns(out)
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
                ..
            } => {
                if let Some(o) = operand {
                    o.columns(out);
                }
                for (w, t) in whens {
                    w.columns(out);
                    t.columns(out);
                }
                if let Some(o) = otherwise {
                    o.columns(out);
                }
            }
            Expr::Func { args, .. } => args.iter().for_each(|a| a.columns(out)),
        }
    }

    /// Rewrites column indexes through `map` (old index → new index).
    pub fn remap(&mut self, map: &dyn Fn(usize) -> usize) {
        match self {
            Expr::Column { index, .. } => *index = map(*index),
            Expr::Literal(..) => {}
            Expr::Binary { left, right, .. } => {
                left.remap(map);
                right.remap(map);
            }
            Expr::Not(e) | Expr::Neg(e, _) | Expr::Cast(e, _) => e.remap(map),
            Expr::IsNull { expr, .. } | Expr::InList { expr, .. } | Expr::Like { expr, .. } => {
                expr.remap(map)
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
                ..
            } => {
                if let Some(o) = operand {
                    o.remap(map);
                }
                for (w, t) in whens {
                    w.remap(map);
                    t.remap(map);
                }
                if let Some(o) = otherwise {
                    o.remap(map);
                }
            }
            Expr::Func { args, .. } => args.iter_mut().for_each(|a| a.remap(map)),
        }
    }

    pub fn is_constant(&self) -> bool {
        let mut cols = Vec::new();
        self.columns(&mut cols);
        cols.is_empty()
    }

    /// Evaluates a column-free expression to a value.
    pub fn eval_constant(&self) -> Result<Value> {
        let col = self.eval(&[], 1)?;
        Ok(col.value(0))
    }

    /// Evaluates over `cols` (each `len` rows long).
    pub fn eval<'c>(&self, cols: &'c [Col<'_>], len: usize) -> Result<Col<'c>> {
        Ok(match self {
            Expr::Column { index, .. } => cols[*index].view(),
            Expr::Literal(v, ty) => broadcast(v, *ty, len),
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => {
                if let (true, Expr::Literal(v, _)) = (op.is_comparison(), &**right) {
                    let l = left.eval(cols, len)?;
                    return Ok(compare_scalar(*op, &l, v));
                }
                if let (true, Expr::Literal(v, _)) = (op.is_comparison(), &**left) {
                    let r = right.eval(cols, len)?;
                    return Ok(compare_scalar(op.flip(), &r, v));
                }
                let l = left.eval(cols, len)?;
                let r = right.eval(cols, len)?;
                binary(*op, &l, &r, *ty)?
            }
            Expr::Not(e) => {
                let c = e.eval(cols, len)?;
                let b = truthy(&c);
                Col {
                    ty: DataType::BOOL.nullable(c.valid.is_some()),
                    v: Vector::Bool(Cow::Owned(b.iter().map(|&x| (x == 0) as u8).collect())),
                    valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
                }
            }
            Expr::Neg(e, ty) => {
                let c = e.eval(cols, len)?;
                let v = match c.v {
                    Vector::F64(v) => Vector::F64(Cow::Owned(v.iter().map(|x| -x).collect())),
                    Vector::I64(v) => Vector::I64(Cow::Owned(
                        v.iter().map(|x| ty.base.wrap(x.wrapping_neg())).collect(),
                    )),
                    Vector::U64(v) => Vector::I64(Cow::Owned(
                        v.iter().map(|&x| (x as i64).wrapping_neg()).collect(),
                    )),
                    Vector::Null(n) => Vector::Null(n),
                    _ => return Err(SqlError::Type(format!("cannot negate {}", c.ty))),
                };
                Col {
                    ty: *ty,
                    v,
                    valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
                }
            }
            Expr::IsNull { expr, negated } => {
                let c = expr.eval(cols, len)?;
                let out: Vec<u8> = (0..len)
                    .map(|i| (c.is_valid(i) == *negated) as u8)
                    .collect();
                Col::new(DataType::BOOL, Vector::Bool(Cow::Owned(out)))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let c = expr.eval(cols, len)?;
                let mut hit = vec![0u8; len];
                for v in list {
                    let eq = compare_scalar(BinOp::Eq, &c, v);
                    if let Vector::Bool(b) = &eq.v {
                        for (h, &x) in hit.iter_mut().zip(b.iter()) {
                            *h |= x;
                        }
                    }
                }
                if *negated {
                    hit.iter_mut().for_each(|h| *h ^= 1);
                }
                Col {
                    ty: DataType::BOOL.nullable(c.valid.is_some()),
                    v: Vector::Bool(Cow::Owned(hit)),
                    valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let c = expr.eval(cols, len)?;
                let pat: Vec<u8> = if *case_insensitive {
                    pattern.to_lowercase().into_bytes()
                } else {
                    pattern.clone().into_bytes()
                };
                let out: Vec<u8> = (0..len)
                    .map(|i| {
                        let s = c.str_at(i).map(Cow::Borrowed).unwrap_or_else(|| {
                            Cow::Owned(crate::format_value(&c.value(i)).into_bytes())
                        });
                        let m = if *case_insensitive {
                            like(&s.to_ascii_lowercase(), &pat)
                        } else {
                            like(&s, &pat)
                        };
                        (m != *negated) as u8
                    })
                    .collect();
                Col {
                    ty: DataType::BOOL.nullable(c.valid.is_some()),
                    v: Vector::Bool(Cow::Owned(out)),
                    valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
                ty,
            } => {
                let op = operand.as_ref().map(|o| o.eval(cols, len)).transpose()?;
                let mut result: Vec<Option<Value>> = vec![None; len];
                for (w, t) in whens {
                    let cond = w.eval(cols, len)?;
                    let hit: Vec<bool> = match &op {
                        Some(o) => (0..len)
                            .map(|i| values_equal(&o.value(i), &cond.value(i)))
                            .collect(),
                        None => {
                            let b = truthy(&cond);
                            (0..len).map(|i| b[i] != 0 && cond.is_valid(i)).collect()
                        }
                    };
                    if hit.iter().any(|&h| h) {
                        let then = t.eval(cols, len)?;
                        for i in 0..len {
                            if hit[i] && result[i].is_none() {
                                result[i] = Some(then.value(i));
                            }
                        }
                    }
                }
                let other = otherwise.as_ref().map(|o| o.eval(cols, len)).transpose()?;
                let values = result.into_iter().enumerate().map(|(i, v)| {
                    v.unwrap_or_else(|| other.as_ref().map_or(Value::Null, |o| o.value(i)))
                });
                Col::from_values(*ty, values.map(|v| convert_value(v, *ty)))
            }
            Expr::Cast(e, ty) => cast(e.eval(cols, len)?, *ty)?,
            Expr::Func { func, args, ty } => crate::functions::eval(*func, args, *ty, cols, len)?,
        })
    }
}

/// A literal repeated `len` times.
pub fn broadcast(v: &Value, ty: DataType, len: usize) -> Col<'static> {
    let vec = match (v, ty.base) {
        (Value::Null, _) => {
            return Col {
                ty,
                v: match ty.physical() {
                    storage::Physical::I64 => Vector::I64(Cow::Owned(vec![0; len])),
                    storage::Physical::U64 => Vector::U64(Cow::Owned(vec![0; len])),
                    storage::Physical::F64 => Vector::F64(Cow::Owned(vec![0.0; len])),
                    storage::Physical::Str => Vector::Str(StrVec {
                        offsets: Cow::Owned(vec![0; len + 1]),
                        bytes: Cow::Owned(Vec::new()),
                    }),
                    _ if ty.base == BaseType::Nothing => Vector::Null(len),
                    _ => Vector::Bool(Cow::Owned(vec![0; len])),
                },
                valid: Some(Cow::Owned(vec![false; len])),
            }
        }
        // An integer literal's vector follows its type: `5000000000` is a UInt64 held as
        // `Value::Int`, and a narrow type's values live in i64 vectors.
        (Value::Int(x), _) if ty.physical() == storage::Physical::U64 => {
            Vector::U64(Cow::Owned(vec![*x as u64; len]))
        }
        (Value::UInt(x), _) if ty.physical() == storage::Physical::I64 => {
            Vector::I64(Cow::Owned(vec![ty.base.wrap(*x as i64); len]))
        }
        (Value::Int(x), _) | (Value::Ts(x), _) => {
            Vector::I64(Cow::Owned(vec![ty.base.wrap(*x); len]))
        }
        (Value::UInt(x), _) => Vector::U64(Cow::Owned(vec![*x; len])),
        (Value::Float(x), _) => Vector::F64(Cow::Owned(vec![*x; len])),
        (Value::Bool(x), _) => Vector::Bool(Cow::Owned(vec![*x as u8; len])),
        (Value::Str(s), _) => {
            let offsets: Vec<u32> = (0..=len).map(|i| (i * s.len()) as u32).collect();
            Vector::Str(StrVec {
                offsets: Cow::Owned(offsets),
                bytes: Cow::Owned(s.as_bytes().repeat(len)),
            })
        }
    };
    Col {
        ty,
        v: vec,
        valid: None,
    }
}

/// 0/1 per row: the truth value of a boolean or numeric column (NULL reads as 0).
pub fn truthy(c: &Col<'_>) -> Vec<u8> {
    let mut out: Vec<u8> = match &c.v {
        Vector::Bool(b) => b.to_vec(),
        Vector::I64(v) => v.iter().map(|&x| (x != 0) as u8).collect(),
        Vector::U64(v) => v.iter().map(|&x| (x != 0) as u8).collect(),
        Vector::F64(v) => v.iter().map(|&x| (x != 0.0) as u8).collect(),
        _ => vec![0; c.len()],
    };
    if let Some(valid) = &c.valid {
        for (o, &ok) in out.iter_mut().zip(valid.iter()) {
            *o &= ok as u8;
        }
    }
    out
}

fn cmp_result<T: PartialOrd>(op: BinOp, a: T, b: T) -> bool {
    match op {
        BinOp::Eq => a == b,
        BinOp::NotEq => a != b,
        BinOp::Lt => a < b,
        BinOp::LtEq => a <= b,
        BinOp::Gt => a > b,
        BinOp::GtEq => a >= b,
        _ => unreachable!("not a comparison"),
    }
}

/// `col op literal`, vectorized without materializing the literal.
pub fn compare_scalar(op: BinOp, c: &Col<'_>, v: &Value) -> Col<'static> {
    let len = c.len();
    let valid = c.valid.as_ref().map(|v| Cow::Owned(v.to_vec()));
    let nullable = valid.is_some();
    if v.is_null() || matches!(c.v, Vector::Null(_)) {
        return Col {
            ty: DataType::BOOL.or_null(),
            v: Vector::Bool(Cow::Owned(vec![0; len])),
            valid: Some(Cow::Owned(vec![false; len])),
        };
    }
    macro_rules! cmp {
        ($vals:expr, $x:expr) => {{
            let x = $x;
            match op {
                BinOp::Eq => $vals.iter().map(|&a| (a == x) as u8).collect(),
                BinOp::NotEq => $vals.iter().map(|&a| (a != x) as u8).collect(),
                BinOp::Lt => $vals.iter().map(|&a| (a < x) as u8).collect(),
                BinOp::LtEq => $vals.iter().map(|&a| (a <= x) as u8).collect(),
                BinOp::Gt => $vals.iter().map(|&a| (a > x) as u8).collect(),
                BinOp::GtEq => $vals.iter().map(|&a| (a >= x) as u8).collect(),
                _ => unreachable!(),
            }
        }};
    }
    let out: Vec<u8> = match (&c.v, v) {
        (Vector::I64(a), Value::Int(x) | Value::Ts(x)) => cmp!(a, *x),
        (Vector::I64(a), Value::Str(s)) if c.ty.base == BaseType::DateTime64 => {
            match parse_datetime(s) {
                Some(x) => cmp!(a, x),
                None => (0..len).map(|_| 0).collect(),
            }
        }
        (Vector::F64(a), _) if v.as_f64().is_some() => cmp!(a, v.as_f64().expect("numeric")),
        (Vector::U64(a), Value::UInt(x)) => cmp!(a, *x),
        (Vector::U64(a), Value::Int(x)) if *x >= 0 => cmp!(a, *x as u64),
        (Vector::I64(a), Value::Float(x)) => a
            .iter()
            .map(|&y| cmp_result(op, y as f64, *x) as u8)
            .collect(),
        (Vector::Sym(ids, dict), Value::Str(s)) if matches!(op, BinOp::Eq | BinOp::NotEq) => {
            match dict.lookup(s) {
                Some(id) => cmp!(ids, id),
                None => vec![(op == BinOp::NotEq) as u8; len],
            }
        }
        (Vector::Str(_) | Vector::Sym(..), Value::Str(s)) => (0..len)
            .map(|i| cmp_result(op, c.str_at(i).unwrap_or_default(), s.as_bytes()) as u8)
            .collect(),
        _ => (0..len)
            .map(|i| {
                compare_values(&c.value(i), v)
                    .is_some_and(|o| cmp_result(op, o, std::cmp::Ordering::Equal))
                    as u8
            })
            .collect(),
    };
    Col {
        ty: DataType::BOOL.nullable(nullable),
        v: Vector::Bool(Cow::Owned(out)),
        valid,
    }
}

/// Total order used by comparisons, ORDER BY and min/max on values of compatible types.
pub fn compare_values(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use Value::*;
    Some(match (a, b) {
        (Null, _) | (_, Null) => return None,
        (Int(x) | Ts(x), Int(y) | Ts(y)) => x.cmp(y),
        (UInt(x), UInt(y)) => x.cmp(y),
        (Int(x) | Ts(x), UInt(y)) => (*x as i128).cmp(&(*y as i128)),
        (UInt(x), Int(y) | Ts(y)) => (*x as i128).cmp(&(*y as i128)),
        (Str(x), Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Ts(x), Str(s)) => x.cmp(&parse_datetime(s)?),
        (Str(s), Ts(y)) => parse_datetime(s)?.cmp(y),
        (Bool(x), Bool(y)) => x.cmp(y),
        _ => a.as_f64()?.total_cmp(&b.as_f64()?),
    })
}

fn values_equal(a: &Value, b: &Value) -> bool {
    compare_values(a, b) == Some(std::cmp::Ordering::Equal)
}

fn binary(op: BinOp, l: &Col<'_>, r: &Col<'_>, ty: DataType) -> Result<Col<'static>> {
    let len = l.len();
    if matches!(op, BinOp::And | BinOp::Or) {
        // Three-valued logic: FALSE AND NULL = FALSE, TRUE OR NULL = TRUE.
        let (a, b) = (truthy(l), truthy(r));
        let mut out = Vec::with_capacity(len);
        let mut valid = Vec::with_capacity(len);
        for i in 0..len {
            let (av, bv) = (l.is_valid(i), r.is_valid(i));
            let (x, y) = (a[i] != 0, b[i] != 0);
            let (res, ok) = if op == BinOp::And {
                if (av && !x) || (bv && !y) {
                    (false, true)
                } else {
                    (x && y, av && bv)
                }
            } else if (av && x) || (bv && y) {
                (true, true)
            } else {
                (false, av && bv)
            };
            out.push(res as u8);
            valid.push(ok);
        }
        let any_null = valid.iter().any(|v| !v);
        return Ok(Col {
            ty: DataType::BOOL.nullable(any_null || ty.nullable),
            v: Vector::Bool(Cow::Owned(out)),
            valid: any_null.then_some(Cow::Owned(valid)),
        });
    }
    let valid = and_valid(&l.valid, &r.valid);
    if matches!(l.v, Vector::Null(_)) || matches!(r.v, Vector::Null(_)) {
        return Ok(broadcast(&Value::Null, ty.or_null(), len));
    }
    if op.is_comparison() {
        let out: Vec<u8> = match (&l.v, &r.v) {
            (Vector::I64(a), Vector::I64(b)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| cmp_result(op, x, y) as u8)
                .collect(),
            (Vector::F64(a), Vector::F64(b)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| cmp_result(op, x, y) as u8)
                .collect(),
            (Vector::U64(a), Vector::U64(b)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| cmp_result(op, x, y) as u8)
                .collect(),
            (Vector::F64(_), _) | (_, Vector::F64(_)) if l.ty.is_numeric() && r.ty.is_numeric() => {
                let (a, b) = (l.to_f64(), r.to_f64());
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| cmp_result(op, x, y) as u8)
                    .collect()
            }
            _ => (0..len)
                .map(|i| {
                    compare_values(&l.value(i), &r.value(i))
                        .is_some_and(|o| cmp_result(op, o, std::cmp::Ordering::Equal))
                        as u8
                })
                .collect(),
        };
        return Ok(Col {
            ty: DataType::BOOL.nullable(valid.is_some()),
            v: Vector::Bool(Cow::Owned(out)),
            valid,
        });
    }
    let v = match ty.base {
        BaseType::Float64 => {
            let (a, b) = (l.to_f64(), r.to_f64());
            let f: fn(f64, f64) -> f64 = match op {
                BinOp::Add => |x, y| x + y,
                BinOp::Sub => |x, y| x - y,
                BinOp::Mul => |x, y| x * y,
                BinOp::Div => |x, y| x / y,
                BinOp::Mod => |x, y| x % y,
                _ => unreachable!(),
            };
            Vector::F64(Cow::Owned(
                a.iter().zip(b.iter()).map(|(&x, &y)| f(x, y)).collect(),
            ))
        }
        // 64-bit unsigned arithmetic when an operand holds u64 values; everything else computes
        // in i64 (exact for the narrow types, whose ClickHouse result types always hold the
        // result) and is then wrapped into the result type.
        BaseType::UInt64 if matches!(l.v, Vector::U64(_)) || matches!(r.v, Vector::U64(_)) => {
            let to_u = |c: &Col<'_>| -> Vec<u64> {
                match &c.v {
                    Vector::U64(v) => v.to_vec(),
                    _ => c.to_i64().iter().map(|&x| x as u64).collect(),
                }
            };
            let (a, b) = (to_u(l), to_u(r));
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                let (x, y) = (a[i], b[i]);
                out.push(match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::Mod => {
                        if y == 0 {
                            if l.is_valid(i) && r.is_valid(i) {
                                return Err(SqlError::coded(
                                    153,
                                    "ILLEGAL_DIVISION",
                                    "Division by zero",
                                ));
                            }
                            0
                        } else {
                            x % y
                        }
                    }
                    _ => unreachable!(),
                });
            }
            Vector::U64(Cow::Owned(out))
        }
        b if b.is_int() || b == BaseType::DateTime64 => {
            let (a, b) = (l.to_i64(), r.to_i64());
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                let (x, y) = (a[i], b[i]);
                out.push(match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::Mod => {
                        if y == 0 {
                            if l.is_valid(i) && r.is_valid(i) {
                                return Err(SqlError::coded(
                                    153,
                                    "ILLEGAL_DIVISION",
                                    "Division by zero",
                                ));
                            }
                            0
                        } else {
                            x.wrapping_rem(y)
                        }
                    }
                    _ => unreachable!(),
                });
            }
            int_vector(ty.base, out)
        }
        _ => {
            return Err(SqlError::Type(format!(
                "Illegal types {} and {} of arguments of operator {}",
                l.ty,
                r.ty,
                op.symbol()
            )))
        }
    };
    Ok(Col {
        ty: ty.nullable(valid.is_some() || ty.nullable),
        v,
        valid,
    })
}

/// i64 results as the vector of integer type `base`: wrapped into a narrow type's range, or
/// reinterpreted as u64 for UInt64.
pub fn int_vector(base: BaseType, mut v: Vec<i64>) -> Vector<'static> {
    if base.is_narrow_int() {
        v.iter_mut().for_each(|x| *x = base.wrap(*x));
    }
    if base == BaseType::UInt64 {
        Vector::U64(Cow::Owned(v.into_iter().map(|x| x as u64).collect()))
    } else {
        Vector::I64(Cow::Owned(v))
    }
}

/// `(signed, bits)` of an integer operand; Bool counts as UInt8, as in ClickHouse.
fn arith_bits(b: BaseType) -> Option<(bool, u32)> {
    if b == BaseType::Bool {
        return Some((false, 8));
    }
    b.int_bits()
}

/// ClickHouse's result type of integer `a op b`: `+` and `*` take the next wider type of the
/// wider operand (signed if either is), `-` the same but always signed, `%` the divisor's width
/// (doubled and signed when the dividend is signed); 64 bits at most.
pub fn int_arith_type(op: BinOp, a: BaseType, b: BaseType) -> Option<BaseType> {
    let (sa, ba) = arith_bits(a)?;
    let (sb, bb) = arith_bits(b)?;
    let wide = 2 * ba.max(bb);
    Some(match op {
        BinOp::Add | BinOp::Mul => BaseType::int(sa || sb, wide),
        BinOp::Sub => BaseType::int(true, wide),
        BinOp::Mod if sa => BaseType::int(true, 2 * bb),
        BinOp::Mod => BaseType::int(false, bb),
        _ => return None,
    })
}

/// ClickHouse's type of `-x` for an integer type: unsigned types widen to the next signed type.
pub fn neg_type(t: DataType) -> DataType {
    match t.base.int_bits() {
        Some((false, bits)) => DataType::new(BaseType::int(true, 2 * bits)).nullable(t.nullable),
        _ => t,
    }
}

/// The result type of `l op r`, or a type error.
pub fn binary_type(op: BinOp, l: DataType, r: DataType) -> Result<DataType> {
    use BaseType::*;
    let nullable = l.nullable || r.nullable;
    if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
        return Ok(DataType::BOOL.nullable(nullable));
    }
    if l.base == Nothing || r.base == Nothing {
        return Ok(DataType::NULL);
    }
    let base = match (op, l.base, r.base) {
        (BinOp::Div, a, b) if is_num(a) && is_num(b) => Float64,
        (_, Float64, b) if is_num(b) => Float64,
        (_, a, Float64) if is_num(a) => Float64,
        (BinOp::Add | BinOp::Sub, DateTime64, b) if b.is_int() => DateTime64,
        (BinOp::Add, a, DateTime64) if a.is_int() => DateTime64,
        (BinOp::Sub, DateTime64, DateTime64) => Int64,
        (_, a, b) if is_int(a) && is_int(b) => {
            int_arith_type(op, a, b).expect("integer operands of an arithmetic operator")
        }
        _ => {
            return Err(SqlError::Type(format!(
                "Illegal types {l} and {r} of arguments of operator {}",
                op.symbol()
            )))
        }
    };
    Ok(DataType::new(base).nullable(nullable))
}

fn is_int(b: BaseType) -> bool {
    b.is_int() || b == BaseType::Bool
}

fn is_num(b: BaseType) -> bool {
    is_int(b) || b == BaseType::Float64
}

/// SQL LIKE with `%` and `_` (and `\` escapes).
pub fn like(s: &[u8], p: &[u8]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let (mut star_p, mut star_s) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == b'\\' && pi + 1 < p.len() && p[pi + 1] == s[si] {
            si += 1;
            pi += 2;
        } else if pi < p.len()
            && (p[pi] == b'_' || (p[pi] == s[si] && p[pi] != b'%' && p[pi] != b'\\'))
        {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == b'%' {
            star_p = Some(pi);
            star_s = si;
            pi += 1;
        } else if let Some(sp) = star_p {
            pi = sp + 1;
            star_s += 1;
            si = star_s;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'%' {
        pi += 1;
    }
    pi == p.len()
}

/// Converts a value to `ty` (for CASE branches and casts); unconvertible → NULL.
pub fn convert_value(v: Value, ty: DataType) -> Value {
    if v.is_null() {
        return v;
    }
    match ty.base {
        BaseType::Int64 => match &v {
            Value::Str(s) => s.trim().parse().map(Value::Int).unwrap_or(Value::Null),
            _ => v.as_i64().map_or(Value::Null, Value::Int),
        },
        BaseType::UInt64 => match &v {
            Value::Str(s) => s.trim().parse().map(Value::UInt).unwrap_or(Value::Null),
            Value::UInt(x) => Value::UInt(*x),
            _ => v.as_i64().map_or(Value::Null, |x| Value::UInt(x as u64)),
        },
        b if b.is_narrow_int() => {
            let x = match &v {
                Value::Str(s) => {
                    let t = s.trim();
                    match t.parse::<i64>() {
                        Ok(x) => Some(x),
                        Err(_) => t.parse::<u64>().ok().map(|x| x as i64),
                    }
                }
                Value::UInt(x) => Some(*x as i64),
                Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
                _ => v.as_i64(),
            };
            x.map_or(Value::Null, |x| Value::Int(b.wrap(x)))
        }
        BaseType::Float64 => match &v {
            Value::Str(s) => s.trim().parse().map(Value::Float).unwrap_or(Value::Null),
            _ => v.as_f64().map_or(Value::Null, Value::Float),
        },
        BaseType::Bool => match &v {
            Value::Str(s) => match s.as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                _ => Value::Null,
            },
            _ => v.as_f64().map_or(Value::Null, |x| Value::Bool(x != 0.0)),
        },
        BaseType::String => match v {
            Value::Str(s) => Value::Str(s),
            Value::Ts(ns) => Value::Str(format_ts_ns(ns)),
            other => Value::Str(crate::format_value(&other)),
        },
        BaseType::DateTime64 => match &v {
            Value::Str(s) => parse_datetime(s).map_or(Value::Null, Value::Ts),
            _ => v.as_i64().map_or(Value::Null, Value::Ts),
        },
        BaseType::Nothing => Value::Null,
        other => unreachable!("{other:?} is handled above"),
    }
}

/// `CAST(c AS ty)`; strings that do not parse are an error, as in ClickHouse.
pub fn cast(c: Col<'_>, ty: DataType) -> Result<Col<'static>> {
    let len = c.len();
    let ty = ty.nullable(ty.nullable || c.has_nulls());
    match (&c.v, ty.base) {
        (Vector::I64(_) | Vector::U64(_) | Vector::Bool(_), BaseType::Float64) => {
            let v = c.to_f64().into_owned();
            return Ok(Col {
                ty,
                v: Vector::F64(Cow::Owned(v)),
                valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
            });
        }
        (
            Vector::F64(_) | Vector::U64(_) | Vector::Bool(_) | Vector::I64(_),
            BaseType::Int64 | BaseType::DateTime64,
        ) => {
            let v = c.to_i64().into_owned();
            return Ok(Col {
                ty,
                v: Vector::I64(Cow::Owned(v)),
                valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
            });
        }
        // Numbers convert to a narrow integer by truncating floats and wrapping, as ClickHouse's
        // `CAST(300 AS UInt8)` = 44.
        (Vector::F64(_) | Vector::U64(_) | Vector::Bool(_) | Vector::I64(_), b)
            if b.is_narrow_int() =>
        {
            return Ok(Col {
                ty,
                v: int_vector(b, c.to_i64().into_owned()),
                valid: c.valid.map(|v| Cow::Owned(v.into_owned())),
            });
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let v = c.value(i);
        let converted = convert_value(v.clone(), ty);
        if converted.is_null() && !v.is_null() {
            return Err(SqlError::coded(
                6,
                "CANNOT_PARSE_TEXT",
                format!(
                    "Cannot parse '{}' as {}",
                    crate::format_value(&v),
                    ty.nullable(false)
                ),
            ));
        }
        out.push(converted);
    }
    Ok(Col::from_values(ty, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like(b"AAPL", b"AA%"));
        assert!(like(b"AAPL", b"%PL"));
        assert!(like(b"AAPL", b"A_PL"));
        assert!(!like(b"AAPL", b"A_L"));
        assert!(like(b"a%b", b"a\\%b"));
        assert!(!like(b"axb", b"a\\%b"));
        assert!(like(b"", b"%"));
    }

    #[test]
    fn three_valued_logic() {
        let t = Col::from_values(
            DataType::BOOL.or_null(),
            [Value::Bool(true), Value::Bool(false), Value::Null],
        );
        let n = Col::from_values(
            DataType::BOOL.or_null(),
            [Value::Null, Value::Null, Value::Null],
        );
        let and = binary(BinOp::And, &t, &n, DataType::BOOL.or_null()).unwrap();
        assert_eq!(
            (0..3).map(|i| and.value(i)).collect::<Vec<_>>(),
            vec![Value::Null, Value::Bool(false), Value::Null]
        );
        let or = binary(BinOp::Or, &t, &n, DataType::BOOL.or_null()).unwrap();
        assert_eq!(
            (0..3).map(|i| or.value(i)).collect::<Vec<_>>(),
            vec![Value::Bool(true), Value::Null, Value::Null]
        );
    }
}
