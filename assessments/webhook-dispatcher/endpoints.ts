export interface Endpoint {
  id: string;
  partnerId: string;
  url: string;
  secret: string;
}

interface EndpointRow {
  id: string;
  partner_id: string;
  url: string;
  signing_secret: string;
}

interface EndpointPage {
  data: EndpointRow[];
  next_cursor: string | null;
}

const PAGE_LIMIT = 100;

/** In-memory copy of the Partner Registry's webhook endpoints, refreshed by the dispatcher. */
export class EndpointDirectory {
  private endpoints = new Map<string, Endpoint>();

  constructor(
    private readonly registryUrl: string,
    private readonly token: string,
  ) {}

  get(id: string): Endpoint | undefined {
    return this.endpoints.get(id);
  }

  get size(): number {
    return this.endpoints.size;
  }

  /** Replaces the whole map, so endpoints deleted in the registry stop receiving events. */
  async refresh(): Promise<void> {
    const next = new Map<string, Endpoint>();
    let cursor: string | null = null;
    for (;;) {
      const page = await this.fetchPage(cursor);
      for (const row of page.data) {
        next.set(row.id, {
          id: row.id,
          partnerId: row.partner_id,
          url: row.url,
          secret: row.signing_secret,
        });
      }
      if (page.data.length < PAGE_LIMIT) break;
      cursor = page.next_cursor;
    }
    this.endpoints = next;
  }

  private async fetchPage(cursor: string | null): Promise<EndpointPage> {
    const url = new URL("/v2/webhook-endpoints", this.registryUrl);
    url.searchParams.set("limit", String(PAGE_LIMIT));
    if (cursor !== null) url.searchParams.set("cursor", cursor);

    const res = await fetch(url, {
      headers: { authorization: `Bearer ${this.token}`, accept: "application/json" },
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) {
      throw new Error(`partner registry returned ${res.status} for ${url.pathname}`);
    }
    return (await res.json()) as EndpointPage;
  }
}
