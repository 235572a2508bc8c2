//! `describe()`: what a policy is made of, and where each value came from.
use staunch::resilient;

#[resilient(
    name = "openai",
    retry(max = 3),
    breaker(threshold = 5),
    rps = 5,
    max_inflight = 8,
    timeout = "20s"
)]
async fn complete(prompt: &str) -> Result<String, staunch::Error> {
    Ok(prompt.to_uppercase())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // what an operator sets, before the policy's first call
    std::env::set_var("STAUNCH_OPENAI_RPS", "10");
    complete("hi").await.unwrap();
    print!("{}", staunch::policy("openai").unwrap().describe());
}
