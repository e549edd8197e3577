// Hosts real hypium suites in Node: an AbilityDelegator-like object that hypium reports through, turned into
// one readable line per test and a machine-readable summary line for the runner.
//
// What the code under test logs (hilog lines, console output) is held back per test: a passing test's lines are
// dropped and only counted, since the expected error lines of a test that provokes a rejection read like failures;
// a failing test prints them under its FAIL line. HYPIUM_LOG=all prints every line as it comes.
import * as hypium from '@ohos/hypium';
import { format } from 'node:util';

// hypium exports Core at runtime but not in its typings.
interface HypiumCore {
  getInstance(): { getDefaultService(name: 'suite'): { getSummary(): Summary } };
}
const Core = (hypium as unknown as { Core: HypiumCore }).Core;
const Hypium = hypium.Hypium;

interface Summary {
  total: number;
  pass: number;
  failure: number;
  error: number;
  ignore: number;
}

export const SUMMARY_PREFIX = 'HYPIUM_SUMMARY ';

/** The log lines of the test that is running: shown if it fails, dropped (counted) if it passes. */
export class TestLogBuffer {
  private lines: string[] = [];
  /** Lines of passing tests that were not shown. */
  hidden: number = 0;

  constructor(private readonly live: boolean) {}

  /** A line the code under test logged; returns it when it is to be printed now (live mode). */
  add(line: string): string | undefined {
    if (this.live) return line;
    this.lines.push(line);
    return undefined;
  }

  /** The test passed: its lines are dropped. */
  passed(): void {
    this.hidden += this.lines.length;
    this.lines = [];
  }

  /** The test failed: its lines, to print under the FAIL line. */
  failed(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }
}

function field(message: string, key: string): string | undefined {
  const m = new RegExp(`OHOS_REPORT_STATUS: ${key}=(.*)`).exec(message);
  return m ? m[1].trim() : undefined;
}

export function runHypium(testsuite: () => void, label: string, timeoutMs: number): void {
  const quiet = (): void => undefined;
  console.info = quiet;
  console.debug = quiet;
  const logs = new TestLogBuffer(process.env.HYPIUM_LOG === 'all');
  const capture = (...args: unknown[]): void => {
    for (const line of format(...args).split('\n')) {
      const now = logs.add(line);
      if (now !== undefined) process.stdout.write(`${now}\n`);
    }
  };
  console.log = capture;
  console.warn = capture;
  console.error = capture;
  const write = (message: string): void => {
    const code = /OHOS_REPORT_STATUS_CODE: (-?\d+)/.exec(message);
    if (!code || code[1] === '1') return;
    const cls = field(message, 'class') ?? '?';
    const test = field(message, 'test') ?? '?';
    const ms = field(message, 'consuming') ?? '?';
    if (code[1] === '0') {
      logs.passed();
      process.stdout.write(`  ok   ${label} › ${cls} › ${test} (${ms} ms)\n`);
    } else {
      const stack = field(message, 'stack') ?? '';
      process.stdout.write(`  FAIL ${label} › ${cls} › ${test} (${ms} ms)\n       ${stack}\n`);
      const lines = logs.failed();
      if (lines.length > 0) {
        process.stdout.write(`       its log (${lines.length} line${lines.length === 1 ? '' : 's'}):\n`);
        for (const line of lines) process.stdout.write(`       | ${line}\n`);
      }
    }
  };
  const delegator = {
    printSync: write,
    print: async (message: string): Promise<void> => write(message),
    finishTest: (_msg: string, _code: number, cb?: () => void): void => {
      const summary = Core.getInstance().getDefaultService('suite').getSummary();
      // Lines logged after the last test (an afterAll hook) belong to no test: shown if anything failed.
      const rest = logs.failed();
      if (summary.failure + summary.error > 0) for (const line of rest) process.stdout.write(`       | ${line}\n`);
      else logs.hidden += rest.length;
      if (logs.hidden > 0) {
        process.stdout.write(`  ${label}: ${logs.hidden} log line(s) of passing tests not shown (HYPIUM_LOG=all shows them)\n`);
      }
      process.stdout.write(`${SUMMARY_PREFIX}${JSON.stringify(summary)}\n`);
      if (cb) cb();
      // Open handles (servers, timers) left by a suite must not keep the run alive.
      setImmediate(() => process.exit(summary.failure + summary.error > 0 ? 1 : 0));
    },
  };
  process.on('unhandledRejection', (reason) => {
    process.stdout.write(`  unhandled rejection in ${label}: ${String((reason as Error)?.stack ?? reason)}\n`);
  });
  Hypium.hypiumTest(delegator, { bundleName: 'com.example.zerolost.store', parameters: { '-s timeout': String(timeoutMs) } }, testsuite);
}
