// Deterministic identifiers for simulated orders: a seeded PRNG, so a chaos schedule replayed from its seed
// produces the same purchaseOrderIds and purchaseTokens (and therefore the same trace).

/** mulberry32: small, fast, good enough for identifiers (not for cryptography). */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The current state, to persist and resume the same sequence. */
  get seed(): number {
    return this.state;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  chars(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.nextUint32() % alphabet.length];
    return out;
  }
}

const HEX = '0123456789abcdef';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function stamp(time: number): string {
  // yyyyMMddHHmmss in UTC, as order numbers on purchase records start with the order date.
  return new Date(time).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** e.g. "20250601120000000042a3f9c2": date, a per-store sequence, and random hex (26 characters). */
export function newPurchaseOrderId(prng: Prng, time: number, seq: number): string {
  return `${stamp(time)}${String(seq).padStart(6, '0')}${prng.chars(HEX, 6)}`;
}

/**
 * A purchase token shaped like real ones: long (232 characters, within the documented 256 and the FAQ's 512),
 * opaque, URL-safe. Treat it as a secret: it authorises finishing the order.
 */
export function newPurchaseToken(prng: Prng, time: number): string {
  return `00000${Math.floor(time).toString(16).padStart(16, '0')}.${prng.chars(BASE62, 210)}`;
}

export function newSubscriptionId(prng: Prng, seq: number): string {
  return `sub${String(seq).padStart(6, '0')}${prng.chars(HEX, 10)}`;
}

export function newGenerationId(prng: Prng): string {
  return `gen${prng.chars(BASE62, 29)}`;
}
