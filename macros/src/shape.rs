//! The shape of the annotated function: sync, `async`, or an `async-trait` style
//! `Box::pin(async move { .. })` body; its result type; its receiver. Functions the attribute
//! cannot wrap (`const fn`, `extern fn`, no `Result`) are refused here.

use syn::{
    Expr, GenericArgument, ItemFn, Path, PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

use crate::errors::Errors;

/// How the body runs.
pub enum Kind {
    /// `fn`: each attempt is a closure.
    Sync,
    /// `async fn`: each attempt is an `async` block.
    Async,
    /// `fn … -> Pin<Box<dyn Future<Output = R> + …>> { Box::pin(async move { .. }) }`, the shape
    /// `#[async_trait]` gives its methods: the `async move` block is wrapped as an `async fn`
    /// body would be.
    BoxPin(BoxPin),
}

/// What was found in a `Box::pin(async move { .. })` body.
pub struct BoxPin {
    /// The callee, `Box::pin` by whatever path it was written.
    pub callee: Expr,
    /// The statements of the `async move` block.
    pub stmts: Vec<Stmt>,
}

impl Kind {
    /// A sync `fn`, whose attempts are closures.
    pub fn is_sync(&self) -> bool {
        matches!(self, Kind::Sync)
    }
}

/// What the expansion needs to know about the function.
pub struct Shape {
    pub kind: Kind,
    /// The `Result` type one attempt produces (for [`Kind::BoxPin`], the future's `Output`);
    /// `None` when the function was refused.
    pub ret: Option<Type>,
    /// Has `self` in some form.
    pub receiver: bool,
    /// What the body may change or needs alone: a `&mut self` or `mut self` receiver, each
    /// `mut` argument binding or `&mut` argument; with its span, how it is written and the
    /// fix. Two copies of the body cannot run at once (`hedge`) over any of them.
    pub exclusive: Vec<(proc_macro2::Span, String, &'static str)>,
}

impl Shape {
    /// Reads the shape of `f`, reporting what makes it impossible to wrap.
    pub fn of(f: &ItemFn, errors: &mut Errors) -> Shape {
        let sig = &f.sig;
        if let Some(c) = &sig.constness {
            errors.at(c.span, "`#[resilient]` cannot wrap a `const fn`: its body runs through the runtime; remove `const`");
        }
        if let Some(abi) = &sig.abi {
            errors.push(syn::Error::new_spanned(
                abi,
                "`#[resilient]` cannot wrap an `extern` function; wrap a Rust function and call it from the `extern` one",
            ));
        }
        let kind = if sig.asyncness.is_some() {
            Kind::Async
        } else if future_output(&sig.output).is_some() {
            box_pin_body(f).map_or(Kind::Sync, Kind::BoxPin)
        } else {
            Kind::Sync
        };
        let ret = match (&sig.output, &kind) {
            (ReturnType::Default, _) => {
                errors.at(
                    sig.ident.span(),
                    format!(
                        "`#[resilient]` functions must return a `Result`: add `-> Result<T, E>` to `{}` (with `E: From<staunch::Error>`)",
                        sig.ident
                    ),
                );
                None
            }
            (ReturnType::Type(_, ty), Kind::BoxPin(_)) => future_output(&sig.output)
                .cloned()
                .or_else(|| Some((**ty).clone())),
            (ReturnType::Type(_, ty), _) => {
                if let Some(found) = surely_not_a_result(ty) {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        format!(
                            "`#[resilient]` functions must return a `Result`, found {found}: return `Result<T, E>` (or an alias such as `std::io::Result<T>`) with `E: From<staunch::Error>`"
                        ),
                    ));
                    None
                } else {
                    Some((**ty).clone())
                }
            }
        };
        Shape {
            kind,
            ret,
            receiver: sig.receiver().is_some(),
            exclusive: exclusive(sig),
        }
    }
}

/// The receiver and arguments that a body may change: `&mut self`, `mut self`,
/// `self: &mut Self`, `mut arg`.
fn exclusive(sig: &syn::Signature) -> Vec<(proc_macro2::Span, String, &'static str)> {
    use syn::spanned::Spanned;
    let mut found = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => {
                if let Some(m) = r.mutability {
                    let written = if r.reference.is_some() {
                        "&mut self"
                    } else {
                        "mut self"
                    };
                    found.push((m.span, written.to_owned(), "take `&self`"));
                } else if let Type::Reference(t) = &*r.ty {
                    if let (Some(m), None) = (t.mutability, &r.reference) {
                        found.push((m.span, "self: &mut Self".to_owned(), "take `&self`"));
                    }
                }
            }
            syn::FnArg::Typed(pt) => {
                if let syn::Pat::Ident(p) = &*pt.pat {
                    if let Some(m) = p.mutability {
                        found.push((
                            m.span(),
                            format!("mut {}", p.ident),
                            "remove `mut` (change a clone of it inside the body)",
                        ));
                    }
                }
                if let Type::Reference(t) = &*pt.ty {
                    if t.mutability.is_some() {
                        let name = match &*pt.pat {
                            syn::Pat::Ident(p) => p.ident.to_string(),
                            _ => "this argument".to_owned(),
                        };
                        found.push((
                            t.span(),
                            format!("{name}: &mut …"),
                            "take it by shared reference (`&`)",
                        ));
                    }
                }
            }
        }
    }
    found
}

/// Names (for the message) a return type that cannot be a `Result` whatever is in scope;
/// every other type is checked by the compiler through `IsResult`, which accepts any alias.
fn surely_not_a_result(ty: &Type) -> Option<String> {
    let what = match ty {
        Type::Paren(p) => return surely_not_a_result(&p.elem),
        Type::Group(g) => return surely_not_a_result(&g.elem),
        Type::Tuple(t) if t.elems.is_empty() => "`()`",
        Type::Tuple(_) => "a tuple",
        Type::Reference(_) => "a reference",
        Type::Array(_) => "an array",
        Type::Slice(_) => "a slice",
        Type::Never(_) => "`!`",
        Type::Ptr(_) => "a pointer",
        Type::BareFn(_) => "a function pointer",
        Type::ImplTrait(_) => "`impl Trait` (for a future, write an `async fn`)",
        Type::TraitObject(_) => "a trait object",
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?.ident.to_string();
            const NOT_RESULTS: &[&str] = &[
                "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16",
                "i32", "i64", "i128", "isize", "f32", "f64", "String", "Option", "Vec", "Box",
                "Pin",
            ];
            if NOT_RESULTS.contains(&last.as_str()) {
                let args = if p.path.segments.last()?.arguments.is_empty() {
                    ""
                } else {
                    "<…>"
                };
                return Some(format!("`{last}{args}`"));
            }
            return None;
        }
        _ => return None,
    };
    Some(what.to_owned())
}

/// The `Box::pin` callee and the `async move { .. }` statements of a body that is exactly
/// `Box::pin(async move { .. })`.
fn box_pin_body(f: &ItemFn) -> Option<BoxPin> {
    let [Stmt::Expr(Expr::Call(call), None)] = f.block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let names: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !names.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match &call.args[0] {
        Expr::Async(a) if a.capture.is_some() => Some(BoxPin {
            callee: (*call.func).clone(),
            stmts: a.block.stmts.clone(),
        }),
        _ => None,
    }
}

/// `T` in a return type `Pin<Box<dyn Future<Output = T> + …>>` (any path to these).
fn future_output(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let pin = last_generic(ty, "Pin")?;
    let boxed = last_generic(pin, "Box")?;
    let Type::TraitObject(dyn_) = boxed else {
        return None;
    };
    dyn_.bounds.iter().find_map(|b| match b {
        TypeParamBound::Trait(t) => output_binding(&t.path),
        _ => None,
    })
}

/// The only type argument of a path type whose last segment is `name`.
fn last_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// `T` of `…::Future<Output = T>`.
fn output_binding(path: &Path) -> Option<&Type> {
    let last = path.segments.last()?;
    if last.ident != "Future" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::AssocType(b) if b.ident == "Output" => Some(&b.ty),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
