// `npm run demo` as a test: the demo runs as a child process exactly as a newcomer runs it, and must end with the
// clean tally and exit 0; without the recovery loop it must detect the lost orders and exit 1. The verdict logic
// (Tally.ts) is tested on its own as well, so a detector that cannot fail would be caught here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../check/EtsProject';
import { parseArgs } from './Demo';
import { computeTally, findLeaks, tallyLine, type OrderFacts, type WalletFacts } from './Tally';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('tools', 'demo', 'Demo.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo', () => {
  it('recovers every paid order after both kills: exit 0 and the clean tally', { timeout: 120_000 }, async () => {
    const run = await runDemo([]);
    assert.equal(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /^Tally: paid 7, delivered 7, finished 7, duplicated 0, lost 0$/m);
    assert.match(run.stdout, /^OK: every paid order was delivered exactly once/m);
    // The story really happened: two kills, three launches, a finish without a second grant, the lost answer.
    assert.equal(run.stdout.match(/✖ KILLED/g)?.length, 3, run.stdout);
    // A renewal lost to a crash (granted, killed before finishPurchase) is only finished at the next launch, so the
    // next period is charged, never blocked.
    assert.match(run.stdout, /app#5 +✖ KILLED — the renewal's grant is committed/);
    assert.match(run.stdout, /app#6 +#[0-9a-f]{6}: the ledger row says "granted" .* no second grant/);
    // Every period of it, the crashed renewal included, was verified and recorded by the app server (once each).
    assert.equal(run.stdout.match(/server +#[0-9a-f]{6} gem_club_monthly: signature and chain OK, first presentation/g)?.length, 3, run.stdout);
    assert.match(run.stdout, /^ {2}#[0-9a-f]{6} +gem_club_monthly ¥12\.00 +paid, finished +1 +finished +1$/m);
    assert.doesNotMatch(run.stdout, /verified on the device/);
    assert.equal(run.stdout.match(/store +the period of gem_club_monthly ends: renewal charged/g)?.length, 2, run.stdout);
    assert.doesNotMatch(run.stdout, /CANNOT be charged/);
    assert.match(run.stdout, /app#6 +subscription gem_club_monthly: active, access yes/);
    assert.match(run.stdout, /app#3 +app starts again: a NEW engine over the SAME ledger file/);
    assert.match(run.stdout, /app#2 +queryPurchases\(consumable, UNFINISHED\) → #[0-9a-f]{6}/);
    assert.match(run.stdout, /app#3 +#[0-9a-f]{6}: the ledger row says "granted" .* no second grant/);
    assert.match(run.stdout, /but the answer is lost: the app gets SYSTEM_ERROR/);
    assert.match(run.stdout, /wallet: 2750 gems \(the paid orders are worth 2750\); owns remove_ads/);
    // Timeline lines carry a relative timestamp and an actor.
    assert.match(run.stdout, /^ {2}\+ +\d+\.\d{3}s +store +createPurchase gems_100 → order #[0-9a-f]{6} PAID/m);
    assert.match(run.stdout, /no purchase token or JWS in the output, the device log or the server log/);
    // Sweeps count distinct orders: launch 3 lists remove_ads under UNFINISHED and CURRENT_ENTITLEMENT, one order.
    assert.match(run.stdout, /app#3 +launch sweep done: 1 order listed, 0 delivered now, 1 granted before the crash, only finished now$/m);
    assert.match(run.stdout, /app#2 +launch sweep done: 1 order listed, 1 delivered now$/m);
    // The lost answer: the sweep it triggers lists gems_1200 (UNFINISHED) and remove_ads (CURRENT_ENTITLEMENT).
    assert.match(run.stdout, /purchase\(gems_1200\) → recovered \(the store answered 1001860001, so the engine swept .* 2 orders listed, 1 delivered now\)$/m);
    // The engine's word "completed" is said in plain words.
    assert.doesNotMatch(run.stdout, /completed/);
    // The last lines: the tally, then the verdict.
    const tail = run.stdout.trimEnd().split('\n').slice(-2);
    assert.match(tail[0] as string, /^Tally: /);
    assert.match(tail[1] as string, /^OK: /);
  });

  it('without the recovery loop it reports the lost orders and exits 1', { timeout: 120_000 }, async () => {
    const run = await runDemo(['--without-recovery']);
    assert.equal(run.code, 1, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    // Whether the granted-but-unfinished remove_ads is finished depends on the engine resuming finishes from its own
    // ledger at start (it does, without querying the store); the two orders only a sweep can find stay lost.
    assert.match(run.stdout, /^Tally: paid 6, delivered 3, finished [23], duplicated 0, lost 3$/m);
    assert.equal(run.stdout.match(/^ {2}- LOST: order #[0-9a-f]{6} \(gems_(550|1200)\)/gm)?.length, 2, run.stdout);
    // An app without the recovery loop never sweeps, and the output does not pretend it does.
    assert.doesNotMatch(run.stdout, /recovered|swept|launch sweep|sweep done/, run.stdout);
    assert.equal(run.stdout.match(/at launch: no sweep, the store is not asked \(this app has no recovery loop\)/g)?.length, 6);
    // Nothing finishes the renewal: the next one cannot be charged.
    assert.match(run.stdout, /^ {2}- LOST: order #[0-9a-f]{6} \(gem_club_monthly\)/m);
    assert.match(run.stdout, /the renewal CANNOT be charged: order #[0-9a-f]{6} is still unfinished \(expirationIntent 7\)/);
    assert.match(run.stdout, /purchase\(gems_1200\) → no result: the store answered 1001860001 and this app has no recovery loop/);
    assert.match(run.stdout, /on restore: no sweep/);
    assert.match(run.stdout, /^Tally: .*\nFAILED: \d+ problem\(s\)$/m);
  });

  it('rejects unknown options', () => {
    assert.match(String(parseArgs(['--frobnicate'])), /unknown option --frobnicate/);
    assert.deepEqual(parseArgs(['--verbose', '--keep']), { recovery: true, verbose: true, keep: true });
  });
});

describe('the demo tally', () => {
  const order = (over: Partial<OrderFacts>): OrderFacts => ({
    purchaseOrderId: '20250601120000000001abcdef',
    productId: 'gems_100',
    quantity: 1,
    paid: true,
    finishedAtStore: true,
    ledgerState: 'finished',
    deviceGrants: 1,
    serverGrants: 1,
    gems: 100,
    entitlement: false,
    ...over,
  });
  const wallet = (gems: number, entitlements: string[] = []): WalletFacts => ({ gems, entitlements });

  it('is clean when every paid order was granted once, finished, and the wallet matches', () => {
    const t = computeTally([order({}), order({ purchaseOrderId: 'x2', productId: 'remove_ads', gems: 0, entitlement: true })], wallet(100, ['remove_ads']));
    assert.deepEqual(t.problems, []);
    assert.equal(tallyLine(t), 'Tally: paid 2, delivered 2, finished 2, duplicated 0, lost 0');
  });

  it('counts a paid order without a grant as lost', () => {
    const t = computeTally([order({ deviceGrants: 0, serverGrants: 0, ledgerState: undefined, finishedAtStore: false })], wallet(0));
    assert.equal(t.lost, 1);
    assert.equal(t.delivered, 0);
    assert.match(t.problems.join('\n'), /LOST: order #abcdef \(gems_100\)/);
    assert.match(t.problems.join('\n'), /wallet holds 0 gems; the paid orders are worth 100/);
  });

  it('counts a second grant on the device or at the server as duplicated', () => {
    assert.equal(computeTally([order({ deviceGrants: 2 })], wallet(100)).duplicated, 1);
    assert.equal(computeTally([order({ serverGrants: 2 })], wallet(100)).duplicated, 1);
  });

  it('reports a delivered but unfinished order, an unowned entitlement and a grant of an unpaid order', () => {
    const unfinished = computeTally([order({ finishedAtStore: false, ledgerState: 'granted' })], wallet(100));
    assert.equal(unfinished.unfinished, 1);
    assert.equal(unfinished.finished, 0);
    assert.notEqual(unfinished.problems.length, 0);
    const unowned = computeTally([order({ productId: 'remove_ads', gems: 0, entitlement: true })], wallet(0));
    assert.match(unowned.problems.join('\n'), /remove_ads was delivered but is not owned/);
    const unpaid = computeTally([order({ paid: false })], wallet(0));
    assert.match(unpaid.problems.join('\n'), /granted although it is not paid/);
  });

  it('finds purchase tokens and JWS in output lines', () => {
    const token = '00000abc.' + 'Z'.repeat(40);
    const jws = 'eyJhbGciOiJFUzI1NiJ9.eyJwdXJjaGFzZU9yZGVySWQiOiIxIn0.c2ln';
    const leaks = findLeaks([{ name: 'out', lines: ['fine', `token=${token}`, `jws ${jws}`] }], [token]);
    assert.deepEqual(leaks, ['out line 2 contains a purchase token', 'out line 3 contains a JWS']);
    assert.deepEqual(findLeaks([{ name: 'out', lines: ['order #abcdef finished'] }], [token]), []);
    const t = computeTally([order({})], wallet(100), leaks);
    assert.equal(t.problems.filter((p) => p.startsWith('LEAK')).length, 2);
  });
});
