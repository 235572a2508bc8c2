//! The mistakes of one attribute, collected to be reported at once, and the "did you mean" of
//! an unknown name.

use proc_macro2::Span;

/// Mistakes collected so far.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds a mistake at `span`.
    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Adds a mistake spanned on the tokens of `tokens`.
    pub fn on(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Adds a mistake.
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Every mistake, if there was any.
    pub fn finish(self) -> Option<syn::Error> {
        self.0
    }
}

/// "unknown option `x`{of}; did you mean `y`?" when a known name is near enough, else the list
/// of the `known` names.
pub fn unknown<'a>(name: &str, known: impl IntoIterator<Item = &'a str>, of: &str) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    // the nearest; of those as near, the first in the table (`retires` is `retry`, not `redis`)
    let best = known
        .iter()
        .enumerate()
        .map(|(i, k)| (distance(name, k), i, *k))
        .min();
    match best {
        Some((d, _, k)) if d <= 1 + name.len().max(k.len()) / 3 => {
            format!("unknown option `{name}`{of}; did you mean `{k}`?")
        }
        _ => {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "unknown option `{name}`{of}; expected one of {}",
                list.join(", ")
            )
        }
    }
}

/// Edit distance with transpositions (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("retry", "retry"), 0);
        assert_eq!(distance("retires", "retry"), 3);
        assert_eq!(distance("maxx", "max"), 1);
        assert_eq!(distance("treshold", "threshold"), 1);
        assert_eq!(distance("tmeout", "timeout"), 1);
        assert_eq!(distance("retyr", "retry"), 1);
        assert_eq!(distance("", "rps"), 3);
    }

    #[test]
    fn near_or_the_list() {
        assert_eq!(
            unknown("maxx", ["max", "backoff"], " of `retry`"),
            "unknown option `maxx` of `retry`; did you mean `max`?"
        );
        assert_eq!(
            unknown("zzz", ["max", "backoff"], ""),
            "unknown option `zzz`; expected one of `max`, `backoff`"
        );
    }

    #[test]
    fn collects_in_order() {
        let mut errors = Errors::default();
        assert!(Errors::default().finish().is_none());
        errors.at(Span::call_site(), "first");
        errors.on(quote::quote!(x), "second");
        let all: Vec<String> = errors
            .finish()
            .unwrap()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(all, ["first", "second"]);
    }
}
