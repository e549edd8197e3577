// The runner refuses a hypium suite that List.test.ets imports but never calls (or does not import at all):
// such a suite would silently never run, on a device as in Node.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../check/EtsProject';
import { unaggregatedSuites } from './RunTests';

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
    assert.deepEqual(unaggregatedSuites(path.join(ROOT, m, 'src', 'test')), [], m);
  }
});
