// Self-test of the gate: each fixture, copied into a real module, must make `npm run check` fail with the
// expected rule at the fixture's own location, so the gate cannot silently go lenient.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './EtsProject';

const FIXTURES = path.join(__dirname, 'fixtures');

interface Case {
  fixture: string;
  module: string;
  rule: string;
}

const CASES: Case[] = [
  { fixture: 'TypeErrorFixture.ets', module: 'common/iap', rule: 'TS2322' },
  { fixture: 'UntypedLiteralFixture.ets', module: 'features/store', rule: 'arkts-no-untyped-obj-literals' },
  { fixture: 'MissingResourceFixture.ets', module: 'entry', rule: 'resource-missing' },
];

function runCheck(): { status: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tools', 'check', 'Check.ts')], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('the gate fails on each fixture with the expected rule, at the fixture', () => {
  const placed: string[] = [];
  const dirs: string[] = [];
  try {
    for (const c of CASES) {
      const dir = path.join(ROOT, c.module, 'src', 'main', 'ets', `gatefixture${process.pid}`);
      fs.mkdirSync(dir, { recursive: true });
      dirs.push(dir);
      const target = path.join(dir, c.fixture);
      fs.copyFileSync(path.join(FIXTURES, c.fixture), target);
      placed.push(path.relative(ROOT, target));
    }
    const { status, out } = runCheck();
    assert.equal(status, 1, `check must exit 1, got ${status}:\n${out}`);
    CASES.forEach((c, i) => {
      const line = out.split('\n').find((l) => l.startsWith(`${placed[i]}:`) && l.includes(` error ${c.rule} `));
      assert.ok(line, `expected '${c.rule}' at ${placed[i]}; output was:\n${out}`);
    });
    assert.match(out, /check: \d+ \.ets files checked/);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('the gate fails when a string exists in base but not in zh_CN and en_US', () => {
  const resDir = path.join(ROOT, 'features', 'store', 'src', 'main', 'resources', 'base', 'element');
  const target = path.join(resDir, `gatefixture${process.pid}.json`);
  try {
    fs.copyFileSync(path.join(FIXTURES, 'MissingLocaleFixture.json'), target);
    const { status, out } = runCheck();
    assert.equal(status, 1, out);
    assert.match(out, /zh_CN\/element\/string\.json:1:1 error resource-locale-missing String 'gate_fixture_base_only' is missing in zh_CN\./);
    assert.match(out, /en_US\/element\/string\.json:1:1 error resource-locale-missing String 'gate_fixture_base_only' is missing in en_US\./);
  } finally {
    fs.rmSync(target, { force: true });
  }
});
