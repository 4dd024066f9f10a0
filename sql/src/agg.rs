//! Aggregate functions: binding, mergeable partial states, vectorized range updates, finalize.

use std::collections::HashSet;

use crate::error::{Result, SqlError};
use crate::expr::{compare_values, Expr};
use crate::types::{BaseType, DataType, Value};
use crate::vector::{Col, Vector};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// Value at the earliest timestamp of the group.
    First,
    /// Value at the latest timestamp of the group.
    Last,
    /// Σ price·volume / Σ volume.
    Vwap,
    VarPop,
    VarSamp,
    StddevPop,
    StddevSamp,
    /// Exact quantile with linear interpolation between closest ranks.
    Quantile(f64),
    /// ClickHouse's `quantileExact`: the element at position floor(level · n) of the sorted values.
    QuantileExact(f64),
    ArgMin,
    ArgMax,
    /// First non-NULL value met.
    Any,
    /// Last non-NULL value met.
    AnyLast,
    /// Exact number of distinct non-NULL values (`uniq`, `uniqExact`, `count(DISTINCT x)`).
    Uniq,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub ty: DataType,
}

/// Resolves an aggregate function name. `params` are the ClickHouse parametric arguments
/// (`quantile(0.9)(x)`). Returns `None` if `name` is not an aggregate.
pub fn bind(
    name: &str,
    params: &[Value],
    args: Vec<Expr>,
    distinct: bool,
) -> Option<Result<AggCall>> {
    let lower = name.to_ascii_lowercase();
    let n = args.len();
    let arg_ty = args.first().map(Expr::ty).unwrap_or(DataType::UINT64);
    let want = |k: usize| -> Result<()> {
        if n != k {
            return Err(SqlError::Type(format!(
                "Aggregate function {name} requires {k} argument{}, got {n}",
                if k == 1 { "" } else { "s" }
            )));
        }
        Ok(())
    };
    let float = DataType::FLOAT64.nullable(arg_ty.nullable);
    let numeric = |t: DataType| -> Result<()> {
        if t.is_numeric() || t.base == BaseType::Nothing {
            Ok(())
        } else {
            Err(SqlError::Type(format!(
                "Illegal type {t} of argument for aggregate function {name}"
            )))
        }
    };
    let r = || -> Result<AggCall> {
        let (func, ty) = match lower.as_str() {
            "count" if distinct => {
                want(1)?;
                (AggFunc::Uniq, DataType::UINT64)
            }
            "count" if n == 0 => (AggFunc::CountStar, DataType::UINT64),
            "count" => {
                want(1)?;
                (AggFunc::Count, DataType::UINT64)
            }
            _ if distinct => return Err(SqlError::Unsupported(format!("{name}(DISTINCT ...)"))),
            "sum" => {
                want(1)?;
                numeric(arg_ty)?;
                // As ClickHouse: sums of unsigned integers are UInt64, of signed ones Int64.
                let base = match arg_ty.base.int_bits() {
                    _ if arg_ty.base == BaseType::Float64 => BaseType::Float64,
                    Some((false, _)) => BaseType::UInt64,
                    _ => BaseType::Int64,
                };
                (AggFunc::Sum, DataType::new(base).nullable(arg_ty.nullable))
            }
            "avg" | "mean" => {
                want(1)?;
                numeric(arg_ty)?;
                (AggFunc::Avg, float)
            }
            "min" => {
                want(1)?;
                (AggFunc::Min, arg_ty)
            }
            "max" => {
                want(1)?;
                (AggFunc::Max, arg_ty)
            }
            "first" | "first_value" => {
                want(1)?;
                (AggFunc::First, arg_ty)
            }
            "last" | "last_value" => {
                want(1)?;
                (AggFunc::Last, arg_ty)
            }
            "any" => {
                want(1)?;
                (AggFunc::Any, arg_ty)
            }
            "anylast" => {
                want(1)?;
                (AggFunc::AnyLast, arg_ty)
            }
            "vwap" => {
                want(2)?;
                numeric(arg_ty)?;
                numeric(args[1].ty())?;
                (
                    AggFunc::Vwap,
                    DataType::FLOAT64.nullable(arg_ty.nullable || args[1].ty().nullable),
                )
            }
            "varpop" | "var_pop" => {
                want(1)?;
                numeric(arg_ty)?;
                (AggFunc::VarPop, float)
            }
            "varsamp" | "var_samp" | "variance" => {
                want(1)?;
                numeric(arg_ty)?;
                (AggFunc::VarSamp, float)
            }
            "stddevpop" | "stddev_pop" => {
                want(1)?;
                numeric(arg_ty)?;
                (AggFunc::StddevPop, float)
            }
            "stddevsamp" | "stddev_samp" | "stddev" => {
                want(1)?;
                numeric(arg_ty)?;
                (AggFunc::StddevSamp, float)
            }
            "median" | "quantile" | "quantileexact" => {
                want(1)?;
                numeric(arg_ty)?;
                let q = if lower == "median" {
                    0.5
                } else {
                    match params {
                        [] => 0.5,
                        [p] => p
                            .as_f64()
                            .filter(|q| (0.0..=1.0).contains(q))
                            .ok_or_else(|| {
                                SqlError::coded(
                                    12,
                                    "PARAMETER_OUT_OF_BOUND",
                                    format!("quantile level must be in [0, 1], got {p:?}"),
                                )
                            })?,
                        _ => {
                            return Err(SqlError::BadArguments(
                                "quantile takes one level parameter".into(),
                            ))
                        }
                    }
                };
                if lower == "quantileexact" {
                    (AggFunc::QuantileExact(q), float)
                } else {
                    (AggFunc::Quantile(q), float)
                }
            }
            "argmin" => {
                want(2)?;
                (AggFunc::ArgMin, arg_ty)
            }
            "argmax" => {
                want(2)?;
                (AggFunc::ArgMax, arg_ty)
            }
            "uniq" | "uniqexact" | "uniqcombined" | "uniqhll12" => {
                want(1)?;
                (AggFunc::Uniq, DataType::UINT64)
            }
            _ => unreachable!("filtered below"),
        };
        Ok(AggCall { func, args, ty })
    };
    const NAMES: [&str; 30] = [
        "count",
        "sum",
        "avg",
        "mean",
        "min",
        "max",
        "first",
        "first_value",
        "last",
        "last_value",
        "any",
        "anylast",
        "vwap",
        "varpop",
        "var_pop",
        "varsamp",
        "var_samp",
        "variance",
        "stddevpop",
        "stddev_pop",
        "stddevsamp",
        "stddev_samp",
        "stddev",
        "median",
        "quantile",
        "quantileexact",
        "argmin",
        "argmax",
        "uniq",
        "uniqexact",
    ];
    if NAMES.contains(&lower.as_str()) || lower == "uniqcombined" || lower == "uniqhll12" {
        Some(r())
    } else {
        None
    }
}

/// A hashable form of a value (floats by bits with -0.0 and NaN canonicalized).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPart {
    Null,
    I(i64),
    U(u64),
    F(u64),
    B(bool),
    S(Box<[u8]>),
}

impl KeyPart {
    pub fn of(v: &Value) -> KeyPart {
        match v {
            Value::Null => KeyPart::Null,
            Value::Int(x) | Value::Ts(x) => KeyPart::I(*x),
            Value::UInt(x) => KeyPart::U(*x),
            Value::Float(f) => KeyPart::F(canonical_bits(*f)),
            Value::Bool(b) => KeyPart::B(*b),
            Value::Str(s) => KeyPart::S(s.as_bytes().into()),
        }
    }
}

pub fn canonical_bits(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

/// A partial aggregate; mergeable across shards.
#[derive(Debug, Clone, PartialEq)]
pub enum AggState {
    Count(u64),
    SumI(i64, bool),
    SumU(u64, bool),
    SumF(f64, bool),
    Avg {
        sum: f64,
        n: u64,
    },
    Extreme(Option<Value>),
    /// (timestamp or order, value) of the first/last row seen.
    Edge(Option<(i64, Value)>),
    Vwap {
        pv: f64,
        v: f64,
        n: u64,
    },
    /// Welford's running moments.
    Moments {
        n: f64,
        mean: f64,
        m2: f64,
    },
    Values(Vec<f64>),
    Set(HashSet<KeyPart>),
    /// (comparison key, argument).
    Arg(Option<(Value, Value)>),
}

impl AggState {
    pub fn new(call: &AggCall) -> AggState {
        match call.func {
            AggFunc::CountStar | AggFunc::Count => AggState::Count(0),
            AggFunc::Sum => match call.ty.base {
                BaseType::Float64 => AggState::SumF(0.0, false),
                BaseType::UInt64 => AggState::SumU(0, false),
                _ => AggState::SumI(0, false),
            },
            AggFunc::Avg => AggState::Avg { sum: 0.0, n: 0 },
            AggFunc::Min | AggFunc::Max => AggState::Extreme(None),
            AggFunc::First | AggFunc::Last | AggFunc::Any | AggFunc::AnyLast => {
                AggState::Edge(None)
            }
            AggFunc::Vwap => AggState::Vwap {
                pv: 0.0,
                v: 0.0,
                n: 0,
            },
            AggFunc::VarPop | AggFunc::VarSamp | AggFunc::StddevPop | AggFunc::StddevSamp => {
                AggState::Moments {
                    n: 0.0,
                    mean: 0.0,
                    m2: 0.0,
                }
            }
            AggFunc::Quantile(_) | AggFunc::QuantileExact(_) => AggState::Values(Vec::new()),
            AggFunc::Uniq => AggState::Set(HashSet::new()),
            AggFunc::ArgMin | AggFunc::ArgMax => AggState::Arg(None),
        }
    }

    /// Approximate heap bytes (for the per-query memory bound).
    pub fn heap_bytes(&self) -> usize {
        match self {
            AggState::Values(v) => v.capacity() * 8,
            AggState::Set(s) => s.len() * 48,
            AggState::Extreme(Some(Value::Str(s))) | AggState::Edge(Some((_, Value::Str(s)))) => {
                s.len()
            }
            _ => 0,
        }
    }

    /// Folds rows `lo..hi` of the argument columns into the state. `order` gives each row's
    /// timestamp (or position) for first/last.
    /// `sorted` says the rows are in timestamp order (chunks of scanned blocks).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        call: &AggCall,
        args: &[Col<'_>],
        order: &[i64],
        sorted: bool,
        lo: usize,
        hi: usize,
    ) {
        let valid = |c: &Col<'_>, i: usize| c.is_valid(i);
        match (self, call.func) {
            (AggState::Count(n), AggFunc::CountStar) => *n += (hi - lo) as u64,
            (AggState::Count(n), AggFunc::Count) => {
                let c = &args[0];
                *n += if c.valid.is_none() && !matches!(c.v, Vector::Null(_)) {
                    (hi - lo) as u64
                } else {
                    (lo..hi).filter(|&i| valid(c, i)).count() as u64
                };
            }
            (AggState::SumF(s, any), _) => {
                let c = &args[0];
                match (&c.v, &c.valid) {
                    (Vector::F64(v), None) => {
                        *s += crate::kernels::sum(&v[lo..hi], None, None);
                        *any |= hi > lo;
                    }
                    _ => {
                        let v = c.to_f64();
                        for i in lo..hi {
                            if valid(c, i) {
                                *s += v[i];
                                *any = true;
                            }
                        }
                    }
                }
            }
            (AggState::SumI(s, any), _) => {
                let c = &args[0];
                match (&c.v, &c.valid) {
                    (Vector::I64(v), None) => {
                        *s = s.wrapping_add(v[lo..hi].iter().fold(0i64, |a, &x| a.wrapping_add(x)));
                        *any |= hi > lo;
                    }
                    _ => {
                        let v = c.to_i64();
                        for i in lo..hi {
                            if valid(c, i) {
                                *s = s.wrapping_add(v[i]);
                                *any = true;
                            }
                        }
                    }
                }
            }
            (AggState::SumU(s, any), _) => {
                let c = &args[0];
                for i in lo..hi {
                    if valid(c, i) {
                        match c.value(i) {
                            Value::UInt(x) => *s = s.wrapping_add(x),
                            // Narrow unsigned integers are held as i64.
                            Value::Int(x) => *s = s.wrapping_add(x as u64),
                            _ => {}
                        }
                        *any = true;
                    }
                }
            }
            (AggState::Avg { sum, n }, _) => {
                let c = &args[0];
                let v = c.to_f64();
                for i in lo..hi {
                    if valid(c, i) {
                        *sum += v[i];
                        *n += 1;
                    }
                }
            }
            (AggState::Extreme(cur), f) => {
                let c = &args[0];
                let want_min = f == AggFunc::Min;
                // Typed scan for the common numeric cases, one Value comparison per range.
                let best: Option<Value> = match (&c.v, &c.valid) {
                    (Vector::F64(v), None) if c.ty.base == BaseType::Float64 => {
                        let s = &v[lo..hi];
                        let m = if want_min {
                            crate::kernels::min(s, None, None)
                        } else {
                            crate::kernels::max(s, None, None)
                        };
                        m.filter(|x| !x.is_nan()).map(Value::Float)
                    }
                    (Vector::I64(v), None) => {
                        let s = &v[lo..hi];
                        let m = if want_min {
                            crate::kernels::min(s, None, None)
                        } else {
                            crate::kernels::max(s, None, None)
                        };
                        m.map(|x| {
                            if c.ty.base == BaseType::DateTime64 {
                                Value::Ts(x)
                            } else {
                                Value::Int(x)
                            }
                        })
                    }
                    _ => {
                        let mut b: Option<Value> = None;
                        for i in lo..hi {
                            let v = c.value(i);
                            if v.is_null() || matches!(v, Value::Float(f) if f.is_nan()) {
                                continue;
                            }
                            if better(&v, b.as_ref(), want_min) {
                                b = Some(v);
                            }
                        }
                        b
                    }
                };
                if let Some(b) = best {
                    if better(&b, cur.as_ref(), want_min) {
                        *cur = Some(b);
                    }
                }
            }
            (AggState::Edge(cur), f) => {
                let c = &args[0];
                let forward = matches!(f, AggFunc::First | AggFunc::Any);
                let by_time = matches!(f, AggFunc::First | AggFunc::Last);
                // first/last carry the designated timestamp as a second argument when the source
                // has one; otherwise `order` is the row position.
                let ts: std::borrow::Cow<'_, [i64]> = match args.get(1) {
                    Some(t) if by_time => t.to_i64(),
                    _ => std::borrow::Cow::Borrowed(order),
                };
                let ok =
                    |i: usize| valid(c, i) && args.get(1).is_none_or(|t| !by_time || valid(t, i));
                let pick = if sorted || !by_time {
                    // Rows are in time order: the first/last valid row is the candidate.
                    if forward {
                        (lo..hi).find(|&i| ok(i))
                    } else {
                        (lo..hi).rev().find(|&i| ok(i))
                    }
                } else {
                    let mut best: Option<usize> = None;
                    for i in (lo..hi).filter(|&i| ok(i)) {
                        best = match best {
                            None => Some(i),
                            Some(b) if forward && ts[i] < ts[b] => Some(i),
                            Some(b) if !forward && ts[i] >= ts[b] => Some(i),
                            keep => keep,
                        };
                    }
                    best
                };
                if let Some(i) = pick {
                    let t = ts[i];
                    let replace = match cur {
                        None => true,
                        Some((ct, _)) if by_time => {
                            if forward {
                                t < *ct
                            } else {
                                t >= *ct
                            }
                        }
                        Some(_) => !forward,
                    };
                    if replace {
                        *cur = Some((t, c.value(i)));
                    }
                }
            }
            (AggState::Vwap { pv, v, n }, _) => {
                let (p, q) = (&args[0], &args[1]);
                match (&p.v, &q.v, &p.valid, &q.valid) {
                    (Vector::F64(pp), Vector::I64(qq), None, None) => {
                        let sums = crate::kernels::vwap(&pp[lo..hi], None, &qq[lo..hi], None, None);
                        *pv += sums.price_volume_sum;
                        *v += sums.volume_sum;
                        *n += (hi - lo) as u64;
                    }
                    _ => {
                        let (pp, qq) = (p.to_f64(), q.to_f64());
                        for i in lo..hi {
                            if valid(p, i) && valid(q, i) {
                                *pv += pp[i] * qq[i];
                                *v += qq[i];
                                *n += 1;
                            }
                        }
                    }
                }
            }
            (AggState::Moments { n, mean, m2 }, _) => {
                let c = &args[0];
                let v = c.to_f64();
                for i in lo..hi {
                    if valid(c, i) {
                        *n += 1.0;
                        let d = v[i] - *mean;
                        *mean += d / *n;
                        *m2 += d * (v[i] - *mean);
                    }
                }
            }
            (AggState::Values(vals), _) => {
                let c = &args[0];
                let v = c.to_f64();
                vals.extend((lo..hi).filter(|&i| valid(c, i)).map(|i| v[i]));
            }
            (AggState::Set(set), _) => {
                let c = &args[0];
                for i in lo..hi {
                    if valid(c, i) {
                        let k = match (&c.v, c.str_at(i)) {
                            (_, Some(s)) => KeyPart::S(s.into()),
                            _ => KeyPart::of(&c.value(i)),
                        };
                        set.insert(k);
                    }
                }
            }
            (AggState::Arg(cur), f) => {
                let (a, k) = (&args[0], &args[1]);
                let want_min = f == AggFunc::ArgMin;
                for i in lo..hi {
                    // Rows where either the argument or the key is NULL are skipped.
                    if !valid(k, i) || !valid(a, i) {
                        continue;
                    }
                    let key = k.value(i);
                    if better(&key, cur.as_ref().map(|c| &c.0), want_min) {
                        *cur = Some((key, a.value(i)));
                    }
                }
            }
            (s, f) => unreachable!("state {s:?} for {f:?}"),
        }
    }

    /// Combines another partial state of the same call into this one.
    pub fn merge(&mut self, call: &AggCall, other: AggState) {
        match (self, other) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (AggState::SumI(a, x), AggState::SumI(b, y)) => {
                *a = a.wrapping_add(b);
                *x |= y;
            }
            (AggState::SumU(a, x), AggState::SumU(b, y)) => {
                *a = a.wrapping_add(b);
                *x |= y;
            }
            (AggState::SumF(a, x), AggState::SumF(b, y)) => {
                *a += b;
                *x |= y;
            }
            (AggState::Avg { sum, n }, AggState::Avg { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (AggState::Extreme(a), AggState::Extreme(Some(b))) => {
                if better(&b, a.as_ref(), call.func == AggFunc::Min) {
                    *a = Some(b);
                }
            }
            (AggState::Edge(a), AggState::Edge(Some((t, v)))) => {
                let replace = match (a.as_ref(), call.func) {
                    (None, _) => true,
                    (Some((ct, _)), AggFunc::First) => t < *ct,
                    (Some((ct, _)), AggFunc::Last) => t > *ct,
                    (Some(_), AggFunc::Any) => false,
                    (Some(_), _) => true,
                };
                if replace {
                    *a = Some((t, v));
                }
            }
            (
                AggState::Vwap { pv, v, n },
                AggState::Vwap {
                    pv: p2,
                    v: v2,
                    n: n2,
                },
            ) => {
                *pv += p2;
                *v += v2;
                *n += n2;
            }
            (
                AggState::Moments { n, mean, m2 },
                AggState::Moments {
                    n: n2,
                    mean: mean2,
                    m2: m22,
                },
            ) => {
                if n2 > 0.0 {
                    let total = *n + n2;
                    let d = mean2 - *mean;
                    *m2 += m22 + d * d * *n * n2 / total;
                    *mean += d * n2 / total;
                    *n = total;
                }
            }
            (AggState::Values(a), AggState::Values(b)) => a.extend(b),
            (AggState::Set(a), AggState::Set(b)) => a.extend(b),
            (AggState::Arg(a), AggState::Arg(Some((k, v)))) => {
                if better(&k, a.as_ref().map(|c| &c.0), call.func == AggFunc::ArgMin) {
                    *a = Some((k, v));
                }
            }
            (_, AggState::Extreme(None) | AggState::Edge(None) | AggState::Arg(None)) => {}
            (a, b) => unreachable!("merge {a:?} with {b:?}"),
        }
    }

    /// The final value. Empty non-nullable aggregates give ClickHouse's defaults (0, nan);
    /// nullable ones give NULL.
    pub fn finish(self, call: &AggCall) -> Value {
        let nullable = call.ty.nullable;
        let default = || -> Value {
            if nullable {
                return Value::Null;
            }
            match call.ty.base {
                BaseType::Int64
                | BaseType::Int8
                | BaseType::Int16
                | BaseType::Int32
                | BaseType::UInt8
                | BaseType::UInt16
                | BaseType::UInt32 => Value::Int(0),
                BaseType::UInt64 => Value::UInt(0),
                BaseType::Float64 => Value::Float(0.0),
                BaseType::Bool => Value::Bool(false),
                BaseType::String => Value::Str(String::new()),
                BaseType::DateTime64 => Value::Ts(0),
                BaseType::Nothing => Value::Null,
            }
        };
        let nan_or_null = |x: Option<f64>| -> Value {
            match x {
                Some(v) => Value::Float(v),
                None if nullable => Value::Null,
                None => Value::Float(f64::NAN),
            }
        };
        match self {
            AggState::Count(n) => Value::UInt(n),
            AggState::SumI(s, any) => {
                if any || !nullable {
                    Value::Int(s)
                } else {
                    Value::Null
                }
            }
            AggState::SumU(s, any) => {
                if any || !nullable {
                    Value::UInt(s)
                } else {
                    Value::Null
                }
            }
            AggState::SumF(s, any) => {
                if any || !nullable {
                    Value::Float(s)
                } else {
                    Value::Null
                }
            }
            AggState::Avg { sum, n } => nan_or_null((n > 0).then(|| sum / n as f64)),
            AggState::Extreme(v) => v.unwrap_or_else(default),
            AggState::Edge(v) => v.map(|(_, v)| v).unwrap_or_else(default),
            AggState::Vwap { pv, v, n } => nan_or_null((n > 0).then(|| pv / v)),
            AggState::Moments { n, m2, .. } => {
                let r = match call.func {
                    AggFunc::VarPop => (n > 0.0).then(|| m2 / n),
                    AggFunc::VarSamp => (n > 1.0).then(|| m2 / (n - 1.0)),
                    AggFunc::StddevPop => (n > 0.0).then(|| (m2 / n).sqrt()),
                    _ => (n > 1.0).then(|| (m2 / (n - 1.0)).sqrt()),
                };
                // ClickHouse: the sample variance of one value is nan, even for Nullable input.
                match r {
                    None if n == 1.0 => Value::Float(f64::NAN),
                    r => nan_or_null(r),
                }
            }
            AggState::Values(mut v) => {
                if v.is_empty() {
                    return nan_or_null(None);
                }
                v.sort_by(f64::total_cmp);
                let q = match call.func {
                    AggFunc::QuantileExact(q) => {
                        let at = ((q * v.len() as f64).floor() as usize).min(v.len() - 1);
                        return Value::Float(v[at]);
                    }
                    AggFunc::Quantile(q) => q,
                    _ => unreachable!("value lists belong to quantiles"),
                };
                let h = (v.len() - 1) as f64 * q;
                let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
                Value::Float(v[lo] + (h - lo as f64) * (v[hi] - v[lo]))
            }
            AggState::Set(s) => Value::UInt(s.len() as u64),
            AggState::Arg(v) => v.map(|(_, a)| a).unwrap_or_else(default),
        }
    }
}

fn better(v: &Value, cur: Option<&Value>, want_min: bool) -> bool {
    match cur {
        None => true,
        Some(c) => match compare_values(v, c) {
            Some(std::cmp::Ordering::Less) => want_min,
            Some(std::cmp::Ordering::Greater) => !want_min,
            _ => false,
        },
    }
}
