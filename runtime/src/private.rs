//! Items only the generated code uses.

use std::sync::OnceLock;

use crate::classify::{Class, Classify};
use crate::policy::{Policy, PolicyBuilder};

/// The policy of one annotated function, created at its first call.
///
/// Alone on its cache lines: every call reads it, and a neighbouring static that something else
/// writes would otherwise slow down every thread calling the function (measured: two threads on
/// one annotated function, 172 ns → 64 ns per pair of calls).
#[derive(Debug)]
#[repr(align(128))]
pub struct FnCell(OnceLock<Policy>);

impl FnCell {
    /// An empty cell, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        FnCell(OnceLock::new())
    }

    /// The function's policy, built by `make` at the first call.
    ///
    /// # Panics
    ///
    /// Never for settings the attribute accepted (they are checked at compile time, and bad
    /// environment values are ignored); a builder error here is a bug in staunch.
    #[inline]
    pub fn get_or_init(&'static self, make: fn() -> PolicyBuilder) -> &'static Policy {
        self.0.get_or_init(|| match make().build() {
            Ok(policy) => policy,
            Err(e) => panic!(
                "staunch: the attribute produced an invalid policy ({e}); please report this bug"
            ),
        })
    }
}

impl Default for FnCell {
    fn default() -> Self {
        Self::new()
    }
}

/// Wraps an error for classification by autoref specialization: with `E: Classify`,
/// `(&Probe(e)).__staunch_class()` finds [`ClassifyViaTrait`]; otherwise it falls back to
/// [`ClassifyViaDefault`].
#[derive(Debug)]
pub struct Probe<'a, E>(pub &'a E);

/// Classification by the error's own [`Classify`] implementation.
pub trait ClassifyViaTrait {
    /// The error's classification.
    fn __staunch_class(&self) -> Class;
}

impl<E: Classify> ClassifyViaTrait for Probe<'_, E> {
    #[inline]
    fn __staunch_class(&self) -> Class {
        self.0.class()
    }
}

/// Classification of an error type that does not implement [`Classify`]: retryable, worth a
/// fallback, no hint.
pub trait ClassifyViaDefault {
    /// The default classification.
    fn __staunch_class(&self) -> Class;
}

impl<E> ClassifyViaDefault for &Probe<'_, E> {
    #[inline]
    fn __staunch_class(&self) -> Class {
        Class::DEFAULT
    }
}

/// Wraps an error for its text in events, by autoref specialization:
/// `(&&Describe(e)).__staunch_describe()` finds [`DescribeViaDisplay`] for `E: Display`, else
/// [`DescribeViaDebug`] for `E: Debug`, else [`DescribeViaDefault`] (the type's name).
#[derive(Debug)]
pub struct Describe<'a, E>(pub &'a E);

/// The error's `Display`.
pub trait DescribeViaDisplay {
    /// The error's text.
    fn __staunch_describe(&self) -> String;
}

impl<E: std::fmt::Display> DescribeViaDisplay for &Describe<'_, E> {
    fn __staunch_describe(&self) -> String {
        self.0.to_string()
    }
}

/// The error's `Debug`, for an error without `Display`.
pub trait DescribeViaDebug {
    /// The error's text.
    fn __staunch_describe(&self) -> String;
}

impl<E: std::fmt::Debug> DescribeViaDebug for &&Describe<'_, E> {
    fn __staunch_describe(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// The type's name, for an error with neither `Display` nor `Debug`.
pub trait DescribeViaDefault {
    /// The error's text.
    fn __staunch_describe(&self) -> String;
}

impl<E> DescribeViaDefault for Describe<'_, E> {
    fn __staunch_describe(&self) -> String {
        crate::attempt::type_of(self.0)
    }
}
