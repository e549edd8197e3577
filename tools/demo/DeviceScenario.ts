// The story `npm run demo` tells on the simulated device. Runs inside the bundle Demo.ts builds (the real
// common/iap engine plus the Node kits), in the same process as the app server started by Demo.ts.
//
//   launch 1  buy gems_100 normally; buy gems_550 and get KILLED after paying, before the result arrives
//   launch 2  the launch sweep finds gems_550 and delivers it; buy remove_ads and get KILLED after the grant,
//             before finishPurchase
//   launch 3  the launch sweep finds remove_ads granted: it only finishes it (no second grant); buy gems_1200
//             while the store's answer is lost (SYSTEM_ERROR after the payment): the engine sweeps at once;
//             "Restore purchases" grants nothing twice; the app closes normally
//   launch 4  subscribe to Gem Club (time machine: a month is 1.5 s); the app closes; the period ends and the store
//             charges the renewal while the app is closed
//   launch 5  the launch sweep grants the renewal and the app is KILLED before finishPurchase (the renewal is lost
//             to a crash: left unfinished it would block the next renewal)
//   launch 6  the launch sweep only finishes it; the next period is charged, not blocked; restore delivers it
import * as path from 'node:path';
import { hilogCapture, LogLevel } from '../node-kits/PerformanceAnalysisKit';
import { SUBSCRIPTION_CATALOG } from '../iap-sim/Catalog';
import { resetSimulator } from '../iap-sim/CurrentSimulator';
import { AuditEntry, IapSimulator, OrderView } from '../iap-sim/IapSimulator';
import { IAPErrorCode } from '../iap-sim/IapTypes';
import { loadTestPki, TestPkiJson } from '../testing/TestPki';
import { DeviceContext, IapModule } from './IapModule';
import { AppProcess, DeviceSetup } from './SimulatedDevice';
import { shortOrderId, TimelineSink } from './Timeline';

export interface DeviceOptions {
  serverUrl: string;
  /** The signed-in player's session, sent to the server as Authorization: Bearer (never logged). */
  sessionToken: string;
  applicationId: string;
  /** The store's signing chain: the same test PKI whose root the server pins. */
  pki: TestPkiJson;
  /** The app's data folder (database/, files/…), kept across kills and relaunches. */
  dataDir: string;
  /** false: the app has no recovery loop (no sweeps), to show what gets lost. */
  recovery: boolean;
  /** Echo the engine's hilog lines (as a device would log them) into the output. */
  verbose: boolean;
  timeline: TimelineSink;
}

/** An order as the store knows it at the end. Contains the purchase token: for the leak check, never printed. */
export interface StoreOrder {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: number;
  quantity: number;
  priceFen: number;
  paid: boolean;
  finished: boolean;
  revoked: boolean;
}

export interface DeviceReport {
  storeOrders: StoreOrder[];
  /** The device's ledger file (the engine's RDB store), closed by now. */
  ledgerFile: string;
  /** Everything the engine logged through hilog, formatted as on a device. */
  deviceLog: string[];
  launches: number;
}

/** The bundle's export (see DEVICE_ENTRY in Demo.ts). */
export interface DeviceBundle {
  run(options: DeviceOptions): Promise<DeviceReport>;
}

function codeName(code: number): string {
  const name = (IAPErrorCode as unknown as Record<number, string | undefined>)[code];
  return name !== undefined ? `${name} (${code})` : String(code);
}

function price(fen: number): string {
  return `¥${(fen / 100).toFixed(2)}`;
}

/** The store's side of the story: what the store recorded, whether or not the app heard about it. */
function noteStoreEvent(timeline: TimelineSink, entry: AuditEntry, order: OrderView | undefined): void {
  if (entry.kind === 'operator' && entry.fn === 'autoRenew' && order !== undefined) {
    timeline.note('store', `the period of ${order.productId} ends: renewal charged → order ${shortOrderId(order.purchaseOrderId)} PAID (${price(order.priceFen)})`);
  }
  if (entry.kind === 'operator' && entry.fn === 'renewalBlocked') {
    timeline.note('store', `the renewal CANNOT be charged: order ${shortOrderId(entry.facts.purchaseOrderId ?? '')} is still unfinished (expirationIntent 7)`);
  }
  if (entry.kind !== 'call') return;
  const id = shortOrderId(order?.purchaseOrderId ?? entry.facts.purchaseOrderId ?? '');
  if (entry.fn === 'createPurchase') {
    if (entry.ok && order !== undefined) {
      timeline.note('store', `createPurchase ${order.productId} → order ${id} PAID (${price(order.priceFen)})`);
    } else if (entry.applied && order !== undefined) {
      timeline.note(
        'store',
        `createPurchase ${order.productId} → order ${id} PAID (${price(order.priceFen)}), but the answer is lost: the app gets ${codeName(entry.code)}`,
      );
    } else {
      timeline.note('store', `createPurchase ${entry.facts.productId ?? '?'} → ${codeName(entry.code)}`);
    }
  } else if (entry.fn === 'finishPurchase') {
    timeline.note('store', entry.ok ? `finishPurchase ${id} → FINISHED` : `finishPurchase ${id} → ${codeName(entry.code)}`);
  }
}

function storeOrders(sim: IapSimulator): StoreOrder[] {
  return sim.orders().map((o) => ({
    purchaseOrderId: o.purchaseOrderId,
    purchaseToken: o.purchaseToken,
    productId: o.productId,
    productType: o.productType,
    quantity: o.quantity,
    priceFen: o.priceFen,
    paid: o.paid,
    finished: o.finished,
    revoked: o.revoked,
  }));
}

/** Waits until the current Gem Club period has ended (+100 ms), then lets the store charge (or block) the renewal. */
async function untilPeriodEnd(sim: IapSimulator): Promise<void> {
  sim.advanceSubscriptions();
  const sub = sim.subscriptionList().filter((s) => !s.revoked && s.switchedTo === undefined).pop();
  if (sub === undefined) return;
  await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, sub.expiresTime - Date.now()) + 100));
  sim.advanceSubscriptions();
}

/** Runs the story. `iap` is the `@zerolost/iap` module object (the real engine, bundled from its .ets sources). */
export async function runDeviceScenario(iap: IapModule, options: DeviceOptions): Promise<DeviceReport> {
  const timeline = options.timeline;
  hilogCapture.start();
  hilogCapture.setMinLevel(options.verbose ? LogLevel.DEBUG : LogLevel.FATAL);

  const pki = loadTestPki(options.pki);
  const sim = await resetSimulator({
    pki,
    applicationId: options.applicationId,
    environment: 'SANDBOX',
    catalog: SUBSCRIPTION_CATALOG,
    // The sandbox time machine, faster still: a subscription day is 50 ms, a month 1.5 s.
    subscriptionDayMs: 50,
  });
  const stopObserving = sim.addObserver((entry, order) => noteStoreEvent(timeline, entry, order));

  const dir = (name: string): string => path.join(options.dataDir, name);
  const context: DeviceContext = { databaseDir: dir('database'), filesDir: dir('files'), cacheDir: dir('cache'), tempDir: dir('temp') };
  const setup: DeviceSetup = {
    serverUrl: options.serverUrl,
    sessionToken: options.sessionToken,
    applicationId: options.applicationId,
    context,
    recovery: options.recovery,
    timeline,
  };
  let launches = 0;
  const launch = (): Promise<AppProcess> => AppProcess.launch(++launches, iap, setup);
  const heading = (title: string): void => timeline.heading(title);

  try {
    heading('Launch 1: a normal purchase; then the app is killed right after the user paid');
    let app = await launch();
    await app.buy('gems_100');
    await app.buyAndDie(
      'gems_550',
      'after-payment',
      'the user paid at the store, the app process died before createPurchase returned (the result never arrives)',
    );

    heading(`Launch 2: relaunch${options.recovery ? ' and launch sweep' : ' (no sweep)'}; then a crash after the grant, before finishPurchase`);
    app = await launch();
    await app.buyAndDie(
      'remove_ads',
      'before-finish',
      'the grant is committed in the ledger, the process died before finishPurchase (SQLite connection dropped)',
    );

    heading(`Launch 3: relaunch${options.recovery ? ' and launch sweep' : ' (no sweep)'}; a purchase whose answer is lost; restore; close`);
    app = await launch();
    sim.failNextAfterApplying('createPurchase', IAPErrorCode.SYSTEM_ERROR);
    await app.buy('gems_1200');
    await app.restore();
    await app.close();

    heading('Launch 4: subscribe to Gem Club (a sandbox month is 1.5 s here); close the app; the period ends');
    app = await launch();
    await app.buy('gem_club_monthly');
    app.noteSubscriptions();
    await app.close();
    await untilPeriodEnd(sim);

    heading(`Launch 5: relaunch${options.recovery ? ': the sweep grants the renewal, then a crash before finishPurchase' : ' (no sweep)'}`);
    if (options.recovery) {
      await AppProcess.launchAndDie(++launches, iap, setup, 'before-finish',
        'the renewal\'s grant is committed, the process died before finishPurchase: left so, it blocks the next renewal');
    } else {
      app = await launch();
      await app.close();
    }

    heading(`Launch 6: relaunch${options.recovery ? ' and launch sweep' : ' (no sweep)'}; the next period ends; restore`);
    app = await launch();
    await untilPeriodEnd(sim);
    await app.restore();
    app.noteSubscriptions();
    await app.close();
  } finally {
    stopObserving();
  }

  return {
    storeOrders: storeOrders(sim),
    ledgerFile: path.join(context.databaseDir, 'rdb', iap.RdbDeliveryLedger.DEFAULT_STORE_NAME),
    deviceLog: hilogCapture.stop(),
    launches,
  };
}
