// A small bounded LRU map with per-entry expiry (Map insertion order = recency order).

export class LruCache<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
  ) {
    if (!(maxEntries >= 1)) throw new Error('maxEntries must be >= 1');
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string, now: number): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    if (e.expiresAt <= now) {
      this.map.delete(key);
      this.misses++;
      return undefined;
    }
    // Refresh recency.
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.value;
  }

  set(key: string, value: V, now: number): void {
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: now + this.ttlMs });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
      this.evictions++;
    }
  }

  clear(): void {
    this.map.clear();
  }
}
