//! Several API keys for one provider: rotation, each key behind a breaker of its own.

use std::future::Future;
use std::time::Duration;

use crate::attempt::{Req, Step};
use crate::classify::Class;
use crate::sync::{Arc, AtomicUsize, Ordering};
use crate::{Breaker, Error, Policy};

/// A set of API keys for one provider, used in turn; a key that failed recently is skipped.
///
/// Declared once (typically in a `static` behind a `LazyLock`), each key gets a circuit breaker
/// of its own, registered as the policy `"<name>[<i>]"` so [`signals`](crate::signals) shows it.
/// A call takes the next key whose breaker admits it, round robin; a key whose breaker is open
/// (it failed `threshold` times in a row) is skipped until its cooldown has passed. When every
/// key's breaker is open the call fails at once with [`Error::CircuitOpen`] naming the pool.
/// A call gets its key as an `Arc<str>` (cloning it costs no allocation).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, Error, KeyPool};
///
/// let pool = KeyPool::new("docs-keys", ["sk-one", "sk-two"], Breaker::new().threshold(1)).unwrap();
/// // the first key is revoked: its breaker opens and it is skipped from then on
/// let revoked = Error::Timeout { policy: "p".into(), after: Duration::ZERO };
/// let r: Result<&str, Error> = pool.call(|key| {
///     if &*key == "sk-one" { Err(revoked.clone()) } else { Ok("answer") }
/// });
/// assert_eq!(r, Err(revoked));
/// for _ in 0..3 {
///     let used = pool.call(|key| Ok::<_, Error>(key)).unwrap();
///     assert_eq!(&*used, "sk-two");
/// }
/// ```
#[derive(Debug)]
pub struct KeyPool {
    name: String,
    keys: Box<[(Arc<str>, Policy)]>,
    next: AtomicUsize,
}

impl KeyPool {
    /// A pool named `name` of `keys`, each behind a breaker configured as `breaker`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::ConfigError) for an empty pool or a breaker outside its
    /// valid values.
    ///
    /// # Examples
    ///
    /// See [`KeyPool`].
    pub fn new<I, K>(name: &str, keys: I, breaker: Breaker) -> Result<Self, crate::ConfigError>
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        let keys = keys
            .into_iter()
            .enumerate()
            .map(|(i, key)| {
                let policy = Policy::builder(&format!("{name}[{i}]"))
                    .breaker(breaker)
                    .build()?;
                Ok((Arc::<str>::from(key.into()), policy))
            })
            .collect::<Result<Box<[_]>, crate::ConfigError>>()?;
        if keys.is_empty() {
            return Err(crate::ConfigError::new(
                name,
                "a key pool needs at least one key",
            ));
        }
        Ok(KeyPool {
            name: name.to_owned(),
            keys,
            next: AtomicUsize::new(0),
        })
    }

    /// A pool of the comma-separated keys in the environment variable `var`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::ConfigError) when the variable is unset or holds no key.
    ///
    /// # Examples
    ///
    /// ```
    /// std::env::set_var("DOCS_LLM_KEYS", "sk-a, sk-b");
    /// let pool = staunch_runtime::KeyPool::from_env("docs-env-keys", "DOCS_LLM_KEYS", Default::default()).unwrap();
    /// assert_eq!(pool.len(), 2);
    /// ```
    pub fn from_env(name: &str, var: &str, breaker: Breaker) -> Result<Self, crate::ConfigError> {
        let value = std::env::var(var).unwrap_or_default();
        let keys: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(String::from)
            .collect();
        if keys.is_empty() {
            return Err(crate::ConfigError::new(
                name,
                &format!("`{var}` holds no key"),
            ));
        }
        Self::new(name, keys, breaker)
    }

    /// How many keys the pool has.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = staunch_runtime::KeyPool::new("docs-len", ["a"], Default::default()).unwrap();
    /// assert_eq!(pool.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a pool has at least one key.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = staunch_runtime::KeyPool::new("docs-empty", ["a"], Default::default()).unwrap();
    /// assert!(!pool.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys in the order this call should try them: round robin from the next one.
    fn order(&self) -> impl Iterator<Item = &(Arc<str>, Policy)> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.keys.len()).map(move |i| &self.keys[(start + i) % self.keys.len()])
    }

    fn all_open(&self) -> Error {
        let retry_in = self
            .keys
            .iter()
            .filter_map(|(_, p)| match p.handle().preflight() {
                Err(Error::CircuitOpen { retry_in, .. }) => Some(retry_in),
                _ => None,
            })
            .min()
            .unwrap_or(Duration::ZERO);
        Error::CircuitOpen {
            policy: self.name.clone(),
            retry_in,
        }
    }

    /// Calls `f` with the next key whose breaker admits it; every error counts against that
    /// key's breaker.
    ///
    /// # Errors
    ///
    /// What `f` returned, or [`Error::CircuitOpen`] (converted into `E`) when every key's
    /// breaker is open.
    ///
    /// # Examples
    ///
    /// See [`KeyPool`].
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(Arc<str>) -> Result<T, E>,
        E: From<Error>,
    {
        self.call_with(|_| true, f)
    }

    /// [`call`](Self::call), where only the errors `is_key_fault` picks count against the key
    /// (a revoked or over-quota key, say), not those of the provider itself (an outage must not
    /// take every key out of rotation).
    ///
    /// # Errors
    ///
    /// What `f` returned, or [`Error::CircuitOpen`] (converted into `E`) when every key's
    /// breaker is open.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, KeyPool};
    /// #[derive(Debug, PartialEq)]
    /// enum E { Unauthorized, Down, Policy(staunch_runtime::Error) }
    /// impl From<staunch_runtime::Error> for E { fn from(e: staunch_runtime::Error) -> Self { E::Policy(e) } }
    ///
    /// let pool = KeyPool::new("docs-key-fault", ["k1"], Breaker::new().threshold(1)).unwrap();
    /// let is_key_fault = |e: &E| *e == E::Unauthorized;
    /// assert_eq!(pool.call_with(is_key_fault, |_| Err::<(), _>(E::Down)), Err(E::Down));
    /// assert_eq!(pool.call_with(is_key_fault, |_| Ok::<_, E>(1)), Ok(1), "an outage leaves the key in rotation");
    /// ```
    pub fn call_with<T, E, F>(&self, is_key_fault: fn(&E) -> bool, mut f: F) -> Result<T, E>
    where
        F: FnMut(Arc<str>) -> Result<T, E>,
        E: From<Error>,
    {
        for (key, policy) in self.order() {
            let mut call =
                policy.begin::<Result<Result<T, E>, E>>(|_| Class::DEFAULT.retryable_if(false));
            let step = call.attempt_sync(Req::new(), || split(f(key.clone()), is_key_fault));
            if let Some(r) = settle(step, call.was_rejected()) {
                return r;
            }
        }
        Err(self.all_open().into())
    }

    /// [`call`](Self::call) for async calls.
    ///
    /// # Errors
    ///
    /// What `f`'s future returned, or [`Error::CircuitOpen`] (converted into `E`) when every
    /// key's breaker is open.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = staunch_runtime::KeyPool::new("docs-keys-async", ["sk-1"], Default::default()).unwrap();
    /// let r = pool.call_async(|key| async move { Ok::<_, staunch_runtime::Error>(key.len()) }).await;
    /// assert_eq!(r, Ok(4));
    /// # }
    /// ```
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(Arc<str>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.call_async_with(|_| true, f).await
    }

    /// [`call_with`](Self::call_with) for async calls.
    ///
    /// # Errors
    ///
    /// What `f`'s future returned, or [`Error::CircuitOpen`] (converted into `E`) when every
    /// key's breaker is open.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = staunch_runtime::KeyPool::new("docs-keys-async-with", ["sk-1"], Default::default()).unwrap();
    /// let r = pool.call_async_with(|_: &staunch_runtime::Error| false, |key| async move { Ok(key.len()) }).await;
    /// assert_eq!(r, Ok(4));
    /// # }
    /// ```
    pub async fn call_async_with<T, E, F, Fut>(
        &self,
        is_key_fault: fn(&E) -> bool,
        mut f: F,
    ) -> Result<T, E>
    where
        F: FnMut(Arc<str>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        for (key, policy) in self.order() {
            if !policy.admits() {
                continue;
            }
            let mut call =
                policy.begin::<Result<Result<T, E>, E>>(|_| Class::DEFAULT.retryable_if(false));
            let fut = f(key.clone());
            let step = call
                .attempt_async(Req::new(), async move { split(fut.await, is_key_fault) })
                .await;
            if let Some(r) = settle(step, call.was_rejected()) {
                return r;
            }
        }
        Err(self.all_open().into())
    }
}

/// The outcome as the key's breaker sees it: only a key fault is an `Err`.
fn split<T, E>(r: Result<T, E>, is_key_fault: fn(&E) -> bool) -> Result<Result<T, E>, E> {
    match r {
        Err(e) if is_key_fault(&e) => Err(e),
        other => Ok(other),
    }
}

/// The call's result, or `None` when the key's breaker turned the attempt away (try the next).
fn settle<T, E>(step: Step<Result<Result<T, E>, E>>, rejected: bool) -> Option<Result<T, E>> {
    match step {
        Step::Fallback(Err(_)) if rejected => None,
        Step::Done(r) | Step::Fallback(r) => Some(r.and_then(|inner| inner)),
        Step::Again => unreachable!("a key's policy has no retry"),
    }
}
