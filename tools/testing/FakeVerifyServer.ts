/**
 * FakeVerifyServer — a scripted stand-in for the app server's `POST /v1/purchases/verify` (TEST ONLY), so the
 * RemoteVerifier suites exercise the real http kit adapter against a real socket on 127.0.0.1.
 *
 *   const server = await startFakeVerifyServer();
 *   server.reply(422, '{"status":"rejected","reason":"bad-signature","detail":"…"}');   // next answer
 *   const verifier = new RemoteVerifier(new RemoteVerifierConfig(server.baseUrl));
 *   …; server.lastRequestBody(); await server.close();
 *
 * Answers are consumed in the order they were queued; with none queued the server answers 500. Each request is
 * recorded (method, path, headers, body). Imported by .ets suites as 'types/testing/FakeVerifyServer' (a relative import) (declared in
 * types/testing/FakeVerifyServer.d.ts).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

interface ScriptedAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
  delayMs: number;
  hangUp: boolean;
  /** > 0: the body is sent in this many chunks (chunked transfer encoding), `chunkIntervalMs` apart. */
  chunks?: number;
  chunkIntervalMs?: number;
}

interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeVerifyServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly baseUrl: string;
  /** Queues an answer with a JSON content type. */
  reply(status: number, body: string): void;
  /** Queues an answer carrying a Retry-After header. */
  replyWithRetryAfter(status: number, body: string, retryAfter: string): void;
  /** Queues an answer sent only after `delayMs`. */
  replySlowly(delayMs: number, status: number, body: string): void;
  /** Queues a connection closed without any answer. */
  hangUp(): void;
  /** Queues an answer carrying one extra response header (e.g. a redirect's `location`). */
  replyWithHeader(status: number, body: string, name: string, value: string): void;
  /** Queues an answer whose body trickles in `chunks` chunked-encoding pieces, `intervalMs` apart. */
  replyTrickle(status: number, body: string, chunks: number, intervalMs: number): void;
  requestCount(): number;
  lastRequestMethod(): string;
  lastRequestPath(): string;
  lastRequestBody(): string;
  /** A header of the last request by (case-insensitive) name; '' when absent. */
  lastRequestHeader(name: string): string;
  /** Stops listening and drops open connections; the URL then refuses connections. */
  close(): Promise<void>;
}

class FakeVerifyServerImpl implements FakeVerifyServer {
  readonly baseUrl: string;
  private readonly answers: ScriptedAnswer[] = [];
  private readonly requests: RecordedRequest[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly server: http.Server) {
    const address = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${address.port}`;
    server.on('request', (req, res) => this.handle(req, res));
  }

  reply(status: number, body: string): void {
    this.answers.push({ status, body, headers: {}, delayMs: 0, hangUp: false });
  }

  replyWithRetryAfter(status: number, body: string, retryAfter: string): void {
    this.answers.push({ status, body, headers: { 'retry-after': retryAfter }, delayMs: 0, hangUp: false });
  }

  replySlowly(delayMs: number, status: number, body: string): void {
    this.answers.push({ status, body, headers: {}, delayMs, hangUp: false });
  }

  hangUp(): void {
    this.answers.push({ status: 0, body: '', headers: {}, delayMs: 0, hangUp: true });
  }

  replyWithHeader(status: number, body: string, name: string, value: string): void {
    this.answers.push({ status, body, headers: { [name.toLowerCase()]: value }, delayMs: 0, hangUp: false });
  }

  replyTrickle(status: number, body: string, chunks: number, intervalMs: number): void {
    this.answers.push({ status, body, headers: {}, delayMs: 0, hangUp: false, chunks, chunkIntervalMs: intervalMs });
  }

  requestCount(): number {
    return this.requests.length;
  }

  lastRequestMethod(): string {
    return this.last()?.method ?? '';
  }

  lastRequestPath(): string {
    return this.last()?.path ?? '';
  }

  lastRequestBody(): string {
    return this.last()?.body ?? '';
  }

  lastRequestHeader(name: string): string {
    const value = this.last()?.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value ?? '';
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private last(): RecordedRequest | undefined {
    return this.requests[this.requests.length - 1];
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = this.answers.shift() ?? { status: 500, body: '{"status":"error"}', headers: {}, delayMs: 0, hangUp: false };
      if (answer.hangUp) {
        req.socket.destroy();
        return;
      }
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        const chunks = answer.chunks ?? 0;
        if (chunks <= 0) {
          res.end(answer.body);
          return;
        }
        const size = Math.ceil(answer.body.length / chunks);
        let offset = 0;
        const next = (): void => {
          if (res.destroyed) return;
          res.write(answer.body.slice(offset, offset + size));
          offset += size;
          if (offset >= answer.body.length) {
            res.end();
            return;
          }
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            next();
          }, answer.chunkIntervalMs ?? 0);
          this.timers.add(timer);
        };
        next();
      };
      if (answer.delayMs > 0) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          send();
        }, answer.delayMs);
        this.timers.add(timer);
      } else {
        send();
      }
    });
  }
}

export async function startFakeVerifyServer(): Promise<FakeVerifyServer> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return new FakeVerifyServerImpl(server);
}
