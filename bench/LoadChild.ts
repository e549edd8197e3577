// One load generator of item 4 in its own process: autocannon (programmatic API) against one URL. The bench runs
// two of them, so that the load generator is not one thread competing with a multi-threaded server for the CPUs.
// Protocol: { prepare: { url, connections, bodies } } → { ready: true }; 'go' → LoadChildResult; 'exit'.
import autocannon from 'autocannon';

export interface LoadChildPrepare {
  prepare: { url: string; path: string; connections: number; bodies: string[] };
}

export interface LoadChildResult {
  startedAt: number;
  endedAt: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  status2xx: number;
  non2xx: number;
  errors: number;
  deliveries: Record<string, number>;
}

export type LoadChildReply = { ready: true } | { result: LoadChildResult } | { error: string };

let prepared: LoadChildPrepare['prepare'] | undefined;

function reply(m: LoadChildReply): void {
  process.send?.(m);
}

async function go(p: LoadChildPrepare['prepare']): Promise<LoadChildResult> {
  const deliveries: Record<string, number> = {};
  let next = 0;
  // Wall-clock ms comparable across processes. The run ends at the LAST ANSWER: autocannon itself notices that the
  // amount is done only at its next 1-second tick, so its own duration carries up to a second of nothing.
  const clock = (): number => performance.timeOrigin + performance.now();
  const startedAt = clock();
  let lastAnswerAt = startedAt;
  const r = await autocannon({
    url: p.url,
    connections: p.connections,
    amount: p.bodies.length,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: p.path,
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: p.bodies[next++ % p.bodies.length] }),
        onResponse: (_status, _body, _context, headers) => {
          lastAnswerAt = clock();
          const raw = headers?.['x-delivery'];
          const value = Array.isArray(raw) ? raw.join(',') : (raw ?? 'none');
          deliveries[value] = (deliveries[value] ?? 0) + 1;
        },
      },
    ],
  });
  return {
    startedAt,
    endedAt: lastAnswerAt,
    requests: p.bodies.length,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    status2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    deliveries,
  };
}

process.on('message', (m: LoadChildPrepare | 'go' | 'exit') => {
  if (m === 'exit') {
    process.disconnect?.();
    return;
  }
  if (m === 'go') {
    const p = prepared;
    prepared = undefined;
    if (!p) return reply({ error: 'go before prepare' });
    go(p).then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
    );
    return;
  }
  prepared = m.prepare;
  reply({ ready: true });
});

process.on('disconnect', () => process.exit(0));
