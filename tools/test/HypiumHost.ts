// Hosts real hypium suites in Node: an AbilityDelegator-like object that hypium reports through, turned into
// one readable line per test and a machine-readable summary line for the runner.
import * as hypium from '@ohos/hypium';

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

function field(message: string, key: string): string | undefined {
  const m = new RegExp(`OHOS_REPORT_STATUS: ${key}=(.*)`).exec(message);
  return m ? m[1].trim() : undefined;
}

export function runHypium(testsuite: () => void, label: string, timeoutMs: number): void {
  const quiet = (): void => undefined;
  console.info = quiet;
  console.debug = quiet;
  const write = (message: string): void => {
    const code = /OHOS_REPORT_STATUS_CODE: (-?\d+)/.exec(message);
    if (!code || code[1] === '1') return;
    const cls = field(message, 'class') ?? '?';
    const test = field(message, 'test') ?? '?';
    const ms = field(message, 'consuming') ?? '?';
    if (code[1] === '0') {
      process.stdout.write(`  ok   ${label} › ${cls} › ${test} (${ms} ms)\n`);
    } else {
      const stack = field(message, 'stack') ?? '';
      process.stdout.write(`  FAIL ${label} › ${cls} › ${test} (${ms} ms)\n       ${stack}\n`);
    }
  };
  const delegator = {
    printSync: write,
    print: async (message: string): Promise<void> => write(message),
    finishTest: (_msg: string, _code: number, cb?: () => void): void => {
      const summary = Core.getInstance().getDefaultService('suite').getSummary();
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
