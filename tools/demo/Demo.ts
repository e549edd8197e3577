// `npm run demo`: the end-to-end story of a paid order that survives the app being killed.
//
// 1. Starts the reference app server (server/) on 127.0.0.1 with a temporary SQLite ledger, SANDBOX mode, and a
//    fresh test PKI (tools/testing/TestPki) as its pinned root.
// 2. Bundles the REAL delivery engine of common/iap (its ArkTS sources) for Node with tools/test/EtsBundler: the
//    kits resolve to tools/node-kits (relationalStore over SQLite, IAP Kit = the simulator signing with the same
//    PKI, http over node:http), and the RemoteVerifier talks to the server above.
// 3. Runs the story of DeviceScenario.ts: purchases, two kills at the worst moments, relaunches that recover; then a
//    subscription whose renewal is lost to a crash and recovered before it could block the next renewal.
// 4. Prints a timeline of every step and a tally from three independent sources (the store, the device's ledger
//    file, the server's ledger); exits 1 if a paid order was lost, granted twice or left unfinished, or if a
//    purchase token or JWS showed up in any output or log.
//
// Options: --without-recovery (an app that never sweeps: shows what is lost), --verbose (the engine's hilog lines
// too), --keep (keep the temporary folder for inspection).
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import * as crypto from 'node:crypto';
import { mintSessionToken, SessionTokenAuthenticator, startServer, type OrderPayload, type RunningServer } from '../../server/src/index';
import { ROOT } from '../check/EtsProject';
import { bundleEts } from '../test/EtsBundler';
import { createTestPki } from '../testing/TestPki';
import type { DeviceBundle, DeviceReport } from './DeviceScenario';
import { demoProduct, ENTITLEMENT_TABLE, GRANT_LOG_TABLE, WALLET_TABLE } from './SimulatedDevice';
import { computeTally, findLeaks, tallyLine, type OrderFacts, type Tally, type WalletFacts } from './Tally';
import { shortOrderId, Timeline } from './Timeline';

/** The demo app's APP ID (as configured in AppGallery Connect); the server and the engine both expect it. */
export const DEMO_APP_ID = '110000000';

/** The bundle entry: the `@zerolost/iap` module object (the real engine) handed to the story. */
const DEVICE_ENTRY = [
  "import * as iap from '@zerolost/iap';",
  "import { runDeviceScenario } from './tools/demo/DeviceScenario';",
  'export const run = (options) => runDeviceScenario(iap, options);',
].join('\n');

export interface DemoOptions {
  recovery: boolean;
  verbose: boolean;
  keep: boolean;
}

const USAGE = `usage: npm run demo -- [--without-recovery] [--verbose] [--keep]
  --without-recovery  the app never sweeps for unfinished orders: see what gets lost (exits 1)
  --verbose           also print the engine's hilog lines as a device would log them
  --keep              keep the temporary folder (ledgers, device log) and print where it is`;

export function parseArgs(argv: readonly string[]): DemoOptions | string {
  const options: DemoOptions = { recovery: true, verbose: false, keep: false };
  for (const arg of argv) {
    if (arg === '--without-recovery') options.recovery = false;
    else if (arg === '--verbose') options.verbose = true;
    else if (arg === '--keep') options.keep = true;
    else return arg === '--help' || arg === '-h' ? USAGE : `unknown option ${arg}\n${USAGE}`;
  }
  return options;
}

/** The demo's login service: the server accepts its session tokens, the device sends one with every verify. */
const SESSION_ISSUER = 'zerolost-demo-login';
const SESSION_AUDIENCE = 'zerolost-iap-server';
/** The signed-in player, as the device binds orders to it (developerPayload): DemoAccount in SimulatedDevice.ts. */
const DEMO_PLAYER = 'player-7f3a9c';

interface ServerSide {
  server: RunningServer;
  /** A session of DEMO_PLAYER for the device (never printed). */
  sessionToken: string;
  /** purchaseOrderId → how many times the server's ledger granted it. */
  grants: Map<string, number>;
  logLines: string[];
}

async function startDemoServer(work: string, rootPem: string, timeline: Timeline): Promise<ServerSide> {
  const grants = new Map<string, number>();
  const logLines: string[] = [];
  const log = new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      logLines.push(...String(chunk).split('\n').filter((l) => l.length > 0));
      callback();
    },
  });
  const sessionSecret = crypto.randomBytes(32);
  const server = await startServer({
    authenticator: new SessionTokenAuthenticator({ secrets: [sessionSecret], issuer: SESSION_ISSUER, audience: SESSION_AUDIENCE }),
    host: '127.0.0.1',
    port: 0,
    trustedRootPem: rootPem,
    appId: DEMO_APP_ID,
    environment: 'SANDBOX',
    databasePath: path.join(work, 'server', 'iap-server.sqlite'),
    logger: { level: 'info', stream: log },
    hooks: {
      grant(order: OrderPayload, accountId: string | undefined): void {
        grants.set(order.purchaseOrderId, (grants.get(order.purchaseOrderId) ?? 0) + 1);
        timeline.note(
          'server',
          `${shortOrderId(order.purchaseOrderId)} ${order.productId}: signature and chain OK, first presentation → ` +
            `recorded in the server ledger${accountId ? `, bound to ${accountId}` : ''}`,
        );
      },
    },
  });
  const sessionToken = mintSessionToken({ secret: sessionSecret, issuer: SESSION_ISSUER, audience: SESSION_AUDIENCE, accountId: DEMO_PLAYER });
  return { server, sessionToken, grants, logLines };
}

interface DeviceLedger {
  states: Map<string, string>;
  grants: Map<string, number>;
  wallet: WalletFacts;
}

/** Reads the device's ledger file directly (the engine is stopped): the durable truth after all the kills. */
function readDeviceLedger(file: string): DeviceLedger {
  const states = new Map<string, string>();
  const grants = new Map<string, number>();
  const wallet: WalletFacts = { gems: 0, entitlements: [] };
  if (!fs.existsSync(file)) return { states, grants, wallet };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    for (const row of db.prepare('SELECT purchase_order_id AS id, state FROM iap_delivery').all() as Array<{ id: string; state: string }>) {
      states.set(row.id, row.state);
    }
    const grantRows = db
      .prepare(`SELECT purchase_order_id AS id, COUNT(*) AS n FROM ${GRANT_LOG_TABLE} GROUP BY purchase_order_id`)
      .all() as Array<{ id: string; n: number }>;
    for (const row of grantRows) grants.set(row.id, row.n);
    const balance = db.prepare(`SELECT amount FROM ${WALLET_TABLE} WHERE currency = 'gems'`).get() as { amount: number } | undefined;
    const owned = db.prepare(`SELECT product_id AS id FROM ${ENTITLEMENT_TABLE} ORDER BY product_id`).all() as Array<{ id: string }>;
    return { states, grants, wallet: { gems: balance?.amount ?? 0, entitlements: owned.map((r) => r.id) } };
  } finally {
    db.close();
  }
}

function orderFacts(report: DeviceReport, ledger: DeviceLedger, serverGrants: Map<string, number>): OrderFacts[] {
  return report.storeOrders.map((o) => {
    const product = demoProduct(o.productId);
    return {
      purchaseOrderId: o.purchaseOrderId,
      productId: o.productId,
      quantity: o.quantity,
      paid: o.paid && !o.revoked,
      finishedAtStore: o.finished,
      ledgerState: ledger.states.get(o.purchaseOrderId),
      deviceGrants: ledger.grants.get(o.purchaseOrderId) ?? 0,
      serverGrants: serverGrants.get(o.purchaseOrderId) ?? 0,
      gems: (product?.gemsPerUnit ?? 0) * o.quantity,
      entitlement: product !== undefined && product.gemsPerUnit === 0,
      // Every order, subscription periods included, is verified (and recorded) by the app server.
      serverVerified: true,
    };
  });
}

function orderTable(orders: readonly OrderFacts[], report: DeviceReport): string[] {
  const rows: string[][] = [['order', 'product', 'store', 'device grants', 'device ledger', 'server grants']];
  for (const o of orders) {
    const store = report.storeOrders.find((s) => s.purchaseOrderId === o.purchaseOrderId);
    const storeState = !o.paid ? 'not paid' : o.finishedAtStore ? 'paid, finished' : 'paid, UNFINISHED';
    rows.push([
      shortOrderId(o.purchaseOrderId),
      `${o.productId}${store && store.priceFen > 0 ? ` ¥${(store.priceFen / 100).toFixed(2)}` : ''}`,
      storeState,
      String(o.deviceGrants),
      o.ledgerState ?? '(no row)',
      o.serverVerified === false ? '- (verified on the device)' : String(o.serverGrants),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => cell.padEnd(widths[c])).join('   ').trimEnd());
}

function verdict(t: Tally, recovery: boolean): string[] {
  if (t.problems.length === 0) {
    return ['OK: every paid order was delivered exactly once and finished with the store; nothing was lost.'];
  }
  const lines = [`FAILED: ${t.problems.length} problem(s)`, ...t.problems.map((p) => `  - ${p}`)];
  if (!recovery) {
    lines.push('This run had no recovery loop (--without-recovery): nothing looked for the orders paid before a kill.');
  }
  return lines;
}

/** Runs the demo; resolves with the process exit code. */
export async function runDemo(options: DemoOptions, write: (line: string) => void): Promise<number> {
  const printed: string[] = [];
  const print = (line: string): void => {
    printed.push(line);
    write(line);
  };
  const timeline = new Timeline(print);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zerolost-demo-'));
  // Under the repository (so the bundle's external packages resolve from node_modules), unique per run.
  const bundleFile = path.join(ROOT, '.test-out', 'demo', `device-${process.pid}-${path.basename(work)}.cjs`);
  let serverSide: ServerSide | undefined;
  try {
    print('Zero lost orders, end to end: the real common/iap engine on a simulated device, the reference app server,');
    print('and an app that gets killed at the worst moments.' + (options.recovery ? '' : ' (This run: WITHOUT the recovery loop.)'));
    timeline.heading('Setup');
    const pki = await createTestPki({ subjectPrefix: 'ZeroLost Demo' });
    serverSide = await startDemoServer(work, pki.rootPem, timeline);
    timeline.note(
      'server',
      `listening on ${serverSide.server.url}: SANDBOX, app ${DEMO_APP_ID}, pinned root = this run's test root, ledger in a temp SQLite file`,
    );
    const bundleStarted = Date.now();
    await bundleEts({ entry: 'demo-device.ts', outfile: bundleFile, stdin: { resolveDir: ROOT, contents: DEVICE_ENTRY } });
    timeline.note('demo', `bundled the real common/iap engine (ArkTS sources) with the Node kits in ${Date.now() - bundleStarted} ms`);
    timeline.note('store', 'IAP Kit simulator ready: signs purchase JWS with the leaf of the same test chain');
    const device = require(bundleFile) as DeviceBundle;
    const report = await device.run({
      serverUrl: serverSide.server.url,
      sessionToken: serverSide.sessionToken,
      applicationId: DEMO_APP_ID,
      pki: pki.toJSON(),
      dataDir: path.join(work, 'device'),
      recovery: options.recovery,
      verbose: options.verbose,
      timeline,
    });
    const server = serverSide.server;
    let recorded = 0;
    for (const o of report.storeOrders) if ((await server.ledger.get(o.purchaseOrderId)) !== undefined) recorded++;
    await server.close();

    const ledger = readDeviceLedger(report.ledgerFile);
    const orders = orderFacts(report, ledger, serverSide.grants);
    timeline.heading('Result');
    for (const line of orderTable(orders, report)) print(line);
    print(`  wallet: ${ledger.wallet.gems} gems (the paid orders are worth ${orders.filter((o) => o.paid).reduce((n, o) => n + o.gems, 0)}); owns ${ledger.wallet.entitlements.join(', ') || 'nothing'}`);
    print(`  server ledger: ${recorded} order(s) recorded; ${report.launches} app launches; ${report.deviceLog.length} device log lines`);
    const leaks = findLeaks(
      [
        { name: 'demo output', lines: printed },
        { name: 'device log (hilog)', lines: report.deviceLog },
        { name: 'server log', lines: serverSide.logLines },
      ],
      report.storeOrders.map((o) => o.purchaseToken),
    );
    if (leaks.length === 0) print('  no purchase token or JWS in the output, the device log or the server log');
    if (options.keep) {
      fs.writeFileSync(path.join(work, 'device-hilog.txt'), report.deviceLog.join('\n') + '\n');
      fs.writeFileSync(path.join(work, 'server-log.jsonl'), serverSide.logLines.join('\n') + '\n');
      print(`  kept ${work} (device ledger under device/database/rdb, server ledger, device-hilog.txt, server-log.jsonl)`);
    }
    const tally = computeTally(orders, ledger.wallet, leaks);
    print('');
    print(tallyLine(tally));
    for (const line of verdict(tally, options.recovery)) print(line);
    return tally.problems.length === 0 ? 0 : 1;
  } finally {
    await serverSide?.server.close();
    fs.rmSync(bundleFile, { force: true });
    if (!options.keep) fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    process.stderr.write(parsed + '\n');
    process.exitCode = parsed === USAGE ? 0 : 2;
  } else {
    runDemo(parsed, (line) => process.stdout.write(line + '\n')).then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`demo failed to run: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 2;
      },
    );
  }
}
