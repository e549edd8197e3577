// Proof that the chaos harness catches real bugs: builds deliberately broken copies of the engine (never touching
// common/iap itself) and runs the chaos schedules against each; every mutant must be caught by its counter.
//
//   npm run chaos -- --mutants [--runs N] [--seed S]
//
// Each mutant is a textual patch of a COPY of common/iap under .test-out/mutants-<pid>/. When the engine is
// refactored and an anchor is no longer found, the mutant reports it instead of silently testing nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import { loadChaos } from './ChaosBundle';
import { remoteServerFactory } from './ChaosServer';
import type { ChaosSummary } from './ChaosRunner';
import type { ViolationKind } from './Invariants';

interface Patch {
  file: string;
  find: string;
  replace: string;
}

export interface Mutant {
  name: string;
  /** The counter that must fire. */
  expect: ViolationKind;
  /**
   * What is patched: a copy of common/iap (default), or a copy of server/src, run by remote-verifier schedules (the
   * device verifies through RemoteVerifier against that server, ChaosServer.ts) over the real engine.
   */
  target?: 'engine' | 'server';
  /** Run subscription schedules (`--subscriptions`): the mutant breaks subscription handling. */
  subscriptions?: boolean;
  patches: Patch[];
}

const ENGINE = 'src/main/ets/core/DeliveryEngine.ets';
const PIPELINE = 'src/main/ets/core/engine/OrderPipeline.ets';
const SWEEP = 'src/main/ets/core/engine/StoreSweep.ets';
const RETRIES = 'src/main/ets/core/engine/RetryScheduler.ets';
const DEADLINE = 'src/main/ets/core/engine/CallDeadline.ets';

/** Liveness patches, combined below. */
const NO_RETRY_TIMER: Patch = {
  file: RETRIES,
  find: '  async schedule(sweepFailure: Failure | undefined): Promise<void> {\n',
  replace: '  async schedule(sweepFailure: Failure | undefined): Promise<void> {\n    return;\n',
};
const NO_FOREGROUND: Patch = {
  file: ENGINE,
  find: '  onForeground(): Promise<SweepReport | undefined> {\n',
  replace: '  onForeground(): Promise<SweepReport | undefined> {\n    return Promise.resolve(undefined);\n',
};
const NO_PURCHASE_ERROR_SWEEP: Patch[] = [
  { file: ENGINE, find: '        core.markUnconfirmedPurchase();\n        await core.refreshCounts();\n', replace: '' },
  {
    file: ENGINE,
    find: 'const report = await this.recover(SweepTrigger.PURCHASE_ERROR);',
    replace: 'const report = new SweepReport(SweepTrigger.PURCHASE_ERROR, core.clock.now());',
  },
];

export const MUTANTS: readonly Mutant[] = [
  {
    name: 'finish-before-grant',
    expect: 'premature-finish',
    patches: [{
      file: PIPELINE,
      find: '    const order = new VerifiedOrder(payload, check.quantity);\n',
      replace: '    const order = new VerifiedOrder(payload, check.quantity);\n' +
        '    try { await this.store.finishPurchase(order.productType, payload.purchaseToken, id); } catch (e) { /* mutant */ }\n',
    }],
  },
  {
    name: 'no-ledger-check',
    expect: 'duplicated',
    patches: [
      { file: PIPELINE, find: 'existing = await this.ledger.find(claimed.purchaseOrderId);', replace: 'existing = undefined;' },
      { file: PIPELINE, find: 'existing = await this.ledger.find(id);', replace: 'existing = undefined;' },
      {
        file: PIPELINE,
        find: 'if (row !== undefined && DeliveryState.isGrantedOrLater(row.state)) {',
        replace: 'if (row === undefined && row !== undefined) {',
      },
    ],
  },
  {
    name: 'skip-pagination',
    expect: 'lost',
    patches: [{ file: SWEEP, find: 'const next = page.continuationToken;', replace: 'const next: string | undefined = undefined;' }],
  },
  {
    name: 'ignore-revocation',
    expect: 'wrongly-granted',
    patches: [{ file: PIPELINE, find: 'if (PurchaseDataParser.isRevoked(payload)) {', replace: 'if (payload === undefined) {' }],
  },
  // Liveness: engines that are safe after a relaunch but leave a paid order waiting while the app keeps running.
  { name: 'launch-only', expect: 'late', patches: [NO_RETRY_TIMER, NO_FOREGROUND, ...NO_PURCHASE_ERROR_SWEEP] },
  { name: 'no-retry-timer', expect: 'late', patches: [NO_RETRY_TIMER] },
  { name: 'no-foreground-trigger', expect: 'late', patches: [NO_FOREGROUND] },
  { name: 'no-purchase-error-sweep', expect: 'late', patches: NO_PURCHASE_ERROR_SWEEP },
  {
    name: 'no-call-timeout',
    expect: 'stuck',
    patches: [{ file: DEADLINE, find: 'return await Promise.race<T>([work, expired]);', replace: 'expired.catch((): void => undefined);\n      return await work;' }],
  },
  {
    name: 'wall-clock-throttle',
    expect: 'late',
    patches: [
      {
        file: ENGINE,
        find: 'const sinceLast = this.core.clock.monotonicMs() - this.lastPassStartedMono;',
        replace: 'const sinceLast = this.core.clock.now() - (this as unknown as { wallStart: number }).wallStart;',
      },
      {
        file: ENGINE,
        find: '    this.lastPassStartedMono = startedMono;\n',
        replace: '    this.lastPassStartedMono = startedMono;\n    (this as unknown as { wallStart: number }).wallStart = core.clock.now();\n',
      },
    ],
  },
  {
    // A refunded order whose product the new app version dropped is rejected before its refund is looked at.
    name: 'catalog-before-revocation',
    expect: 'wrongly-granted',
    patches: [{
      file: PIPELINE,
      find: '    if (PurchaseDataParser.isRevoked(payload)) {\n',
      replace: '    const early = this.checkPayload(payload);\n    if (early.reason.length > 0) {\n' +
        '      return this.reject(existing, claimed, payload, early.reason, early.detail, now);\n    }\n' +
        '    if (PurchaseDataParser.isRevoked(payload)) {\n',
    }],
  },
  {
    // The old server: confirms (finishes at the store) every order its ledger records, although the device grants.
    name: 'server-confirms-on-verify',
    expect: 'premature-finish',
    target: 'server',
    patches: [
      {
        file: 'App.ts',
        find: '  if (config.confirm !== undefined && config.hooks?.grant === undefined) {\n',
        replace: '  if (config.confirm !== undefined && config.hooks?.grant === undefined && config.confirm === undefined) {\n',
      },
      {
        file: 'App.ts',
        find: 'confirmer: config.hooks?.grant !== undefined ? config.confirm : undefined,',
        replace: 'confirmer: config.confirm,',
      },
    ],
  },
  {
    name: 'no-renewal-sweep',
    expect: 'late',
    subscriptions: true,
    patches: [{ file: ENGINE, find: '  private armRenewalCheck(): void {\n', replace: '  private armRenewalCheck(): void {\n    return;\n' }],
  },
  {
    name: 'no-billing-retry-poll',
    expect: 'late',
    subscriptions: true,
    patches: [{
      file: ENGINE,
      find: '    if (e.awaitsChargeAt(now)) {\n      return now + pollMs;\n    }\n',
      replace: '',
    }],
  },
  {
    name: 'access-ignores-revocation',
    expect: 'wrongly-granted',
    subscriptions: true,
    patches: [{
      file: 'src/main/ets/core/SubscriptionEntitlement.ets',
      find: '    if (this.status === SubscriptionStatusCode.REVOKED) {\n      return SubscriptionPhase.REVOKED;\n    }\n',
      replace: '',
    }, {
      file: PIPELINE,
      find: '      lapsed.status = SubscriptionStatusCode.EXPIRED;\n',
      replace: '',
    }],
  },
];

/** Per process, so concurrent runs never share a copy. */
const MUTANTS_DIR = path.join(ROOT, '.test-out', `mutants-${process.pid}`);

/**
 * Copies common/iap (or server/src) and applies the mutant's patches; returns the copy's Index.ets (or the copy of
 * server/src, whose imports of node_modules still resolve from the repository root above .test-out/).
 */
export function buildMutant(m: Mutant): string {
  const server = m.target === 'server';
  const dst = path.join(MUTANTS_DIR, m.name, ...(server ? ['server', 'src'] : ['common', 'iap']));
  fs.rmSync(dst, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, ...(server ? ['server', 'src'] : ['common', 'iap'])), dst, { recursive: true });
  // server/src imports the test PKI from ../../tools/testing: the copy sees the real tools beside it.
  const tools = path.join(MUTANTS_DIR, m.name, 'tools');
  if (server && !fs.existsSync(tools)) fs.symlinkSync(path.join(ROOT, 'tools'), tools, 'dir');
  for (const p of m.patches) {
    const file = path.join(dst, p.file);
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes(p.find)) {
      throw new Error(`mutant ${m.name}: ${p.file} no longer contains ${JSON.stringify(p.find)}; update tools/chaos/Mutants.ts`);
    }
    fs.writeFileSync(file, text.replace(p.find, p.replace));
  }
  return server ? dst : path.join(dst, 'Index.ets');
}

/** Deletes the copies (a loaded bundle no longer needs them). */
export function removeMutants(): void {
  fs.rmSync(MUTANTS_DIR, { recursive: true, force: true });
}

export interface MutantResult {
  mutant: Mutant;
  summary: ChaosSummary;
  caught: boolean;
}

/** Remote-verifier schedules are real HTTP round trips: a server mutant runs at most this many. */
export const REMOTE_RUNS = 40;

export async function runMutants(runs: number, seed: number, names?: readonly string[]): Promise<MutantResult[]> {
  const out: MutantResult[] = [];
  for (const m of names === undefined ? MUTANTS : MUTANTS.filter((x) => names.includes(x.name))) {
    if (m.target === 'server') {
      // The real engine, against the broken server (imported from the copy at the first schedule).
      const chaos = await loadChaos();
      try {
        const remote = remoteServerFactory(buildMutant(m));
        const summary = await chaos.runChaos({ runs: Math.min(runs, REMOTE_RUNS), seed, noShrink: true, stopOn: m.expect, remote });
        out.push({ mutant: m, summary, caught: summary.counters[m.expect] > 0 });
      } finally {
        removeMutants();
      }
      continue;
    }
    const chaos = await loadChaos(buildMutant(m));
    removeMutants();
    const summary = await chaos.runChaos({ runs, seed, noShrink: true, stopOn: m.expect, subscriptions: m.subscriptions === true });
    out.push({ mutant: m, summary, caught: summary.counters[m.expect] > 0 });
  }
  return out;
}

export function formatMutants(results: MutantResult[]): string {
  const lines = [`${'mutant'.padEnd(27)}${'expects'.padEnd(18)}${'caught after'.padEnd(14)}counters over the schedules run`];
  for (const r of results) {
    const c = r.summary.counters;
    const fired = (Object.keys(c) as ViolationKind[]).filter((k) => c[k] > 0).map((k) => `${k} ${c[k]}`).join(', ') || 'none';
    const when = r.summary.failure ? `${r.summary.runs} run(s)` : 'NOT CAUGHT';
    lines.push(`${r.mutant.name.padEnd(27)}${r.mutant.expect.padEnd(18)}${when.padEnd(14)}${fired}`);
  }
  return lines.join('\n');
}
