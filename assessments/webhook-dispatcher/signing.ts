import { createHmac } from "node:crypto";

export interface SignatureScheme {
  readonly version: string;
  sign(secret: string, timestamp: number, body: string): string;
}

class HmacSha256Scheme implements SignatureScheme {
  readonly version = "v1";

  sign(secret: string, timestamp: number, body: string): string {
    return createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
  }
}

type SchemeFactory = () => SignatureScheme;

const registry = new Map<string, SchemeFactory>();

export function registerScheme(version: string, factory: SchemeFactory): void {
  if (registry.has(version)) {
    throw new Error(`signature scheme ${version} is already registered`);
  }
  registry.set(version, factory);
}

export class Signer {
  constructor(private readonly scheme: SignatureScheme) {}

  /** The `Paystream-Signature` header value: `t=<unix seconds>,v1=<hex digest>`. */
  header(secret: string, signedAt: Date, body: string): string {
    const timestamp = Math.floor(signedAt.getTime() / 1000);
    return `t=${timestamp},${this.scheme.version}=${this.scheme.sign(secret, timestamp, body)}`;
  }
}

export function createSigner(version: string): Signer {
  const factory = registry.get(version);
  if (factory === undefined) {
    throw new Error(`unknown signature scheme ${version}; registered: ${[...registry.keys()].join(", ")}`);
  }
  return new Signer(factory());
}

registerScheme("v1", () => new HmacSha256Scheme());
