// The simulated device of `npm run demo`: app processes that run the REAL delivery engine of common/iap, wired the
// way the entry ability wires it on a phone (RdbDeliveryLedger over the app's database folder, IapKitStoreGateway
// over `@kit.IAPKit`, RemoteVerifier over `@kit.NetworkKit`, HilogLogger), with the kits served by tools/node-kits
// (relationalStore = SQLite, IAP Kit = the simulator, http = node:http).
//
// The demo's additions are thin decorators around the ports. They draw the timeline, and they model a process
// kill: once an AppProcess is killed, its SQLite connection is gone (simulateProcessDeath), its timers never fire
// and every call it makes to the store or the server simply never returns — the dead process's code never runs
// again, exactly as on a phone. The engine itself is not touched.
import { simulateProcessDeath } from '../node-kits/ArkData';
import { shortOrderId, Actor, TimelineSink } from './Timeline';
import {
  AccountProvider,
  Clock,
  DeliveredItem,
  DeliveryEngine,
  DeliveryRecord,
  DeviceContext,
  EngineConfig,
  GrantTransaction,
  Granter,
  IapModule,
  PurchasePage,
  PurchaseVerifier,
  StoreGateway,
  StoreProduct,
  SubscriptionVerificationResult,
  SweepReport,
  VerificationResult,
  VerifiedOrder,
} from './IapModule';

/** What the demo app sells: the ids configured in AppGallery Connect (and in the simulator and server catalogs). */
export interface DemoProduct {
  productId: string;
  productType: number;
  /** Gems per unit for consumables; 0 for non-consumables (an entitlement). */
  gemsPerUnit: number;
}

export const DEMO_PRODUCTS: readonly DemoProduct[] = [
  { productId: 'gems_100', productType: 0, gemsPerUnit: 100 },
  { productId: 'gems_550', productType: 0, gemsPerUnit: 550 },
  { productId: 'gems_1200', productType: 0, gemsPerUnit: 1200 },
  { productId: 'remove_ads', productType: 1, gemsPerUnit: 0 },
  { productId: 'premium_themes', productType: 1, gemsPerUnit: 0 },
  // Gem Club: an auto-renewable; every paid period gives its gem bonus once.
  { productId: 'gem_club_monthly', productType: 2, gemsPerUnit: 300 },
];

export function demoProduct(productId: string): DemoProduct | undefined {
  return DEMO_PRODUCTS.find((p) => p.productId === productId);
}

/** The demo wallet's tables, in the ledger's own SQLite store (so a grant commits with its ledger row). */
export const WALLET_TABLE = 'demo_wallet';
export const GRANT_LOG_TABLE = 'demo_grant_log';
export const ENTITLEMENT_TABLE = 'demo_entitlement';

/** The purchaseOrderId inside a JWS, read WITHOUT verifying it: for the timeline only, never to decide anything. */
export function peekOrderId(jwsOrPurchaseData: string): string {
  try {
    let jws = jwsOrPurchaseData;
    if (jws.startsWith('{')) {
      const data = JSON.parse(jws) as { jwsPurchaseOrder?: unknown; jwsSubscriptionStatus?: unknown };
      jws = typeof data.jwsPurchaseOrder === 'string' ? data.jwsPurchaseOrder :
        typeof data.jwsSubscriptionStatus === 'string' ? data.jwsSubscriptionStatus : '';
    }
    const payload = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      purchaseOrderId?: unknown;
      lastSubscriptionStatus?: { lastPurchaseOrder?: { purchaseOrderId?: unknown } };
    };
    // A subscription status: its latest period names it.
    const id = payload.purchaseOrderId ?? payload.lastSubscriptionStatus?.lastPurchaseOrder?.purchaseOrderId;
    return typeof id === 'string' ? id : '';
  } catch {
    return '';
  }
}

const PRODUCT_TYPE_NAMES: Readonly<Record<number, string>> = { 0: 'consumable', 1: 'non-consumable', 2: 'auto-renewable', 3: 'non-renewable' };
const QUERY_TYPE_NAMES: Readonly<Record<number, string>> = { 0: 'ALL', 1: 'UNFINISHED', 2: 'CURRENT_ENTITLEMENT' };

export function productTypeName(type: number): string {
  return PRODUCT_TYPE_NAMES[type] ?? `type ${type}`;
}

export function queryTypeName(type: number): string {
  return QUERY_TYPE_NAMES[type] ?? `query ${type}`;
}

/** A promise that never settles: what a call made by a dead process "returns". */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** The life of one app process. `kill` is the OS killing it: no cleanup of any kind runs. */
class ProcessLife {
  private isAlive = true;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextTimerId = 1;
  private markDead: (reason: string) => void = () => undefined;
  readonly died: Promise<string>;

  constructor(
    private readonly actor: Actor,
    private readonly timeline: TimelineSink,
  ) {
    this.died = new Promise<string>((resolve) => {
      this.markDead = resolve;
    });
  }

  get alive(): boolean {
    return this.isAlive;
  }

  kill(reason: string): void {
    if (!this.isAlive) return;
    this.isAlive = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    // The OS drops the process's SQLite connection: what was committed stays, nothing else happens.
    simulateProcessDeath();
    this.timeline.note(this.actor, `✖ KILLED — ${reason}`);
    this.markDead(reason);
  }

  setTimer(callback: () => void, delayMs: number): number {
    if (!this.isAlive) return 0;
    const id = this.nextTimerId++;
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        if (this.isAlive) callback();
      }, delayMs),
    );
    return id;
  }

  clearTimer(id: number): void {
    const timer = this.timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(id);
  }

  /** A normal exit: pending timers are dropped (the engine cleared its own in stop()). */
  exit(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.isAlive = false;
  }
}

/** The engine's clock: real time, timers owned by the process (they die with it). */
class ProcessClock implements Clock {
  constructor(private readonly life: ProcessLife) {}

  now(): number {
    return Date.now();
  }

  /** Elapsed time for throttles and timers: Node's monotonic clock, which a change of the date does not move. */
  monotonicMs(): number {
    return performance.now();
  }

  setTimer(callback: () => void, delayMs: number): number {
    return this.life.setTimer(callback, delayMs);
  }

  clearTimer(timerId: number): void {
    this.life.clearTimer(timerId);
  }
}

/** Where the demo kills the process. */
export type KillPoint =
  /** createPurchase succeeded at the store (the user paid); the process dies before the result reaches it. */
  | 'after-payment'
  /** The grant committed; the process dies before finishPurchase leaves it. */
  | 'before-finish';

/** StoreGateway decorator: process death, kill points, and the app's view of queries for the timeline. */
class ProcessStoreGateway implements StoreGateway {
  killAt: { point: KillPoint; reason: string } | undefined = undefined;
  /** Called as finishPurchase leaves the process. */
  onFinish: (purchaseOrderId: string) => void = () => undefined;
  /**
   * Distinct orders the store listed since the last `takeListed()`. A sweep sees the same order once per query
   * that lists it (a non-consumable is UNFINISHED and CURRENT_ENTITLEMENT at once): the timeline counts orders.
   */
  private listed = new Set<string>();

  takeListed(): number {
    const n = this.listed.size;
    this.listed = new Set<string>();
    return n;
  }

  constructor(
    private readonly inner: StoreGateway,
    private readonly life: ProcessLife,
    private readonly actor: Actor,
    private readonly timeline: TimelineSink,
  ) {}

  async createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string> {
    if (!this.life.alive) return never<string>();
    const purchaseData = await this.inner.createPurchase(productId, productType, developerPayload, quantity);
    if (!this.life.alive) return never<string>();
    if (this.killAt?.point === 'after-payment') {
      this.life.kill(this.killAt.reason);
      return never<string>();
    }
    return purchaseData;
  }

  async finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void> {
    if (!this.life.alive) return never<void>();
    if (this.killAt?.point === 'before-finish') {
      this.life.kill(this.killAt.reason);
      return never<void>();
    }
    this.onFinish(purchaseOrderId);
    await this.inner.finishPurchase(productType, purchaseToken, purchaseOrderId);
    if (!this.life.alive) return never<void>();
  }

  async queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage> {
    if (!this.life.alive) return never<PurchasePage>();
    const page = await this.inner.queryPurchases(productType, queryType, continuationToken);
    if (!this.life.alive) return never<PurchasePage>();
    const ids = page.purchaseDataList.map((data) => shortOrderId(peekOrderId(data)));
    for (const id of ids) this.listed.add(id);
    if (ids.length > 0) {
      this.timeline.note(
        this.actor,
        `queryPurchases(${productTypeName(productType)}, ${queryTypeName(queryType)}) → ${ids.join(', ')}`,
      );
    }
    return page;
  }

  async queryEnvironmentStatus(): Promise<void> {
    if (!this.life.alive) return never<void>();
    return this.inner.queryEnvironmentStatus();
  }

  async queryProducts(productType: number, productIds: string[]): Promise<StoreProduct[]> {
    if (!this.life.alive) return never<StoreProduct[]>();
    return this.inner.queryProducts(productType, productIds);
  }

  async isSandboxActivated(): Promise<boolean> {
    if (!this.life.alive) return never<boolean>();
    return this.inner.isSandboxActivated();
  }
}

/** PurchaseVerifier decorator: process death, and the verdict on the timeline. */
class ProcessVerifier implements PurchaseVerifier {
  constructor(
    private readonly inner: PurchaseVerifier,
    private readonly life: ProcessLife,
    private readonly actor: Actor,
    private readonly timeline: TimelineSink,
  ) {}

  async verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResult> {
    if (!this.life.alive) return never<VerificationResult>();
    const order = shortOrderId(peekOrderId(jwsPurchaseOrder || purchaseData));
    let result: VerificationResult;
    try {
      result = await this.inner.verify(purchaseData, jwsPurchaseOrder);
    } catch (e) {
      if (!this.life.alive) return never<VerificationResult>();
      this.timeline.note(this.actor, `verify ${order} at the app server → unavailable (${e instanceof Error ? e.message : String(e)}); kept pending`);
      throw e;
    }
    if (!this.life.alive) return never<VerificationResult>();
    this.timeline.note(
      this.actor,
      result.isValid ? `verify ${order} at the app server → valid` : `verify ${order} at the app server → REJECTED (${result.reason})`,
    );
    return result;
  }

  async verifySubscription(purchaseData: string, jws: string): Promise<SubscriptionVerificationResult> {
    if (!this.life.alive) return never<SubscriptionVerificationResult>();
    let result: SubscriptionVerificationResult;
    try {
      result = await this.inner.verifySubscription(purchaseData, jws);
    } catch (e) {
      if (!this.life.alive) return never<SubscriptionVerificationResult>();
      this.timeline.note(this.actor, `verify subscription status → unavailable (${e instanceof Error ? e.message : String(e)}); kept pending`);
      throw e;
    }
    if (!this.life.alive) return never<SubscriptionVerificationResult>();
    this.timeline.note(this.actor, result.isValid ? 'verify subscription status → valid' :
      `verify subscription status → REJECTED (${result.reason})`);
    return result;
  }
}

/**
 * The demo app's Granter: gems and entitlements in tables of the ledger's own store. Every committed grant leaves a
 * row in demo_grant_log (deliberately NOT unique per order), so a double grant would be visible in the tally: the
 * exactly-once guarantee has to come from the engine and its ledger, not from this class.
 */
class DemoWalletGranter implements Granter {
  constructor(private readonly launch: number) {}

  async prepare(tx: GrantTransaction): Promise<void> {
    await tx.executeSql(`CREATE TABLE IF NOT EXISTS ${WALLET_TABLE} (currency TEXT PRIMARY KEY NOT NULL, amount INTEGER NOT NULL)`);
    await tx.executeSql(
      `CREATE TABLE IF NOT EXISTS ${GRANT_LOG_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, purchase_order_id TEXT NOT NULL, ` +
        'product_id TEXT NOT NULL, quantity INTEGER NOT NULL, gems INTEGER NOT NULL, launch INTEGER NOT NULL, granted_at INTEGER NOT NULL)',
    );
    await tx.executeSql(
      `CREATE TABLE IF NOT EXISTS ${ENTITLEMENT_TABLE} (product_id TEXT PRIMARY KEY NOT NULL, purchase_order_id TEXT NOT NULL)`,
    );
  }

  async grant(order: VerifiedOrder, tx: GrantTransaction): Promise<void> {
    const product = demoProduct(order.productId);
    if (product === undefined) throw new Error(`product ${order.productId} is not in the demo catalog`);
    const gems = product.gemsPerUnit * order.quantity;
    await tx.executeSql(
      `INSERT INTO ${GRANT_LOG_TABLE} (purchase_order_id, product_id, quantity, gems, launch, granted_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [order.purchaseOrderId, order.productId, order.quantity, gems, this.launch, Date.now()],
    );
    if (gems > 0) {
      await tx.executeSql(`INSERT OR IGNORE INTO ${WALLET_TABLE} (currency, amount) VALUES ('gems', 0)`);
      await tx.executeSql(`UPDATE ${WALLET_TABLE} SET amount = amount + ? WHERE currency = 'gems'`, [gems]);
    } else {
      await tx.executeSql(`INSERT OR REPLACE INTO ${ENTITLEMENT_TABLE} (product_id, purchase_order_id) VALUES (?, ?)`, [
        order.productId,
        order.purchaseOrderId,
      ]);
    }
  }

  async revoke(record: DeliveryRecord, tx: GrantTransaction): Promise<void> {
    const rows = await tx.querySql(`SELECT gems FROM ${GRANT_LOG_TABLE} WHERE purchase_order_id = ?`, [record.purchaseOrderId]);
    const gems = rows.reduce((sum, row) => sum + row.getNumber('gems'), 0);
    if (gems > 0) {
      await tx.executeSql(`UPDATE ${WALLET_TABLE} SET amount = MAX(0, amount - ?) WHERE currency = 'gems'`, [gems]);
    }
    await tx.executeSql(`DELETE FROM ${ENTITLEMENT_TABLE} WHERE product_id = ? AND purchase_order_id = ?`, [
      record.productId,
      record.purchaseOrderId,
    ]);
  }
}

/** The signed-in player, as an opaque binding (never PII): developerPayload on the device, accountId at the server. */
class DemoAccount implements AccountProvider {
  static readonly BINDING = 'player-7f3a9c';

  async currentBinding(): Promise<string | undefined> {
    return DemoAccount.BINDING;
  }
}

export interface DeviceSetup {
  /** The app server's base URL (RemoteVerifier posts to <url>/v1/purchases/verify). */
  serverUrl: string;
  /** The signed-in player's session for the server (RemoteVerifierConfig.credentials). */
  sessionToken: string;
  applicationId: string;
  /** The app's data folders: they survive a kill, like an installed app's. */
  context: DeviceContext;
  /** false: an app without the recovery loop (it never sweeps for unfinished orders), to show what is lost. */
  recovery: boolean;
  timeline: TimelineSink;
}

/** One launch of the app: a new process, a new engine over the same ledger file. */
export class AppProcess {
  readonly actor: Actor;
  readonly engine: DeliveryEngine;
  private readonly life: ProcessLife;
  private readonly store: ProcessStoreGateway;
  /** Orders this process granted (the others it finishes were granted by an earlier launch). */
  private readonly grantedHere = new Set<string>();

  private constructor(
    readonly launch: number,
    private readonly iap: IapModule,
    private readonly setup: DeviceSetup,
  ) {
    this.actor = `app#${launch}`;
    this.life = new ProcessLife(this.actor, setup.timeline);
    this.store = new ProcessStoreGateway(new iap.IapKitStoreGateway(setup.context), this.life, this.actor, setup.timeline);
    const verifierConfig = new iap.RemoteVerifierConfig(setup.serverUrl);
    verifierConfig.credentials = () => Promise.resolve(setup.sessionToken);
    const config: EngineConfig = {
      applicationId: setup.applicationId,
      environment: iap.IapEnvironment.SANDBOX,
      products: DEMO_PRODUCTS.map((p) => ({ productId: p.productId, productType: p.productType })),
    };
    if (!setup.recovery) {
      config.sweepProductTypes = [];
      config.restoreProductTypes = [];
    }
    this.engine = new iap.DeliveryEngine(
      {
        store: this.store,
        ledger: new iap.RdbDeliveryLedger(setup.context),
        // Orders and subscription statuses alike go to the app server, which records every period it verifies.
        verifier: new ProcessVerifier(new iap.RemoteVerifier(verifierConfig), this.life, this.actor, setup.timeline),
        granter: new DemoWalletGranter(launch),
        clock: new ProcessClock(this.life),
        logger: new iap.HilogLogger('ZeroLostDemo', `[${this.actor}] `),
        codec: new iap.UtilTextCodec(),
        accounts: new DemoAccount(),
      },
      config,
    );
    this.engine.onDelivered((item: DeliveredItem) => this.noteDelivered(item));
    this.store.onFinish = (purchaseOrderId: string): void => {
      if (!this.grantedHere.has(purchaseOrderId)) {
        setup.timeline.note(
          this.actor,
          `${shortOrderId(purchaseOrderId)}: the ledger row says "granted" (an earlier launch granted it) → finishPurchase only, no second grant`,
        );
      }
    };
  }

  /**
   * Starts a process that is killed at `point` during its launch sweep (e.g. before finishing a renewal it just
   * granted). Resolves once it is dead.
   */
  static async launchAndDie(launch: number, iap: IapModule, setup: DeviceSetup, point: KillPoint, reason: string): Promise<void> {
    const app = new AppProcess(launch, iap, setup);
    app.store.killAt = { point, reason };
    setup.timeline.note(app.actor, `app starts again: a NEW engine over the SAME ledger file ${iap.RdbDeliveryLedger.DEFAULT_STORE_NAME}`);
    const started = app.engine.start().then(() => app.engine.recover(iap.SweepTrigger.LAUNCH)).then(() => {
      throw new Error(`the app was to be killed (${point}) during its launch sweep, but the sweep ended`);
    });
    await Promise.race([app.life.died, started]);
  }

  /** The subscription entitlements as the app shows them. */
  noteSubscriptions(): void {
    const now = Date.now();
    for (const e of this.engine.state.subscriptions) {
      this.setup.timeline.note(this.actor, `subscription ${e.productId}: ${e.phaseAt(now)}, access ${e.hasAccessAt(now) ? 'yes' : 'no'}, ` +
        `period ends in ${Math.max(0, e.expiresAt - now)} ms${e.expirationIntent === '7' ? ', renewals BLOCKED by an unfinished period' : ''}`);
    }
  }

  /** Starts the process: the engine opens the ledger and runs its launch sweep (awaited here). */
  static async launch(launch: number, iap: IapModule, setup: DeviceSetup): Promise<AppProcess> {
    const app = new AppProcess(launch, iap, setup);
    const ledgerName = iap.RdbDeliveryLedger.DEFAULT_STORE_NAME;
    setup.timeline.note(
      app.actor,
      launch === 1
        ? `app starts: DeliveryEngine.start() opens the ledger ${ledgerName}`
        : `app starts again: a NEW engine over the SAME ledger file ${ledgerName}`,
    );
    app.store.takeListed();
    await app.engine.start();
    // start() scheduled the launch sweep on a timer; recover() with the same trigger runs it now (never twice).
    const report = await app.engine.recover(iap.SweepTrigger.LAUNCH);
    app.noteSweep(report.trigger, report);
    return app;
  }

  get alive(): boolean {
    return this.life.alive;
  }

  /** The user taps Buy and waits for the result. */
  async buy(productId: string): Promise<void> {
    this.setup.timeline.note('user', `taps Buy ${productId}`);
    this.store.takeListed();
    const outcome = await this.engine.purchase(productId);
    let text = `purchase(${productId}) → ${outcome.status}`;
    if (outcome.report !== undefined && outcome.report.pages === 0) {
      // The engine's sweep had no product types to query: nothing looked for the order.
      text = `purchase(${productId}) → no result: the store answered ${outcome.errorCode} and this app has no ` +
        'recovery loop, so nothing looks for the order the user may have paid';
    } else if (outcome.report !== undefined) {
      text +=
        ` (the store answered ${outcome.errorCode}, so the engine swept the store's orders at once: ` +
        `${this.sweepSummary(outcome.report, this.store.takeListed())})`;
    } else if (outcome.status !== 'delivered') {
      text += ` (${outcome.errorCategory} ${outcome.errorCode}: ${outcome.message})`;
    }
    this.setup.timeline.note(this.actor, text);
  }

  /** The user taps Buy; the process is killed at `point`. Resolves once it is dead. */
  async buyAndDie(productId: string, point: KillPoint, reason: string): Promise<void> {
    this.store.killAt = { point, reason };
    this.setup.timeline.note('user', `taps Buy ${productId}`);
    const finished = this.engine.purchase(productId).then((outcome) => {
      throw new Error(`the app was to be killed (${point}), but purchase(${productId}) returned ${outcome.status}`);
    });
    await Promise.race([this.life.died, finished]);
  }

  /** The user taps "Restore purchases". */
  async restore(): Promise<void> {
    this.setup.timeline.note('user', 'taps Restore purchases');
    this.store.takeListed();
    this.noteSweep('restore', await this.engine.restore());
  }

  /** The user leaves the app; the engine stops cleanly. */
  async close(): Promise<void> {
    await this.engine.stop();
    this.life.exit();
    this.setup.timeline.note(this.actor, 'app closed normally (DeliveryEngine.stop())');
  }

  /**
   * What a sweep did, in orders: `listed` counts distinct orders (the report's `seen` counts listings, one per query
   * that returned the order). "Granted earlier, finished now" is the report's `completed`: an order a previous
   * launch granted, which this sweep only finished with the store.
   */
  private sweepSummary(r: SweepReport, listed: number): string {
    const parts = [`${listed} order${listed === 1 ? '' : 's'} listed`];
    parts.push(`${r.delivered} delivered now`);
    if (r.completed > 0) parts.push(`${r.completed} granted before the crash, only finished now`);
    if (r.pending > 0) parts.push(`${r.pending} still pending`);
    if (r.rejected > 0) parts.push(`${r.rejected} rejected`);
    if (r.held > 0) parts.push(`${r.held} held`);
    return parts.join(', ');
  }

  private noteSweep(trigger: string, r: SweepReport): void {
    const listed = this.store.takeListed();
    if (r.pages === 0) {
      // An app without the recovery loop: the engine has no product types to sweep, nothing is asked of the store.
      const when = trigger === 'launch' ? 'at launch' : `on ${trigger}`;
      this.setup.timeline.note(this.actor, `${when}: no sweep, the store is not asked (this app has no recovery loop)`);
      return;
    }
    this.setup.timeline.note(
      this.actor,
      `${trigger} sweep done: ${this.sweepSummary(r, listed)}${r.complete ? '' : ` — incomplete (${r.errorCategory})`}`,
    );
  }

  private noteDelivered(item: DeliveredItem): void {
    if (!this.life.alive) return;
    this.grantedHere.add(item.purchaseOrderId);
    const product = demoProduct(item.productId);
    const what = product !== undefined && product.gemsPerUnit > 0 ? `+${product.gemsPerUnit * item.quantity} gems` : `${item.productId} unlocked`;
    this.setup.timeline.note(this.actor, `granted ${shortOrderId(item.purchaseOrderId)} ${item.productId} ×${item.quantity}: ${what} (committed with its ledger row)`);
  }
}
