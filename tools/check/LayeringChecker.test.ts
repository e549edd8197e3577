// The layering rule on relative imports: a module's files stay inside it, except that its Node-harness suites
// (src/nodeTest) may import the Node test support's declarations in types/testing.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { ROOT } from './EtsProject';
import { checkLayering } from './LayeringChecker';

/** The rules broken by `source` as a file in `relDir` (nothing is written). */
function rulesOf(relDir: string, source: string): string[] {
  const file = path.join(ROOT, relDir, 'probe', 'Probe.ets');
  return checkLayering([file], () => source).map((d) => d.rule);
}

test('src/nodeTest may import types/testing; product code and src/test may not; nothing else leaves the module', () => {
  const support = "import { TestPki } from '../../../../../types/testing/TestPki';\n";
  assert.deepEqual(rulesOf('common/iap/src/nodeTest', support), []);
  assert.deepEqual(rulesOf('common/iap/src/test', support), ['layer-deep-import']);
  assert.deepEqual(rulesOf('common/iap/src/main', support), ['layer-deep-import']);
  // Only the declarations folder itself, not a neighbour reached through it.
  assert.deepEqual(rulesOf('common/iap/src/nodeTest', "import { x } from '../../../../../types/testing/../Other';\n"), ['layer-deep-import']);
  assert.deepEqual(rulesOf('features/store/src/nodeTest', "import { y } from '../../../../../common/iap/Index';\n"), ['layer-deep-import']);
});
