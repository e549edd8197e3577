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
  EngineConfig,
  IapKitStoreGateway,
  LogArg,
  Logger,
  OnDeviceJwsVerifier,
  OnDeviceJwsVerifierConfig,
  RdbDeliveryLedger,
} from '@zerolost/iap';
import { simulateProcessDeath } from '../node-kits/ArkData';
import { formatHilog } from '../node-kits/PerformanceAnalysisKit';
import { DEMO_CATALOG } from '../iap-sim/Catalog';
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
} from './ChaosPorts';
import { InstallSnapshot, Violation, checkInvariants, readLedgerFile } from './Invariants';
import { Fault, Schedule, Step, describeStep, faultOf } from './Scenario';
import { VirtualClock } from './VirtualClock';

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

/** A real-time guard: an engine that never settles (a deadlock) must not hang the harness. */
const STUCK_AFTER_MS = 15_000;

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
}

export class ChaosWorld implements FaultControl {
  private readonly clock: VirtualClock;
  private readonly sim: IapSimulator;
  private readonly prng: Prng;
  private readonly logger: RingLogger;
  private readonly config: EngineConfig;
  private readonly verifierConfig: OnDeviceJwsVerifierConfig;
  private readonly installs: InstallSnapshot[] = [];
  private readonly trace: string[] = [];
  private readonly violations: Violation[] = [];
  private readonly injected = new Map<Fault, number>();
  private arms: CrashArm[] = [];
  private verifierDownLeft = 0;
  private proc: AppProcess | undefined;
  private engine: DeliveryEngine | undefined;
  private processes = 0;
  private crashedSinceLaunch = false;
  private recoveries = 0;
  private quiescing = false;
  private readonly startTime: number;

  constructor(private readonly schedule: Schedule, private readonly dir: string, sim: IapSimulator, clock: VirtualClock) {
    this.clock = clock;
    this.startTime = clock.now();
    this.sim = sim;
    this.prng = new Prng(schedule.seed ^ 0x5bd1e995);
    this.logger = new RingLogger(() => this.clock.now() - this.startTime);
    this.config = {
      applicationId: sim.applicationId,
      environment: sim.environment,
      products: DEMO_CATALOG.map((p) => ({ productId: p.id, productType: p.type })),
    };
    this.verifierConfig = new OnDeviceJwsVerifierConfig(sim.rootCertificatePem);
    this.verifierConfig.clock = (): number => this.clock.now();
    sim.addObserver((entry, order) => {
      if (entry.kind !== 'call' || this.quiescing) return;
      if (entry.fn === 'finishPurchase' && entry.applied && order) this.checkFinish(order);
      if (!entry.ok && entry.code === IAPErrorCode.NETWORK_ERROR) this.count(entry.applied ? 'lost-result' : 'network');
      if (!entry.ok && entry.code === IAPErrorCode.FREQUENT_CALLS) this.count('throttle');
    });
  }

  get ledgerFile(): string {
    return path.join(this.dir, 'rdb', LEDGER_NAME);
  }

  // ---------------------------------------------------------------------------------------------- FaultControl

  reach(point: CrashPoint, proc: AppProcess): boolean {
    if (proc.dead || proc !== this.proc) return false;
    const arm = this.arms.find((a) => a.point === point);
    if (!arm) return false;
    arm.remaining--;
    if (arm.remaining > 0) return false;
    this.arms = this.arms.filter((a) => a !== arm);
    this.kill(point);
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
      case 'foreground':
        await this.ensureEngine();
        await this.settle(this.engine?.onForeground());
        return;
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
      case 'throttle':
        this.sim.injectError({ fn: s.fn, code: IAPErrorCode.FREQUENT_CALLS, count: s.count });
        return;
      case 'refund':
        return this.refund(s.pick, s.unfinished);
      case 'forged':
      case 'foreign-app':
        return this.forge(s.kind === 'forged' ? s.forgery : 'foreign-app', s.via, s.product);
      case 'outside':
        try {
          const o = this.sim.purchaseOutsideApp(s.product, { quantity: this.quantityFor(s.product, s.quantity) });
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
    if (!this.alive()) await this.launch();
  }

  /** A new app process: a new engine over the same ledger file and the same store; start() + its launch sweep. */
  private async launch(): Promise<void> {
    const proc = new AppProcess(++this.processes);
    const deliveries = new DeliveryCounter();
    const context = { databaseDir: this.dir };
    const engine = new DeliveryEngine(
      {
        store: new ChaosStoreGateway(new IapKitStoreGateway(context), proc, this),
        ledger: new ChaosLedger(new RdbDeliveryLedger(context), proc, this, deliveries),
        verifier: new ChaosVerifier(new OnDeviceJwsVerifier(this.verifierConfig, new CryptoKitPort()), proc, this),
        granter: new ChaosGranterPort(new ChaosGranter(() => this.sim.lastSeq), proc, this, deliveries),
        clock: this.clock.portFor(proc),
        logger: this.logger,
        random: (): number => this.prng.nextUint32() / 2 ** 32,
      },
      this.config,
    );
    this.proc = proc;
    this.engine = engine;
    this.note(`process #${proc.id} starts`);
    try {
      await this.await(engine.start());
    } catch (e) {
      throw new StuckError(`process #${proc.id}: engine.start() failed: ${(e as Error).message}`);
    }
    await this.settle();
    if (this.crashedSinceLaunch && !proc.dead) {
      this.recoveries++;
      this.crashedSinceLaunch = false;
    }
  }

  /** Graceful stop of the running engine (timers cancelled, work drained, ledger closed). */
  private async stopEngine(): Promise<void> {
    if (!this.alive() || !this.engine) return;
    await this.await(this.engine.stop());
    this.proc?.markDead();
    if (this.proc) this.clock.dropTimersOf(this.proc);
  }

  /** The process dies NOW: connections dropped (uncommitted work lost), timers gone, no callback ever again. */
  private kill(cause: CrashPoint | 'kill' | 'reinstall'): void {
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
  private async await<T>(p: Promise<T>): Promise<T | undefined> {
    const proc = this.proc;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StuckError(`nothing settled for ${STUCK_AFTER_MS / 1000} s (engine hang?)`)), STUCK_AFTER_MS);
    });
    try {
      const died = proc ? proc.death.then((): undefined => undefined) : new Promise<undefined>(() => undefined);
      return await Promise.race([p, died, stuck]);
    } finally {
      clearTimeout(timer);
    }
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

  // ---------------------------------------------------------------------------------------------- the end

  /** No more faults; the app is closed and launched once more (the final recovery); retries are drained. */
  private async quiesce(): Promise<void> {
    this.trace.push('    -- quiescence: faults off, final launch --');
    this.arms = [];
    this.verifierDownLeft = 0;
    this.sim.clearFaults();
    await this.stopEngine();
    await this.launch();
    for (let i = 0; i < 30 && this.clock.pendingTimers > 0; i++) {
      const due = this.clock.nextDue();
      if (due === undefined) break;
      this.clock.advanceTo(due);
      await this.settle();
    }
    this.quiescing = true;
    this.installs.push({ ...readLedgerFile(this.ledgerFile), wipedAtSeq: undefined });
    await this.stopEngine();
    this.violations.push(...checkInvariants(this.sim, this.installs));
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
export async function runSchedule(schedule: Schedule, dir: string): Promise<{ result: ScheduleResult; engineLog: string[] }> {
  fs.mkdirSync(dir, { recursive: true });
  const clock = new VirtualClock(Math.floor(Date.now() / 60_000) * 60_000);
  const sim = await IapSimulator.create({ seed: schedule.seed, pageSize: schedule.pageSize, clock });
  installSimulator(sim);
  const world = new ChaosWorld(schedule, dir, sim, clock);
  try {
    const result = await world.run();
    return { result, engineLog: world.engineLog };
  } finally {
    simulateProcessDeath();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
