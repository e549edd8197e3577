// Timing and memory helpers shared by the benchmark items. Every figure is a wall-clock measurement taken in this
// process; ratios are always formed between figures measured in the same run.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** Milliseconds since an arbitrary origin, sub-microsecond resolution. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Relative spread of a set of samples: (max - min) / median. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
}

/** Runs `op(i)` for i = 0..count-1 in sequence (awaiting each) and returns the elapsed milliseconds. */
export async function timeSequential(count: number, op: (i: number) => unknown): Promise<number> {
  const start = nowMs();
  for (let i = 0; i < count; i++) {
    const r = op(i);
    if (r instanceof Promise) await r;
  }
  return nowMs() - start;
}

/** Operations per second of `op`, run in sequence for `count` operations. */
export async function ratePerSec(count: number, op: (i: number) => unknown): Promise<number> {
  const ms = await timeSequential(count, op);
  return (count * 1000) / ms;
}

/**
 * Calls each contender's measurement once per round, in rotating order, so that slow drifts of the machine (CPU
 * frequency, other processes) hit every contender alike; returns every contender's samples.
 */
export async function interleaved<K extends string>(
  rounds: number,
  contenders: Record<K, () => Promise<number>>,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(contenders) as K[];
  const samples = {} as Record<K, number[]>;
  for (const k of keys) samples[k] = [];
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(j + r) % keys.length]!;
      samples[k].push(await contenders[k]());
    }
  }
  return samples;
}

let gcFn: (() => void) | undefined;

/** A full, synchronous garbage collection (the bench runs with --expose-gc; otherwise it enables it here). */
export function fullGc(): void {
  if (!gcFn) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') {
      gcFn = exposed;
    } else {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

/** Live JS heap in bytes after full garbage collections (two: the second reclaims what weak callbacks released). */
export function liveHeapBytes(): number {
  fullGc();
  fullGc();
  return process.memoryUsage().heapUsed;
}

/** The median over rounds of numerator[r] / denominator[r]: each ratio pairs two figures measured side by side. */
export function medianRatio(numerator: readonly number[], denominator: readonly number[]): number {
  if (numerator.length !== denominator.length) throw new Error('medianRatio: sample counts differ');
  return median(numerator.map((n, i) => n / denominator[i]!));
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Runs `work` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!, i);
    }
  });
  await Promise.all(runners);
  return out;
}
