// The reference server as a REAL process (TEST/BENCH ONLY): `node --import tsx server/src/Main.ts`, exactly what a
// supervisor runs, configured through its environment (PORT=0, DATABASE_URL, IAP_TRUSTED_ROOT, SESSION_SECRET, …).
// Used by the multi-instance and crash tests and by the benchmark: several of them on one database behave as one
// server, and kill -9 of one is a real crash (no shutdown code runs).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestPki } from './TestPki';

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'server', 'src', 'Main.ts');
const LISTENING = /IAP reference server listening on (http:\/\/\S+) \(pid (\d+)\)/;

export interface ServerProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (code, or the signal that ended it). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the process printed on stdout and stderr so far (diagnostics for a failing test). */
  output(): string;
  /** kill -9: the process dies at once, no shutdown code runs. Resolves once it is gone. */
  crash(): Promise<void>;
  /** SIGTERM (graceful shutdown); SIGKILL after `graceMs`. Resolves once it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerProcessOptions {
  /** Environment on top of the minimal one this harness sets (see serverEnv). */
  env: Record<string, string>;
  /** How long the server may take to print its listening line (default 60 s: tsx compiles on a loaded machine). */
  readyTimeoutMs?: number;
}

/**
 * The environment of a server that pins `pki`'s root and trusts the sessions of `session` (SANDBOX, app id,
 * PORT=0, a quiet log). The root PEM is written to a temporary file, as IAP_TRUSTED_ROOT wants a path.
 */
export function serverEnv(
  pki: TestPki,
  opts: { appId: string; databaseUrl: string; session?: { secret: string; issuer: string; audience: string } },
): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-process-'));
  const rootPath = path.join(dir, 'root.pem');
  fs.writeFileSync(rootPath, pki.rootPem);
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    IAP_TRUSTED_ROOT: rootPath,
    IAP_APP_ID: opts.appId,
    IAP_ENVIRONMENT: 'SANDBOX',
    DATABASE_URL: opts.databaseUrl,
    LOG_LEVEL: 'warn',
    ...(opts.session
      ? { SESSION_SECRET: opts.session.secret, SESSION_ISSUER: opts.session.issuer, SESSION_AUDIENCE: opts.session.audience }
      : { SESSION_AUTH: 'off' }),
  };
}

/** Starts `node --import tsx server/src/Main.ts` and resolves once it listens. */
export function startServerProcess(opts: ServerProcessOptions): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // Never inherit a test runner's or a parent server's settings that would change what this process is.
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const output = (): string => out;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`the server process did not listen within ${opts.readyTimeoutMs ?? 60_000} ms:\n${out}`));
    }, opts.readyTimeoutMs ?? 60_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.length > 256 * 1024) out = out.slice(-128 * 1024);
      const m = LISTENING.exec(out);
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      let stopping: Promise<void> | undefined;
      const stop = (graceMs = 15_000): Promise<void> =>
        (stopping ??= (async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(t);
        })());
      resolve({
        url: m[1]!,
        pid: Number(m[2]),
        child,
        exited,
        output,
        crash: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
        stop,
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`the server process exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}
