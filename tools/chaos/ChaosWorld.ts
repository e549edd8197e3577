// One chaos schedule, executed: a simulated store that outlives every app process, a ledger directory that
// outlives processes (but not a reinstall), a virtual clock, and a succession of app processes each running a
// real DeliveryEngine over real adapters wrapped in fault-injecting ports. After the schedule the world reaches
// quiescence (faults off, a final launch, retries drained) and the invariants are checked.
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CryptoKitPort,
  DeliveryEngine,
  UtilTextCodec,
  EngineConfig,
  IapKitStoreGateway,
  LogArg,
  Logger,
  OnDeviceJwsVerifier,
  OnDeviceJwsVerifierConfig,
  PurchaseVerifier,
  RdbDeliveryLedger,
  RemoteVerifier,
  RemoteVerifierConfig,
  SubscriptionVerificationResult,
  VerificationResult,
} from '@zerolost/iap';
import { WriteFault, setWriteFaultHook, simulateProcessDeath } from '../node-kits/ArkData';
import { formatHilog } from '../node-kits/PerformanceAnalysisKit';
import { DEMO_CATALOG, SUBSCRIPTION_CATALOG } from '../iap-sim/Catalog';
import { installSimulator } from '../iap-sim/CurrentSimulator';
import { ForgeryKind, IapSimulator, OrderView } from '../iap-sim/IapSimulator';
import { Prng } from '../iap-sim/Identifiers';
import { IAPErrorCode, ProductType } from '../iap-sim/IapTypes';
import { ChaosGranter } from './ChaosGranter';
import {
  AppProcess,
  ChaosGranterPort,
  ChaosLedger,
  ChaosStoreGateway,
  ChaosVerifier,
  CrashPoint,
  DeliveryCounter,
  FaultControl,
  HangPort,
} from './ChaosPorts';
import { InstallSnapshot, Violation, checkInvariants, readLedgerFile, readLedgerRows } from './Invariants';
import { DuringAction, Fault, Schedule, Step, describeStep, faultOf } from './Scenario';
import { VirtualClock } from './VirtualClock';

/** What the harness gives the reference server of a remote-verifier schedule (ChaosServer.ts starts it). */
export interface RemoteServerSetup {
  rootPem: string;
  appId: string;
  environment: string;
  databasePath: string;
  /** The store's (virtual) clock: the server checks the JWS times against it. */
  now: () => number;
  /** The store-side effect of a server's confirm delivery: finishes the order at the simulator. */
  finish: (purchaseOrderId: string, purchaseToken: string, productType: number) => Promise<void>;
}

export interface RemoteServer {
  url: string;
  /** The server accepted server-side confirm delivery. */
  confirming: boolean;
  close(): Promise<void>;
}

export type RemoteServerFactory = (setup: RemoteServerSetup) => Promise<RemoteServer>;

export interface FaultTally {
  /** Faults of this family that actually fired (a crash happened, an error was returned, a refund was made…). */
  injected: number;
}

export interface ScheduleResult {
  /** Paid orders in the store at the end. */
  orders: number;
  violations: Violation[];
  /** Fault families present in the schedule. */
  faults: Set<Fault>;
  injected: Map<Fault, number>;
  /** App processes that started after a crash or kill and completed their launch. */
  recoveries: number;
  trace: string[];
}

/** A real-time guard: an engine that never settles (a deadlock, an endless loop) must not hang the harness. */
const STUCK_AFTER_MS = 10_000;
/** The engine is blocked (waiting on a call that never answers) when nothing happened for this long (real ms). */
const BLOCKED_AFTER_MS = 25;
/** Virtual time an engine may stay blocked in one wait before it counts as stuck (its timeouts never fired). */
const STUCK_VIRTUAL_MS = 2 * 3_600_000;

/**
 * The engine settings the chaos world runs (explicit, so the liveness bound below follows from them).
 * callTimeoutMs / purchaseTimeoutMs are the engine's per-call timeouts (defaults 30 s / 10 min).
 */
export const CHAOS_RETRY = { baseDelayMs: 2000, maxDelayMs: 300_000, maxAutoRetries: 6, jitterRatio: 0.2 };
export const CHAOS_CALL_TIMEOUT_MS = 30_000;
/** Virtual time one fault-free pass may take (store, verifier and ledger answer at once in virtual time). */
export const CHAOS_PASS_MS = 60_000;
/** How long a new app process takes to start. */
const PROCESS_START_MS = 1000;
/** The engine's foreground throttle (EngineConfig default 60 s) plus the FREQUENT_CALLS window. */
const FOREGROUND_OWED_AFTER_MS = 60_000 + 5_000;
/** The FREQUENT_CALLS window the engine honours (BackoffPolicy.FREQUENT_CALLS_MIN_DELAY_MS). */
const FREQUENT_CALLS_MS = 5000;

/**
 * How long after the last fault clears a paid order may wait, with the app in the foreground and no user action:
 * a call hung at that moment times out (T), the retry timer that was armed fires at most one capped delay later
 * (D = max(maxDelayMs, FREQUENT_CALLS window); after its fast rounds the engine keeps retrying every D while work
 * is due), and that pass, plus one more if a trigger arrived during it, completes (2·P).
 */
export function lateBoundMs(): number {
  return CHAOS_CALL_TIMEOUT_MS + Math.max(CHAOS_RETRY.maxDelayMs, FREQUENT_CALLS_MS) + 2 * CHAOS_PASS_MS;
}

class StuckError extends Error {}

const LEDGER_NAME = RdbDeliveryLedger.DEFAULT_STORE_NAME;

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Logs into a ring buffer (shown with a failing schedule's trace), never to the console. */
class RingLogger implements Logger {
  readonly lines: string[] = [];

  constructor(private readonly now: () => number, private readonly capacity = 60) {}

  private add(level: string, format: string, args: LogArg[]): void {
    this.lines.push(`${level} t+${this.now()} ${formatHilog(format, args)}`);
    if (this.lines.length > this.capacity) this.lines.shift();
  }

  debug(format: string, ...args: LogArg[]): void {
    this.add('D', format, args);
  }
  info(format: string, ...args: LogArg[]): void {
    this.add('I', format, args);
  }
  warn(format: string, ...args: LogArg[]): void {
    this.add('W', format, args);
  }
  error(format: string, ...args: LogArg[]): void {
    this.add('E', format, args);
  }
}

interface CrashArm {
  point: CrashPoint;
  remaining: number;
  /** Instead of killing the process: something happens to the order in flight. */
  action?: DuringAction;
}

interface DiskArm {
  /** Writes to let through first. */
  skip: number;
  /** Writes that then fail (0 for a crash). */
  count: number;
  /** undefined: the process dies at that write. */
  code?: WriteFault;
}

export class ChaosWorld implements FaultControl {
  private readonly clock: VirtualClock;
  private readonly sim: IapSimulator;
  private readonly prng: Prng;
  private readonly logger: RingLogger;
  private config: EngineConfig;
  /** Catalog of the app version installed at the next launch. */
  private nextConfig: EngineConfig;
  private readonly verifierConfig: OnDeviceJwsVerifierConfig;
  private readonly installs: InstallSnapshot[] = [];
  private readonly trace: string[] = [];
  private readonly violations: Violation[] = [];
  private readonly injected = new Map<Fault, number>();
  private arms: CrashArm[] = [];
  private verifierDownLeft = 0;
  private verdictLostLeft = 0;
  private readonly hangs = new Map<HangPort, number>();
  private diskArms: DiskArm[] = [];
  private activityCount = 0;
  private signedOut = false;
  /** The running process's engine.start() succeeded. */
  private started = false;
  /** The player signed in to the app: the engine's AccountProvider binding (undefined: nobody). */
  private appAccount: string | undefined = 'player-a';
  /** First-page store queries so far, and when the last one arrived (true time). */
  private queries = 0;
  private lastQueryAt = 0;
  /** Orders paid outside the app (another device), by the store's sequence number when they appeared. */
  private readonly outsideAt = new Map<string, number>();
  private proc: AppProcess | undefined;
  private engine: DeliveryEngine | undefined;
  private processes = 0;
  private crashedSinceLaunch = false;
  private recoveries = 0;
  private quiescing = false;
  private readonly startTime: number;
  /** Calls to the real reference server in flight: real I/O, so virtual time must not jump past them. */
  private remoteInFlight = 0;
  /** Orders whose being unfinished blocked a renewal (the store's renewalBlocked events). */
  private readonly blockedRenewals: string[] = [];

  constructor(
    private readonly schedule: Schedule,
    private readonly dir: string,
    sim: IapSimulator,
    clock: VirtualClock,
    private readonly remote?: RemoteServer,
  ) {
    this.clock = clock;
    this.startTime = clock.now();
    this.sim = sim;
    this.prng = new Prng(schedule.seed ^ 0x5bd1e995);
    this.logger = new RingLogger(() => this.clock.now() - this.startTime);
    this.config = {
      applicationId: sim.applicationId,
      environment: sim.environment,
      // A non-renewable's period is the app's to know (its payload has none): the season pass lasts 90 days.
      products: (schedule.subscriptions ? SUBSCRIPTION_CATALOG : DEMO_CATALOG).map((p) =>
        (p.type === ProductType.NONRENEWABLE ? { productId: p.id, productType: p.type, duration: 'P90D' } : { productId: p.id, productType: p.type })),
      retry: { ...CHAOS_RETRY },
    };
    this.nextConfig = this.config;
    this.verifierConfig = new OnDeviceJwsVerifierConfig(sim.rootCertificatePem);
    this.verifierConfig.clock = (): number => this.clock.deviceNow();
    sim.addObserver((entry, order) => {
      if (entry.kind === 'call' && entry.fn === 'queryPurchases' && !entry.facts.continued) {
        this.queries++;
        this.lastQueryAt = this.clock.now();
      }
      // A renewal (or a recovered billing charge) is paid outside the app, like an order of another device.
      if (entry.kind === 'operator' && (entry.fn === 'autoRenew' || entry.fn === 'setChargeFails') && order) {
        this.outsideAt.set(order.purchaseOrderId, entry.seq);
      }
      if (entry.kind === 'operator' && entry.fn === 'renewalBlocked') this.blockedRenewals.push(entry.facts.purchaseOrderId ?? '');
      if (entry.kind !== 'call' || this.quiescing) return;
      if (entry.fn === 'finishPurchase' && entry.applied && order) this.checkFinish(order);
      if (!entry.ok && entry.code === IAPErrorCode.NETWORK_ERROR) this.count(entry.applied ? 'lost-result' : 'network');
      if (!entry.ok && entry.code === IAPErrorCode.FREQUENT_CALLS) this.count('throttle');
      if (!entry.ok && entry.code === IAPErrorCode.SYSTEM_ERROR && entry.fn === 'createPurchase') this.count('purchase-error');
    });
  }

  get ledgerFile(): string {
    return path.join(this.dir, 'rdb', LEDGER_NAME);
  }

  // ---------------------------------------------------------------------------------------------- FaultControl

  reach(point: CrashPoint, proc: AppProcess): boolean {
    if (proc.dead || proc !== this.proc) return false;
    let died = false;
    for (const arm of this.arms.filter((a) => a.point === point)) {
      arm.remaining--;
      if (arm.remaining > 0) continue;
      this.arms = this.arms.filter((a) => a !== arm);
      if (arm.action) {
        this.happenDuring(arm.action, point);
      } else if (!died) {
        this.kill(point);
        died = true;
      }
    }
    return died;
  }

  hang(port: HangPort, proc: AppProcess): boolean {
    if (proc !== this.proc) return false;
    const left = this.hangs.get(port) ?? 0;
    if (left <= 0) return false;
    this.hangs.set(port, left - 1);
    this.count('hang');
    if (port === 'queryPurchases') {
      // The app did look at the store (the call never got an answer): that counts for the foreground throttle.
      this.queries++;
      this.lastQueryAt = this.clock.now();
    }
    this.note(`   (${port} call hangs)`);
    return true;
  }

  activity(): void {
    this.activityCount++;
  }

  /** Called by the SQLite kit before every write and COMMIT of the running process. */
  private onWrite(): WriteFault | undefined {
    if (!this.alive() || this.quiescing) return undefined;
    for (const arm of this.diskArms) {
      if (arm.skip > 0) {
        arm.skip--;
        continue;
      }
      if (arm.code === undefined) {
        this.diskArms = this.diskArms.filter((a) => a !== arm);
        this.kill('crash-write');
        return 'SQLITE_IOERR';
      }
      arm.count--;
      if (arm.count <= 0) this.diskArms = this.diskArms.filter((a) => a !== arm);
      this.count('disk');
      return arm.code;
    }
    return undefined;
  }

  /** A refund or a payment settling while the pipeline works on an order (the store changes under it). */
  private happenDuring(action: DuringAction, point: CrashPoint): void {
    this.count('during');
    if (action === 'refund') {
      const o = this.sim.orders().filter((x) => x.paid && !x.revoked && !x.finished).pop();
      if (!o) return;
      this.sim.refund(o.purchaseOrderId);
      this.note(`   at ${point}: order ${o.purchaseOrderId} (${o.productId}) is refunded`);
      return;
    }
    const o = this.sim.orders().filter((x) => !x.paid && !x.paymentFailed).pop();
    if (!o) return;
    if (action === 'pay') this.sim.completePayment(o.purchaseOrderId);
    else this.sim.failPayment(o.purchaseOrderId);
    this.note(`   at ${point}: pending payment of ${o.purchaseOrderId} ${action === 'pay' ? 'completes' : 'fails'}`);
  }

  verdictLost(): boolean {
    if (this.verdictLostLeft <= 0) return false;
    this.verdictLostLeft--;
    this.count('verdict-lost');
    return true;
  }

  verifierDown(): boolean {
    if (this.verifierDownLeft <= 0) return false;
    this.verifierDownLeft--;
    this.count('verifier-down');
    return true;
  }

  // ---------------------------------------------------------------------------------------------- running

  async run(): Promise<ScheduleResult> {
    const faults = new Set<Fault>();
    setWriteFaultHook(() => this.onWrite());
    try {
      for (const [i, step] of this.schedule.steps.entries()) {
        const fault = faultOf(step);
        if (fault) faults.add(fault);
        this.trace.push(`${String(i + 1).padStart(2)}. ${describeStep(step)}`);
        await this.step(step);
      }
      await this.quiesce();
    } catch (e) {
      if (!(e instanceof StuckError)) throw e;
      this.violations.push({ kind: 'stuck', orderId: '', detail: e.message });
      this.trace.push(`   !! ${e.message}`);
    } finally {
      setWriteFaultHook(undefined);
    }
    return {
      orders: this.sim.orders().filter((o) => o.paid).length,
      violations: this.violations,
      faults,
      injected: this.injected,
      recoveries: this.recoveries,
      trace: this.trace,
    };
  }

  /** The engine's log lines leading up to the end (for a failing schedule). */
  get engineLog(): string[] {
    return this.logger.lines;
  }

  private async step(s: Step): Promise<void> {
    switch (s.kind) {
      case 'buy':
        await this.buy(s.product, s.quantity, s.overlap);
        return;
      case 'buy-pending':
        this.sim.scriptNextPurchase('pending');
        this.count('pending-payment');
        await this.buy(s.product, 1, false);
        return;
      case 'settle': {
        const pending = this.sim.orders().filter((o) => !o.paid && !o.paymentFailed);
        if (pending.length === 0) return this.note('no pending payment');
        const o = pending[s.pick % pending.length];
        if (s.pay) this.sim.completePayment(o.purchaseOrderId);
        else this.sim.failPayment(o.purchaseOrderId);
        return this.note(`${s.pay ? 'paid' : 'failed'}: order ${o.purchaseOrderId} (${o.productId})`);
      }
      case 'crash':
        this.arms.push({ point: s.point, remaining: s.nth });
        return;
      case 'kill':
        if (this.alive()) this.kill('kill');
        return;
      case 'foreground': {
        await this.ensureEngine();
        const engine = this.engine;
        if (!engine || !this.alive()) return;
        // A foreground a throttle window after the last look at the store must look again, whatever the device's
        // wall clock did meanwhile (the throttle runs on the monotonic clock).
        const owed = !engine.state.sweeping && this.clock.now() - this.lastQueryAt > FOREGROUND_OWED_AFTER_MS;
        const before = this.queries;
        await this.settle(engine.onForeground());
        if (owed && this.alive() && this.queries === before) {
          this.violations.push({
            kind: 'late',
            orderId: '',
            detail: `a foreground ${Math.round((this.clock.now() - this.lastQueryAt) / 1000)} s after the last store query ran no sweep`,
          });
          this.note('!! the foreground ran no sweep');
        }
        return;
      }
      case 'restore':
        await this.ensureEngine();
        await this.settle(this.engine?.restore());
        return;
      case 'relaunch':
        await this.stopEngine();
        await this.launch();
        return;
      case 'reinstall':
        if (this.alive()) this.kill('reinstall');
        this.count('reinstall');
        this.wipe();
        await this.launch();
        return;
      case 'wait':
        await this.passTime(s.ms);
        return;
      case 'network':
        this.sim.injectError({
          fn: s.fn,
          code: IAPErrorCode.NETWORK_ERROR,
          count: s.count,
          applied: s.applied && s.fn !== 'queryPurchases',
        });
        return;
      case 'verifier-down':
        this.verifierDownLeft += s.count;
        return;
      case 'verdict-lost':
        this.verdictLostLeft += s.count;
        return;
      case 'throttle':
        this.sim.injectError({ fn: s.fn, code: IAPErrorCode.FREQUENT_CALLS, count: s.count });
        return;
      case 'refund':
        return this.refund(s.pick, s.unfinished);
      case 'forged':
      case 'foreign-app':
        return this.forge(s.kind === 'forged' ? s.forgery : 'foreign-app', s.via, s.product);
      case 'purchase-error':
        this.sim.injectError({ fn: 'createPurchase', code: IAPErrorCode.SYSTEM_ERROR, count: 1, applied: s.applied });
        return;
      case 'hang':
        this.hangs.set(s.target, (this.hangs.get(s.target) ?? 0) + s.count);
        return;
      case 'disk':
        this.diskArms.push({ skip: s.nth - 1, count: s.count, code: s.code });
        return;
      case 'crash-write':
        this.diskArms.push({ skip: s.nth - 1, count: 0 });
        return;
      case 'during':
        this.arms.push({ point: s.point, remaining: s.nth, action: s.action });
        return;
      case 'clock-jump':
        this.clock.jumpWall(s.ms);
        this.count('clock-jump');
        return;
      case 'sign-out':
        this.sim.setAccount({ signedIn: false });
        this.signedOut = true;
        this.count('sign-out');
        return;
      case 'sign-in':
        this.sim.setAccount({ signedIn: true });
        this.signedOut = false;
        return;
      case 'account': {
        this.appAccount = s.to === 'none' ? undefined : s.to;
        this.count('account');
        // The app sweeps when its user changes, so orders held for this player are delivered now.
        if (!this.alive() || !this.engine) return;
        await this.settle(this.engine.recover());
        return;
      }
      case 'catalog': {
        const maxQuantity = s.maxQuantity;
        this.nextConfig = {
          ...this.nextConfig,
          products: this.nextConfig.products.filter((p) => p.productId !== s.drop),
          maxQuantity,
        };
        this.count('catalog');
        return;
      }
      case 'paging':
        this.count('paging');
        if (s.quirk === 'overlap') this.sim.setPagingQuirks({ overlap: true });
        else if (s.quirk === 'repeat-token') this.sim.setPagingQuirks({ repeatToken: 2 });
        else this.sim.injectError({ fn: 'queryPurchases', code: IAPErrorCode.NETWORK_ERROR, count: 1, where: { continued: true } });
        return;
      case 'subscribe':
        await this.buy(s.product, 1, false);
        return;
      case 'period-end':
        await this.periodEnd();
        return;
      case 'sub-cancel': {
        const sub = this.currentSubscription();
        if (!sub) return this.note('no subscription to cancel');
        this.sim.cancelSubscription(sub.subscriptionId);
        return this.note(`auto-renew off for ${sub.productId}`);
      }
      case 'sub-charge': {
        const sub = this.currentSubscription();
        if (!sub) return this.note('no subscription');
        const recovered = this.sim.setChargeFails(sub.subscriptionId, s.fails);
        if (recovered && this.awaitsCharge(sub.subGroupGenerationId)) {
          // The running app has verified the billing retry: it looks every D, so the charge is owed within L.
          this.outsideAt.delete(recovered.purchaseOrderId);
        }
        return this.note(recovered ? `billing recovered: renewal order ${recovered.purchaseOrderId}` : `charges ${s.fails ? 'fail' : 'succeed'}`);
      }
      case 'outside':
        try {
          const o = this.sim.purchaseOutsideApp(s.product, { quantity: this.quantityFor(s.product, s.quantity) });
          this.outsideAt.set(o.purchaseOrderId, this.sim.lastSeq);
          return this.note(`order ${o.purchaseOrderId} (${o.productId} x${o.quantity}) waits in the store`);
        } catch (e) {
          return this.note(`refused by the store: ${(e as Error).message}`);
        }
    }
  }

  private quantityFor(productId: string, quantity: number): number {
    const type = this.sim.product(productId)?.type;
    return type === ProductType.CONSUMABLE || type === ProductType.NONRENEWABLE ? quantity : 1;
  }

  private async buy(productId: string, quantity: number, overlap: boolean): Promise<void> {
    await this.ensureEngine();
    const engine = this.engine;
    if (!engine || !this.alive()) return;
    const q = this.quantityFor(productId, quantity);
    const sweep = overlap ? engine.recover() : undefined;
    const outcome = await this.await(engine.purchase(productId, q > 1 ? q : undefined));
    if (sweep) await this.await(sweep);
    if (outcome === undefined) return; // the process died meanwhile
    const detail = outcome.errorCategory !== 'none' ? ` (${outcome.errorCategory}${outcome.errorCode ? ` ${outcome.errorCode}` : ''})` : '';
    this.note(`→ ${outcome.status}${detail}${outcome.purchaseOrderId ? ` order ${outcome.purchaseOrderId}` : ''}`);
    await this.settle();
  }

  private async refund(pick: number, preferUnfinished: boolean): Promise<void> {
    const paid = this.sim.orders().filter((o) => o.paid && !o.revoked);
    const unfinished = paid.filter((o) => !o.finished);
    const pool = preferUnfinished && unfinished.length > 0 ? unfinished : paid;
    if (pool.length === 0) return this.note('nothing to refund');
    const o = pool[pick % pool.length];
    this.sim.refund(o.purchaseOrderId);
    this.count('refund');
    this.note(`refunded: order ${o.purchaseOrderId} (${o.productId}, ${o.finished ? 'finished' : 'unfinished'})`);
  }

  private async forge(kind: string, via: 'query' | 'purchase', productId: string): Promise<void> {
    const replay = kind === 'tampered-replay';
    const base = replay ? this.sim.orders().find((o) => o.paid) : undefined;
    const forgery = (replay ? 'tampered' : kind) as ForgeryKind;
    const data = await this.sim.forgePurchaseData(productId, forgery, { basedOnOrderId: base?.purchaseOrderId });
    this.count(kind === 'foreign-app' ? 'foreign-app' : 'forged');
    const type = this.sim.product(productId)?.type ?? ProductType.CONSUMABLE;
    if (via === 'query') {
      this.sim.plantPurchaseData(type, data);
      return this.note(`planted in queryPurchases(type ${type}, UNFINISHED)${base ? ` replaying order ${base.purchaseOrderId}` : ''}`);
    }
    this.sim.replaceNextPurchaseResult(data);
    await this.buy(productId, 1, false);
  }

  // ---------------------------------------------------------------------------------------------- processes

  private alive(): boolean {
    return this.proc !== undefined && !this.proc.dead;
  }

  private async ensureEngine(): Promise<void> {
    if (!this.alive()) {
      await this.launch();
    } else if (!this.started) {
      // The app tries again when the user comes back (the engine's contract: start() again re-opens the ledger).
      await this.startEngine();
      await this.settle();
    }
  }

  /** start(): a rejection (the ledger cannot be opened now) leaves the process running with an un-started engine. */
  private async startEngine(): Promise<void> {
    const engine = this.engine;
    const proc = this.proc;
    if (!engine || !proc) return;
    try {
      await this.await(engine.start());
      this.started = !proc.dead;
    } catch (e) {
      if (e instanceof StuckError) throw e;
      this.started = false;
      this.note(`process #${proc.id}: engine.start() failed: ${(e as Error).message}`);
    }
  }

  /** A new app process: a new engine over the same ledger file and the same store; start() + its launch sweep. */
  private async launch(): Promise<void> {
    // Starting a process takes time (and no record of the new process shares a millisecond with the old one's).
    if (!this.alive()) this.clock.advanceTo(this.clock.now() + PROCESS_START_MS);
    this.config = this.nextConfig;
    // A new process owes no foreground sweep before its own throttle window has passed.
    this.lastQueryAt = this.clock.now();
    const proc = new AppProcess(++this.processes);
    const deliveries = new DeliveryCounter();
    const context = { databaseDir: this.dir };
    const engine = new DeliveryEngine(
      {
        store: new ChaosStoreGateway(new IapKitStoreGateway(context), proc, this),
        ledger: new ChaosLedger(new RdbDeliveryLedger(context), proc, this, deliveries),
        verifier: new ChaosVerifier(this.verifierFor(), proc, this),
        granter: new ChaosGranterPort(new ChaosGranter(() => this.sim.lastSeq, () => this.appAccount ?? ''), proc, this, deliveries),
        accounts: { currentBinding: (): Promise<string | undefined> => Promise.resolve(this.appAccount) },
        clock: this.clock.portFor(proc),
        logger: this.logger,
        codec: new UtilTextCodec(),
        random: (): number => this.prng.nextUint32() / 2 ** 32,
      },
      this.config,
    );
    this.proc = proc;
    this.engine = engine;
    this.started = false;
    this.note(`process #${proc.id} starts`);
    await this.startEngine();
    await this.settle();
    if (this.crashedSinceLaunch && !proc.dead) {
      this.recoveries++;
      this.crashedSinceLaunch = false;
    }
  }

  /** On-device verification, or the real RemoteVerifier against the reference server (its calls are real I/O). */
  private verifierFor(): PurchaseVerifier {
    if (!this.remote) return new OnDeviceJwsVerifier(this.verifierConfig, new CryptoKitPort());
    const config = new RemoteVerifierConfig(this.remote.url);
    const inner = new RemoteVerifier(config);
    return {
      verify: async (purchaseData: string, jws: string): Promise<VerificationResult> => {
        this.remoteInFlight++;
        try {
          return await inner.verify(purchaseData, jws);
        } finally {
          this.remoteInFlight--;
          this.activity();
        }
      },
      verifySubscription: async (purchaseData: string, jws: string): Promise<SubscriptionVerificationResult> => {
        this.remoteInFlight++;
        try {
          return await inner.verifySubscription(purchaseData, jws);
        } finally {
          this.remoteInFlight--;
          this.activity();
        }
      },
    };
  }

  /** Graceful stop of the running engine (timers cancelled, work drained, ledger closed). */
  private async stopEngine(): Promise<void> {
    if (!this.alive() || !this.engine) return;
    await this.await(this.engine.stop());
    this.proc?.markDead();
    if (this.proc) this.clock.dropTimersOf(this.proc);
  }

  /** The process dies NOW: connections dropped (uncommitted work lost), timers gone, no callback ever again. */
  private kill(cause: CrashPoint | 'kill' | 'reinstall' | 'crash-write'): void {
    const proc = this.proc;
    if (!proc || proc.dead) return;
    proc.markDead();
    simulateProcessDeath();
    this.clock.dropTimersOf(proc);
    this.crashedSinceLaunch = true;
    if (cause !== 'reinstall') this.count(cause);
    this.note(`✝ process #${proc.id} died${cause === 'kill' || cause === 'reinstall' ? '' : ` at ${cause}`}`);
  }

  /** Reinstall: keep what the old install's ledger recorded (for the invariants), then delete the app data. */
  private wipe(): void {
    this.installs.push({ ...readLedgerFile(this.ledgerFile), wipedAtSeq: this.sim.lastSeq });
    fs.rmSync(path.join(this.dir, 'rdb'), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------- time and settling

  /** Waits for `p` unless the process dies first (then undefined); throws StuckError when nothing settles. */
  /**
   * While the engine waits on a call that never answers, time passes: when nothing happened for BLOCKED_AFTER_MS
   * (real), the clock jumps to the next timer (the engine's call timeout, a retry) and runs it. An engine still
   * waiting after STUCK_VIRTUAL_MS of virtual time, or with no timer left to fire, is stuck.
   */
  private async await<T>(p: Promise<T>): Promise<T | undefined> {
    const proc = this.proc;
    const died = proc ? proc.death.then((): undefined => undefined) : new Promise<undefined>(() => undefined);
    let done = false;
    let failed = false;
    let value: T | undefined;
    let error: unknown;
    void Promise.race([p, died]).then(
      (v) => {
        done = true;
        value = v;
      },
      (e: unknown) => {
        done = true;
        failed = true;
        error = e;
      },
    );
    const realStart = Date.now();
    const virtualStart = this.clock.now();
    let lastActivity = this.activityCount;
    let quietSince = Date.now();
    // Most waits settle within a few turns of the event loop; only a blocked engine gets to the real-time polling.
    for (let i = 0; i < 100 && !done; i++) await turn();
    while (!done) {
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      if (done) break;
      if (Date.now() - realStart > STUCK_AFTER_MS) {
        throw new StuckError(`nothing settled for ${STUCK_AFTER_MS / 1000} s of real time (endless loop?)`);
      }
      if (this.activityCount !== lastActivity || this.remoteInFlight > 0) {
        lastActivity = this.activityCount;
        quietSince = Date.now();
        continue;
      }
      if (Date.now() - quietSince < BLOCKED_AFTER_MS) continue;
      const due = this.clock.nextDue();
      if (due === undefined) {
        if (Date.now() - quietSince > 1000) throw new StuckError('the engine waits on a call that never answers, and no timer is set');
        continue;
      }
      if (due - virtualStart > STUCK_VIRTUAL_MS) {
        throw new StuckError(`still waiting after ${STUCK_VIRTUAL_MS / 3_600_000} h of virtual time (a call without a timeout?)`);
      }
      this.clock.advanceTo(due);
      this.clock.runOneDue();
      quietSince = Date.now();
    }
    if (failed) throw error;
    return value;
  }

  /** Runs the engine's work at the current instant to completion: due timers, running sweeps. */
  private async settle(op?: Promise<unknown>): Promise<void> {
    if (op) await this.await(op);
    for (let i = 0; i < 1000; i++) {
      if (this.alive() && this.engine) await this.await(this.engine.idle());
      await turn();
      if (!this.clock.runOneDue()) return;
    }
    throw new StuckError('more than 1000 timers fired at one instant');
  }

  private async passTime(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    for (let i = 0; i < 200; i++) {
      const due = this.clock.nextDue();
      if (due === undefined || due > target) break;
      this.clock.advanceTo(due);
      await this.settle();
    }
    this.clock.advanceTo(target);
    await this.settle();
  }

  // ---------------------------------------------------------------------------------------------- subscriptions

  /** The subscription in effect (or in billing retry) the user would manage, if any. */
  private currentSubscription(): ReturnType<IapSimulator['subscriptionList']>[number] | undefined {
    this.sim.advanceSubscriptions();
    return this.sim.subscriptionList().filter((x) => !x.revoked && x.switchedTo === undefined).pop();
  }

  /**
   * A period ends with the app given every chance first: faults clear, the app runs in the foreground for the
   * liveness bound, then the store clock reaches the period's end. A renewal blocked now (expirationIntent "7") was
   * blocked by a period the engine could have finished: `late`.
   */
  private async periodEnd(): Promise<void> {
    this.arms = [];
    this.verifierDownLeft = 0;
    this.verdictLostLeft = 0;
    this.hangs.clear();
    this.diskArms = [];
    this.sim.clearFaults();
    if (this.signedOut) this.sim.setAccount({ signedIn: true });
    this.signedOut = false;
    if (!this.alive()) await this.launch();
    await this.passTime(lateBoundMs());
    const sub = this.currentSubscription();
    if (!sub || sub.billingRetry || !sub.autoRenew) {
      this.note('no subscription renews now');
      if (sub) await this.passTime(Math.max(0, sub.expiresTime - this.clock.now()) + 1);
      return;
    }
    const blockedBefore = this.blockedRenewals.length;
    await this.passTime(Math.max(0, sub.expiresTime - this.clock.now()) + 1);
    this.sim.advanceSubscriptions();
    for (const id of this.blockedRenewals.slice(blockedBefore)) {
      const o = this.sim.order(id);
      // An unpaid period or one bound to another player is not this app's to finish.
      if (!o || !o.paid || o.paymentFailed || this.heldForAnother(o)) continue;
      this.violations.push({
        kind: 'late',
        orderId: id,
        detail: `${o.productId}: its renewal was blocked by this unfinished period although the app ran ${lateBoundMs() / 1000} s without faults`,
      });
      this.note(`!! renewal blocked by unfinished order ${id}`);
    }
    this.note(`period end of ${sub.productId}: ${this.sim.subscriptionList().find((x) => x.subscriptionId === sub.subscriptionId)?.orderIds.length ?? 0} period(s)`);
  }

  /**
   * After the final relaunch: the app gives access to a subscription exactly while the store (verified through
   * its status) says it is in effect: access without it is `wrongly-granted`, none with it `lost`.
   */
  private async checkAccess(): Promise<void> {
    if (!this.schedule.subscriptions || !this.engine || !this.alive()) return;
    const entitlements = await this.await(this.engine.entitlements());
    if (!entitlements) return;
    const now = this.clock.now();
    const generations = new Map<string, boolean>();
    for (const sub of this.sim.subscriptionList()) {
      const last = this.sim.order(sub.orderIds[sub.orderIds.length - 1]);
      const mine = last !== undefined && !this.heldForAnother(last) && last.paid;
      const inEffect = mine && !sub.revoked && sub.switchedTo === undefined && sub.expiresTime > now;
      generations.set(sub.subGroupGenerationId, (generations.get(sub.subGroupGenerationId) ?? false) || inEffect);
    }
    for (const [generation, inEffect] of generations) {
      const e = entitlements.find((x) => x.key === generation);
      const access = e !== undefined && e.hasAccessAt(now);
      if (access && !inEffect) {
        this.violations.push({ kind: 'wrongly-granted', orderId: generation, detail: `subscription ${generation}: access although the store says it is not in effect` });
      } else if (!access && inEffect) {
        this.violations.push({ kind: 'lost', orderId: generation, detail: `subscription ${generation}: in effect at the store, no access in the app (${e ? e.phaseAt(now) : 'no entitlement'})` });
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- the end

  /** No more faults; the app is closed and launched once more (the final recovery); retries are drained. */
  private async quiesce(): Promise<void> {
    this.arms = [];
    this.verifierDownLeft = 0;
    this.verdictLostLeft = 0;
    this.hangs.clear();
    this.diskArms = [];
    this.sim.clearFaults();
    if (this.signedOut) this.sim.setAccount({ signedIn: true });
    this.signedOut = false;
    await this.liveness();
    this.trace.push('    -- final relaunch --');
    await this.stopEngine();
    await this.launch();
    for (let i = 0; i < 30 && this.clock.pendingTimers > 0; i++) {
      const due = this.clock.nextDue();
      if (due === undefined) break;
      // Retries are due within the liveness bound; a later timer is the next renewal sweep, not a retry to drain.
      if (this.schedule.subscriptions && due - this.clock.now() > lateBoundMs()) break;
      this.clock.advanceTo(due);
      await this.settle();
    }
    await this.checkAccess();
    this.quiescing = true;
    this.installs.push({ ...readLedgerFile(this.ledgerFile), wipedAtSeq: undefined });
    await this.stopEngine();
    const catalog = new Set(this.config.products.map((p) => p.productId));
    const maxQuantity = this.config.maxQuantity ?? 10;
    this.violations.push(...checkInvariants(this.sim, this.installs,
      (o) => !catalog.has(o.productId) || o.quantity > maxQuantity || this.heldForAnother(o)));
  }

  /**
   * Liveness: the last fault has cleared; the app stays in the foreground (launched if the last fault killed it,
   * never relaunched) and nobody taps anything. Within lateBoundMs() every paid order must be granted and
   * finished, and the banner's pendingCount must equal the paid orders still undelivered.
   */
  private async liveness(): Promise<void> {
    const bound = lateBoundMs();
    this.trace.push(`    -- faults cleared; the app stays in the foreground for ${bound / 1000} s --`);
    // Launched if the last fault killed it; a running app gets no call from here on (not even start() again).
    if (!this.alive()) await this.launch();
    await this.passTime(bound);
    if (!this.alive() || !this.engine) return;
    const ledgerRows = readLedgerRows(this.ledgerFile);
    const catalog = new Map(this.config.products.map((p) => [p.productId, p.productType]));
    const maxQuantity = this.config.maxQuantity ?? 10;
    let undelivered = 0;
    let unknown = 0;
    for (const o of this.sim.orders()) {
      if (!o.paid || o.revoked || o.finished) continue;
      // An order this version of the app no longer sells (or not in that quantity) is not owed by it.
      if (!catalog.has(o.productId) || o.quantity > maxQuantity) continue;
      if (this.heldForAnother(o)) continue;
      const row = ledgerRows.get(o.purchaseOrderId);
      const delivered = row !== undefined && (row.state === 'granted' || row.state === 'finished');
      if (!delivered) undelivered++;
      // Paid on another device and not listed to the app since (IAP Kit tells the app nothing): only the next
      // sweep that reads its type can find it, and a running app with no due work has no reason to sweep.
      if (!this.listedSince(o)) {
        if (!delivered) unknown++;
        continue;
      }
      this.violations.push({
        kind: 'late',
        orderId: o.purchaseOrderId,
        detail: `${o.productId}: paid, still not ${row && (row.state === 'granted') ? 'finished' : 'granted and finished'} ` +
          `${bound / 1000} s after the last fault cleared (ledger: ${row?.state ?? 'no row'})`,
      });
    }
    const shown = this.engine.state.pendingCount;
    // Orders the app cannot know of yet may or may not be counted.
    if (shown < undelivered - unknown || shown > undelivered) {
      this.violations.push({
        kind: 'late',
        orderId: '',
        detail: `pendingCount is ${shown}, the store has ${undelivered} paid undelivered order(s)` +
          `${unknown > 0 ? ` (${unknown} of them unknown to the app)` : ''}`,
      });
    }
    // The ledger must agree with the store: no row still waits for an order the store settled.
    for (const [id, row] of ledgerRows) {
      const o = this.sim.orders().find((x) => x.purchaseOrderId === id);
      if (!o || !['pending', 'verified', 'granted'].includes(row.state)) continue;
      if (o.finished || o.paymentFailed || (o.revoked && row.state !== 'granted')) {
        this.violations.push({
          kind: 'late',
          orderId: id,
          detail: `ledger row still ${row.state}, the store says ${o.finished ? 'finished' : o.paymentFailed ? 'payment failed' : 'refunded'}`,
        });
      }
    }
  }

  /** Whether the running app's verified entitlement of the generation awaits a charge (billing retry, a late renewal). */
  private awaitsCharge(generation: string): boolean {
    if (!this.alive() || !this.engine) return false;
    const now = this.clock.deviceNow();
    return this.engine.state.subscriptions.some((e) => e.key === generation && e.awaitsChargeAt(now));
  }

  /** Whether a first-page query of the order's type answered the app after an outside order appeared. */
  private listedSince(o: OrderView): boolean {
    const created = this.outsideAt.get(o.purchaseOrderId);
    if (created === undefined) return true;
    return this.sim.audit().some((e) => e.kind === 'call' && e.fn === 'queryPurchases' && e.delivered && !e.facts.continued &&
      e.seq > created && e.facts.productType === o.productType);
  }

  /** Bought by a player who is not signed in to the app at the end: the app rightly holds it for them. */
  private heldForAnother(o: OrderView): boolean {
    return o.developerPayload !== undefined && o.developerPayload !== '' && o.developerPayload !== this.appAccount;
  }

  /** Invariant 2, checked live: when the store records a finish, the grant must already be durable. */
  private checkFinish(order: OrderView): void {
    if (!order.paid || order.revoked) return;
    let grants = 0;
    try {
      const db = new Database(this.ledgerFile, { readonly: true, fileMustExist: true });
      try {
        const row = db.prepare("SELECT count(*) AS n FROM chaos_log WHERE kind = 'grant' AND order_id = ?")
          .get(order.purchaseOrderId) as { n: number };
        grants = row.n;
      } finally {
        db.close();
      }
    } catch {
      grants = 0; // no ledger file or no table yet: nothing is durable
    }
    if (grants === 0) {
      this.violations.push({
        kind: 'premature-finish',
        orderId: order.purchaseOrderId,
        detail: `${order.productId}: finishPurchase reached the store before the grant was committed`,
      });
      this.note(`!! finishPurchase(${order.purchaseOrderId}) recorded with no committed grant`);
    }
  }

  private count(fault: Fault): void {
    this.injected.set(fault, (this.injected.get(fault) ?? 0) + 1);
  }

  private note(text: string): void {
    this.trace.push(`      ${text}`);
  }
}

/** Runs one schedule in `dir` with a fresh store installed as the current `@kit.IAPKit` simulator. */
export async function runSchedule(
  schedule: Schedule,
  dir: string,
  remote?: RemoteServerFactory,
): Promise<{ result: ScheduleResult; engineLog: string[] }> {
  fs.mkdirSync(dir, { recursive: true });
  const clock = new VirtualClock(Math.floor(Date.now() / 60_000) * 60_000);
  const sim = await IapSimulator.create({
    seed: schedule.seed,
    pageSize: schedule.pageSize,
    clock,
    ...(schedule.subscriptions ? { catalog: SUBSCRIPTION_CATALOG } : {}),
  });
  installSimulator(sim);
  const server = remote
    ? await remote({
      rootPem: sim.rootCertificatePem,
      appId: sim.applicationId,
      environment: sim.environment,
      // Beside the device's folder: a reinstall wipes the device, never the server.
      databasePath: `${dir}-server.sqlite`,
      now: (): number => clock.now(),
      finish: (purchaseOrderId: string, purchaseToken: string, productType: number): Promise<void> =>
        sim.finishPurchase({}, { productType, purchaseToken, purchaseOrderId }),
    })
    : undefined;
  const world = new ChaosWorld(schedule, dir, sim, clock, server);
  try {
    const result = await world.run();
    return { result, engineLog: world.engineLog };
  } finally {
    simulateProcessDeath();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
