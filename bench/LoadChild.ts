// One load generator of item 4 in its own process: a closed-loop HTTP/1.1 client over node:net. The bench runs two
// of them, so that the load generator is not one thread competing with a multi-threaded server for the CPUs.
//
// Why not autocannon (used until issue 13's last round): on this 2-vCPU machine the load generators share the cores
// with the server they measure, and autocannon spent about 0.05 ms of CPU per request (its per-request request
// building, histograms and parser), twice what this client spends; that time was taken from the server under test.
// The load is the same: `connections` keep-alive connections, each with one request in flight (no pipelining), each
// request a different pre-serialised body, sent again only after the previous answer was read in full.
// Protocol: { prepare: { url, path, connections, bodies } } → { ready: true }; 'go' → LoadChildResult; 'exit'.
import * as net from 'node:net';

export interface LoadChildPrepare {
  prepare: { url: string; path: string; connections: number; bodies: string[] };
}

export interface LoadChildResult {
  startedAt: number;
  endedAt: number;
  requests: number;
  /** Latency percentiles in ms (to a tenth), exact: from every request's time, not a histogram. */
  p50: number;
  p99: number;
  max: number;
  status2xx: number;
  non2xx: number;
  /** Requests that got no complete answer: connection errors, a closed connection, a timeout, an unreadable answer. */
  errors: number;
  /** Answers by their `x-delivery` header (`new`, `replay`, … or `none`). */
  deliveries: Record<string, number>;
  /** CPU ms this generator spent from the first request to the last answer. */
  cpuMs: number;
}

export type LoadChildReply = { ready: true } | { result: LoadChildResult } | { error: string };

/** A request without an answer after this long counts as an error (the connection is dropped and opened again). */
const REQUEST_TIMEOUT_MS = 30_000;
const HEADER_END = Buffer.from('\r\n\r\n');

let prepared: LoadChildPrepare['prepare'] | undefined;

function reply(m: LoadChildReply): void {
  process.send?.(m);
}

/** Wall-clock ms comparable across processes (the parent merges the runs of several generators). */
const clock = (): number => performance.timeOrigin + performance.now();

/** The status and the two headers a run needs from one answer's head (HTTP/1.1, Content-Length framing). */
function readHead(head: string): { status: number; length: number; delivery: string; close: boolean } | undefined {
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  const length = /\r\ncontent-length: *(\d+)\r?$/im.exec(head);
  // Chunked or close-delimited answers are not what the server sends; reading them as errors keeps the count honest.
  if (!status || !length || /\r\ntransfer-encoding:/i.test(head)) return undefined;
  const delivery = /\r\nx-delivery: *([^\r]*)/i.exec(head)?.[1]?.trim() ?? 'none';
  return { status: Number(status[1]), length: Number(length[1]), delivery, close: /\r\nconnection: *close\b/i.test(head) };
}

/** Milliseconds to a tenth: loopback latencies are often below 1 ms. */
function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function percentile(sorted: readonly number[], f: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(f * sorted.length) - 1)]!;
}

function run(p: LoadChildPrepare['prepare']): Promise<LoadChildResult> {
  const url = new URL(p.url);
  const requests = p.bodies.map((body) =>
    Buffer.from(
      `POST ${p.path} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    ),
  );
  const latencies: number[] = [];
  const deliveries: Record<string, number> = {};
  const counts = { status2xx: 0, non2xx: 0, errors: 0 };
  let next = 0;
  let settled = 0;
  const startedAt = clock();
  const cpuAtStart = process.cpuUsage();
  let endedAt = startedAt;

  return new Promise((resolve) => {
    const finishIfDone = (): void => {
      if (settled !== requests.length) return;
      const cpu = process.cpuUsage(cpuAtStart);
      latencies.sort((a, b) => a - b);
      resolve({
        cpuMs: (cpu.user + cpu.system) / 1000,
        startedAt,
        endedAt,
        requests: requests.length,
        p50: tenths(percentile(latencies, 0.5)),
        p99: tenths(percentile(latencies, 0.99)),
        max: tenths(latencies[latencies.length - 1] ?? 0),
        ...counts,
        deliveries,
      });
    };

    /** One keep-alive connection sending requests one after the other until none is left. */
    const connection = (): void => {
      if (next >= requests.length) return;
      const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
      let pending: Buffer = Buffer.alloc(0);
      let connected = false;
      let inFlight = false;
      let sentAt = 0;
      let timer: NodeJS.Timeout | undefined;

      const send = (): void => {
        if (next >= requests.length) {
          socket.end();
          return;
        }
        inFlight = true;
        sentAt = performance.now();
        timer = setTimeout(() => socket.destroy(new Error('timeout')), REQUEST_TIMEOUT_MS);
        socket.write(requests[next++]!);
      };
      const settle = (): void => {
        clearTimeout(timer);
        inFlight = false;
        settled++;
        endedAt = clock();
      };
      // A request in flight is lost with its connection (counted); what is left goes on a new connection, also when
      // the server closed an idle one. A connection that never opened (refused, the server gone) costs the next request,
      // counted as an error: the run always ends, and never spins on reconnecting.
      const closed = (): void => {
        if (inFlight) {
          settle();
          counts.errors++;
          finishIfDone();
        } else if (!connected && next < requests.length) {
          next++;
          settle();
          counts.errors++;
          finishIfDone();
        }
        connection();
      };

      socket.on('connect', () => {
        connected = true;
        send();
      });
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        const headEnd = pending.indexOf(HEADER_END);
        if (headEnd < 0) return;
        const head = readHead(pending.toString('latin1', 0, headEnd));
        if (!head) return void socket.destroy(new Error('unreadable answer'));
        const total = headEnd + HEADER_END.length + head.length;
        if (pending.length < total) return;
        if (!inFlight || pending.length > total) return void socket.destroy(new Error('an answer nobody asked for'));
        pending = Buffer.alloc(0);
        latencies.push(performance.now() - sentAt);
        if (head.status >= 200 && head.status < 300) counts.status2xx++;
        else counts.non2xx++;
        deliveries[head.delivery] = (deliveries[head.delivery] ?? 0) + 1;
        settle();
        finishIfDone();
        // The server said it closes this connection: the next request goes on a new one.
        if (head.close) socket.end();
        else send();
      });
      socket.on('error', () => undefined);
      socket.on('close', closed);
    };

    if (requests.length === 0) return finishIfDone();
    for (let i = 0; i < Math.max(1, p.connections); i++) connection();
  });
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
    run(p).then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
    );
    return;
  }
  prepared = m.prepare;
  reply({ ready: true });
});

process.on('disconnect', () => process.exit(0));
