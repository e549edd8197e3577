// Self-test of the gate: each fixture, copied into a real module, must make `npm run check` fail with the
// expected rule at the fixture's own location, so the gate cannot silently go lenient. The modules are copied to a
// temporary project first, so a check running at the same time on the work tree never sees the fixtures.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { compatibleSdkLevel, parseLevel } from './ApiLevelChecker';

const REPO = path.resolve(__dirname, '..', '..');
let ROOT = '';

before(() => {
  ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-selftest-'));
  for (const dir of ['AppScope', 'entry', 'features', 'common', 'types']) {
    fs.cpSync(path.join(REPO, dir), path.join(ROOT, dir), {
      recursive: true,
      // Module build outputs stay behind; types/build (the BuildProfile stand-in) is source.
      filter: (src) => !/[\\/](node_modules|oh_modules|\.hvigor|\.preview)([\\/]|$)/.test(src) &&
        !/[\\/](entry|features[\\/]\w+|common[\\/]\w+)[\\/]build([\\/]|$)/.test(src),
    });
  }
  fs.copyFileSync(path.join(REPO, 'build-profile.json5'), path.join(ROOT, 'build-profile.json5'));
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
  { fixture: 'MissingResourceFixture.ets', module: 'entry', rule: '10903329' },
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

/** Fixtures whose lines say what must fail: `// expect: <rule>` on each line the gate must reject, nothing else. */
interface MarkedCase {
  fixture: string;
  module: string;
  /** Rules this fixture is about: an error of these rules on an unmarked line fails the test too. */
  rules: string[];
  /** Placed as a page of the module (src/main/ets/pages) and listed in its main_pages.json. */
  page?: boolean;
}

const UI_RULES = ['10905201', '10905204', '10905209', '10905210', '10905219', '10905222', '10905231', '10905304', '10905316', '10905321',
  '10905327', '10905338', '10905339', '10905359', '10905402', 'ours-foreach-key'];

const MARKED: MarkedCase[] = [
  { fixture: 'ApiLevelFixture.ets', module: 'common/iap', rules: ['api-level'] },
  { fixture: 'UiRootFixture.ets', module: 'features/store', rules: UI_RULES },
  { fixture: 'UiStatementFixture.ets', module: 'features/store', rules: UI_RULES },
  { fixture: 'UiDecoratorFixture.ets', module: 'common/iap', rules: UI_RULES },
  { fixture: 'UiConstructionFixture.ets', module: 'features/store', rules: UI_RULES },
  { fixture: 'UiNestingFixture.ets', module: 'features/store', rules: UI_RULES },
  { fixture: 'UiResourceFixture.ets', module: 'features/store', rules: ['10903329', '10903330', '10905332'] },
  { fixture: 'UiPageWithoutEntryFixture.ets', module: 'entry', rules: UI_RULES, page: true },
];

function expectations(file: string): Array<{ line: number; rule: string }> {
  const out: Array<{ line: number; rule: string }> = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    for (const m of text.matchAll(/expect: ([\w-]+)/g)) out.push({ line: i + 1, rule: m[1] });
  });
  return out;
}

test('the gate fails on every marked line of the marked fixtures and on the reintroduced gateway defects, and only there', () => {
  const dirs: string[] = [];
  const placed: Array<{ c: MarkedCase; rel: string }> = [];
  const restore: Array<[string, string]> = [];
  let gatewayDefects: { check: (out: string) => void; restore: () => void } | undefined;
  try {
    for (const c of MARKED) {
      const dir = path.join(ROOT, c.module, 'src', 'main', 'ets', c.page ? 'pages' : 'gatefixture');
      fs.mkdirSync(dir, { recursive: true });
      if (!c.page) dirs.push(dir);
      const target = path.join(dir, c.fixture);
      fs.copyFileSync(path.join(FIXTURES, c.fixture), target);
      placed.push({ c, rel: path.relative(ROOT, target) });
      if (c.page) {
        dirs.push(target);
        const pages = path.join(ROOT, c.module, 'src', 'main', 'resources', 'base', 'profile', 'main_pages.json');
        const before = fs.readFileSync(pages, 'utf8');
        restore.push([pages, before]);
        const json = JSON.parse(before) as { src: string[] };
        json.src.push(`pages/${c.fixture.replace(/\.ets$/, '')}`);
        fs.writeFileSync(pages, JSON.stringify(json, null, 2));
      }
    }
    const defects = reintroduceGatewayDefects();
    gatewayDefects = defects;
    const { status, out } = runCheck();
    assert.equal(status, 1, out);
    defects.check(out);
    const lines = out.split('\n');
    for (const { c, rel } of placed) {
      const expected = expectations(path.join(FIXTURES, c.fixture));
      assert.ok(expected.length > 0, `${c.fixture} marks what must fail`);
      for (const e of expected) {
        assert.ok(lines.some((l) => l.startsWith(`${rel}:${e.line}:`) && l.includes(` error ${e.rule} `)), `expected ${e.rule} at ${rel}:${e.line}:\n${out}`);
      }
      for (const l of lines.filter((x) => x.startsWith(`${rel}:`))) {
        const m = /^[^:]+:(\d+):\d+ error (\S+) /.exec(l);
        if (!m || !c.rules.includes(m[2])) continue;
        assert.ok(expected.some((e) => e.line === Number(m[1]) && e.rule === m[2]), `unexpected ${m[2]} (a guarded or valid form was rejected): ${l}`);
      }
    }
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    for (const [file, text] of restore) fs.writeFileSync(file, text);
    gatewayDefects?.restore();
  }
});

/** The gateway's two API-level defects of the review, back in the temp copy; returns the check of the output. */
function reintroduceGatewayDefects(): { check: (out: string) => void; restore: () => void } {
  const gateway = path.join(ROOT, 'common', 'iap', 'src', 'main', 'ets', 'adapters', 'IapKitStoreGateway.ets');
  const original = fs.readFileSync(gateway, 'utf8');
  const byValue = 'return NONRENEWABLE as iap.ProductType;';
  const ownClass = 'const parameter = new BatchPurchaseParameter(productId, this.requireProductType(productType));';
  assert.ok(original.includes(byValue) && original.includes(ownClass), 'the gateway still has the lines this test reverts');
  // The kit member by name, and the field set on iap.PurchaseParameter behind a check the gate does not recognise
  // (a field of the adapter, not deviceInfo).
  const reverted = original
    .replace(byValue, 'return iap.ProductType.NONRENEWABLE;')
    .replace(ownClass, 'const parameter: iap.PurchaseParameter = { productId: productId, productType: this.requireProductType(productType) };');
  fs.writeFileSync(gateway, reverted);
  const rel = path.relative(ROOT, gateway);
  return {
    restore: () => fs.writeFileSync(gateway, original),
    check: (out: string) => {
      for (const [needle, name] of [['return iap.ProductType.NONRENEWABLE;', 'iap.ProductType.NONRENEWABLE'], ['parameter.quantity = quantity;', 'parameter.quantity']]) {
        const line = reverted.split('\n').findIndex((l) => l.includes(needle)) + 1;
        assert.ok(out.split('\n').some((l) => l.startsWith(`${rel}:${line}:`) && l.includes(' error api-level ') && l.includes(`'${name}'`)), `api-level for ${name} at ${rel}:${line}:\n${out}`);
      }
    },
  };
}

test('compatibleSdkVersion and @since are read in both forms: a number and Huawei\'s M.F.S(N)', () => {
  assert.deepEqual(parseLevel('5.0.0(12)'), { api: 12, os: 50000, text: '5.0.0(12)' });
  assert.deepEqual(parseLevel('5.0.2(14)'), { api: 14, os: 50002, text: '5.0.2(14)' });
  assert.equal(parseLevel(12)?.api, 12);
  assert.equal(parseLevel('10')?.api, 10);
  assert.equal(parseLevel('26.0.0')?.api, 26);
  assert.equal(parseLevel('abc'), undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-level-'));
  try {
    fs.writeFileSync(path.join(dir, 'build-profile.json5'), "{ app: { products: [ { name: 'a', compatibleSdkVersion: 14 }, { name: 'b', compatibleSdkVersion: '5.0.3(15)' } ] } }");
    assert.equal(compatibleSdkLevel(dir).api, 14);
    assert.equal(compatibleSdkLevel(REPO).text, '5.0.0(12)');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The 5.0.0(12) SDK declaration as the project's stand-in approximates it: members above 12 and those it lacks gone. */
function api12View(standIn: string): string {
  const absentFromSdk12 = ['promotionalOfferId', 'applicationUserName', 'jwsRepresentation', 'promotionalOffers',
    'INVALID_PROMOTIONAL_OFFER', 'INVALID_PURCHASE_SIGNATURE'];
  const lines = standIn.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const since = /^\s*\/\*\* @since (\d+\.\d+\.\d+\(\d+\)|\d+)/.exec(lines[i]);
    const next = lines[i + 1] ?? '';
    const member = /^\s*(?:export function )?(\w+)\??[\s:=(]/.exec(next);
    if (since && member && !/^\s*export (enum|interface)/.test(next)) {
      const level = parseLevel(since[1]);
      if ((level && level.api > 12) || absentFromSdk12.includes(member[1])) {
        i++; // drop the comment and its one-line member
        continue;
      }
    }
    out.push(lines[i]);
  }
  return out.join('\n');
}

test('the project also type-checks against the API 12 view of the IAP Kit declaration', () => {
  const standIn = path.join(ROOT, 'types', 'kits', '@kit.IAPKit.d.ts');
  const original = fs.readFileSync(standIn, 'utf8');
  try {
    const view = api12View(original);
    assert.ok(!view.includes('NONRENEWABLE') && !view.includes('quantity?:') && !view.includes('createRefundRequest('), 'the view drops the newer members');
    assert.ok(view.includes('CONSUMABLE = 0') && view.includes('isSandboxActivated('), 'the view keeps the API 12 members');
    fs.writeFileSync(standIn, view);
    const { out } = runCheck();
    // What is built for a device (main, ohosTest) must compile; src/test suites run in Node only and compare with
    // every member of the kit on purpose.
    const errors = out.split('\n').filter((l) => / error /.test(l) && !/[\\/]src[\\/]test[\\/]/.test(l.split(':')[0]));
    assert.deepEqual(errors, [], `the app must build with the 5.0.0(12) surface:\n${out}`);
    assert.match(out, /check: \d+ \.ets files checked/);
  } finally {
    fs.writeFileSync(standIn, original);
  }
});
