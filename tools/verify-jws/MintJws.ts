// `npm run mint-jws -- <folder> [--app-id ID]`
//
// Mints sample orders to feed `npm run verify-jws`: a fresh DEVELOPMENT PKI (root → intermediate → leaf, from
// tools/testing/TestPki, signed exactly as IAP Kit signs), its root as root.pem, and one file per case, each signed
// by that chain. The private keys are discarded: nothing else can ever sign for this root, and a rerun makes a new
// root. Subscriptions (purchaseData with jwsSubscriptionStatus) are not minted: the verifiers handle consumables
// and non-consumables only, and subscription samples come with subscription support.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestPki } from '../testing/TestPki';

/** The app id the samples are signed for: the one `npm start` accepts with its development root. */
export const SAMPLE_APP_ID = '110000000';

export const MINT_USAGE = 'usage: npm run mint-jws -- <folder> [--app-id ID]';

/** One minted file and the verdict `npm run verify-jws` gives it with the arguments shown. */
export interface MintedSample {
  file: string;
  what: string;
  /** 'valid' or the rejection reason code. */
  expect: string;
  /** verify-jws options besides --root and the file. */
  args: string[];
}

export interface MintResult {
  rootFile: string;
  samples: MintedSample[];
}

interface MintArgs {
  folder: string;
  appId: string;
}

function parseMintArgs(argv: readonly string[]): MintArgs {
  const args: MintArgs = { folder: '', appId: SAMPLE_APP_ID };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--app-id') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--') || v.length === 0) throw new Error(`--app-id needs a value\n${MINT_USAGE}`);
      args.appId = v;
    } else if (arg === '--help' || arg === '-h') {
      throw new Error(MINT_USAGE);
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}\n${MINT_USAGE}`);
    } else if (args.folder) {
      throw new Error(`only one <folder> is accepted\n${MINT_USAGE}`);
    } else {
      args.folder = arg;
    }
  }
  if (!args.folder) throw new Error(`<folder> is required\n${MINT_USAGE}`);
  return args;
}

/** A paid consumable order as IAP Kit signs it (field names from PurchaseOrderPayload). */
function order(appId: string, n: number, now: number): Record<string, string | number | boolean> {
  return {
    environment: 'SANDBOX',
    purchaseOrderId: `sample-order-${n}`,
    purchaseToken: `sample-token-${n}-${now.toString(36)}`,
    applicationId: appId,
    productId: 'gems_100',
    productType: '0',
    purchaseTime: now - 1000,
    signedTime: now,
    quantity: 1,
    finishStatus: '2',
    needFinish: true,
    price: 600,
    currency: 'CNY',
    countryCode: 'CN',
  };
}

/** Replaces the payload of a compact JWS and keeps its signature, as an attacker editing an order would. */
export function tamperPayload(jws: string, change: Record<string, unknown>): string {
  const [h, p, s] = jws.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${h}.${Buffer.from(JSON.stringify({ ...payload, ...change })).toString('base64url')}.${s}`;
}

/** Writes root.pem and the samples into `folder` (created if missing; existing sample files are overwritten). */
export async function mintSamples(folder: string, appId = SAMPLE_APP_ID, now = Date.now()): Promise<MintResult> {
  const pki = await createTestPki({ subjectPrefix: 'DEV ONLY verify-jws sample' });
  fs.mkdirSync(folder, { recursive: true });
  const rootFile = path.join(folder, 'root.pem');
  fs.writeFileSync(rootFile, pki.rootPem);
  const checks = ['--app-id', appId, '--environment', 'SANDBOX'];
  const valid = pki.signJws(order(appId, 1, now));
  const entries: Array<MintedSample & { content: string }> = [
    { file: 'valid.jws', what: 'a paid order for 100 gems', expect: 'valid', args: checks, content: valid },
    {
      file: 'valid-purchase-data.json',
      what: 'the same order as purchaseData (what createPurchase and queryPurchases return)',
      expect: 'valid',
      args: checks,
      content: JSON.stringify({ type: 0, jwsPurchaseOrder: valid }, null, 2),
    },
    {
      file: 'tampered.jws',
      what: 'valid.jws with productId changed to gems_1200, signature kept',
      expect: 'bad-signature',
      args: checks,
      content: tamperPayload(valid, { productId: 'gems_1200' }),
    },
    {
      file: 'wrong-app.jws',
      what: 'genuinely signed, for another app',
      expect: 'wrong-app',
      args: checks,
      content: pki.signJws({ ...order(appId, 2, now), applicationId: `${appId}9` }),
    },
    {
      file: 'wrong-environment.jws',
      what: 'genuinely signed, a NORMAL (production) order while SANDBOX is expected',
      expect: 'wrong-environment',
      args: checks,
      content: pki.signJws({ ...order(appId, 3, now), environment: 'NORMAL' }),
    },
    {
      file: 'revoked.jws',
      what: 'genuinely signed, refunded (purchaseOrderRevocationReasonCode "1")',
      expect: 'revoked',
      args: checks,
      content: pki.signJws({ ...order(appId, 4, now), purchaseOrderRevocationReasonCode: '1', revocationTime: now - 500 }),
    },
  ];
  for (const e of entries) fs.writeFileSync(path.join(folder, e.file), `${e.content}\n`);
  return { rootFile, samples: entries.map(({ content: _content, ...s }) => s) };
}

export interface MintCliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The CLI in-process: exit 0 and a table of the files on stdout, or exit 2 and one message on stderr. */
export async function runMintCli(argv: readonly string[]): Promise<MintCliResult> {
  let args: MintArgs;
  try {
    args = parseMintArgs(argv);
  } catch (e) {
    return { exitCode: 2, stdout: '', stderr: `${(e as Error).message}\n` };
  }
  let result: MintResult;
  try {
    result = await mintSamples(args.folder, args.appId);
  } catch (e) {
    return { exitCode: 2, stdout: '', stderr: `cannot write to ${args.folder}: ${(e as Error).message}\n` };
  }
  const lines = [
    `minted into ${args.folder} (a new DEVELOPMENT root; its private keys were discarded):`,
    `  ${'root.pem'.padEnd(26)} the root to pin: --root ${path.join(args.folder, 'root.pem')}`,
    ...result.samples.map((s) => `  ${s.file.padEnd(26)} ${s.what} → ${s.expect}`),
    'verify one (paths as given; run from the repository root):',
    `  npm run -s verify-jws -- --root ${path.join(args.folder, 'root.pem')} ${result.samples[0]?.args.join(' ')} ${path.join(args.folder, 'valid.jws')}`,
    'Subscriptions (purchaseData with jwsSubscriptionStatus) are not minted: the verifiers handle consumables and',
    'non-consumables only; subscription samples come with subscription support.',
  ];
  return { exitCode: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}

async function main(): Promise<void> {
  const result = await runMintCli(process.argv.slice(2));
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

if (require.main === module) {
  void main();
}
