// Property obfuscation is one switch away in every module's build-profile: then every field that crosses a JSON
// boundary must be kept, or JSON.parse results lose their fields and JSON.stringify sends renamed ones. Each
// module's ArkGuard rule files list exactly the names its code reads from or writes to JSON.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../check/EtsProject';
import { jsonPropertyNames, keptPropertyNames } from './JsonShapes';

const MODULES = ['common/iap', 'features/store', 'entry'];

function ruleFiles(m: string): string[] {
  return m === 'entry' ? ['entry/obfuscation-rules.txt'] : [`${m}/consumer-rules.txt`, `${m}/obfuscation-rules.txt`];
}

test('the scanner finds the JSON fields the code is known to read and write', () => {
  const iap = jsonPropertyNames('common/iap', MODULES);
  for (const name of ['jwsPurchaseOrder', 'purchaseOrderId', 'purchaseToken', 'signedTime', 'alg', 'x5c', 'status',
    'reason', 'detail', 'payload', 'purchaseData']) {
    assert.ok(iap.includes(name), `common/iap: ${name}`);
  }
  assert.ok(jsonPropertyNames('features/store', MODULES).includes('purchaseTime'));
  assert.ok(jsonPropertyNames('entry', MODULES).includes('jwsPurchaseOrder'));
});

test('every module keeps exactly the property names its code reads from or writes to JSON', () => {
  for (const m of MODULES) {
    const expected = jsonPropertyNames(m, MODULES);
    for (const file of ruleFiles(m)) {
      const kept = keptPropertyNames(path.join(ROOT, file)).sort();
      assert.deepEqual(kept.filter((n) => !expected.includes(n)), [], `${file} keeps names no JSON carries`);
      assert.deepEqual(expected.filter((n) => !kept.includes(n)), [], `${file} misses -keep-property-name entries`);
    }
  }
});

test('a keep list stops at the next option and ignores comments', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rules-')), 'rules.txt');
  fs.writeFileSync(file, '# c\n-keep-property-name\na\n# note\nb\n-keep-file-name\nIndex\n');
  assert.deepEqual(keptPropertyNames(file), ['a', 'b']);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
