//! Per-tenant token quotas for the completion gateway.
//!
//! Every tenant has a bucket of model tokens that refills at its plan's rate. A request
//! reserves its estimated cost up front and is settled against the provider's reported usage
//! once it returns.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A tenant's contract: tokens per minute, plus how far above that a burst may go.
#[derive(Clone, Debug)]
pub struct Plan {
    pub tokens_per_minute: i64,
    pub burst: i64,
}

#[derive(Debug)]
struct Bucket {
    tokens: i64,
    capacity: i64,
    rate_per_sec: i64,
    last_refill: Instant,
}

#[derive(Debug, PartialEq)]
pub enum Admission {
    Admitted,
    Throttled { retry_in: Duration },
}

pub struct QuotaBook {
    plans: HashMap<String, Plan>,
    default_plan: Plan,
    buckets: HashMap<String, Bucket>,
}

impl QuotaBook {
    pub fn new(plans: HashMap<String, Plan>, default_plan: Plan) -> Self {
        QuotaBook {
            plans,
            default_plan,
            buckets: HashMap::new(),
        }
    }

    /// Reserves `estimate` tokens for one request of `tenant`, or says when to come back.
    pub fn admit(&mut self, tenant: &str, estimate: i64, now: Instant) -> Admission {
        let bucket = self.bucket_for(tenant, now);
        refill(bucket, now);
        if bucket.tokens < estimate {
            let missing = estimate - bucket.tokens;
            let wait_secs = (missing + bucket.rate_per_sec - 1) / bucket.rate_per_sec;
            return Admission::Throttled {
                retry_in: Duration::from_secs(wait_secs as u64),
            };
        }
        bucket.tokens -= estimate;
        Admission::Admitted
    }

    /// Replaces a reservation by what the request really used.
    pub fn settle(&mut self, tenant: &str, estimate: i64, used: i64) {
        if let Some(bucket) = self.buckets.get_mut(tenant) {
            // A tenant whose request overshot its estimate may go below zero; it pays the
            // difference back out of its next refills instead of being billed twice.
            bucket.tokens += estimate - used;
        }
    }

    /// Number of tokens left for `tenant`, for the /quota endpoint.
    pub fn remaining(&self, tenant: &String) -> Option<i64> {
        return self.buckets.get(tenant).map(|b| b.tokens);
    }

    fn bucket_for(&mut self, tenant: &str, now: Instant) -> &mut Bucket {
        let plan = self.plans.get(tenant).unwrap_or(&self.default_plan);
        self.buckets
            .entry(tenant.to_string())
            .or_insert_with(|| Bucket {
                tokens: plan.tokens_per_minute + plan.burst,
                capacity: plan.tokens_per_minute + plan.burst,
                rate_per_sec: plan.tokens_per_minute / 60,
                last_refill: now,
            })
    }
}

fn refill(bucket: &mut Bucket, now: Instant) {
    // add the tokens earned since last time
    let elapsed = now.duration_since(bucket.last_refill).as_secs() as i64;
    bucket.tokens = (bucket.tokens + elapsed * bucket.rate_per_sec).min(bucket.capacity);
    bucket.last_refill = now;
}
