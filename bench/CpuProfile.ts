// Where a server process spends its time: a V8 CPU profile of a window of the load (node:inspector, in the
// process itself), each sample charged to the first category found walking up its stack. Used by the server
// benchmark to say where a request's time goes; the figures are shares of the window's wall-clock time.
import * as inspector from 'node:inspector';

export interface ProfileBreakdown {
  /** Length of the profiled window (ms). */
  windowMs: number;
  /** Milliseconds per category; they add up to windowMs. */
  ms: Record<string, number>;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Categories, most specific first: a sample counts for the first one matched on its stack, from the leaf up. */
const CATEGORIES: ReadonlyArray<[string, (f: ProfileNode['callFrame']) => boolean]> = [
  ['verify JWS', (f) => /server\/src\/jws\//.test(f.url)],
  ['ledger (on the event loop)', (f) => /server\/src\/ledger\/|better-sqlite3/.test(f.url)],
  ['JSON parse + schema', (f) => /secure-json-parse|ajv|content-type-parser/.test(f.url) || f.functionName.startsWith('validate')],
  ['service checks', (f) => /server\/src\/PurchaseService/.test(f.url)],
  ['HTTP + Fastify', (f) => /fastify|node:_http|node:net|node:stream|light-my-request|find-my-way|avvio/.test(f.url) || f.functionName === 'writev' || f.functionName === 'writeUtf8String'],
];

const SPECIAL: Record<string, string> = { '(idle)': 'idle', '(garbage collector)': 'GC', '(program)': 'runtime' };

export class CpuProfiler {
  private session: inspector.Session | undefined;

  private post<T>(method: string, params?: object): Promise<T> {
    return new Promise((resolve, reject) => {
      this.session!.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)));
    });
  }

  async start(): Promise<void> {
    this.session = new inspector.Session();
    this.session.connect();
    await this.post('Profiler.enable');
    await this.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.post('Profiler.start');
  }

  async stop(): Promise<ProfileBreakdown> {
    const { profile } = await this.post<{ profile: Profile }>('Profiler.stop');
    this.session!.disconnect();
    this.session = undefined;
    return breakdown(profile);
  }
}

export function breakdown(profile: Profile): ProfileBreakdown {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const categoryOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = categoryOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!;
    let result = Object.hasOwn(SPECIAL, leaf.callFrame.functionName) ? SPECIAL[leaf.callFrame.functionName] : undefined;
    for (let cur: number | undefined = id; result === undefined && cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      result = CATEGORIES.find(([, test]) => test(frame))?.[0];
    }
    categoryOf.set(id, result ?? 'other JS');
    return categoryOf.get(id)!;
  };
  const ms: Record<string, number> = {};
  profile.samples.forEach((id, i) => {
    const c = classify(id);
    ms[c] = (ms[c] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
  });
  for (const k of Object.keys(ms)) ms[k] = Math.round(ms[k]! * 10) / 10;
  return { windowMs: Math.round((profile.endTime - profile.startTime) / 100) / 10, ms };
}
