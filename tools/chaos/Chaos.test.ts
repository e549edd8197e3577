// `npm test` runs a fixed-seed batch of chaos schedules against the real engine (every counter must stay 0), checks
// that the harness is able to fail (each deliberately broken engine is caught by its counter), and that the CLI
// explains itself and refuses bad arguments in one line with exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../check/EtsProject';
// Only the bundle may load ChaosRunner (it imports the .ets engine); type imports are fine.
import { parseArgs } from './Chaos';
import { loadChaos } from './ChaosBundle';
import { DEFECT_SCHEDULES } from './DefectSchedules';
import { remoteServerFactory } from './ChaosServer';
import type { RemoteServerFactory } from './ChaosWorld';
import { MUTANTS, REMOTE_RUNS, buildMutant, removeMutants, runMutants } from './Mutants';

const SEED = 4242;
const RUNS = 200;

test(`${RUNS} chaos schedules (seed ${SEED}): nothing lost, duplicated, finished early, wrongly granted, late or stuck`, { timeout: 240_000 }, async () => {
  const chaos = await loadChaos();
  const summary = await chaos.runChaos({ runs: RUNS, seed: SEED });
  const report = chaos.formatSummary(summary, SEED);
  assert.equal(summary.failure, undefined, report);
  assert.equal(summary.runs, RUNS);
  assert.deepEqual(
    summary.counters,
    { lost: 0, duplicated: 0, 'premature-finish': 0, 'wrongly-granted': 0, late: 0, stuck: 0 },
    report,
  );
  assert.ok(summary.orders > RUNS, `schedules bought something (${summary.orders} orders)`);
  for (const row of summary.rows) assert.ok(row.injected > 0, `fault ${row.fault} fired at least once`);
  assert.match(
    chaos.finalLine(summary),
    /^chaos: runs 200, orders \d+, lost 0, duplicated 0, premature-finish 0, wrongly-granted 0, late 0, stuck 0$/,
  );
});

const SUBSCRIPTION_RUNS = 20;

test(`${SUBSCRIPTION_RUNS} chaos schedules with subscriptions (seed ${SEED}): renewals granted once and finished, never blocked, access only while in effect`, { timeout: 240_000 }, async () => {
  const chaos = await loadChaos();
  const summary = await chaos.runChaos({ runs: SUBSCRIPTION_RUNS, seed: SEED, subscriptions: true });
  const report = chaos.formatSummary(summary, SEED, '--subscriptions');
  assert.equal(summary.failure, undefined, report);
  assert.equal(chaos.violationCount(summary), 0, report);
  assert.ok(summary.orders > SUBSCRIPTION_RUNS, `schedules bought something (${summary.orders} orders)`);
});

test('each deliberately broken engine is caught by its counter', { timeout: 240_000 }, async () => {
  const results = await runMutants(RUNS, SEED);
  assert.equal(results.length, MUTANTS.length);
  for (const r of results) {
    assert.ok(r.summary.failure, `mutant ${r.mutant.name} survived ${r.summary.runs} schedules`);
    assert.ok(r.caught, `mutant ${r.mutant.name}: expected ${r.mutant.expect}, got ${JSON.stringify(r.summary.counters)}`);
  }
});

test(`${REMOTE_RUNS} remote-verifier schedules (seed ${SEED}) against the real reference server: every counter 0, confirm refused`, { timeout: 120_000 }, async () => {
  const chaos = await loadChaos();
  const real = remoteServerFactory();
  const confirming: boolean[] = [];
  const remote: RemoteServerFactory = async (setup) => {
    const server = await real(setup);
    confirming.push(server.confirming);
    return server;
  };
  const summary = await chaos.runChaos({ runs: REMOTE_RUNS, seed: SEED, remote });
  const report = chaos.formatSummary(summary, SEED);
  assert.equal(summary.failure, undefined, report);
  assert.equal(chaos.violationCount(summary), 0, report);
  // The device grants, so the shipped server refuses server-side confirm and never finishes an order itself.
  assert.ok(confirming.length >= REMOTE_RUNS && confirming.every((c) => !c), `server accepted confirm: ${JSON.stringify(confirming)}`);
  assert.ok((summary.rows.find((r) => r.fault === 'verdict-lost')?.injected ?? 0) > 0, 'a verdict was lost after the server committed');
  // Payments that stay pending (the server's not-paid verdict) are part of the family.
  assert.ok((summary.rows.find((r) => r.fault === 'pending-payment')?.injected ?? 0) > 0, 'a payment stayed pending');
  // The process dies right after the server's answer (the server has recorded the order; the device has not granted).
  const crash = await chaos.runOne({
    seed: 7,
    pageSize: 1,
    steps: [
      { kind: 'crash', point: 'after-verify', nth: 1 },
      { kind: 'buy', product: 'gems_100', quantity: 1, overlap: false },
      { kind: 'verdict-lost', count: 1 },
      { kind: 'buy', product: 'remove_ads', quantity: 1, overlap: false },
    ],
  }, undefined, remote);
  assert.deepEqual(crash.violations, [], crash.trace.join('\n'));
  assert.ok(crash.trace.some((l) => l.includes('after-verify')), crash.trace.join('\n'));
});

test('a failure chaos prints (subscriptions, a broken engine) is replayed by its --seed and --path', { timeout: 120_000 }, async () => {
  const mutant = MUTANTS.find((m) => m.name === 'no-renewal-sweep');
  assert.ok(mutant);
  const chaos = await loadChaos(buildMutant(mutant));
  removeMutants();
  const first = await chaos.runChaos({ runs: 60, seed: 5, subscriptions: true });
  const failure = first.failure;
  assert.ok(failure, 'the broken engine is caught');
  // The path counts the defect schedules that ran first; the replay must walk the same sequence.
  const replay = await chaos.runChaos({ runs: first.runs, seed: failure.seed, path: failure.path, subscriptions: true });
  assert.ok(replay.failure, `--path ${failure.path} replays the failure:\n${chaos.formatSummary(replay, failure.seed)}`);
  assert.deepEqual(replay.failure.schedule, failure.schedule);
  assert.deepEqual(replay.failure.violations.map((v) => v.kind), failure.violations.map((v) => v.kind));
});

const REMOTE_SUBSCRIPTION_RUNS = 10;

test(`${REMOTE_SUBSCRIPTION_RUNS} remote-verifier schedules with subscriptions (seed ${SEED}): the reference server verifies every status, every counter 0`, { timeout: 120_000 }, async () => {
  const chaos = await loadChaos();
  const summary = await chaos.runChaos({ runs: REMOTE_SUBSCRIPTION_RUNS, seed: SEED, subscriptions: true, remote: remoteServerFactory() });
  const report = chaos.formatSummary(summary, SEED, '--remote --subscriptions');
  assert.equal(summary.failure, undefined, report);
  assert.equal(chaos.violationCount(summary), 0, report);
  assert.ok(summary.orders > REMOTE_SUBSCRIPTION_RUNS, `schedules bought something (${summary.orders} orders)`);
});

test('the schedules of the reproduced engine defects pass every check', { timeout: 120_000 }, async () => {
  const chaos = await loadChaos();
  for (const d of DEFECT_SCHEDULES) {
    const r = await chaos.runOne(d.schedule);
    assert.deepEqual(r.violations, [], `${d.name} (caught by ${d.caughtBy} before the fix):\n${r.trace.join('\n')}`);
  }
});

test('a grant wiped by a reinstall of a version that no longer sells the product stays unfinished, not lost', { timeout: 60_000 }, async () => {
  // Found with seed 5550123: the order was granted, the process died before the finish, the next version dropped
  // the product and the app was reinstalled. The new install rejects it (unknown-product) and leaves it unfinished.
  const chaos = await loadChaos();
  const r = await chaos.runOne({
    seed: 22,
    pageSize: 2,
    steps: [
      { kind: 'crash', point: 'after-commit', nth: 1 },
      { kind: 'buy', product: 'premium_themes', quantity: 1, overlap: false },
      { kind: 'catalog', drop: 'premium_themes', maxQuantity: 1 },
      { kind: 'reinstall' },
      { kind: 'foreground' },
    ],
  });
  assert.deepEqual(r.violations, [], r.trace.join('\n'));
  assert.ok(r.trace.some((l) => l.includes('after-commit')), r.trace.join('\n'));
});

function chaosCli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const r = spawnSync(process.execPath, [tsx, path.join(ROOT, 'tools', 'chaos', 'Chaos.ts'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('chaos CLI: --help, and bad arguments give one clear line and exit 2', () => {
  const help = chaosCli('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: npm run chaos -- /);
  assert.match(help.stdout, /late 0, stuck 0/);
  for (const [args, message] of [
    [['--runs', '0'], /^chaos: --runs must be a positive integer, got '0'$/],
    [['--bogus'], /^chaos: unknown argument '--bogus'/],
  ] as const) {
    const r = chaosCli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, no stack trace: ${r.stderr}`);
    assert.match(lines[0], message);
    assert.equal(r.stdout, '');
  }
  // The other refusals, in process (same parser).
  for (const [args, message] of [
    [['--seed', 'x'], /^--seed must be an integer, got 'x'$/],
    [['--runs'], /^--runs needs a value$/],
    [['--runs', '1.5'], /^--runs must be a positive integer, got '1.5'$/],
    [['--mutant', 'nope'], /^unknown mutant 'nope'/],
    [['--mutants', '--mutant', 'launch-only'], /^--mutants and --mutant exclude each other$/],
  ] as const) {
    assert.throws(() => parseArgs([...args]), { message }, args.join(' '));
  }
  assert.deepEqual({ ...parseArgs(['--runs', '7', '--seed', '-3', '--keep-going']), seed: -3 }, {
    runs: 7, seed: -3, noShrink: false, keepGoing: true, mutants: false, help: false,
  });
});
