//! staunch (docs being written)
#![deny(missing_docs)]
pub use staunch_macros::resilient;
pub use staunch_runtime::*;

#[doc(hidden)]
pub mod __private {
    pub use staunch_runtime::__private::*;
}
