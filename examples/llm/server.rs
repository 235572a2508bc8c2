//! The embedded server: the three providers of the scenario behind OpenAI-style endpoints on
//! loopback (`POST /{provider}/v1/chat/completions`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::scenario::{self, Answer, Provider};

#[derive(Deserialize, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(Deserialize, Serialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
}

#[derive(Deserialize, Serialize)]
pub struct Choice {
    pub message: Message,
}

#[derive(Deserialize, Serialize)]
pub struct Usage {
    pub total_tokens: u64,
}

#[derive(Deserialize, Serialize)]
pub struct ChatResponse {
    pub choices: Vec<Choice>,
    pub usage: Usage,
}

/// Requests each provider saw, answered well or not.
#[derive(Default)]
pub struct Seen {
    pub ok: [AtomicU64; 3],
    pub failed: [AtomicU64; 3],
}

struct Server {
    start: Instant,
    seen: Arc<Seen>,
}

/// Starts the providers on a free port of 127.0.0.1; they play the scenario from `start`.
pub async fn start(start: Instant) -> std::io::Result<(SocketAddr, Arc<Seen>)> {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/{provider}/v1/chat/completions", post(chat))
        .with_state(Arc::new(Server {
            start,
            seen: seen.clone(),
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, seen))
}

async fn chat(
    State(server): State<Arc<Server>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Json(request): Json<ChatRequest>,
) -> Response {
    let Some(provider) = Provider::from_name(&provider) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let prompt = request
        .messages
        .last()
        .map(|m| m.content.as_str())
        .unwrap_or_default();
    match scenario::answer(provider, server.start.elapsed(), key, prompt) {
        Answer::Ok {
            latency,
            text,
            total_tokens,
        } => {
            tokio::time::sleep(latency).await;
            server.seen.ok[provider as usize].fetch_add(1, Ordering::Relaxed);
            let body = ChatResponse {
                choices: vec![Choice {
                    message: Message {
                        role: "assistant".into(),
                        content: text,
                    },
                }],
                usage: Usage { total_tokens },
            };
            (
                [
                    ("x-ratelimit-remaining-requests", "1000"),
                    ("x-ratelimit-reset-requests", "1s"),
                ],
                Json(body),
            )
                .into_response()
        }
        Answer::Status {
            latency,
            status,
            retry_after,
            body,
        } => {
            tokio::time::sleep(latency).await;
            server.seen.failed[provider as usize].fetch_add(1, Ordering::Relaxed);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", after.as_secs().into());
            }
            response
        }
    }
}
