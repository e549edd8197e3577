// `npm run mint-jws`: the samples it writes are genuine orders under the root it writes, and `npm run verify-jws`
// gives each the verdict the mint table announces. Runs the real scripts in child processes, as a user would.
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import { MintResult, mintSamples, runMintCli, SAMPLE_APP_ID, tamperPayload } from './MintJws';
import { runCli } from './VerifyJws';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('npm run mint-jws', () => {
  let dir = '';
  let minted: MintResult;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mint-jws-test-'));
    minted = await mintSamples(path.join(dir, 'orders'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes root.pem and one sample per case: valid, tampered, wrong app, wrong environment, revoked', () => {
    const files = fs.readdirSync(path.join(dir, 'orders')).sort();
    assert.deepEqual(files, ['revoked.jws', 'root.pem', 'tampered.jws', 'valid-purchase-data.json', 'valid.jws',
      'wrong-app.jws', 'wrong-environment.jws']);
    assert.match(fs.readFileSync(minted.rootFile, 'utf8'), /^-----BEGIN CERTIFICATE-----\n/);
    assert.deepEqual(minted.samples.map((s) => s.expect),
      ['valid', 'valid', 'bad-signature', 'wrong-app', 'wrong-environment', 'revoked']);
    // No private key leaves the process: a minted folder cannot sign anything.
    for (const f of files) assert.doesNotMatch(fs.readFileSync(path.join(dir, 'orders', f), 'utf8'), /PRIVATE KEY|Pkcs8/i);
  });

  it('each sample gets from verify-jws exactly the verdict the mint announces', async () => {
    for (const s of minted.samples) {
      const result = await runCli(['--root', minted.rootFile, ...s.args, path.join(dir, 'orders', s.file)]);
      if (s.expect === 'valid') {
        assert.equal(result.exitCode, 0, `${s.file}: ${result.stderr}`);
        assert.equal((JSON.parse(result.stdout) as Record<string, unknown>).applicationId, SAMPLE_APP_ID);
      } else {
        assert.equal(result.exitCode, 1, `${s.file}: ${result.stdout}${result.stderr}`);
        assert.equal(result.stdout, '');
        assert.match(result.stderr, new RegExp(`^rejected: ${s.expect} `), s.file);
      }
    }
  });

  it('the wrong-app and wrong-environment samples are genuinely signed: without the checks they verify', async () => {
    for (const f of ['wrong-app.jws', 'wrong-environment.jws']) {
      const result = await runCli(['--root', minted.rootFile, path.join(dir, 'orders', f)]);
      assert.equal(result.exitCode, 0, `${f}: ${result.stderr}`);
    }
  });

  it('a user tampering valid.jws by hand (the README one-liner) gets bad-signature', async () => {
    const valid = fs.readFileSync(path.join(dir, 'orders', 'valid.jws'), 'utf8').trim();
    const mine = path.join(dir, 'orders', 'mine.jws');
    fs.writeFileSync(mine, tamperPayload(valid, { quantity: 100 }));
    const result = await runCli(['--root', minted.rootFile, mine]);
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /^rejected: bad-signature /);
  });

  it('a second mint makes a new root: the first samples do not verify under it', async () => {
    const second = await mintSamples(path.join(dir, 'second'));
    const result = await runCli(['--root', second.rootFile, path.join(dir, 'orders', 'valid.jws')]);
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /^rejected: untrusted-chain /);
  });

  it('says that subscriptions are not minted, and exits 2 with usage on stderr for a bad command line', async () => {
    const ok = await runMintCli([path.join(dir, 'cli')]);
    assert.equal(ok.exitCode, 0);
    assert.match(ok.stdout, /Subscriptions .* are not minted/);
    for (const argv of [[], ['--bogus', dir], [dir, 'another'], [dir, '--app-id']]) {
      const bad = await runMintCli(argv);
      assert.equal(bad.exitCode, 2, JSON.stringify(argv));
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, /usage: npm run mint-jws -- <folder>/);
    }
  });

  it('is wired as the npm script, and its printed verify command works as printed', () => {
    const folder = path.join(dir, 'script');
    const mint = spawnSync(npm, ['run', '-s', 'mint-jws', '--', folder], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(mint.status, 0, mint.stderr);
    const command = /^ {2}npm run -s verify-jws -- (.+)$/m.exec(mint.stdout);
    assert.ok(command, mint.stdout);
    const verify = spawnSync(npm, ['run', '-s', 'verify-jws', '--', ...(command[1] as string).split(' ')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as Record<string, unknown>).purchaseOrderId, 'sample-order-1');
  });
});
