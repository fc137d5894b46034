/** One server-sent event as the relay stores and replays it. */
export interface RelayEvent {
  id: number;
  event: string;
  data: string;
}

/** Turns a relay event into the bytes written to the browser. */
export interface EventEncoder {
  readonly contentType: string;
  encode(evt: RelayEvent): string;
}

class SseEncoder implements EventEncoder {
  readonly contentType = "text/event-stream";

  encode(evt: RelayEvent): string {
    // A token can contain newlines; each line needs its own data: field or the
    // browser ends the event at the first one.
    const data = evt.data
      .split("\n")
      .map((line) => `data: ${line}`)
      .join("\n");
    return `id: ${evt.id}\nevent: ${evt.event}\n${data}\n\n`;
  }
}

type EncoderKind = "sse";

const encoderFactories: Record<EncoderKind, () => EventEncoder> = {
  sse: () => new SseEncoder(),
};

export function createEncoder(kind: EncoderKind): EventEncoder {
  const factory = encoderFactories[kind];
  if (!factory) {
    throw new Error(`no encoder registered for ${kind}`);
  }
  return factory();
}

/**
 * Keeps the most recent events of one generation, so that a browser that lost
 * its connection can resume from the Last-Event-ID it sends on reconnect.
 */
export class ReplayBuffer {
  private events: RelayEvent[] = [];

  constructor(private readonly capacity: number) {}

  push(evt: RelayEvent): void {
    this.events.push(evt);
    if (this.events.length > this.capacity) {
      this.events.shift();
    }
  }

  get size(): number {
    return this.events.length;
  }

  /** The events after `lastEventId`, or null when the client cannot resume from this buffer. */
  after(lastEventId: number): RelayEvent[] | null {
    if (this.events.length === 0) {
      return lastEventId > 0 ? null : [];
    }
    const oldest = this.events[0].id;
    const newest = this.events[this.events.length - 1].id;
    if (lastEventId < oldest - 1 || lastEventId > newest) {
      return null;
    }
    const start = lastEventId - oldest;
    return this.events.slice(Math.max(start, 0));
  }
}
