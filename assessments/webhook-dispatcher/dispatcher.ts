import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import type { EndpointDirectory } from "./endpoints";
import { createSigner, type Signer } from "./signing";

export interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  payload: unknown;
  attempts: number;
  createdAt: Date;
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** Postgres-backed (store.ts); every method is one statement in its own transaction. */
export interface DeliveryStore {
  claimDue(limit: number, leaseMs: number): Promise<Delivery[]>;
  recordAttempt(record: AttemptRecord): Promise<void>;
  markDelivered(id: string): Promise<void>;
  scheduleRetry(id: string, at: Date): Promise<void>;
  markFailed(id: string, reason: string): Promise<void>;
}

type Outcome =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string; retryable: boolean };

const BATCH_SIZE = 50;
const POLL_INTERVAL_MS = 1_000;
const LEASE_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
const DIRECTORY_REFRESH_MS = 60_000;
const MAX_ATTEMPTS = 12;
const BASE_DELAY_MS = 60_000;
const MAX_DELAY_MS = 8 * 60 * 60 * 1000;
const USER_AGENT = "Paystream-Webhooks/2.3";

export function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || status > 500;
}

// Full jitter: when a busy endpoint comes back, its backlog of retries arrives spread out
// over the whole window instead of in synchronized waves.
export function backoffDelayMs(attempt: number): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
  return Math.floor(Math.random() * ceiling);
}

function errorName(err: any): string {
  if (err?.name === "TimeoutError") return "timeout";
  return err?.cause?.code ?? err?.name ?? "network_error";
}

export class Dispatcher {
  private readonly signer: Signer = createSigner("v1");

  constructor(
    private readonly store: DeliveryStore,
    private readonly directory: EndpointDirectory,
  ) {}

  /** Delivers due webhooks until `signal` aborts; a batch in flight is finished first. */
  async run(signal: AbortSignal): Promise<void> {
    await this.directory.refresh();
    const refresher = setInterval(() => {
      this.directory.refresh().catch((err) => console.error("endpoint refresh failed", err));
    }, DIRECTORY_REFRESH_MS);
    try {
      while (!signal.aborted) {
        const batch = await this.store.claimDue(BATCH_SIZE, LEASE_MS);
        const results = await Promise.allSettled(batch.map((d) => this.deliver(d)));
        for (const r of results) {
          if (r.status === "rejected") console.error("delivery bookkeeping failed", r.reason);
        }
        if (batch.length < BATCH_SIZE) {
          await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
        }
      }
    } finally {
      clearInterval(refresher);
    }
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const endpoint = this.directory.get(delivery.endpointId);
    if (!endpoint) {
      // The partner deleted the endpoint; there is nobody left to deliver this event to.
      await this.store.markFailed(delivery.id, "endpoint_not_found");
      return;
    }

    const attempt = delivery.attempts + 1;
    const body = JSON.stringify({
      id: delivery.eventId,
      type: delivery.eventType,
      created: Math.floor(delivery.createdAt.getTime() / 1000),
      data: delivery.payload,
    });
    const signature = this.signer.header(endpoint.secret, delivery.createdAt, body);

    const started = performance.now();
    const outcome = await this.post(endpoint.url, body, signature, delivery.eventId);
    await this.store.recordAttempt({
      deliveryId: delivery.id,
      attempt,
      status: outcome.status,
      error: outcome.ok ? null : outcome.error,
      durationMs: Math.round(performance.now() - started),
    });

    if (outcome.ok) {
      await this.store.markDelivered(delivery.id);
    } else if (!outcome.retryable || attempt >= MAX_ATTEMPTS) {
      await this.store.markFailed(delivery.id, outcome.error);
    } else {
      const retry_at = new Date(Date.now() + backoffDelayMs(attempt));
      await this.store.scheduleRetry(delivery.id, retry_at);
    }
  }

  private async post(url: string, body: string, signature: string, eventId: string): Promise<Outcome> {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": USER_AGENT,
          "paystream-event-id": eventId,
          "paystream-signature": signature,
        },
        body,
        // Never follow redirects: a partner-controlled Location header could point the
        // worker at an address inside our network.
        redirect: "manual",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      // Only the status matters; cancelling the body hands the socket back to the pool.
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) {
        return { ok: true, status: res.status };
      }
      return { ok: false, status: res.status, error: `http_${res.status}`, retryable: isRetryable(res.status) };
    } catch (err) {
      // The partner may have processed a request that timed out; partners deduplicate on
      // the event id, so sending it again is safe.
      return { ok: false, status: null, error: errorName(err), retryable: true };
    }
  }
}
