//! The LLM failover scenario, shared by `examples/llm_failover.rs` and `tests/llm_failover.rs`.

#![allow(dead_code)]

pub mod client;
pub mod scenario;
pub mod server;
