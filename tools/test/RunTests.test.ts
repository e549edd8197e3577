// The runner refuses a hypium suite that List.test.ets imports but never calls (or does not import at all):
// such a suite would silently never run, on a device as in Node.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT, walk } from '../check/EtsProject';
import { SUITE_DIRS, nodeOnlyFiles, unaggregatedSuites } from './RunTests';

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

test('a src/test file that imports @nodetest, directly or through a local import, is reported', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodeonly-'));
  try {
    fs.mkdirSync(path.join(dir, 'support'));
    fs.writeFileSync(path.join(dir, 'support', 'Rig.ets'), "import { x } from '@nodetest/IapSimulator';\nexport const y = x;\n");
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
