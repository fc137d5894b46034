import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";

import { ReplayBuffer, createEncoder, type RelayEvent } from "./replay.js";

/** What the inference gateway client yields for one generation (stand-in for @acme/infer-client). */
export interface UpstreamChunk {
  type: "token" | "done" | "error";
  text?: string;
}

export interface UpstreamClient {
  stream(generationId: string, signal: AbortSignal): AsyncIterable<UpstreamChunk>;
}

const RECONNECT_DELAY_MS = 3000;
const HEARTBEAT_MS = 15_000;
const LINGER_MS = 60_000;
const REPLAY_CAPACITY = 2048;
const MAX_STREAMS_PER_USER = 4;

interface Subscriber {
  res: ServerResponse;
  userId: string;
}

interface Stream {
  generationId: string;
  buffer: ReplayBuffer;
  subscribers: Set<Subscriber>;
  finished: boolean;
  controller: AbortController;
}

export class StreamRelay {
  private readonly streams = new Map<string, Stream>();
  private readonly openByUser = new Map<string, number>();
  private readonly encoder = createEncoder("sse");

  constructor(private readonly upstream: UpstreamClient) {}

  /** GET /v1/generations/:id/events: attaches a browser to a generation and replays what it missed. */
  attach(req: IncomingMessage, res: ServerResponse, generationId: string, userId: string): void {
    const open = this.openByUser.get(userId) ?? 0;
    if (open >= MAX_STREAMS_PER_USER) {
      res.writeHead(429, { "Retry-After": "5" }).end();
      return;
    }
    this.openByUser.set(userId, open + 1);

    res.writeHead(200, {
      "Content-Type": this.encoder.contentType,
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    });
    res.write(`retry: ${RECONNECT_DELAY_MS}\n\n`);

    const stream = this.getOrStart(generationId);
    const lastEventId = Number(req.headers["last-event-id"] ?? 0);
    const missed = stream.buffer.after(lastEventId);
    if (missed === null) {
      res.end(this.encoder.encode({ id: lastEventId, event: "reset", data: "" }));
      return;
    }
    for (const evt of missed) {
      res.write(this.encoder.encode(evt));
    }
    if (stream.finished) {
      res.end();
      return;
    }

    const sub: Subscriber = { res, userId };
    stream.subscribers.add(sub);
    const heartbeat = setInterval(() => res.write(": ping\n\n"), HEARTBEAT_MS);
    res.on("close", () => {
      clearInterval(heartbeat);
      stream.subscribers.delete(sub);
      const left = (this.openByUser.get(userId) ?? 1) - 1;
      if (left === 0) this.openByUser.delete(userId);
      else this.openByUser.set(userId, left);
    });
  }

  /** Aborts every upstream read; called on SIGTERM before the server closes. */
  shutdown(): void {
    for (const stream of this.streams.values()) {
      stream.controller.abort();
    }
  }

  private getOrStart(generationId: string): Stream {
    let stream = this.streams.get(generationId);
    if (stream) {
      return stream;
    }
    stream = {
      generationId,
      buffer: new ReplayBuffer(REPLAY_CAPACITY),
      subscribers: new Set(),
      finished: false,
      controller: new AbortController(),
    };
    this.streams.set(generationId, stream);
    void this.pump(stream);
    return stream;
  }

  private async pump(stream: Stream): Promise<void> {
    let nextId = 1;
    try {
      const chunks = this.upstream.stream(stream.generationId, stream.controller.signal);
      for await (const chunk of chunks) {
        const evt: RelayEvent = { id: nextId++, event: chunk.type, data: chunk.text ?? "" };
        stream.buffer.push(evt);
        await this.broadcast(stream, evt);
        if (chunk.type !== "token") break;
      }
    } catch (err: any) {
      console.log("upstream failed", stream.generationId, err.message);
      const evt: RelayEvent = { id: nextId++, event: "error", data: "upstream failed" };
      stream.buffer.push(evt);
      await this.broadcast(stream, evt);
    } finally {
      stream.finished = true;
      for (const s of stream.subscribers) s.res.end();
      setTimeout(() => this.streams.delete(stream.generationId), LINGER_MS).unref();
    }
  }

  private async broadcast(stream: Stream, evt: RelayEvent): Promise<void> {
    const frame = this.encoder.encode(evt);
    await Promise.all([...stream.subscribers].map((sub) => this.send(sub, frame)));
  }

  private async send(sub: Subscriber, frame: string): Promise<void> {
    if (sub.res.writableEnded) {
      return;
    }
    if (!sub.res.write(frame)) {
      await once(sub.res, "drain");
    }
  }
}
