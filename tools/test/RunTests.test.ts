// The runner refuses a hypium suite that List.test.ets imports but never calls (or does not import at all):
// such a suite would silently never run, on a device as in Node.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readJson5, ROOT, walk } from '../check/EtsProject';
import { runHypiumSuites, SUITE_DIRS, nodeOnlyFiles, type Tally, unaggregatedSuites } from './RunTests';

function testDir(list: string, suites: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aggregation-'));
  fs.writeFileSync(path.join(dir, 'List.test.ets'), list);
  for (const s of suites) fs.writeFileSync(path.join(dir, `${s}.test.ets`), 'export default function t() {}\n');
  return dir;
}

test('a suite imported but never called, or never imported, is reported', () => {
  const dir = testDir(
    "import aTest from './A.test';\nimport bTest from './B.test';\nexport default function testsuite() {\n  aTest();\n}\n",
    ['A', 'B', 'C'],
  );
  try {
    const missing = unaggregatedSuites(dir).map((f) => path.basename(f));
    assert.deepEqual(missing.sort(), ['B.test.ets', 'C.test.ets']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every module of this project runs all of its suites', () => {
  for (const m of ['entry', 'features/store', 'common/iap']) {
    for (const d of SUITE_DIRS) {
      const dir = path.join(ROOT, m, 'src', d);
      if (fs.existsSync(dir)) assert.deepEqual(unaggregatedSuites(dir), [], `${m}/src/${d}`);
    }
  }
});

test('a src/test file that imports the Node test support (types/testing), directly or through a local import, is reported', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodeonly-'));
  try {
    fs.mkdirSync(path.join(dir, 'support'));
    fs.writeFileSync(path.join(dir, 'support', 'Rig.ets'), "import { x } from '../../../../types/testing/IapSimulator';\nexport const y = x;\n");
    // A module of the app's own that happens to be called testing is not test support.
    fs.writeFileSync(path.join(dir, 'C.test.ets'), "import { z } from '../main/ets/testing/Clock';\nexport default function c() {}\n");
    fs.writeFileSync(path.join(dir, 'A.test.ets'), "import { y } from './support/Rig';\nexport default function a() {}\n");
    fs.writeFileSync(path.join(dir, 'B.test.ets'), "import { describe } from '@ohos/hypium';\nexport default function b() {}\n");
    const found = nodeOnlyFiles(dir).map((f) => path.basename(f)).sort();
    assert.deepEqual(found, ['A.test.ets', 'Rig.ets']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DevEco can compile every module\'s src/test: no file there needs the Node harness', () => {
  for (const m of ['entry', 'features/store', 'common/iap']) {
    assert.deepEqual(nodeOnlyFiles(path.join(ROOT, m, 'src', 'test')), [], m);
  }
});

test('DevEco accepts only *.test.ets files under ohosTest/ets/test: helpers live beside it', () => {
  for (const m of ['entry', 'features/store', 'common/iap']) {
    const dir = path.join(ROOT, m, 'src', 'ohosTest', 'ets', 'test');
    if (!fs.existsSync(dir)) continue;
    const stray = walk(dir, (f) => f.endsWith('.ets') && !f.endsWith('.test.ets')).map((f) => path.relative(ROOT, f));
    assert.deepEqual(stray, [], m);
  }
});

// A real hypium suite through the runner: the error lines a passing test logs on purpose stay out of the output
// (only counted); a failing test's log is printed under its FAIL line.
function hypiumFixture(body: string): string {
  const outRoot = path.join(ROOT, '.test-out');
  fs.mkdirSync(outRoot, { recursive: true });
  const dir = fs.mkdtempSync(path.join(outRoot, 'hypium-fixture-'));
  fs.writeFileSync(path.join(dir, 'List.test.ets'),
    "import { describe, it, expect } from '@ohos/hypium';\n" +
    "import { hilog } from '@kit.PerformanceAnalysisKit';\n" +
    `export default function testsuite() {\n  describe('Fixture', () => {\n${body}\n  });\n}\n`);
  return dir;
}

async function runFixture(body: string): Promise<{ lines: string[]; tally: Tally }> {
  const dir = hypiumFixture(body);
  const lines: string[] = [];
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  try {
    await runHypiumSuites(path.join(dir, 'List.test.ets'), `fixture-${path.basename(dir)}`, tally, (l) => lines.push(l));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { lines, tally };
}

test('a passing hypium suite keeps its expected error lines quiet and says how many it hid', { timeout: 60_000 }, async () => {
  const { lines, tally } = await runFixture(
    "    it('rejects on purpose', 0, () => {\n" +
    "      hilog.error(0xFF00, 'ZeroLostIap', 'order %{public}s rejected (unknown-product)', 'o1');\n" +
    "      console.error('second expected line');\n" +
    "      expect(1).assertEqual(1);\n    });\n" +
    "    it('passes quietly too', 0, () => {\n      hilog.warn(0xFF00, 'ZeroLostIap', 'a warning');\n    });");
  assert.deepEqual(tally, { passed: 2, failed: 0, skipped: 0 });
  const text = lines.join('\n');
  assert.doesNotMatch(text, /rejected \(unknown-product\)|second expected line|a warning/);
  assert.match(text, /^ {2}ok {3}fixture-\S+ › Fixture › rejects on purpose/m);
  assert.match(text, /: 3 log line\(s\) of passing tests not shown \(HYPIUM_LOG=all shows them\)$/m);
});

test('a failing hypium test prints its own log under its FAIL line, not the passing tests\' logs', { timeout: 60_000 }, async () => {
  const { lines, tally } = await runFixture(
    "    it('passes', 0, () => {\n      hilog.error(0xFF00, 'ZeroLostIap', 'expected noise');\n    });\n" +
    "    it('fails', 0, () => {\n" +
    "      hilog.error(0xFF00, 'ZeroLostIap', 'the clue to the failure');\n" +
    "      expect(1).assertEqual(2);\n    });");
  assert.equal(tally.failed, 1, lines.join('\n'));
  assert.equal(tally.passed, 1);
  const text = lines.join('\n');
  assert.doesNotMatch(text, /expected noise/);
  const fail = lines.findIndex((l) => /^ {2}FAIL fixture-\S+ › Fixture › fails/.test(l));
  assert.ok(fail >= 0, text);
  const after = lines.slice(fail + 1, fail + 5).join('\n');
  assert.match(after, /its log \(\d+ lines?\):\n {7}\| E FF00\/ZeroLostIap: the clue to the failure/, text);
});

test('the device and the Node harness run the same @ohos/hypium version', () => {
  const npmVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  }).devDependencies['@ohos/hypium'];
  const installed = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@ohos', 'hypium', 'package.json'), 'utf8')) as {
    version: string;
  }).version;
  const ohpm = readJson5(path.join(ROOT, 'oh-package.json5')) as { devDependencies: Record<string, string> };
  assert.equal(installed, npmVersion);
  assert.equal(ohpm.devDependencies['@ohos/hypium'], npmVersion, 'oh-package.json5 pins the hypium the suites run on here');
});
