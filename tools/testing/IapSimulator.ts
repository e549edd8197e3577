// Operator controls of the IAP Kit simulator for .ets test suites: `import { resetIapSimulator } from
// 'types/testing/IapSimulator' (a relative import)` (declared for the gate in types/testing/IapSimulator.d.ts). A small facade in
// ArkTS-friendly types (strings, numbers, booleans, arrays, classes) over tools/iap-sim/IapSimulator.ts; the
// `iap` calls the engine makes through `@kit.IAPKit` reach the same simulator.
import { currentSimulator, resetSimulator } from '../iap-sim/CurrentSimulator';
import { FORGERY_KINDS, ForgeryKind, IapSimulator, OrderView, AuditEntry, SubscriptionRecord, sharedTestPki } from '../iap-sim/IapSimulator';
import { SUBSCRIPTION_CATALOG } from '../iap-sim/Catalog';
import { createTestPki, TestPki } from './TestPki';
import { IAP_FUNCTIONS, IapFunction } from '../iap-sim/FaultPlan';

export interface SimulatorSetup {
  applicationId?: string;
  /** 'SANDBOX' (default) or 'NORMAL'. */
  environment?: string;
  /** queryPurchases page size; default 2 in tests so paging is always exercised. */
  pageSize?: number;
  minCallIntervalMs?: number;
  latencyMs?: number;
  seed?: number;
  signedIn?: boolean;
  countryCode?: string;
  /** Sell the Gem Club subscriptions too (gem_club_monthly, gem_club_yearly). */
  subscriptions?: boolean;
  /** Subscription "day" in ms: 10000 is the sandbox time machine (10 s = 1 day). Default real days. */
  subscriptionDayMs?: number;
  /** The store's clock (give the engine's manual clock so both agree); default Date.now. */
  clock?: SimulatorClock;
}

/** What the store reads the time from. */
export interface SimulatorClock {
  now(): number;
}

/** One subscription in the store. */
export interface SimulatedSubscription {
  subscriptionId: string;
  subGroupGenerationId: string;
  subGroupId: string;
  productId: string;
  expiresTime: number;
  autoRenew: boolean;
  revoked: boolean;
  billingRetry: boolean;
  /** '' when none. */
  expirationIntent: string;
  orderIds: string[];
}

export interface SimulatedOrder {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: number;
  quantity: number;
  /** Total price in fen. */
  priceFen: number;
  /** '' when none was passed. */
  developerPayload: string;
  paid: boolean;
  finished: boolean;
  revoked: boolean;
  /** Simulator-clock ms; 0 when not (yet) applicable. */
  purchaseTime: number;
  finishTime: number;
  revocationTime: number;
}

export interface SimulatedCall {
  seq: number;
  time: number;
  /** Kit function ('createPurchase', …) or operator action ('refund', …). */
  fn: string;
  operator: boolean;
  ok: boolean;
  /** 0 on success, else the error code the app received. */
  code: number;
  applied: boolean;
  delivered: boolean;
  /** '' / -1 when not applicable. */
  productId: string;
  productType: number;
  queryType: number;
  purchaseOrderId: string;
  continued: boolean;
  returned: number;
}

/** Names of the simulated kit functions, for failNext / calls. */
export class IapFunctionName {
  static readonly QUERY_ENVIRONMENT_STATUS: string = 'queryEnvironmentStatus';
  static readonly QUERY_PRODUCTS: string = 'queryProducts';
  static readonly CREATE_PURCHASE: string = 'createPurchase';
  static readonly FINISH_PURCHASE: string = 'finishPurchase';
  static readonly QUERY_PURCHASES: string = 'queryPurchases';
  static readonly SHOW_MANAGED_SUBSCRIPTIONS: string = 'showManagedSubscriptions';
  static readonly IS_SANDBOX_ACTIVATED: string = 'isSandboxActivated';
  static readonly CREATE_REFUND_REQUEST: string = 'createRefundRequest';
  static readonly ANY: string = '*';
}

/** Kinds of forged purchaseData (see forgePurchaseData). */
export class ForgeryKindName {
  static readonly FOREIGN_PKI: string = 'foreign-pki';
  static readonly TAMPERED: string = 'tampered';
  static readonly FOREIGN_APP: string = 'foreign-app';
  static readonly WRONG_ENVIRONMENT: string = 'wrong-environment';
  static readonly UNKNOWN_PRODUCT: string = 'unknown-product';
  static readonly MISSING_OID: string = 'missing-oid';
  static readonly WRONG_ALG: string = 'wrong-alg';
}

function fnName(fn: string): IapFunction | '*' {
  if (fn === '*' || (IAP_FUNCTIONS as readonly string[]).includes(fn)) return fn as IapFunction | '*';
  throw new Error(`Unknown IAP Kit function '${fn}'`);
}

function toOrder(o: OrderView): SimulatedOrder {
  return {
    purchaseOrderId: o.purchaseOrderId,
    purchaseToken: o.purchaseToken,
    productId: o.productId,
    productType: o.productType,
    quantity: o.quantity,
    priceFen: o.priceFen,
    developerPayload: o.developerPayload ?? '',
    paid: o.paid,
    finished: o.finished,
    revoked: o.revoked,
    purchaseTime: o.purchaseTime ?? 0,
    finishTime: o.finishTime ?? 0,
    revocationTime: o.revocationTime ?? 0,
  };
}

function toCall(e: AuditEntry): SimulatedCall {
  return {
    seq: e.seq,
    time: e.time,
    fn: e.fn,
    operator: e.kind === 'operator',
    ok: e.ok,
    code: e.code,
    applied: e.applied,
    delivered: e.delivered,
    productId: e.facts.productId ?? '',
    productType: e.facts.productType ?? -1,
    queryType: e.facts.queryType ?? -1,
    purchaseOrderId: e.facts.purchaseOrderId ?? '',
    continued: e.facts.continued ?? false,
    returned: e.returned ?? 0,
  };
}

function toSubscription(s: SubscriptionRecord): SimulatedSubscription {
  return {
    subscriptionId: s.subscriptionId,
    subGroupGenerationId: s.subGroupGenerationId,
    subGroupId: s.subGroupId,
    productId: s.productId,
    expiresTime: s.expiresTime,
    autoRenew: s.autoRenew,
    revoked: s.revoked,
    billingRetry: s.billingRetry === true,
    expirationIntent: s.expirationIntent ?? '',
    orderIds: [...s.orderIds],
  };
}

let foreignPki: Promise<TestPki> | undefined;

export class IapSimulatorControl {
  constructor(private readonly sim: IapSimulator) {}

  /** Renewals, expiry and billing retry up to the store clock's now (also done before every kit call). */
  advanceSubscriptions(): void {
    this.sim.advanceSubscriptions();
  }

  /** Subscriptions in the store, oldest first. */
  subscriptions(): SimulatedSubscription[] {
    this.sim.advanceSubscriptions();
    return this.sim.subscriptionList().map(toSubscription);
  }

  cancelSubscription(subscriptionId: string): void {
    this.sim.cancelSubscription(subscriptionId);
  }

  resumeSubscription(subscriptionId: string): void {
    this.sim.resumeSubscription(subscriptionId);
  }

  /** Renewal charges fail (billing retry) or succeed again (charging the renewal now during billing retry). */
  setChargeFails(subscriptionId: string, fails: boolean): void {
    this.sim.setChargeFails(subscriptionId, fails);
  }

  endBillingRetry(subscriptionId: string): void {
    this.sim.endBillingRetry(subscriptionId);
  }

  /** A compact JWS of `payloadJson` signed by the store's own chain (genuine), for hand-made vectors. */
  signWithStoreChain(payloadJson: string): string {
    return this.sim.pki.signJws(JSON.parse(payloadJson) as object);
  }

  /** The same, signed by an unrelated chain (a forgery). */
  async signWithForeignChain(payloadJson: string): Promise<string> {
    if (!foreignPki) foreignPki = createTestPki({ subjectPrefix: 'Foreign subscription' });
    return (await foreignPki).signJws(JSON.parse(payloadJson) as object);
  }

  get applicationId(): string {
    return this.sim.applicationId;
  }

  get environment(): string {
    return this.sim.environment;
  }

  /** The root the store's JWS chains end in (PEM): pin it in the verifier under test. */
  rootCertificatePem(): string {
    return this.sim.pki.rootPem;
  }

  /** The same root as base64 DER. */
  rootCertificateBase64(): string {
    return this.sim.pki.rootDer.toString('base64');
  }

  /** The next `count` (default 1) calls of `fn` ('*' = any) fail with `code`, without effect. */
  failNext(fn: string, code: number, count?: number): void {
    this.sim.failNext(fnName(fn), code, count ?? 1);
  }

  /** The next call of `fn` (createPurchase / finishPurchase / createRefundRequest) takes effect, then fails with `code`. */
  failNextAfterApplying(fn: string, code: number): void {
    const name = fnName(fn);
    if (name !== 'createPurchase' && name !== 'finishPurchase' && name !== 'createRefundRequest') {
      throw new Error(`failNextAfterApplying: ${fn} has no effect to apply`);
    }
    this.sim.failNextAfterApplying(name, code);
  }

  clearFaults(): void {
    this.sim.clearFaults();
  }

  setLatency(ms: number): void {
    this.sim.setLatency(ms);
  }

  setMinCallInterval(ms: number): void {
    this.sim.setMinCallInterval(ms);
  }

  setPageSize(size: number): void {
    this.sim.setPageSize(size);
  }

  setSignedIn(signedIn: boolean): void {
    this.sim.setAccount({ signedIn });
  }

  setCountryCode(countryCode: string): void {
    this.sim.setAccount({ countryCode });
  }

  setSandbox(appDebugSigned: boolean, testAccount: boolean): void {
    this.sim.setApp({ debugSigned: appDebugSigned });
    this.sim.setAccount({ testAccount });
  }

  nextPurchaseCanceled(): void {
    this.sim.scriptNextPurchase('cancel');
  }

  /** The next purchase stays unpaid (no purchaseTime; finishing it gives PURCHASE_NOT_PAID). */
  nextPurchasePending(): void {
    this.sim.scriptNextPurchase('pending');
  }

  completePayment(purchaseOrderId: string): SimulatedOrder {
    return toOrder(this.sim.completePayment(purchaseOrderId));
  }

  failPayment(purchaseOrderId: string): void {
    this.sim.failPayment(purchaseOrderId);
  }

  /** A paid, unfinished order made outside this app process (another device, or a lost result). */
  purchaseOutsideApp(productId: string, quantity?: number, developerPayload?: string): SimulatedOrder {
    return toOrder(this.sim.purchaseOutsideApp(productId, { quantity, developerPayload }));
  }

  refund(purchaseOrderId: string): SimulatedOrder {
    return toOrder(this.sim.refund(purchaseOrderId));
  }

  /** Forged purchaseData: kind is one of ForgeryKindName. */
  forgePurchaseData(productId: string, kind: string): Promise<string> {
    if (!(FORGERY_KINDS as readonly string[]).includes(kind)) throw new Error(`Unknown forgery kind '${kind}'`);
    return this.sim.forgePurchaseData(productId, kind as ForgeryKind);
  }

  replaceNextPurchaseResult(purchaseData: string): void {
    this.sim.replaceNextPurchaseResult(purchaseData);
  }

  /** purchaseData that queryPurchases(UNFINISHED) of that product type returns until cleared. */
  plantPurchaseData(productType: number, purchaseData: string): void {
    this.sim.plantPurchaseData(productType, purchaseData);
  }

  clearPlantedPurchaseData(): void {
    this.sim.clearPlantedPurchaseData();
  }

  orders(): SimulatedOrder[] {
    return this.sim.orders().map(toOrder);
  }

  order(purchaseOrderId: string): SimulatedOrder | undefined {
    const o = this.sim.order(purchaseOrderId);
    return o ? toOrder(o) : undefined;
  }

  unfinishedOrders(): SimulatedOrder[] {
    return this.sim.unfinishedOrders().map(toOrder);
  }

  /** The audit log: kit calls (of `fn` if given) and operator actions, oldest first. */
  calls(fn?: string): SimulatedCall[] {
    const entries = fn === undefined ? this.sim.audit() : this.sim.calls(fnName(fn) as IapFunction);
    return entries.map(toCall);
  }

  callCount(fn: string): number {
    return this.sim.calls(fnName(fn) as IapFunction).length;
  }

  save(file: string): void {
    this.sim.save(file);
  }
}

/** A fresh, empty store (demo catalog) installed as the one `@kit.IAPKit` talks to. */
export async function resetIapSimulator(setup?: SimulatorSetup): Promise<IapSimulatorControl> {
  const s = setup ?? {};
  const sim = await resetSimulator({
    applicationId: s.applicationId,
    environment: s.environment === 'NORMAL' ? 'NORMAL' : 'SANDBOX',
    pageSize: s.pageSize ?? 2,
    minCallIntervalMs: s.minCallIntervalMs,
    latencyMs: s.latencyMs,
    seed: s.seed,
    account: { signedIn: s.signedIn ?? true, countryCode: s.countryCode ?? 'CN' },
    catalog: s.subscriptions === true ? SUBSCRIPTION_CATALOG : undefined,
    subscriptionDayMs: s.subscriptionDayMs,
    clock: s.clock,
    pki: await sharedTestPki(),
  });
  return new IapSimulatorControl(sim);
}

/** Controls of the current store (the default one is created on first use). */
export async function iapSimulator(): Promise<IapSimulatorControl> {
  return new IapSimulatorControl(await currentSimulator());
}
