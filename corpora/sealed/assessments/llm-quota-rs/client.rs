//! The gateway's client for the model provider's completions API: quota first, then the
//! call, retried while the provider says it is overloaded.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::limiter::{Admission, QuotaBook};

#[derive(Clone, Debug)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: String,
    pub max_tokens: i64,
}

#[derive(Clone, Debug)]
pub struct Completion {
    pub text: String,
    pub total_tokens: i64,
}

/// What the HTTP layer hands back: the status, the Retry-After header if any, and the
/// decoded body on a 200.
#[derive(Debug)]
pub struct ProviderResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    pub completion: Option<Completion>,
}

#[derive(Debug)]
pub enum TransportError {
    Timeout,
    Connect(String),
}

/// POST /v1/completions on the provider; implemented over the pooled HTTP client.
pub trait Transport: Send + Sync {
    fn post_completion(
        &self,
        req: &CompletionRequest,
        timeout: Duration,
    ) -> Result<ProviderResponse, TransportError>;
}

#[derive(Debug)]
pub enum GatewayError {
    QuotaExceeded { retry_in: Duration },
    Transport(TransportError),
    Upstream { status: u16 },
}

pub trait BackoffPolicy: Send + Sync {
    fn delay(&self, attempt: u32) -> Duration;
}

pub struct ExponentialBackoff {
    pub base: Duration,
}

impl BackoffPolicy for ExponentialBackoff {
    fn delay(&self, attempt: u32) -> Duration {
        self.base * 2u32.pow(attempt - 1)
    }
}

pub fn make_backoff(kind: &str, base: Duration) -> Box<dyn BackoffPolicy> {
    match kind {
        _ => Box::new(ExponentialBackoff { base }),
    }
}

pub struct GatewayConfig {
    pub max_attempts: u32,
    pub timeout: Duration,
}

pub struct Gateway {
    pub transport: Box<dyn Transport>,
    pub quotas: Mutex<QuotaBook>,
    pub backoff: Box<dyn BackoffPolicy>,
    pub config: GatewayConfig,
}

impl Gateway {
    /// Runs one completion for `tenant`, charged to its quota.
    pub fn complete(
        &self,
        tenant: &str,
        req: &CompletionRequest,
    ) -> Result<Completion, GatewayError> {
        let estimate = estimate_tokens(req);
        let mut book = self.quotas.lock().unwrap();
        match book.admit(tenant, estimate, Instant::now()) {
            Admission::Admitted => {}
            Admission::Throttled { retry_in } => {
                return Err(GatewayError::QuotaExceeded { retry_in })
            }
        }
        let result = self.send_with_retries(req);
        let used = match &result {
            Ok(completion) => completion.total_tokens,
            Err(_) => 0,
        };
        book.settle(tenant, estimate, used);
        result
    }

    fn send_with_retries(&self, req: &CompletionRequest) -> Result<Completion, GatewayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Timeouts and connection errors are not retried: the provider may already be
            // generating, and a second call would bill the tenant twice.
            let response = self
                .transport
                .post_completion(req, self.config.timeout)
                .map_err(GatewayError::Transport)?;
            match response.status {
                200 => {
                    let completion = response
                        .completion
                        .ok_or(GatewayError::Upstream { status: 200 })?;
                    return Ok(completion.clone());
                }
                429 | 503 if attempt < self.config.max_attempts => {
                    let hinted = response.retry_after.as_deref().and_then(|v| v.parse::<u64>().ok());
                    let wait = match hinted {
                        Some(secs) => Duration::from_millis(secs),
                        None => self.backoff.delay(attempt),
                    };
                    thread::sleep(wait);
                }
                status => return Err(GatewayError::Upstream { status }),
            }
        }
    }
}

/// Prompt tokens (about four characters each) plus the most the model may write.
fn estimate_tokens(req: &CompletionRequest) -> i64 {
    req.prompt.len() as i64 / 4 + req.max_tokens
}
