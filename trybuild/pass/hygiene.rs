//! The generated code names only `::staunch::__private`, `::core` and `::std`, and its locals
//! cannot clash with the user's: this compiles in a module that imports nothing, shadows the
//! prelude's `Result`, and uses the names the expansion uses for its own locals.
#![deny(warnings)]

mod deep {
    pub mod inner {
        #[derive(Debug)]
        pub struct Oops;

        impl From<staunch::Error> for Oops {
            fn from(_: staunch::Error) -> Self {
                Oops
            }
        }

        pub type Result<T> = core::result::Result<T, Oops>;

        #[allow(non_camel_case_types, dead_code)]
        struct Step;
        #[allow(dead_code)]
        struct Policy;

        #[staunch::resilient(retry(max = 1, delay = 0), name = "hygiene")]
        pub fn call(__staunch_req: u32, __staunch_call: u32) -> Result<u32> {
            let __staunch_r = __staunch_req + __staunch_call;
            Ok(__staunch_r)
        }
    }
}

fn main() {
    assert_eq!(deep::inner::call(1, 2).unwrap(), 3);
}
