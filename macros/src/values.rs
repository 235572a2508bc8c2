//! The values of options, read from their literals: whole numbers, numbers, jitter, strings,
//! paths and durations. Each reader reports its own mistake, spanned on the value.

use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, UnOp};

use crate::duration::{parse_nanos, seconds_to_nanos, DurationError, MAX_SECS};
use crate::errors::Errors;

/// A value as written, `ident = expr`, with how its option is written (for messages).
pub struct Given<'a> {
    /// The option's name.
    pub ident: &'a Ident,
    /// The value.
    pub expr: &'a Expr,
    /// How the option is written, such as `max = 3`.
    pub example: &'a str,
}

/// A numeric literal, possibly negated.
enum Num {
    Int { negative: bool, lit: syn::LitInt },
    Float { negative: bool, lit: syn::LitFloat },
}

impl Num {
    /// Its value; `Err` only for a float literal that is not a number.
    fn value(&self) -> Result<f64, syn::Error> {
        let (negative, v) = match self {
            Num::Int { negative, lit } => (*negative, lit.base10_parse::<f64>()?),
            Num::Float { negative, lit } => (*negative, lit.base10_parse::<f64>()?),
        };
        Ok(if negative { -v } else { v })
    }

    fn is_negative(&self) -> bool {
        matches!(
            self,
            Num::Int { negative: true, .. } | Num::Float { negative: true, .. }
        )
    }
}

/// Looks through parentheses and invisible groups.
fn peel(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => peel(&p.expr),
        Expr::Group(g) => peel(&g.expr),
        e => e,
    }
}

fn lit(e: &Expr) -> Option<&Lit> {
    match peel(e) {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn num(e: &Expr) -> Option<Num> {
    let (negative, e) = match peel(e) {
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => (true, &*u.expr),
        e => (false, e),
    };
    match lit(e)? {
        Lit::Int(lit) => Some(Num::Int {
            negative,
            lit: lit.clone(),
        }),
        Lit::Float(lit) => Some(Num::Float {
            negative,
            lit: lit.clone(),
        }),
        _ => None,
    }
}

impl Given<'_> {
    /// Reports `message` on the value.
    fn wrong(&self, errors: &mut Errors, message: impl std::fmt::Display) {
        errors.on(self.expr, message);
    }

    /// A whole number of at least `min` that fits a `u32`.
    pub fn int(&self, min: u32, errors: &mut Errors) -> Option<u32> {
        let ident = self.ident;
        match num(self.expr) {
            Some(Num::Int {
                negative: false,
                lit,
            }) => match lit.base10_parse::<u32>() {
                Ok(n) if n >= min => return Some(n),
                Ok(_) => self.wrong(errors, format!("`{ident}` must be at least {min}")),
                Err(_) => self.wrong(
                    errors,
                    format!("`{ident}` is too large; the largest is {}", u32::MAX),
                ),
            },
            Some(Num::Int { negative: true, .. }) => {
                self.wrong(errors, format!("`{ident}` must be at least {min}"));
            }
            _ => self.wrong(
                errors,
                format!(
                    "`{ident}` takes a whole number: write e.g. `{ident} = {}`",
                    min.max(3)
                ),
            ),
        }
        None
    }

    /// Any finite number, written as `ident = {example}` in the message of a non-number.
    fn float(&self, example: &str, errors: &mut Errors) -> Option<f64> {
        let ident = self.ident;
        let Some(n) = num(self.expr) else {
            self.wrong(
                errors,
                format!("`{ident}` takes a number: write e.g. `{ident} = {example}`"),
            );
            return None;
        };
        match n.value() {
            Ok(v) if v.is_finite() => Some(v),
            _ => {
                self.wrong(errors, format!("`{ident}` is not a finite number"));
                None
            }
        }
    }

    /// A number greater than 0 (`rps`, `rpm`, `tpm`, `budget`).
    pub fn positive(&self, errors: &mut Errors) -> Option<f64> {
        let v = self.float("10", errors)?;
        if v > 0.0 {
            return Some(v);
        }
        self.wrong(errors, format!("`{}` must be greater than 0", self.ident));
        None
    }

    /// A chance: a fraction in [0, 1] (the rates of `chaos`).
    pub fn chance(&self, errors: &mut Errors) -> Option<f64> {
        let v = self.float("0.1", errors)?;
        if (0.0..=1.0).contains(&v) {
            return Some(v);
        }
        self.wrong(
            errors,
            format!(
                "`{}` must be a fraction between 0 and 1 (0.1: one attempt in ten), such as `{}`",
                self.ident, self.example
            ),
        );
        None
    }

    /// A number of at least 1.0 (`backoff`, `cooldown_multiplier`).
    pub fn at_least_one(&self, errors: &mut Errors) -> Option<f64> {
        let v = self.float("2.0", errors)?;
        if v >= 1.0 {
            return Some(v);
        }
        self.wrong(
            errors,
            format!(
                "`{}` must be at least 1.0 ({})",
                self.ident,
                if self.ident == "cooldown_multiplier" {
                    "1.0 keeps every open period at `cooldown`"
                } else {
                    "1.0 waits the same `delay` before every retry"
                }
            ),
        );
        None
    }

    /// A fraction in (0, 1] (`failure_rate`, `slow_rate`).
    pub fn fraction(&self, errors: &mut Errors) -> Option<f64> {
        let v = self.float("0.5", errors)?;
        if v > 0.0 && v <= 1.0 {
            return Some(v);
        }
        let ident = self.ident;
        let message = if v > 1.0 && v <= 100.0 {
            format!(
                "`{ident}` is a fraction, not a percentage: write `{ident} = {}` for {v} %",
                v / 100.0
            )
        } else {
            format!(
                "`{ident}` must be a fraction in (0, 1]: write e.g. `{}`",
                self.example
            )
        };
        self.wrong(errors, message);
        None
    }

    /// `true` (1.0), `false` (0.0) or a fraction in (0, 1].
    pub fn jitter(&self, errors: &mut Errors) -> Option<f64> {
        if let Some(Lit::Bool(b)) = lit(self.expr) {
            return Some(if b.value { 1.0 } else { 0.0 });
        }
        let Some(n) = num(self.expr) else {
            self.wrong(
                errors,
                format!(
                    "`{}` takes `true`, `false` or a fraction in (0, 1], such as `{}`",
                    self.ident, self.example
                ),
            );
            return None;
        };
        match n.value() {
            Ok(v) if v > 0.0 && v <= 1.0 => Some(v),
            _ => {
                self.wrong(
                    errors,
                    format!(
                        "`{0}` must be a fraction in (0, 1]; write `{0} = false` for exact waits",
                        self.ident
                    ),
                );
                None
            }
        }
    }

    /// A string literal.
    pub fn string(&self, errors: &mut Errors) -> Option<LitStr> {
        if let Some(Lit::Str(s)) = lit(self.expr) {
            return Some(s.clone());
        }
        self.wrong(
            errors,
            format!(
                "`{}` takes a string: write e.g. `{}`",
                self.ident, self.example
            ),
        );
        None
    }

    /// The path of a function.
    pub fn path(&self, errors: &mut Errors) -> Option<syn::Path> {
        match peel(self.expr) {
            Expr::Path(ExprPath {
                qself: None,
                path,
                attrs,
            }) if attrs.is_empty() => Some(path.clone()),
            _ => {
                self.wrong(
                    errors,
                    format!(
                        "`{}` takes the path of a function: write e.g. `{}`",
                        self.ident, self.example
                    ),
                );
                None
            }
        }
    }

    /// A duration, in nanoseconds: whole seconds (exact), fractional seconds, or a string read
    /// by the one grammar of [`duration`](crate::duration) (`"250ms"`, `"10"`).
    pub fn duration(&self, errors: &mut Errors) -> Option<u64> {
        let ident = self.ident;
        let mut text = String::new();
        let nanos = match (num(self.expr), lit(self.expr)) {
            (Some(n), _) if n.is_negative() => Err(DurationError::Negative),
            (Some(Num::Int { lit, .. }), _) => parse_nanos(lit.base10_digits()),
            (Some(Num::Float { lit, .. }), _) => match lit.base10_parse::<f64>() {
                Ok(secs) => seconds_to_nanos(secs).ok_or(DurationError::TooLong),
                Err(e) => {
                    self.wrong(errors, e);
                    return None;
                }
            },
            (None, Some(Lit::Str(s))) => {
                text = s.value();
                parse_nanos(&text)
            }
            _ => {
                self.wrong(errors, format!(
                    "`{ident}` takes a duration: whole seconds (`{ident} = 30`), fractional seconds (`{ident} = 0.25`) or a string with a unit (`{ident} = \"250ms\"`, `\"2s\"`, `\"1m\"`, `\"1h\"`)"
                ));
                return None;
            }
        };
        let message = match nanos {
            Ok(n) => return Some(n),
            Err(DurationError::Negative) => format!("`{ident}` must not be negative"),
            Err(DurationError::TooLong) => format!(
                "`{ident}` is too long; the longest is {MAX_SECS} seconds (about 584 years)"
            ),
            Err(DurationError::UnknownUnit(unit)) => {
                format!("unknown unit `{unit}` in `\"{text}\"`; use `ms`, `s`, `m` or `h`")
            }
            Err(DurationError::NotANumber) => format!(
                "cannot read `\"{text}\"` as a duration; write a number and a unit: `\"250ms\"`, `\"2s\"`, `\"1m\"` or `\"1h\"`"
            ),
        };
        self.wrong(errors, message);
        None
    }

    /// A duration greater than zero (`deadline`), in nanoseconds.
    pub fn positive_duration(&self, errors: &mut Errors) -> Option<u64> {
        match self.duration(errors)? {
            0 => {
                self.wrong(
                    errors,
                    format!(
                        "`{}` must be greater than 0: write e.g. `{}`",
                        self.ident, self.example
                    ),
                );
                None
            }
            n => Some(n),
        }
    }
}
