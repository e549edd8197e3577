// ArkTS-facing declaration of tools/testing/FakeVerifyServer.ts (Node-only test support, imported by .ets suites
// as 'types/testing/FakeVerifyServer' (a relative import)): a scripted app server for `POST /v1/purchases/verify` on 127.0.0.1.

export interface FakeVerifyServer {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly baseUrl: string;
  /** Queues an answer (JSON content type); answers are consumed in order, 500 when none is queued. */
  reply(status: number, body: string): void;
  /** Queues an answer carrying a Retry-After header. */
  replyWithRetryAfter(status: number, body: string, retryAfter: string): void;
  /** Queues an answer sent only after delayMs. */
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
  /** A header of the last request by case-insensitive name; '' when absent. */
  lastRequestHeader(name: string): string;
  /** Stops listening and drops open connections; the URL then refuses connections. */
  close(): Promise<void>;
}

export declare function startFakeVerifyServer(): Promise<FakeVerifyServer>;
