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
  patches: Patch[];
}

const ENGINE = 'src/main/ets/core/DeliveryEngine.ets';

export const MUTANTS: readonly Mutant[] = [
  {
    name: 'finish-before-grant',
    expect: 'premature-finish',
    patches: [{
      file: ENGINE,
      find: '    const order = new VerifiedOrder(payload, check.quantity);\n',
      replace: '    const order = new VerifiedOrder(payload, check.quantity);\n' +
        '    try { await this.store.finishPurchase(order.productType, payload.purchaseToken, id); } catch (e) { /* mutant */ }\n',
    }],
  },
  {
    name: 'no-ledger-check',
    expect: 'duplicated',
    patches: [
      { file: ENGINE, find: 'existing = await this.ledger.find(claimed.purchaseOrderId);', replace: 'existing = undefined;' },
      { file: ENGINE, find: 'existing = await this.ledger.find(id);', replace: 'existing = undefined;' },
      {
        file: ENGINE,
        find: 'if (row !== undefined && DeliveryState.isGrantedOrLater(row.state)) {',
        replace: 'if (row === undefined && row !== undefined) {',
      },
    ],
  },
  {
    name: 'skip-pagination',
    expect: 'lost',
    patches: [{ file: ENGINE, find: 'const next = page.continuationToken;', replace: 'const next: string | undefined = undefined;' }],
  },
  {
    name: 'ignore-revocation',
    expect: 'wrongly-granted',
    patches: [{ file: ENGINE, find: 'if (PurchaseDataParser.isRevoked(payload)) {', replace: 'if (payload === undefined) {' }],
  },
];

/** Per process, so concurrent runs never share a copy. */
const MUTANTS_DIR = path.join(ROOT, '.test-out', `mutants-${process.pid}`);

/** Copies common/iap and applies the mutant's patches; returns the copy's Index.ets. */
export function buildMutant(m: Mutant): string {
  const dst = path.join(MUTANTS_DIR, m.name, 'common', 'iap');
  fs.rmSync(dst, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'common', 'iap'), dst, { recursive: true });
  for (const p of m.patches) {
    const file = path.join(dst, p.file);
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes(p.find)) {
      throw new Error(`mutant ${m.name}: ${p.file} no longer contains ${JSON.stringify(p.find)}; update tools/chaos/Mutants.ts`);
    }
    fs.writeFileSync(file, text.replace(p.find, p.replace));
  }
  return path.join(dst, 'Index.ets');
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

export async function runMutants(runs: number, seed: number): Promise<MutantResult[]> {
  const out: MutantResult[] = [];
  for (const m of MUTANTS) {
    const chaos = await loadChaos(buildMutant(m));
    removeMutants();
    const summary = await chaos.runChaos({ runs, seed, noShrink: true, stopOn: m.expect });
    out.push({ mutant: m, summary, caught: summary.counters[m.expect] > 0 });
  }
  return out;
}

export function formatMutants(results: MutantResult[]): string {
  const lines = [`${'mutant'.padEnd(22)}${'expects'.padEnd(18)}${'caught after'.padEnd(14)}counters over the schedules run`];
  for (const r of results) {
    const c = r.summary.counters;
    const fired = (Object.keys(c) as ViolationKind[]).filter((k) => c[k] > 0).map((k) => `${k} ${c[k]}`).join(', ') || 'none';
    const when = r.summary.failure ? `${r.summary.runs} run(s)` : 'NOT CAUGHT';
    lines.push(`${r.mutant.name.padEnd(22)}${r.mutant.expect.padEnd(18)}${when.padEnd(14)}${fired}`);
  }
  return lines.join('\n');
}
