// Self-test of the gate: each fixture, copied into a real module, must make `npm run check` fail with the
// expected rule at the fixture's own location, so the gate cannot silently go lenient. The modules are copied to a
// temporary project first, so a check running at the same time on the work tree never sees the fixtures.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

const REPO = path.resolve(__dirname, '..', '..');
let ROOT = '';

before(() => {
  ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-selftest-'));
  for (const dir of ['AppScope', 'entry', 'features', 'common', 'types']) {
    fs.cpSync(path.join(REPO, dir), path.join(ROOT, dir), {
      recursive: true,
      filter: (src) => !/[\\/](node_modules|oh_modules|build|\.hvigor|\.preview)([\\/]|$)/.test(src),
    });
  }
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(ROOT, 'node_modules'), 'dir');
});

after(() => {
  fs.rmSync(ROOT, { recursive: true, force: true });
});

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

const CORE_FIXTURE: Case = { fixture: 'KitInCoreFixture.ets', module: 'common/iap', rule: 'layer-kit-in-core' };

function runCheck(): { status: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'tools', 'check', 'Check.ts')], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, CHECK_PROJECT_ROOT: ROOT },
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('the gate fails on each fixture with the expected rule, at the fixture', () => {
  const placed: string[] = [];
  const dirs: string[] = [];
  try {
    for (const c of CASES) {
      const dir = path.join(ROOT, c.module, 'src', 'main', 'ets', 'gatefixture');
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

test('the gate fails when the engine core imports a kit', () => {
  const dir = path.join(ROOT, 'common', 'iap', 'src', 'main', 'ets', 'core', 'gatefixture');
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, CORE_FIXTURE.fixture);
  try {
    fs.copyFileSync(path.join(FIXTURES, CORE_FIXTURE.fixture), target);
    const { status, out } = runCheck();
    assert.equal(status, 1, out);
    const rel = path.relative(ROOT, target);
    assert.ok(out.split('\n').some((l) => l.startsWith(`${rel}:`) && l.includes(` error ${CORE_FIXTURE.rule} `)), out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the gate fails when a string exists in base but not in zh_CN and en_US', () => {
  const resDir = path.join(ROOT, 'features', 'store', 'src', 'main', 'resources', 'base', 'element');
  const target = path.join(resDir, 'gatefixture.json');
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
