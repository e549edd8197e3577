// `npm run verify-jws -- --root <root.pem|root.cer> [--app-id ID] [--environment SANDBOX|NORMAL] <file>`
//
// Runs the ON-DEVICE verification rules (common/iap OnDeviceJwsVerifier over the CryptoKitPort adapter, bundled
// from the .ets sources with @kit.* mapped to tools/node-kits) on the content of <file>: a bare compact JWS, or a
// purchaseData JSON (content starting with "{", whose jwsPurchaseOrder is verified; an auto-renewable's
// `{"type":2,"jwsSubscriptionStatus":…}` gets the subscription rules and verdict of the engine and the app server). The root is a certificate
// file, PEM or DER. Only the payload goes to stdout, so `npm run -s verify-jws … | jq` works; verdicts go to stderr.
//   valid    → exit 0, the payload JSON on stdout, `valid: …` on stderr
//   rejected → exit 1, one line `rejected: <reason-code> <detail>` on stderr, nothing on stdout. A genuine order
//              that carries a revocation code is `rejected: revoked`, as the engine never grants it and the app
//              server answers 422 revoked for it.
//   subscription → valid: exit 0, the SubGroupStatusPayload on stdout and `valid: subscription <generation>
//              (<product>) <state>, entitled|not entitled, expires <ISO>, periods to grant: …` on stderr; revoked
//              (status "5" or the latest period refunded) and every other defect are `rejected: <reason>`
//   verifier unavailable (crypto provider failure) → exit 3, one line `unavailable: <message>` on stderr
//   usage error → exit 2, a message on stderr
// Without --app-id / --environment the applicationId / environment checks are skipped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import { bundleEts } from '../test/EtsBundler';

/** What the bundled .ets module exports (common/iap Index.ets), typed as the CLI uses it. */
interface VerificationResultLike {
  readonly payload: object | undefined;
  readonly reason: string;
  readonly detail: string;
  readonly isValid: boolean;
}
interface OnDeviceJwsVerifierConfigLike {
  applicationId: string;
  environment: string;
}
interface SubscriptionVerdictLike {
  readonly reason: string;
  readonly detail: string;
  readonly state: string;
  readonly entitled: boolean;
  readonly expiresTime: number;
  readonly grantedOrderIds: string[];
  readonly revokedOrderIds: string[];
}
interface VerifierModule {
  SubscriptionVerdict: {
    of(payload: object, applicationId: string, environment: string, catalog: undefined, nowMs: number): SubscriptionVerdictLike;
  };
  OnDeviceJwsVerifierConfig: new (pinnedRoot: Uint8Array | string) => OnDeviceJwsVerifierConfigLike;
  OnDeviceJwsVerifier: new (config: OnDeviceJwsVerifierConfigLike, crypto: object) => {
    verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResultLike>;
    verifySubscription(purchaseData: string, jwsSubscriptionStatus: string): Promise<VerificationResultLike>;
  };
  CryptoKitPort: new () => object;
  PurchaseDataParser: { isRevoked(payload: object): boolean };
  VerifierUnavailableError: new (message: string, retryAfterMs: number) => Error;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliArgs {
  root: string;
  appId: string;
  environment: string;
  file: string;
}

export const USAGE =
  'usage: npm run verify-jws -- --root <root.pem|root.cer> [--app-id ID] [--environment SANDBOX|NORMAL] <file>\n' +
  '  --root  the pinned root certificate, PEM or DER; <file> a compact JWS or a purchaseData JSON';

/** Parses the command line; throws Error with a usage message when it is wrong. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { root: '', appId: '', environment: '', file: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--root') args.root = value();
    else if (arg === '--app-id') args.appId = value();
    else if (arg === '--environment') args.environment = value();
    else if (arg === '--help' || arg === '-h') throw new Error(USAGE);
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else if (args.file) throw new Error(`only one <file> is accepted\n${USAGE}`);
    else args.file = arg;
  }
  if (!args.root) throw new Error(`--root is required\n${USAGE}`);
  if (!args.file) throw new Error(`<file> is required\n${USAGE}`);
  if (args.environment && args.environment !== 'SANDBOX' && args.environment !== 'NORMAL') {
    throw new Error(`--environment must be SANDBOX or NORMAL\n${USAGE}`);
  }
  return args;
}

let loaded: Promise<VerifierModule> | undefined;

/** Bundles common/iap (the same .ets the device runs) for Node once per process, and loads it. */
export function loadVerifierModule(): Promise<VerifierModule> {
  loaded ??= (async (): Promise<VerifierModule> => {
    // Inside the project, so the bundle's external packages (node_modules) resolve.
    const outRoot = path.join(ROOT, '.test-out');
    fs.mkdirSync(outRoot, { recursive: true });
    const dir = fs.mkdtempSync(path.join(outRoot, 'verify-jws-'));
    const outfile = path.join(dir, 'verifier.cjs');
    try {
      await bundleEts({
        entry: 'verify-jws-entry.ts',
        outfile,
        stdin: {
          resolveDir: ROOT,
          contents:
            "export { OnDeviceJwsVerifier, OnDeviceJwsVerifierConfig, CryptoKitPort, PurchaseDataParser, SubscriptionVerdict, VerifierUnavailableError } from './common/iap/Index.ets';\n",
        },
      });
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return require(outfile) as VerifierModule;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  })();
  return loaded;
}

/** The pinned root as the verifier config takes it: PEM text, or DER bytes. */
function readRoot(file: string): Uint8Array | string {
  const bytes = fs.readFileSync(file);
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN CERTIFICATE-----') ? text : new Uint8Array(bytes);
}

/** Runs the CLI in-process (the tests call this; `main` wires it to the real process). */
export async function runCli(argv: readonly string[]): Promise<CliResult> {
  let args: CliArgs;
  let root: Uint8Array | string;
  let content: string;
  try {
    args = parseArgs(argv);
    root = readRoot(args.root);
    content = fs.readFileSync(args.file, 'utf8').trim();
  } catch (e) {
    return { exitCode: 2, stdout: '', stderr: `${(e as Error).message}\n` };
  }
  const mod = await loadVerifierModule();
  let verifier: InstanceType<VerifierModule['OnDeviceJwsVerifier']>;
  try {
    const config = new mod.OnDeviceJwsVerifierConfig(root);
    config.applicationId = args.appId;
    config.environment = args.environment;
    verifier = new mod.OnDeviceJwsVerifier(config, new mod.CryptoKitPort());
  } catch (e) {
    return { exitCode: 2, stdout: '', stderr: `--root ${args.root}: ${(e as Error).message}\n` };
  }
  const isPurchaseData = content.startsWith('{');
  const status = isPurchaseData ? subscriptionJwsOf(content) : undefined;
  try {
    if (status !== undefined) return await verifySubscription(mod, verifier, args, content, status);
    const result = await verifier.verify(isPurchaseData ? content : '', isPurchaseData ? '' : content);
    if (result.isValid && result.payload !== undefined) {
      const p = result.payload as Record<string, unknown>;
      if (mod.PurchaseDataParser.isRevoked(result.payload)) {
        return {
          exitCode: 1,
          stdout: '',
          stderr: `rejected: revoked genuine signature, but the order was refunded (purchaseOrderRevocationReasonCode ` +
            `${JSON.stringify(p['purchaseOrderRevocationReasonCode'])}): it is never granted, and a grant made earlier is taken back\n`,
        };
      }
      const checked = [args.appId ? `app ${args.appId}` : '', args.environment ? args.environment : ''].filter((x) => x);
      return {
        exitCode: 0,
        stdout: `${JSON.stringify(result.payload, null, 2)}\n`,
        stderr: `valid: order ${String(p['purchaseOrderId'])} (${String(p['productId'])}), signed by a chain up to ` +
          `${args.root}${checked.length > 0 ? `, ${checked.join(', ')} checked` : ', applicationId and environment not checked'}\n`,
      };
    }
    return { exitCode: 1, stdout: '', stderr: `rejected: ${result.reason} ${oneLine(result.detail)}\n` };
  } catch (e) {
    if (e instanceof mod.VerifierUnavailableError) {
      return { exitCode: 3, stdout: '', stderr: `unavailable: ${oneLine((e as Error).message)}\n` };
    }
    // The pinned roots are read on first use: a root the verifier cannot work with (no EC key) is reported like
    // an unreadable --root file.
    return { exitCode: 2, stdout: '', stderr: `--root ${args.root}: ${oneLine((e as Error).message)}\n` };
  }
}

/** The jwsSubscriptionStatus of an auto-renewable's purchaseData; undefined for an order's (or unreadable JSON). */
function subscriptionJwsOf(content: string): string | undefined {
  try {
    const data = JSON.parse(content) as { type?: unknown; jwsPurchaseOrder?: unknown; jwsSubscriptionStatus?: unknown };
    if (data === null || typeof data !== 'object') return undefined;
    const s = data.jwsSubscriptionStatus;
    if (data.type === 2 && typeof s !== 'string') return '';
    return typeof s === 'string' && (data.type === 2 || typeof data.jwsPurchaseOrder !== 'string') ? s : undefined;
  } catch {
    return undefined;
  }
}

async function verifySubscription(mod: VerifierModule, verifier: InstanceType<VerifierModule['OnDeviceJwsVerifier']>,
  args: CliArgs, content: string, jws: string): Promise<CliResult> {
  if (jws.length === 0) {
    return { exitCode: 1, stdout: '', stderr: 'rejected: malformed-purchase-data an auto-renewable purchaseData has no jwsSubscriptionStatus\n' };
  }
  const result = await verifier.verifySubscription(content, jws);
  if (!result.isValid || result.payload === undefined) {
    return { exitCode: 1, stdout: '', stderr: `rejected: ${result.reason} ${oneLine(result.detail)}\n` };
  }
  const v = mod.SubscriptionVerdict.of(result.payload, args.appId, args.environment, undefined, Date.now());
  if (v.reason.length > 0) {
    return { exitCode: 1, stdout: '', stderr: `rejected: ${v.reason} ${oneLine(v.detail)}\n` };
  }
  const p = result.payload as { lastSubscriptionStatus?: { subGroupGenerationId?: string; lastPurchaseOrder?: { productId?: string } } };
  const last = p.lastSubscriptionStatus;
  const checked = [args.appId ? `app ${args.appId}` : '', args.environment ? args.environment : ''].filter((x) => x);
  return {
    exitCode: 0,
    stdout: `${JSON.stringify(result.payload, null, 2)}\n`,
    stderr: `valid: subscription ${String(last?.subGroupGenerationId)} (${String(last?.lastPurchaseOrder?.productId)}) ${v.state}, ` +
      `${v.entitled ? 'entitled' : 'not entitled'}, expires ${new Date(v.expiresTime).toISOString()}, periods to grant: ` +
      `${v.grantedOrderIds.join(' ') || 'none'}${v.revokedOrderIds.length > 0 ? `, refunded periods: ${v.revokedOrderIds.join(' ')}` : ''}; ` +
      `signed by a chain up to ${args.root}${checked.length > 0 ? `, ${checked.join(', ')} checked` : ', applicationId and environment not checked'}\n`,
  };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

async function main(): Promise<void> {
  const result = await runCli(process.argv.slice(2));
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
}

if (require.main === module) {
  void main();
}
