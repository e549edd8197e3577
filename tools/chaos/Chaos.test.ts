// `npm test` runs a fixed-seed batch of chaos schedules against the real engine (every counter must stay 0), and
// checks that the harness is able to fail: each deliberately broken engine is caught by its counter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// Only the bundle may load ChaosRunner (it imports the .ets engine); type imports are fine.
import { loadChaos } from './ChaosBundle';
import { MUTANTS, runMutants } from './Mutants';

const SEED = 4242;
const RUNS = 500;

test(`${RUNS} chaos schedules (seed ${SEED}): nothing lost, duplicated, finished early or wrongly granted`, { timeout: 240_000 }, async () => {
  const chaos = await loadChaos();
  const summary = await chaos.runChaos({ runs: RUNS, seed: SEED });
  const report = chaos.formatSummary(summary, SEED);
  assert.equal(summary.failure, undefined, report);
  assert.equal(summary.runs, RUNS);
  assert.deepEqual(summary.counters, { lost: 0, duplicated: 0, 'premature-finish': 0, 'wrongly-granted': 0, stuck: 0 }, report);
  assert.ok(summary.orders > RUNS, `schedules bought something (${summary.orders} orders)`);
  for (const row of summary.rows) assert.ok(row.injected > 0, `fault ${row.fault} fired at least once`);
  assert.match(chaos.finalLine(summary), /^chaos: runs 500, orders \d+, lost 0, duplicated 0, premature-finish 0, wrongly-granted 0$/);
});

test('each deliberately broken engine is caught by its counter', { timeout: 240_000 }, async () => {
  const results = await runMutants(RUNS, SEED);
  assert.equal(results.length, MUTANTS.length);
  for (const r of results) {
    assert.ok(r.summary.failure, `mutant ${r.mutant.name} survived ${r.summary.runs} schedules`);
    assert.ok(r.caught, `mutant ${r.mutant.name}: expected ${r.mutant.expect}, got ${JSON.stringify(r.summary.counters)}`);
  }
});
