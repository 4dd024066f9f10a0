//! Scalar functions: name binding with result types, and evaluation (vectorized where hot).

use std::borrow::Cow;

use crate::error::{Result, SqlError};
use crate::expr::{cast, convert_value, int_vector, Expr, Func};
use crate::text::{civil_from_days, format_ts_ns, parse_datetime};
use crate::types::{BaseType, DataType, Value};
use crate::vector::{Col, Vector};

const NS: i64 = 1_000_000_000;

/// Resolves a scalar function by (case-insensitive where ClickHouse is) name and argument
/// types. Returns `None` when the name is not a scalar function.
pub fn bind(name: &str, args: &[Expr]) -> Option<Result<(Func, DataType)>> {
    let lower = name.to_ascii_lowercase();
    let tys: Vec<DataType> = args.iter().map(Expr::ty).collect();
    let any_null = tys.iter().any(|t| t.nullable);
    let arity = |n: usize, f: Func, ty: DataType| -> Result<(Func, DataType)> {
        if args.len() != n {
            return Err(SqlError::coded(
                42,
                "NUMBER_OF_ARGUMENTS_DOESNT_MATCH",
                format!(
                "Number of arguments for function {name} doesn't match: passed {}, should be {n}",
                args.len()
            ),
            ));
        }
        Ok((f, ty))
    };
    let num = |i: usize| tys.get(i).copied().unwrap_or(DataType::NULL);
    let float = DataType::FLOAT64.nullable(any_null);
    Some(match lower.as_str() {
        "abs" => {
            // ClickHouse's abs of a signed integer is the unsigned type of the same width.
            let t = num(0);
            let ty = match t.base.int_bits() {
                Some((true, bits)) => {
                    DataType::new(BaseType::int(false, bits)).nullable(t.nullable)
                }
                _ => t,
            };
            arity(1, Func::Abs, ty)
        }
        "round" => {
            if args.is_empty() || args.len() > 2 {
                return Some(Err(SqlError::Type("round takes 1 or 2 arguments".into())));
            }
            Ok((Func::Round, num(0)))
        }
        "floor" => arity(1, Func::Floor, num(0)),
        "ceil" | "ceiling" => arity(1, Func::Ceil, num(0)),
        "sqrt" => arity(1, Func::Sqrt, float),
        "log" | "ln" => arity(1, Func::Ln, float),
        "log2" => arity(1, Func::Log2, float),
        "log10" => arity(1, Func::Log10, float),
        "exp" => arity(1, Func::Exp, float),
        "pow" | "power" => arity(2, Func::Pow, float),
        "least" | "greatest" => {
            if args.is_empty() {
                return Some(Err(SqlError::Type(format!("{name} needs arguments"))));
            }
            let f = if lower == "least" {
                Func::Least
            } else {
                Func::Greatest
            };
            Ok((f, common_type(&tys)))
        }
        "coalesce" | "ifnull" => {
            if args.is_empty() {
                return Some(Err(SqlError::Type("coalesce needs arguments".into())));
            }
            let ty = common_type(&tys);
            Ok((Func::Coalesce, ty.nullable(tys.iter().all(|t| t.nullable))))
        }
        "if" => {
            if args.len() != 3 {
                return Some(Err(SqlError::Type("if takes 3 arguments".into())));
            }
            Ok((Func::If, common_type(&tys[1..])))
        }
        "tostring" => arity(1, Func::ToString, DataType::STRING.nullable(any_null)),
        "tofloat64" | "tofloat64ornull" => arity(1, Func::ToFloat64, float),
        "toint8" | "toint16" | "toint32" | "toint64" | "touint8" | "touint16" | "touint32"
        | "touint64" | "toint64ornull" => {
            let base = match lower.trim_end_matches("ornull") {
                "toint8" => BaseType::Int8,
                "toint16" => BaseType::Int16,
                "toint32" => BaseType::Int32,
                "toint64" => BaseType::Int64,
                "touint8" => BaseType::UInt8,
                "touint16" => BaseType::UInt16,
                "touint32" => BaseType::UInt32,
                _ => BaseType::UInt64,
            };
            arity(1, Func::ToInt(base), DataType::new(base).nullable(any_null))
        }
        "lower" | "lowerutf8" => arity(1, Func::Lower, DataType::STRING.nullable(any_null)),
        "upper" | "upperutf8" => arity(1, Func::Upper, DataType::STRING.nullable(any_null)),
        "length" | "lengthutf8" | "char_length" => {
            arity(1, Func::Length, DataType::UINT64.nullable(any_null))
        }
        "concat" => Ok((Func::Concat, DataType::STRING.nullable(any_null))),
        "substring" | "substr" | "mid" => {
            if !(2..=3).contains(&args.len()) {
                return Some(Err(SqlError::Type(
                    "substring takes 2 or 3 arguments".into(),
                )));
            }
            Ok((Func::Substring, DataType::STRING.nullable(any_null)))
        }
        "xbar" => {
            let ty = num(0);
            arity(2, Func::Xbar, ty)
        }
        "epoch_s" => arity(1, Func::EpochS, DataType::INT64.nullable(any_null)),
        // ClickHouse's toUnixTimestamp is UInt32 seconds (wrapping outside 1970..2106).
        "tounixtimestamp" => arity(1, Func::EpochS, DataType::UINT32.nullable(any_null)),
        "epoch_ms" | "tounixtimestamp64milli" => {
            arity(1, Func::EpochMs, DataType::INT64.nullable(any_null))
        }
        "epoch_us" | "tounixtimestamp64micro" => {
            arity(1, Func::EpochUs, DataType::INT64.nullable(any_null))
        }
        "epoch_ns" | "tounixtimestamp64nano" => {
            arity(1, Func::EpochNs, DataType::INT64.nullable(any_null))
        }
        "fromunixtimestamp64milli" => arity(
            1,
            Func::FromUnix(1_000_000),
            DataType::DATETIME64.nullable(any_null),
        ),
        "fromunixtimestamp64micro" => arity(
            1,
            Func::FromUnix(1_000),
            DataType::DATETIME64.nullable(any_null),
        ),
        "fromunixtimestamp64nano" => arity(
            1,
            Func::FromUnix(1),
            DataType::DATETIME64.nullable(any_null),
        ),
        "fromunixtimestamp" => arity(
            1,
            Func::FromUnix(NS),
            DataType::DATETIME64.nullable(any_null),
        ),
        "todatetime"
        | "parsedatetimebesteffort"
        | "parsedatetime64besteffort"
        | "todatetimeornull" => {
            if args.is_empty() || args.len() > 2 {
                return Some(Err(SqlError::Type(format!(
                    "{name} takes 1 or 2 arguments"
                ))));
            }
            Ok((
                Func::ToDateTime,
                DataType::DATETIME64.nullable(any_null || lower.ends_with("ornull")),
            ))
        }
        "todatetime64" => {
            if args.is_empty() || args.len() > 3 {
                return Some(Err(SqlError::Type(
                    "toDateTime64 takes 1 to 3 arguments".into(),
                )));
            }
            Ok((Func::ToDateTime64, DataType::DATETIME64.nullable(any_null)))
        }
        "isnan" => arity(1, Func::IsNaN, DataType::BOOL),
        "toyear" => arity(1, Func::ToYear, DataType::UINT16.nullable(any_null)),
        "tomonth" => arity(1, Func::ToMonth, DataType::UINT8.nullable(any_null)),
        "todayofmonth" => arity(1, Func::ToDayOfMonth, DataType::UINT8.nullable(any_null)),
        "tohour" => arity(1, Func::ToHour, DataType::UINT8.nullable(any_null)),
        "tominute" => arity(1, Func::ToMinute, DataType::UINT8.nullable(any_null)),
        "tosecond" => arity(1, Func::ToSecond, DataType::UINT8.nullable(any_null)),
        "startswith" => arity(2, Func::StartsWith, DataType::BOOL.nullable(any_null)),
        "endswith" => arity(2, Func::EndsWith, DataType::BOOL.nullable(any_null)),
        _ => return None,
    })
}

/// The type values of all `tys` convert to (for least, greatest, coalesce, if, CASE).
pub fn common_type(tys: &[DataType]) -> DataType {
    use BaseType::*;
    let nullable = tys.iter().any(|t| t.nullable);
    let bases: Vec<BaseType> = tys
        .iter()
        .map(|t| t.base)
        .filter(|b| *b != Nothing)
        .collect();
    let base = if bases.is_empty() {
        Nothing
    } else if bases.iter().all(|b| *b == bases[0]) {
        bases[0]
    } else if bases.contains(&String) {
        String
    } else if bases.contains(&Float64) {
        Float64
    } else if bases.iter().all(|b| b.is_int() || *b == Bool) {
        common_int(&bases)
    } else if bases.contains(&DateTime64) {
        DateTime64
    } else {
        Float64
    };
    DataType::new(base).nullable(nullable || base == Nothing)
}

/// ClickHouse's common supertype of integer types (Bool counting as UInt8): the widest
/// unsigned type if all are unsigned, else a signed type wide enough for every operand; a mix
/// of UInt64 and signed types, which ClickHouse has no integer supertype for, is Int64.
fn common_int(bases: &[BaseType]) -> BaseType {
    let bits = |b: &BaseType| b.int_bits().unwrap_or((false, 8));
    let unsigned = bases
        .iter()
        .map(bits)
        .filter(|(s, _)| !s)
        .map(|(_, n)| n)
        .max();
    let signed = bases
        .iter()
        .map(bits)
        .filter(|(s, _)| *s)
        .map(|(_, n)| n)
        .max();
    match (signed, unsigned) {
        (None, u) => BaseType::int(false, u.unwrap_or(8)),
        (Some(s), None) => BaseType::int(true, s),
        (Some(s), Some(u)) => BaseType::int(true, s.max(2 * u)),
    }
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

fn map_i64(c: &Col<'_>, ty: DataType, f: impl Fn(i64) -> i64) -> Col<'static> {
    let v: Vec<i64> = c.to_i64().iter().map(|&x| f(x)).collect();
    Col {
        ty,
        v: int_vector(ty.base, v),
        valid: c.valid.as_ref().map(|v| Cow::Owned(v.to_vec())),
    }
}

fn map_f64(c: &Col<'_>, ty: DataType, f: impl Fn(f64) -> f64) -> Col<'static> {
    let v: Vec<f64> = c.to_f64().iter().map(|&x| f(x)).collect();
    Col {
        ty,
        v: Vector::F64(Cow::Owned(v)),
        valid: c.valid.as_ref().map(|v| Cow::Owned(v.to_vec())),
    }
}

/// Evaluates `func` over its argument expressions.
pub fn eval<'c>(
    func: Func,
    args: &[Expr],
    ty: DataType,
    cols: &'c [Col<'_>],
    len: usize,
) -> Result<Col<'c>> {
    let arg = |i: usize| args[i].eval(cols, len);
    let scalar_arg = |i: usize| -> Result<Value> {
        if !args[i].is_constant() {
            return Err(SqlError::Type(format!(
                "argument {} of {func:?} must be a constant",
                i + 1
            )));
        }
        args[i].eval_constant()
    };
    Ok(match func {
        Func::Xbar => {
            let x = arg(0)?;
            let step = scalar_arg(1)?;
            match x.v {
                Vector::F64(_) => {
                    let s = step.as_f64().filter(|s| *s > 0.0).ok_or_else(|| {
                        SqlError::BadArguments("xbar step must be positive".into())
                    })?;
                    map_f64(&x, ty, |v| (v / s).floor() * s)
                }
                Vector::I64(ref v) if x.valid.is_none() => {
                    let s = step.as_i64().filter(|s| *s > 0).ok_or_else(|| {
                        SqlError::BadArguments("xbar step must be a positive integer".into())
                    })?;
                    let mut out = vec![0i64; v.len()];
                    crate::kernels::xbar(v, s, &mut out);
                    Col::new(ty, int_vector(ty.base, out))
                }
                _ => {
                    let s = step.as_i64().filter(|s| *s > 0).ok_or_else(|| {
                        SqlError::BadArguments("xbar step must be a positive integer".into())
                    })?;
                    map_i64(&x, ty, |v| floor_div(v, s) * s)
                }
            }
        }
        Func::XbarOffset(off) => {
            let s = scalar_arg(1)?
                .as_i64()
                .filter(|s| *s > 0)
                .ok_or_else(|| SqlError::BadArguments("bucket step must be positive".into()))?;
            map_i64(&arg(0)?, ty, |v| floor_div(v - off, s) * s + off)
        }
        Func::XbarInDay => {
            let s = scalar_arg(1)?
                .as_i64()
                .filter(|s| *s > 0)
                .ok_or_else(|| SqlError::BadArguments("bucket step must be positive".into()))?;
            const DAY: i64 = 86_400 * NS;
            map_i64(&arg(0)?, ty, |v| {
                let day = floor_div(v, DAY) * DAY;
                day + floor_div(v - day, s) * s
            })
        }
        Func::EpochS => map_i64(&arg(0)?, ty, |v| floor_div(v, NS)),
        Func::EpochMs => map_i64(&arg(0)?, ty, |v| floor_div(v, 1_000_000)),
        Func::EpochUs => map_i64(&arg(0)?, ty, |v| floor_div(v, 1_000)),
        Func::EpochNs => map_i64(&arg(0)?, ty, |v| v),
        Func::FromUnix(unit) => map_i64(&arg(0)?, ty, |v| v.wrapping_mul(unit)),
        Func::ToFloat64 => {
            let c = arg(0)?;
            match c.v {
                Vector::Str(_) | Vector::Sym(..) => cast(c, ty)?,
                _ => map_f64(&c, ty, |v| v),
            }
        }
        Func::ToInt(base) => {
            let c = arg(0)?;
            match c.v {
                Vector::Str(_) | Vector::Sym(..) => cast(c, ty)?,
                Vector::F64(_) if base == BaseType::Int64 => {
                    map_i64(&map_f64(&c, DataType::FLOAT64, f64::trunc), ty, |v| v)
                }
                _ if base == BaseType::Int64 => map_i64(&c, ty, |v| v),
                _ => cast(c, ty)?,
            }
        }
        Func::Abs => {
            let c = arg(0)?;
            match c.v {
                Vector::F64(_) => map_f64(&c, ty, f64::abs),
                Vector::I64(_) if ty.base == BaseType::UInt64 => {
                    let v: Vec<u64> = c.to_i64().iter().map(|x| x.unsigned_abs()).collect();
                    Col {
                        ty,
                        v: Vector::U64(Cow::Owned(v)),
                        valid: c.valid.as_ref().map(|v| Cow::Owned(v.to_vec())),
                    }
                }
                Vector::I64(_) => map_i64(&c, ty, i64::wrapping_abs),
                _ => c,
            }
        }
        Func::Floor | Func::Ceil | Func::Round
            if matches!(arg(0)?.v, Vector::I64(_) | Vector::U64(_)) && args.len() == 1 =>
        {
            arg(0)?
        }
        Func::Floor => map_f64(&arg(0)?, ty, f64::floor),
        Func::Ceil => map_f64(&arg(0)?, ty, f64::ceil),
        Func::Round => {
            let digits = if args.len() == 2 {
                scalar_arg(1)?.as_i64().unwrap_or(0)
            } else {
                0
            };
            let c = arg(0)?;
            match c.v {
                Vector::I64(_) if digits < 0 => {
                    let m = 10i64.pow((-digits).min(18) as u32);
                    map_i64(&c, ty, |v| round_half_even(v as f64 / m as f64) as i64 * m)
                }
                Vector::I64(_) | Vector::U64(_) => c,
                _ => {
                    let m = 10f64.powi(digits as i32);
                    map_f64(&c, ty, |v| round_half_even(v * m) / m)
                }
            }
        }
        Func::Sqrt => map_f64(&arg(0)?, ty, f64::sqrt),
        Func::Ln => map_f64(&arg(0)?, ty, f64::ln),
        Func::Log2 => map_f64(&arg(0)?, ty, f64::log2),
        Func::Log10 => map_f64(&arg(0)?, ty, f64::log10),
        Func::Exp => map_f64(&arg(0)?, ty, f64::exp),
        _ => rowwise(func, args, ty, cols, len)?,
    })
}

/// ClickHouse's `round` rounds half to even (banker's rounding) for floats.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

fn rowwise<'c>(
    func: Func,
    args: &[Expr],
    ty: DataType,
    cols: &'c [Col<'_>],
    len: usize,
) -> Result<Col<'c>> {
    let evaluated: Vec<Col<'_>> = args
        .iter()
        .map(|a| a.eval(cols, len))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(len);
    let mut row = Vec::with_capacity(args.len());
    for i in 0..len {
        row.clear();
        row.extend(evaluated.iter().map(|c| c.value(i)));
        out.push(convert_value(scalar(func, &row)?, ty));
    }
    Ok(Col::from_values(ty, out))
}

/// One row of a row-wise function.
pub fn scalar(func: Func, a: &[Value]) -> Result<Value> {
    use Value::*;
    let null_in = a.iter().any(Value::is_null);
    let s = |i: usize| -> String {
        match &a[i] {
            Str(s) => s.clone(),
            Ts(ns) => format_ts_ns(*ns),
            v => crate::format_value(v),
        }
    };
    let civil = |v: &Value| -> Option<(i64, u32, u32, i64)> {
        let ns = v.as_i64()?;
        let secs = ns.div_euclid(NS);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        Some((y, m, d, secs.rem_euclid(86_400)))
    };
    Ok(match func {
        Func::Coalesce => a.iter().find(|v| !v.is_null()).cloned().unwrap_or(Null),
        Func::If => {
            let cond = matches!(a[0], Bool(true)) || a[0].as_f64().is_some_and(|x| x != 0.0);
            if cond {
                a[1].clone()
            } else {
                a[2].clone()
            }
        }
        // ClickHouse's least/greatest ignore NULL arguments.
        Func::Least | Func::Greatest => {
            let mut best: Option<&Value> = None;
            for v in a.iter().filter(|v| !v.is_null()) {
                let o = best.and_then(|b| crate::expr::compare_values(v, b));
                let better = match best {
                    None => true,
                    Some(_) if func == Func::Least => o == Some(std::cmp::Ordering::Less),
                    Some(_) => o == Some(std::cmp::Ordering::Greater),
                };
                if better {
                    best = Some(v);
                }
            }
            best.cloned().unwrap_or(Null)
        }
        _ if null_in => Null,
        Func::Pow => Float(
            a[0].as_f64()
                .unwrap_or(f64::NAN)
                .powf(a[1].as_f64().unwrap_or(f64::NAN)),
        ),
        Func::ToString => Str(s(0)),
        Func::Lower => Str(s(0).to_lowercase()),
        Func::Upper => Str(s(0).to_uppercase()),
        Func::Length => UInt(s(0).len() as u64),
        Func::Concat => Str((0..a.len()).map(s).collect()),
        Func::Substring => {
            // 1-based offset in bytes; negative counts from the end (ClickHouse semantics).
            let text = s(0);
            let bytes = text.as_bytes();
            let off = a[1].as_i64().unwrap_or(1);
            let start = if off > 0 {
                (off - 1) as usize
            } else if off < 0 {
                bytes.len().saturating_sub((-off) as usize)
            } else {
                bytes.len()
            };
            let start = start.min(bytes.len());
            let end = match a.get(2) {
                Some(l) => start
                    .saturating_add(l.as_i64().unwrap_or(0).max(0) as usize)
                    .min(bytes.len()),
                None => bytes.len(),
            };
            Str(String::from_utf8_lossy(&bytes[start..end]).into_owned())
        }
        Func::ToDateTime => match &a[0] {
            Str(t) => Ts(parse_datetime(t).ok_or_else(|| {
                SqlError::coded(
                    41,
                    "CANNOT_PARSE_DATETIME",
                    format!("Cannot parse DateTime from String '{t}'"),
                )
            })?),
            Ts(v) => Ts(*v),
            v => Ts(v.as_i64().unwrap_or(0).wrapping_mul(NS)),
        },
        Func::ToDateTime64 => {
            let scale = a.get(1).and_then(Value::as_i64).unwrap_or(9).clamp(0, 9);
            match &a[0] {
                Str(t) => Ts(parse_datetime(t).ok_or_else(|| {
                    SqlError::coded(
                        41,
                        "CANNOT_PARSE_DATETIME",
                        format!("Cannot parse DateTime64 from String '{t}'"),
                    )
                })?),
                Ts(v) => Ts(*v),
                // Numbers are seconds, as in ClickHouse; the scale only sets precision.
                Float(f) => Ts((f * NS as f64) as i64),
                v => {
                    let _ = scale;
                    Ts(v.as_i64().unwrap_or(0).wrapping_mul(NS))
                }
            }
        }
        Func::IsNaN => Bool(a[0].as_f64().is_some_and(f64::is_nan)),
        Func::ToYear => civil(&a[0]).map_or(Null, |c| UInt(c.0 as u64)),
        Func::ToMonth => civil(&a[0]).map_or(Null, |c| UInt(c.1 as u64)),
        Func::ToDayOfMonth => civil(&a[0]).map_or(Null, |c| UInt(c.2 as u64)),
        Func::ToHour => civil(&a[0]).map_or(Null, |c| UInt((c.3 / 3600) as u64)),
        Func::ToMinute => civil(&a[0]).map_or(Null, |c| UInt((c.3 / 60 % 60) as u64)),
        Func::ToSecond => civil(&a[0]).map_or(Null, |c| UInt((c.3 % 60) as u64)),
        Func::StartsWith => Bool(s(0).starts_with(&s(1))),
        Func::EndsWith => Bool(s(0).ends_with(&s(1))),
        other => {
            return Err(SqlError::Unsupported(format!(
                "function {other:?} row-wise"
            )))
        }
    })
}
