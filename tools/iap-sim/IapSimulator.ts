// The IAP Kit simulator: a store that behaves as IAP Kit is documented (types/kits/@kit.IAPKit.d.ts and the
// project's IAP Kit fact sheet), with the same calls as `@kit.IAPKit`, plus operator controls for tests (refunds,
// injected errors, throttling, latency, forged purchase data) and an audit log of every call.
//
// Its state lives OUTSIDE the app: an engine "restart" (a new engine over the same SQLite file) talks to the
// same simulator object and sees the same orders. The state can also be saved to / loaded from a JSON file.
//
// Modelling choices where the documentation is silent (each one is the conservative reading):
// - createPurchase while signed out: the sign-in sheet is dismissed → USER_CANCELED (1001860050 is not in
//   createPurchase's documented codes).
// - An unpaid (pending) order has no purchaseTime and finishStatus "2"; UNFINISHED and ALL list it; finishing
//   it gives PURCHASE_NOT_PAID. Only an operator (completePayment / failPayment) settles it.
// - A refunded order that was never finished stays in UNFINISHED (carrying its revocation fields) until finished;
//   it no longer blocks a new purchase of the product and is never in CURRENT_ENTITLEMENT.
// - A refund revokes a subscription (status "5") only when it refunds the latest period; see revoke().
// - finishPurchase for an order this app does not have (unknown id, wrong token or type) → SYSTEM_ERROR.
// - Paging is a keyset cursor: finishing orders between pages never makes a later page skip an order.
// - FREQUENT_CALLS is per function; follow-up pages (with a continuationToken) are part of one query and exempt.
import * as fs from 'node:fs';
import { BusinessError } from '../node-kits/BasicServicesKit';
import { createTestPki, TestPki, TestPkiJson, loadTestPki } from '../testing/TestPki';
import { DEMO_CATALOG, ProductDefinition, SubscriptionTerms, periodIso, periodMs, toProduct } from './Catalog';
import { CallFacts, FaultPlan, FaultRule, IapFunction } from './FaultPlan';
import { Prng, newGenerationId, newPurchaseOrderId, newPurchaseToken, newSubscriptionId } from './Identifiers';
import { kitError, parameterError } from './KitErrors';
import {
  AccountState,
  AppState,
  AuditEntry,
  ForgeOptions,
  ForgeryKind,
  OrderRecord,
  OrderView,
  OutsidePurchaseOptions,
  SimClock,
  SimulatorObserver,
  SimulatorOptions,
  SubscriptionRecord,
} from './SimulatorModel';
import {
  CreatePurchaseResult,
  FinishPurchaseParameter,
  IAPErrorCode,
  Product,
  ProductStatus,
  ProductType,
  PurchaseOrderPayload,
  PurchaseParameter,
  PurchaseQueryType,
  QueryProductsParameter,
  QueryPurchaseResult,
  QueryPurchasesParameter,
  SubGroupStatusPayload,
  SubscriptionStatus,
  UIWindowParameter,
  WindowScreenMode,
} from './IapTypes';

interface PlantedItem {
  seq: number;
  productType: ProductType;
  queryType: PurchaseQueryType;
  purchaseData: string;
}

type PurchaseOutcome = 'pay' | 'cancel' | 'pending';

interface SimulatorStateJson {
  version: 1;
  pki: TestPkiJson;
  catalog: ProductDefinition[];
  app: AppState;
  account: AccountState;
  supportedCountries: string[];
  pageSize: number;
  minCallIntervalMs: number;
  sandboxNonConsumableQuirk: boolean;
  approveRefundRequests: boolean;
  subscriptionDayMs?: number;
  maxAutoRenewals?: number;
  seq: number;
  prngSeed: number;
  orders: OrderRecord[];
  subscriptions: SubscriptionRecord[];
  planted: PlantedItem[];
  audit: AuditEntry[];
}

const DEFAULT_APPLICATION_ID = '1234567890';
const DEFAULT_PACKAGE_NAME = 'com.example.zerolost.store';
const CURSOR_PREFIX = 'sim1.';
const MAX_PRODUCT_IDS = 200;
const MAX_ORDER_ID_LENGTH = 256;
const MAX_DEVELOPER_PAYLOAD = 256;
const MAX_QUANTITY = 10;
const DAY_MS = 86_400_000;


const isProductType = (v: unknown): v is ProductType =>
  v === ProductType.CONSUMABLE || v === ProductType.NONCONSUMABLE || v === ProductType.AUTORENEWABLE || v === ProductType.NONRENEWABLE;

const isQueryType = (v: unknown): v is PurchaseQueryType =>
  v === PurchaseQueryType.ALL || v === PurchaseQueryType.UNFINISHED || v === PurchaseQueryType.CURRENT_ENTITLEMENT;

const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Device kit promises settle on a later turn; so do the simulator's, so interleavings match. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

export * from './SimulatorModel';

let sharedPki: Promise<TestPki> | undefined;
let sharedForeignPki: Promise<TestPki> | undefined;
const noOidPkis = new WeakMap<TestPki, Promise<TestPki>>();

/** One test PKI per process: every simulator signs with it unless given its own, so a pinned root stays valid. */
export function sharedTestPki(): Promise<TestPki> {
  if (!sharedPki) sharedPki = createTestPki({ subjectPrefix: 'Simulated IAP' });
  return sharedPki;
}

interface CallContext {
  /** Set by the body when it changed the store. */
  applied: boolean;
  order?: OrderRecord;
  returned?: number;
  returnedOrderIds?: string[];
  morePages?: boolean;
}

export class IapSimulator {
  readonly pki: TestPki;
  private readonly catalog: Map<string, ProductDefinition>;
  private readonly app: AppState;
  private readonly account: AccountState;
  private supportedCountries: readonly string[];
  private pageSizeValue: number;
  private minCallIntervalMs: number;
  private latency: Partial<Record<IapFunction, number>>;
  private defaultLatency: number;
  private readonly clock: SimClock;
  private readonly prng: Prng;
  private readonly sandboxNonConsumableQuirk: boolean;
  private approveRefundRequests: boolean;
  private persistTo: string | undefined;
  private readonly dayMs: number;
  private readonly maxAutoRenewals: number;

  private seq = 0;
  private readonly orderList: OrderRecord[] = [];
  private readonly ordersById = new Map<string, OrderRecord>();
  private readonly subscriptions: SubscriptionRecord[] = [];
  private planted: PlantedItem[] = [];
  private readonly auditLog: AuditEntry[] = [];
  private readonly faults = new FaultPlan();
  private readonly outcomes: PurchaseOutcome[] = [];
  private readonly forgedResults: string[] = [];
  private readonly lastCallTime = new Map<IapFunction, number>();
  private readonly observers: SimulatorObserver[] = [];

  constructor(pki: TestPki, options: SimulatorOptions = {}) {
    this.pki = pki;
    this.catalog = new Map((options.catalog ?? DEMO_CATALOG).map((p) => [p.id, p]));
    this.app = {
      applicationId: options.applicationId ?? DEFAULT_APPLICATION_ID,
      packageName: options.packageName ?? DEFAULT_PACKAGE_NAME,
      debugSigned: options.app?.debugSigned ?? true,
      authorized: options.app?.authorized ?? true,
    };
    this.account = {
      signedIn: options.account?.signedIn ?? true,
      countryCode: options.account?.countryCode ?? 'CN',
      testAccount: options.account?.testAccount ?? options.environment !== 'NORMAL',
    };
    this.supportedCountries = options.supportedCountries ?? ['CN'];
    this.pageSizeValue = IapSimulator.checkPageSize(options.pageSize ?? 20);
    this.minCallIntervalMs = options.minCallIntervalMs ?? 0;
    if (typeof options.latencyMs === 'number') {
      this.defaultLatency = options.latencyMs;
      this.latency = {};
    } else {
      this.defaultLatency = 0;
      this.latency = { ...(options.latencyMs ?? {}) };
    }
    this.clock = options.clock ?? { now: (): number => Date.now() };
    this.prng = new Prng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.sandboxNonConsumableQuirk = options.sandboxNonConsumableQuirk ?? false;
    this.approveRefundRequests = options.approveRefundRequests ?? true;
    this.persistTo = options.persistTo;
    this.dayMs = options.subscriptionDayMs ?? DAY_MS;
    this.maxAutoRenewals = options.maxAutoRenewals ?? Number.POSITIVE_INFINITY;
  }

  /** A simulator signing with `options.pki` or the process-wide shared test PKI. */
  static async create(options: SimulatorOptions = {}): Promise<IapSimulator> {
    return new IapSimulator(options.pki ?? (await sharedTestPki()), options);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Identity and environment

  get applicationId(): string {
    return this.app.applicationId;
  }

  get packageName(): string {
    return this.app.packageName;
  }

  /** "SANDBOX" when the app is debug-signed and the account is a test account, else "NORMAL". */
  get environment(): string {
    return this.app.debugSigned && this.account.testAccount ? 'SANDBOX' : 'NORMAL';
  }

  get pageSize(): number {
    return this.pageSizeValue;
  }

  /** PEM of the root the store's chains end in: what a verifier pins. */
  get rootCertificatePem(): string {
    return this.pki.rootPem;
  }

  now(): number {
    return this.clock.now();
  }

  /** Sequence number of the latest audit entry or order: a logical time that orders every store event. */
  get lastSeq(): number {
    return this.seq;
  }

  products(): ProductDefinition[] {
    return [...this.catalog.values()];
  }

  product(productId: string): ProductDefinition | undefined {
    return this.catalog.get(productId);
  }

  // ------------------------------------------------------------------------------------------------------------
  // The kit calls (same parameters as @kit.IAPKit; the context is checked for presence only)

  queryEnvironmentStatus(context: object): Promise<void> {
    return this.call('queryEnvironmentStatus', context, {}, () => {
      this.requireUsableAccount();
    });
  }

  queryProducts(context: object, parameter: QueryProductsParameter): Promise<Product[]> {
    return this.call('queryProducts', context, { productType: parameter?.productType }, (ctx) => {
      if (!parameter || !isProductType(parameter.productType)) throw parameterError('productType is invalid.');
      if (!Array.isArray(parameter.productIds) || parameter.productIds.some((id) => typeof id !== 'string')) {
        throw parameterError('productIds must be an array of strings.');
      }
      if (parameter.productIds.length > MAX_PRODUCT_IDS) throw parameterError(`At most ${MAX_PRODUCT_IDS} productIds per call.`);
      this.requireUsableAccount();
      const wanted = new Set(parameter.productIds);
      const out = [...this.catalog.values()]
        .filter((p) => wanted.has(p.id) && p.type === parameter.productType)
        .map((p) => toProduct(p));
      ctx.returned = out.length;
      return out;
    });
  }

  createPurchase(context: object, parameter: PurchaseParameter): Promise<CreatePurchaseResult> {
    const facts = { productId: parameter?.productId, productType: parameter?.productType };
    return this.call('createPurchase', context, facts, (ctx) => {
      if (!parameter || !nonEmptyString(parameter.productId)) throw parameterError('productId is required.');
      if (!isProductType(parameter.productType)) throw parameterError('productType is invalid.');
      const quantity = parameter.quantity ?? 1;
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
        throw parameterError(`quantity must be an integer from 1 to ${MAX_QUANTITY}.`);
      }
      if (parameter.developerPayload !== undefined && typeof parameter.developerPayload !== 'string') {
        throw parameterError('developerPayload must be a string.');
      }
      if (!this.app.authorized) throw kitError(IAPErrorCode.APP_NOT_AUTHORIZED);
      if (!this.account.signedIn) throw kitError(IAPErrorCode.USER_CANCELED, 'The user did not sign in.');
      if (!this.supportedCountries.includes(this.account.countryCode)) throw kitError(IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED);
      const forged = this.forgedResults.shift();
      if (forged !== undefined) return { purchaseData: forged };
      if (parameter.promotionalOfferId !== undefined) {
        throw kitError(IAPErrorCode.INVALID_PROMOTIONAL_OFFER, `No offer ${parameter.promotionalOfferId}.`);
      }
      const outcome = this.outcomes.shift() ?? 'pay';
      const order = this.placeOrder(parameter.productId, parameter.productType, quantity, parameter.developerPayload, outcome);
      ctx.applied = true;
      ctx.order = order;
      return { purchaseData: this.purchaseDataFor(order) };
    });
  }

  finishPurchase(context: object, parameter: FinishPurchaseParameter): Promise<void> {
    const facts = { productType: parameter?.productType, purchaseOrderId: parameter?.purchaseOrderId };
    return this.call('finishPurchase', context, facts, (ctx) => {
      if (!parameter || !isProductType(parameter.productType)) throw parameterError('productType is invalid.');
      if (!nonEmptyString(parameter.purchaseToken)) throw parameterError('purchaseToken is required.');
      if (!nonEmptyString(parameter.purchaseOrderId) || parameter.purchaseOrderId.length > MAX_ORDER_ID_LENGTH) {
        throw parameterError(`purchaseOrderId is required, at most ${MAX_ORDER_ID_LENGTH} characters.`);
      }
      this.requireUsableAccount();
      const order = this.ordersById.get(parameter.purchaseOrderId);
      if (!order || order.applicationId !== this.app.applicationId) throw kitError(IAPErrorCode.SYSTEM_ERROR, 'Order not found.');
      if (order.purchaseToken !== parameter.purchaseToken) {
        throw kitError(IAPErrorCode.SYSTEM_ERROR, 'purchaseToken does not match the order.');
      }
      if (order.productType !== parameter.productType) throw kitError(IAPErrorCode.SYSTEM_ERROR, 'productType does not match the order.');
      ctx.order = order;
      if (order.purchaseTime === undefined) throw kitError(IAPErrorCode.PURCHASE_NOT_PAID);
      if (order.finishTime !== undefined) throw kitError(IAPErrorCode.PURCHASE_FINISHED);
      order.finishTime = this.clock.now();
      ctx.applied = true;
    });
  }

  queryPurchases(context: object, parameter: QueryPurchasesParameter): Promise<QueryPurchaseResult> {
    const queryType = parameter?.queryType ?? PurchaseQueryType.UNFINISHED;
    const facts = {
      productType: parameter?.productType,
      queryType,
      continued: parameter?.continuationToken !== undefined,
    };
    return this.call('queryPurchases', context, facts, (ctx) => {
      if (!parameter || !isProductType(parameter.productType)) throw parameterError('productType is invalid.');
      if (!isQueryType(queryType)) throw parameterError('queryType is invalid.');
      let afterSeq = 0;
      if (parameter.continuationToken !== undefined) {
        afterSeq = this.parseCursor(parameter.continuationToken, parameter.productType, queryType);
      }
      this.requireUsableAccount();
      // A follow-up page that starts one order early (offset paging while the list changed) repeats the last
      // order of the previous page; a repeated token returns the same page again with the same token.
      const overlap = parameter.continuationToken !== undefined && this.pagingQuirks.overlap && this.pageSizeValue > 1;
      const repeat = parameter.continuationToken !== undefined && this.pagingQuirks.repeatToken > 0;
      if (repeat) this.pagingQuirks.repeatToken--;
      const all = this.queryItems(parameter.productType, queryType);
      const startAt = overlap ? all.filter((i) => i.seq <= afterSeq).pop()?.seq ?? afterSeq : afterSeq;
      const items = all.filter((i) => (overlap ? i.seq >= startAt : i.seq > afterSeq));
      const page = items.slice(0, this.pageSizeValue);
      const result: QueryPurchaseResult = { purchaseDataList: page.map((i) => i.render()) };
      if (repeat) {
        result.continuationToken = parameter.continuationToken;
      } else if (items.length > page.length) {
        result.continuationToken = this.cursor(parameter.productType, queryType, page[page.length - 1].seq);
      }
      ctx.returned = page.length;
      ctx.returnedOrderIds = page.flatMap((i) => i.orderIds);
      ctx.morePages = result.continuationToken !== undefined;
      return result;
    });
  }

  showManagedSubscriptions(context: object, uiParameter: UIWindowParameter, groupId?: string): Promise<void> {
    return this.call('showManagedSubscriptions', context, {}, () => {
      const mode = uiParameter?.windowScreenMode;
      if (mode !== WindowScreenMode.DIALOG_BOX && mode !== WindowScreenMode.FULLSCREEN) {
        throw parameterError('uiParameter.windowScreenMode is invalid.');
      }
      if (groupId !== undefined && typeof groupId !== 'string') throw parameterError('groupId must be a string.');
      this.requireUsableAccount();
    });
  }

  isSandboxActivated(context: object): Promise<boolean> {
    return this.call('isSandboxActivated', context, {}, () => {
      if (!this.app.authorized) throw kitError(IAPErrorCode.APP_NOT_AUTHORIZED);
      if (!this.account.signedIn) throw kitError(IAPErrorCode.ACCOUNT_NOT_LOGGED_IN);
      if (!this.app.debugSigned) throw kitError(IAPErrorCode.APP_NOT_DEBUG);
      if (!this.account.testAccount) throw kitError(IAPErrorCode.ACCOUNT_NOT_TEST);
      return true;
    });
  }

  createRefundRequest(context: object, purchaseOrderId: string): Promise<void> {
    return this.call('createRefundRequest', context, { purchaseOrderId }, (ctx) => {
      if (!nonEmptyString(purchaseOrderId) || purchaseOrderId.length > MAX_ORDER_ID_LENGTH) {
        throw parameterError(`purchaseOrderId is required, at most ${MAX_ORDER_ID_LENGTH} characters.`);
      }
      if (!this.app.authorized) throw kitError(IAPErrorCode.APP_NOT_AUTHORIZED);
      if (!this.account.signedIn) throw kitError(IAPErrorCode.USER_CANCELED, 'The user did not sign in.');
      if (!this.supportedCountries.includes(this.account.countryCode)) throw kitError(IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED);
      const order = this.ordersById.get(purchaseOrderId);
      if (!order) throw kitError(IAPErrorCode.SYSTEM_ERROR, 'Order not found.');
      ctx.order = order;
      if (order.revocationTime !== undefined) throw kitError(IAPErrorCode.PURCHASE_ALREADY_REFUNDED);
      if (order.purchaseTime === undefined) throw kitError(IAPErrorCode.REFUND_NOT_ALLOWED, 'The order is not paid.');
      if (!this.approveRefundRequests) throw kitError(IAPErrorCode.USER_CANCELED);
      this.revoke(order, '1');
      ctx.applied = true;
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Operator controls

  /** Fail matching calls (see FaultRule). */
  injectError(rule: FaultRule): void {
    this.faults.add(rule);
  }

  /** Shorthand: the next `count` calls of `fn` fail with `code`, without any effect. */
  failNext(fn: IapFunction | '*', code: number, count = 1): void {
    this.faults.add({ fn, code, count });
  }

  /** Shorthand for the cruel variant: the next call of `fn` takes effect, then the app only sees `code`. */
  failNextAfterApplying(fn: 'createPurchase' | 'finishPurchase' | 'createRefundRequest', code: number): void {
    this.faults.add({ fn, code, applied: true });
  }

  clearFaults(): void {
    this.faults.clear();
    this.pagingQuirks.overlap = false;
    this.pagingQuirks.repeatToken = 0;
  }

  /**
   * Paging anomalies a client must survive: `overlap` makes every follow-up page repeat the last order of the
   * previous one; `repeatToken` answers the next N follow-up queries with the token they were given (same page).
   */
  setPagingQuirks(quirks: Partial<{ overlap: boolean; repeatToken: number }>): void {
    Object.assign(this.pagingQuirks, quirks);
  }

  private readonly pagingQuirks = { overlap: false, repeatToken: 0 };

  /** Injected rules not used up yet. */
  get pendingFaults(): number {
    return this.faults.pending;
  }

  /** The user's next purchase: 'cancel' → USER_CANCELED; 'pending' → an unpaid order (no purchaseTime). */
  scriptNextPurchase(outcome: 'cancel' | 'pending'): void {
    this.outcomes.push(outcome);
  }

  /** A hooked device: the next createPurchase resolves with this purchaseData and no order is created. */
  replaceNextPurchaseResult(purchaseData: string): void {
    this.forgedResults.push(purchaseData);
  }

  /** purchaseData that queryPurchases returns for this type and query (default UNFINISHED) until cleared. */
  plantPurchaseData(productType: ProductType, purchaseData: string, queryType = PurchaseQueryType.UNFINISHED): void {
    this.planted.push({ seq: ++this.seq, productType, queryType, purchaseData });
    this.operatorEntry('plantPurchaseData', { productType, queryType });
  }

  clearPlantedPurchaseData(): void {
    this.planted = [];
  }

  setLatency(ms: number, fn?: IapFunction): void {
    if (fn) this.latency[fn] = ms;
    else {
      this.defaultLatency = ms;
      this.latency = {};
    }
  }

  /** FREQUENT_CALLS when a function is called again within `ms` (0 = off). */
  setMinCallInterval(ms: number): void {
    this.minCallIntervalMs = ms;
  }

  setPageSize(size: number): void {
    this.pageSizeValue = IapSimulator.checkPageSize(size);
  }

  setAccount(account: Partial<AccountState>): void {
    Object.assign(this.account, account);
    this.operatorEntry('setAccount', {});
  }

  setApp(app: Partial<Pick<AppState, 'debugSigned' | 'authorized'>>): void {
    Object.assign(this.app, app);
    this.operatorEntry('setApp', {});
  }

  setSupportedCountries(countries: readonly string[]): void {
    this.supportedCountries = [...countries];
  }

  setApproveRefundRequests(approve: boolean): void {
    this.approveRefundRequests = approve;
  }

  /** A purchase completed outside this app process (another device, or a result that never arrived). */
  purchaseOutsideApp(productId: string, options: OutsidePurchaseOptions = {}): OrderView {
    const def = this.catalog.get(productId);
    if (!def) throw new Error(`No product ${productId} in the simulated catalog`);
    const outcome = options.pending ? 'pending' : 'pay';
    const order = this.placeOrder(productId, def.type, options.quantity ?? 1, options.developerPayload, outcome);
    this.operatorEntry('purchaseOutsideApp', { productId, purchaseOrderId: order.purchaseOrderId }, order);
    return IapSimulator.view(order);
  }

  /** Settles a pending payment: the order gets its purchaseTime. */
  completePayment(purchaseOrderId: string): OrderView {
    const order = this.requireOrder(purchaseOrderId);
    if (order.purchaseTime !== undefined || order.paymentFailed) throw new Error(`Order ${purchaseOrderId} is not pending`);
    order.purchaseTime = this.clock.now();
    this.operatorEntry('completePayment', { purchaseOrderId }, order);
    return IapSimulator.view(order);
  }

  /** A pending payment failed: the order is void and disappears from every query. */
  failPayment(purchaseOrderId: string): void {
    const order = this.requireOrder(purchaseOrderId);
    if (order.purchaseTime !== undefined || order.paymentFailed) throw new Error(`Order ${purchaseOrderId} is not pending`);
    order.paymentFailed = true;
    this.operatorEntry('failPayment', { purchaseOrderId }, order);
  }

  /** Refunds a paid order: later JWS carry purchaseOrderRevocationReasonCode and revocationTime. */
  refund(purchaseOrderId: string, reasonCode: '0' | '1' = '1'): OrderView {
    const order = this.requireOrder(purchaseOrderId);
    if (order.purchaseTime === undefined) throw new Error(`Order ${purchaseOrderId} is not paid`);
    if (order.revocationTime !== undefined) throw new Error(`Order ${purchaseOrderId} is already refunded`);
    this.revoke(order, reasonCode);
    this.operatorEntry('refund', { purchaseOrderId }, order);
    return IapSimulator.view(order);
  }

  /**
   * Charges the next period of an auto-renewable subscription. If its latest order was never finished, the
   * renewal cannot be charged (documented): the subscription stops with expirationIntent "7" and undefined is
   * returned.
   */
  renewSubscription(subscriptionId: string): OrderView | undefined {
    const sub = this.subscriptions.find((s) => s.subscriptionId === subscriptionId);
    if (!sub) throw new Error(`No subscription ${subscriptionId}`);
    if (sub.revoked) throw new Error(`Subscription ${subscriptionId} is revoked`);
    const last = this.requireOrder(sub.orderIds[sub.orderIds.length - 1]);
    if (last.finishTime === undefined) {
      sub.autoRenew = false;
      sub.expirationIntent = '7';
      this.operatorEntry('renewSubscription', { productId: sub.productId, purchaseOrderId: last.purchaseOrderId });
      return undefined;
    }
    const def = this.catalog.get(sub.productId);
    if (!def?.subscription) throw new Error(`Product ${sub.productId} is not an auto-renewable`);
    const order = this.newOrder(def, 1, last.developerPayload, 'pay', sub.purchaseToken);
    order.subscriptionId = sub.subscriptionId;
    order.durationTypeCode = '0';
    sub.orderIds.push(order.purchaseOrderId);
    sub.expiresTime = Math.max(sub.expiresTime, this.clock.now()) + this.periodOf(def.subscription);
    this.operatorEntry('renewSubscription', { productId: sub.productId, purchaseOrderId: order.purchaseOrderId }, order);
    return IapSimulator.view(order);
  }

  /**
   * The time machine: every subscription whose period ended by now renews (a new order dated at the period's end),
   * unless its latest order was never finished (documented: the renewal cannot be charged; autoRenew stops,
   * expirationIntent "7"), auto-renew is off (it expires), the charge fails (billing retry, status "3",
   * expirationIntent "4") or the sandbox's renewal count is used up. Runs before every kit call; call it after
   * moving the clock to see the store's state without a kit call.
   */
  advanceSubscriptions(): void {
    const now = this.clock.now();
    for (const sub of this.subscriptions) {
      while (!sub.revoked && sub.autoRenew && !sub.billingRetry && sub.switchedTo === undefined && sub.expiresTime <= now) {
        const def = this.catalog.get(sub.productId);
        const last = this.requireOrder(sub.orderIds[sub.orderIds.length - 1]);
        if (!def?.subscription) break;
        if (last.finishTime === undefined && last.revocationTime === undefined) {
          sub.autoRenew = false;
          sub.expirationIntent = '7';
          this.operatorEntry('renewalBlocked', { productId: sub.productId, purchaseOrderId: last.purchaseOrderId }, last);
          break;
        }
        if ((sub.renewals ?? 0) >= this.maxAutoRenewals) {
          sub.autoRenew = false;
          sub.expirationIntent = '1';
          break;
        }
        if (sub.chargeFails) {
          sub.billingRetry = true;
          sub.expirationIntent = '4';
          this.operatorEntry('billingRetry', { productId: sub.productId });
          break;
        }
        const periodEnd = sub.expiresTime;
        const order = this.newOrder(def, 1, last.developerPayload, 'pay', sub.purchaseToken);
        order.purchaseTime = periodEnd;
        order.subscriptionId = sub.subscriptionId;
        order.durationTypeCode = '0';
        sub.orderIds.push(order.purchaseOrderId);
        sub.expiresTime = periodEnd + this.periodOf(def.subscription);
        sub.renewals = (sub.renewals ?? 0) + 1;
        this.operatorEntry('autoRenew', { productId: sub.productId, purchaseOrderId: order.purchaseOrderId }, order);
      }
    }
  }

  /** The user turns auto-renew off (showManagedSubscriptions): the subscription expires at the end of its period. */
  cancelSubscription(subscriptionId: string): void {
    const sub = this.requireSubscription(subscriptionId);
    this.advanceSubscriptions();
    sub.autoRenew = false;
    sub.expirationIntent = '1';
    this.operatorEntry('cancelSubscription', { productId: sub.productId });
  }

  /** The user turns auto-renew back on before the period ends. */
  resumeSubscription(subscriptionId: string): void {
    const sub = this.requireSubscription(subscriptionId);
    this.advanceSubscriptions();
    if (sub.expiresTime > this.clock.now() && !sub.revoked) {
      sub.autoRenew = true;
      delete sub.expirationIntent;
    }
    this.operatorEntry('resumeSubscription', { productId: sub.productId });
  }

  /**
   * Renewal charges fail (`fails` true) or succeed again. Clearing it during billing retry charges the renewal now
   * (billing recovery): a new order, the next period starting now.
   */
  setChargeFails(subscriptionId: string, fails: boolean): OrderView | undefined {
    const sub = this.requireSubscription(subscriptionId);
    this.advanceSubscriptions();
    sub.chargeFails = fails;
    let recovered: OrderRecord | undefined;
    if (!fails && sub.billingRetry && !sub.revoked) {
      const def = this.catalog.get(sub.productId);
      if (def?.subscription) {
        const last = this.requireOrder(sub.orderIds[sub.orderIds.length - 1]);
        recovered = this.newOrder(def, 1, last.developerPayload, 'pay', sub.purchaseToken);
        recovered.subscriptionId = sub.subscriptionId;
        recovered.durationTypeCode = '0';
        sub.orderIds.push(recovered.purchaseOrderId);
        sub.expiresTime = this.clock.now() + this.periodOf(def.subscription);
        sub.billingRetry = false;
        delete sub.expirationIntent;
      }
    }
    this.operatorEntry('setChargeFails', { productId: sub.productId, purchaseOrderId: recovered?.purchaseOrderId }, recovered);
    return recovered ? IapSimulator.view(recovered) : undefined;
  }

  /** The store gives up retrying the charge: the subscription expires (status "2"). */
  endBillingRetry(subscriptionId: string): void {
    const sub = this.requireSubscription(subscriptionId);
    this.advanceSubscriptions();
    sub.billingRetry = false;
    sub.autoRenew = false;
    sub.expirationIntent = '4';
    this.operatorEntry('endBillingRetry', { productId: sub.productId });
  }

  /** The subscription of a subscription order, or the latest one of a product. */
  subscriptionOf(productIdOrOrderId: string): SubscriptionRecord | undefined {
    this.advanceSubscriptions();
    const order = this.ordersById.get(productIdOrOrderId);
    const found = order?.subscriptionId !== undefined ?
      this.subscriptions.find((s) => s.subscriptionId === order.subscriptionId) :
      [...this.subscriptions].reverse().find((s) => s.productId === productIdOrOrderId);
    return found ? { ...found, orderIds: [...found.orderIds] } : undefined;
  }

  private requireSubscription(subscriptionId: string): SubscriptionRecord {
    const sub = this.subscriptions.find((s) => s.subscriptionId === subscriptionId);
    if (!sub) throw new Error(`No subscription ${subscriptionId}`);
    return sub;
  }

  /** One period of `terms` on the subscription clock (the sandbox time machine shortens days). */
  private periodOf(terms: SubscriptionTerms): number {
    return (periodMs(terms) / DAY_MS) * this.dayMs;
  }

  /** Forged purchaseData of the given kind (for tests that the app refuses it). */
  async forgePurchaseData(productId: string, kind: ForgeryKind, options: ForgeOptions = {}): Promise<string> {
    const def = this.catalog.get(productId);
    const type = def?.type ?? ProductType.CONSUMABLE;
    const now = this.clock.now();
    const base = options.basedOnOrderId ? this.requireOrder(options.basedOnOrderId) : undefined;
    const payload: PurchaseOrderPayload = {
      environment: this.environment,
      purchaseOrderId: base?.purchaseOrderId ?? `F${newPurchaseOrderId(this.prng, now, ++this.seq)}`,
      purchaseToken: base?.purchaseToken ?? newPurchaseToken(this.prng, now),
      applicationId: this.app.applicationId,
      productId,
      productType: String(type),
      purchaseTime: now,
      signedTime: now,
      quantity: options.quantity ?? 1,
      finishStatus: '2',
      needFinish: true,
      price: (def?.priceFen ?? 100) * (options.quantity ?? 1),
      currency: def?.currency ?? 'CNY',
      countryCode: this.account.countryCode,
    };
    if (options.developerPayload !== undefined) payload.developerPayload = options.developerPayload;
    let jws: string;
    switch (kind) {
      case 'foreign-pki':
        jws = (await this.foreignChain()).signJws(payload);
        break;
      case 'tampered': {
        const genuine = this.pki.signJws(payload);
        const parts = genuine.split('.');
        const edited = { ...payload, quantity: (payload.quantity ?? 1) * 10 };
        jws = `${parts[0]}.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${parts[2]}`;
        break;
      }
      case 'foreign-app':
        jws = this.pki.signJws({ ...payload, applicationId: `9${this.app.applicationId.slice(1)}7` });
        break;
      case 'wrong-environment':
        jws = this.pki.signJws({ ...payload, environment: payload.environment === 'SANDBOX' ? 'NORMAL' : 'SANDBOX' });
        break;
      case 'unknown-product':
        jws = this.pki.signJws({ ...payload, productId: `${productId}_unlisted` });
        break;
      case 'missing-oid':
        jws = (await this.noOidChain()).signJws(payload);
        break;
      case 'wrong-alg':
        jws = this.pki.signJws(payload, { alg: 'ES384' });
        break;
    }
    return JSON.stringify({ type, jwsPurchaseOrder: jws });
  }

  /** Observers see every audit entry as it is recorded (synchronously, when the store applies a change). */
  addObserver(observer: SimulatorObserver): () => void {
    this.observers.push(observer);
    return () => {
      const i = this.observers.indexOf(observer);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Views for assertions

  orders(): OrderView[] {
    return this.orderList.map((o) => IapSimulator.view(o));
  }

  order(purchaseOrderId: string): OrderView | undefined {
    const order = this.ordersById.get(purchaseOrderId);
    return order ? IapSimulator.view(order) : undefined;
  }

  /** Paid orders not finished yet (refunded ones included). */
  unfinishedOrders(): OrderView[] {
    return this.orders().filter((o) => o.paid && !o.finished && !o.paymentFailed);
  }

  subscriptionList(): SubscriptionRecord[] {
    return this.subscriptions.map((s) => ({ ...s, orderIds: [...s.orderIds] }));
  }

  /** Every call and operator action so far, oldest first. */
  audit(): AuditEntry[] {
    return this.auditLog.map((e) => ({ ...e, facts: { ...e.facts } }));
  }

  /** Kit calls only, optionally of one function. */
  calls(fn?: IapFunction): AuditEntry[] {
    return this.audit().filter((e) => e.kind === 'call' && (fn === undefined || e.fn === fn));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Persistence

  toJSON(): SimulatorStateJson {
    return {
      version: 1,
      pki: this.pki.toJSON(),
      catalog: [...this.catalog.values()],
      app: { ...this.app },
      account: { ...this.account },
      supportedCountries: [...this.supportedCountries],
      pageSize: this.pageSizeValue,
      minCallIntervalMs: this.minCallIntervalMs,
      sandboxNonConsumableQuirk: this.sandboxNonConsumableQuirk,
      approveRefundRequests: this.approveRefundRequests,
      subscriptionDayMs: this.dayMs,
      maxAutoRenewals: Number.isFinite(this.maxAutoRenewals) ? this.maxAutoRenewals : undefined,
      seq: this.seq,
      prngSeed: this.prng.seed,
      orders: this.orderList.map((o) => ({ ...o })),
      subscriptions: this.subscriptionList(),
      planted: this.planted.map((p) => ({ ...p })),
      audit: this.audit(),
    };
  }

  /** Writes the state (including the test PKI's private keys: test use only) to a JSON file. */
  save(file: string): void {
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.toJSON()));
    fs.renameSync(tmp, file);
  }

  static fromJSON(json: SimulatorStateJson, options: Pick<SimulatorOptions, 'clock' | 'latencyMs' | 'persistTo'> = {}): IapSimulator {
    if (json.version !== 1) throw new Error(`Unsupported simulator state version ${String(json.version)}`);
    const sim = new IapSimulator(loadTestPki(json.pki), {
      catalog: json.catalog,
      applicationId: json.app.applicationId,
      packageName: json.app.packageName,
      app: { debugSigned: json.app.debugSigned, authorized: json.app.authorized },
      account: json.account,
      supportedCountries: json.supportedCountries,
      pageSize: json.pageSize,
      minCallIntervalMs: json.minCallIntervalMs,
      sandboxNonConsumableQuirk: json.sandboxNonConsumableQuirk,
      approveRefundRequests: json.approveRefundRequests,
      subscriptionDayMs: json.subscriptionDayMs,
      maxAutoRenewals: json.maxAutoRenewals,
      seed: json.prngSeed,
      clock: options.clock,
      latencyMs: options.latencyMs,
      persistTo: options.persistTo,
    });
    sim.seq = json.seq;
    for (const o of json.orders) {
      const order = { ...o };
      sim.orderList.push(order);
      sim.ordersById.set(order.purchaseOrderId, order);
    }
    for (const s of json.subscriptions) sim.subscriptions.push({ ...s, orderIds: [...s.orderIds] });
    sim.planted = json.planted.map((p) => ({ ...p }));
    sim.auditLog.push(...json.audit);
    return sim;
  }

  static load(file: string, options: Pick<SimulatorOptions, 'clock' | 'latencyMs' | 'persistTo'> = {}): IapSimulator {
    return IapSimulator.fromJSON(JSON.parse(fs.readFileSync(file, 'utf8')) as SimulatorStateJson, options);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Internals

  /**
   * Runs one kit call: latency, injected faults, throttling, the body, the audit entry. A fault marked
   * `applied` lets the body take effect and then replaces the answer with the error.
   */
  private async call<T>(fn: IapFunction, context: object, facts: Omit<CallFacts, 'fn'>, body: (ctx: CallContext) => T): Promise<T> {
    const arrival = this.clock.now();
    await delay(this.latency[fn] ?? this.defaultLatency);
    const ctx: CallContext = { applied: false };
    const record = (ok: boolean, code: number, message: string | undefined, delivered: boolean): void => {
      const entry: AuditEntry = {
        seq: ++this.seq,
        time: arrival,
        kind: 'call',
        fn,
        ok,
        code,
        applied: ctx.applied,
        delivered,
        facts: {
          ...facts,
          purchaseOrderId: facts.purchaseOrderId ?? ctx.order?.purchaseOrderId,
          productId: facts.productId ?? ctx.order?.productId,
        },
      };
      if (message !== undefined) entry.message = message;
      if (ctx.returned !== undefined) entry.returned = ctx.returned;
      if (ctx.returnedOrderIds !== undefined) entry.returnedOrderIds = ctx.returnedOrderIds;
      if (ctx.morePages !== undefined) entry.morePages = ctx.morePages;
      this.append(entry, ctx.order);
    };
    let result: T;
    let fault: FaultRule | undefined;
    try {
      if (context === undefined || context === null) throw parameterError('context is required.');
      fault = this.faults.take({ fn, ...facts });
      if (fault && !fault.applied) throw IapSimulator.faultError(fault);
      this.throttle(fn, arrival, facts.continued === true);
      this.advanceSubscriptions();
      result = body(ctx);
    } catch (e) {
      const err = e instanceof BusinessError ? e : kitError(IAPErrorCode.SYSTEM_ERROR, String(e));
      record(false, err.code, err.message, false);
      this.persist();
      throw err;
    }
    if (fault?.applied) {
      const err = IapSimulator.faultError(fault);
      record(false, err.code, err.message, false);
      this.persist();
      throw err;
    }
    record(true, 0, undefined, true);
    if (ctx.applied) this.persist();
    return result;
  }

  private static faultError(rule: FaultRule): BusinessError {
    return rule.message !== undefined ? new BusinessError(rule.code, rule.message) : kitError(rule.code);
  }

  private throttle(fn: IapFunction, arrival: number, continued: boolean): void {
    if (this.minCallIntervalMs <= 0 || continued) return;
    const last = this.lastCallTime.get(fn);
    if (last !== undefined && arrival - last < this.minCallIntervalMs) {
      throw kitError(IAPErrorCode.FREQUENT_CALLS, `Wait ${this.minCallIntervalMs - (arrival - last)} ms.`);
    }
    this.lastCallTime.set(fn, arrival);
  }

  private append(entry: AuditEntry, order: OrderRecord | undefined): void {
    this.auditLog.push(entry);
    if (this.observers.length === 0) return;
    const view = order ? IapSimulator.view(order) : undefined;
    for (const observer of [...this.observers]) observer(entry, view);
  }

  private operatorEntry(fn: string, facts: Omit<CallFacts, 'fn'>, order?: OrderRecord): void {
    const entry: AuditEntry = {
      seq: ++this.seq,
      time: this.clock.now(),
      kind: 'operator',
      fn,
      ok: true,
      code: 0,
      applied: true,
      delivered: false,
      facts,
    };
    this.append(entry, order);
    this.persist();
  }

  private persist(): void {
    if (this.persistTo) this.save(this.persistTo);
  }

  private requireUsableAccount(): void {
    if (!this.app.authorized) throw kitError(IAPErrorCode.APP_NOT_AUTHORIZED);
    if (!this.account.signedIn) throw kitError(IAPErrorCode.ACCOUNT_NOT_LOGGED_IN);
    if (!this.supportedCountries.includes(this.account.countryCode)) throw kitError(IAPErrorCode.ACCOUNT_TERRITORY_NOT_SUPPORTED);
  }

  private requireOrder(purchaseOrderId: string): OrderRecord {
    const order = this.ordersById.get(purchaseOrderId);
    if (!order) throw new Error(`No order ${purchaseOrderId} in the simulator`);
    return order;
  }

  private static checkPageSize(size: number): number {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pageSize must be a positive integer, got ${size}`);
    return size;
  }

  private static view(order: OrderRecord): OrderView {
    return {
      ...order,
      paid: order.purchaseTime !== undefined,
      finished: order.finishTime !== undefined,
      revoked: order.revocationTime !== undefined,
    };
  }

  private isLive(order: OrderRecord): boolean {
    return order.applicationId === this.app.applicationId && !order.paymentFailed;
  }

  /** The ownership rules, then a new order (paid unless the outcome is 'pending'). */
  private placeOrder(
    productId: string,
    productType: ProductType,
    quantity: number,
    developerPayload: string | undefined,
    outcome: PurchaseOutcome,
  ): OrderRecord {
    const def = this.catalog.get(productId);
    if (!def || def.type !== productType) throw kitError(IAPErrorCode.INVALID_PRODUCT, `No product ${productId} of type ${productType}.`);
    if ((def.status ?? ProductStatus.VALID) !== ProductStatus.VALID) {
      throw kitError(IAPErrorCode.SYSTEM_ERROR, 'product status must 0(online)');
    }
    if (quantity !== 1 && productType !== ProductType.CONSUMABLE && productType !== ProductType.NONRENEWABLE) {
      throw parameterError('quantity is only for consumables and non-renewables.');
    }
    const live = this.orderList.filter((o) => this.isLive(o) && o.productId === productId && o.revocationTime === undefined);
    switch (productType) {
      case ProductType.CONSUMABLE:
      case ProductType.NONRENEWABLE:
        // Bought (or being paid) but not finished: not purchasable again until finished.
        if (live.some((o) => o.finishTime === undefined)) throw kitError(IAPErrorCode.PRODUCT_OWNED);
        break;
      case ProductType.NONCONSUMABLE:
        if (live.some((o) => !(this.sandboxNonConsumableQuirk && o.finishTime !== undefined))) {
          throw kitError(IAPErrorCode.PRODUCT_OWNED);
        }
        break;
    }
    let switchFrom: SubscriptionRecord | undefined;
    if (productType === ProductType.AUTORENEWABLE) switchFrom = this.checkSubscriptionGroup(def);
    if (outcome === 'cancel') throw kitError(IAPErrorCode.USER_CANCELED);
    const dev = developerPayload === undefined ? undefined : developerPayload.slice(0, MAX_DEVELOPER_PAYLOAD);
    if (productType !== ProductType.AUTORENEWABLE) return this.newOrder(def, quantity, dev, outcome);
    return this.newSubscription(def, dev, outcome, switchFrom);
  }

  /**
   * An unfinished order anywhere in the group blocks every purchase and switch in it; the same product while in
   * effect is owned; another product of the group while one is in effect is a switch (upgrade or downgrade,
   * modelled as taking effect at once). Returns the subscription switched from.
   */
  private checkSubscriptionGroup(def: ProductDefinition): SubscriptionRecord | undefined {
    const groupId = def.subscription?.groupId;
    const now = this.clock.now();
    let switchFrom: SubscriptionRecord | undefined;
    for (const sub of this.subscriptions.filter((s) => s.subGroupId === groupId && !s.revoked)) {
      const orders = sub.orderIds.map((id) => this.requireOrder(id)).filter((o) => this.isLive(o));
      if (orders.some((o) => o.finishTime === undefined && o.revocationTime === undefined)) {
        // FAQ: an unfinished subscription order blocks the group with this detail, as SYSTEM_ERROR.
        throw kitError(IAPErrorCode.SYSTEM_ERROR, 'IAP_RESPONSE_RESULT_NOT_SHIP_CONFIRM');
      }
      if (sub.switchedTo === undefined && (sub.expiresTime > now || sub.billingRetry)) {
        if (sub.productId === def.id) throw kitError(IAPErrorCode.PRODUCT_OWNED);
        switchFrom = sub;
      }
    }
    return switchFrom;
  }

  private newOrder(
    def: ProductDefinition,
    quantity: number,
    developerPayload: string | undefined,
    outcome: PurchaseOutcome,
    token?: string,
  ): OrderRecord {
    const now = this.clock.now();
    const seq = ++this.seq;
    const order: OrderRecord = {
      seq,
      purchaseOrderId: newPurchaseOrderId(this.prng, now, seq),
      purchaseToken: token ?? newPurchaseToken(this.prng, now),
      productId: def.id,
      productType: def.type,
      quantity,
      priceFen: def.priceFen * quantity,
      currency: def.currency ?? 'CNY',
      countryCode: this.account.countryCode,
      environment: this.environment,
      applicationId: this.app.applicationId,
      createdTime: now,
    };
    if (developerPayload !== undefined) order.developerPayload = developerPayload;
    if (outcome === 'pay') order.purchaseTime = now;
    this.orderList.push(order);
    this.ordersById.set(order.purchaseOrderId, order);
    return order;
  }

  private newSubscription(
    def: ProductDefinition,
    developerPayload: string | undefined,
    outcome: PurchaseOutcome,
    switchFrom?: SubscriptionRecord,
  ): OrderRecord {
    const terms = def.subscription;
    if (!terms) throw kitError(IAPErrorCode.INVALID_PRODUCT, `${def.id} has no subscription terms.`);
    const now = this.clock.now();
    const seq = ++this.seq;
    const sub: SubscriptionRecord = {
      seq,
      subscriptionId: newSubscriptionId(this.prng, seq),
      // A switch stays in the same generation of the group; a purchase after it lapsed starts a new one.
      subGroupGenerationId: switchFrom?.subGroupGenerationId ?? newGenerationId(this.prng),
      subGroupId: terms.groupId,
      productId: def.id,
      purchaseToken: newPurchaseToken(this.prng, now),
      startTime: now,
      expiresTime: now + this.periodOf(terms),
      orderIds: [],
      autoRenew: true,
      revoked: false,
    };
    const order = this.newOrder(def, 1, developerPayload, outcome, sub.purchaseToken);
    order.subscriptionId = sub.subscriptionId;
    order.durationTypeCode = '0';
    sub.orderIds.push(order.purchaseOrderId);
    this.subscriptions.push(sub);
    if (switchFrom) {
      switchFrom.switchedTo = sub.subscriptionId;
      switchFrom.autoRenew = false;
      switchFrom.billingRetry = false;
      switchFrom.expiresTime = Math.min(switchFrom.expiresTime, now);
    }
    return order;
  }

  /**
   * A refund revokes its order. A subscription is revoked (status "5", no more renewals) only when the refunded
   * order is its latest period, the one giving access now, as StoreKit's status 5 is "the latest transaction
   * revoked"; the fact sheet says only "REVOKE: order refunded or subscription revoked". A refunded earlier
   * period loses its own grant and the subscription goes on. The server (SubscriptionService) and the engine
   * (OrderPipeline.runSubscription) read status "5" or a refunded latest period as revoked, the same rule.
   */
  private revoke(order: OrderRecord, reasonCode: string): void {
    order.revocationReasonCode = reasonCode;
    order.revocationTime = this.clock.now();
    if (order.subscriptionId) {
      const sub = this.subscriptions.find((s) => s.subscriptionId === order.subscriptionId);
      if (sub && sub.orderIds[sub.orderIds.length - 1] === order.purchaseOrderId) {
        sub.revoked = true;
        sub.autoRenew = false;
      }
    }
  }

  private orderPayload(order: OrderRecord, signedTime: number): PurchaseOrderPayload {
    const payload: PurchaseOrderPayload = {
      environment: order.environment,
      purchaseOrderId: order.purchaseOrderId,
      purchaseToken: order.purchaseToken,
      applicationId: order.applicationId,
      productId: order.productId,
      productType: String(order.productType),
      signedTime,
    };
    if (order.purchaseTime !== undefined) payload.purchaseTime = order.purchaseTime;
    payload.quantity = order.quantity;
    payload.finishStatus = order.finishTime !== undefined ? '1' : '2';
    payload.needFinish = true;
    payload.price = order.priceFen;
    payload.currency = order.currency;
    payload.countryCode = order.countryCode;
    if (order.developerPayload !== undefined) payload.developerPayload = order.developerPayload;
    if (order.revocationTime !== undefined) {
      payload.purchaseOrderRevocationReasonCode = order.revocationReasonCode ?? '0';
      payload.revocationTime = order.revocationTime;
    }
    if (order.subscriptionId !== undefined) {
      const sub = this.subscriptions.find((s) => s.subscriptionId === order.subscriptionId);
      const terms = this.catalog.get(order.productId)?.subscription;
      if (sub) {
        payload.subGroupGenerationId = sub.subGroupGenerationId;
        payload.subscriptionId = sub.subscriptionId;
        payload.subGroupId = sub.subGroupId;
      }
      if (terms) payload.duration = periodIso(terms);
      payload.durationTypeCode = order.durationTypeCode ?? '0';
    }
    return payload;
  }

  /** `purchaseData` for an order, signed now (signedTime is the time of this answer). */
  private purchaseDataFor(order: OrderRecord): string {
    const now = this.clock.now();
    if (order.subscriptionId !== undefined) {
      const sub = this.subscriptions.find((s) => s.subscriptionId === order.subscriptionId);
      if (sub) {
        return JSON.stringify({ type: ProductType.AUTORENEWABLE, jwsSubscriptionStatus: this.pki.signJws(this.groupStatus(sub, now)) });
      }
    }
    return JSON.stringify({ type: order.productType, jwsPurchaseOrder: this.pki.signJws(this.orderPayload(order, now)) });
  }

  private subscriptionStatus(sub: SubscriptionRecord, now: number): SubscriptionStatus {
    const orders = sub.orderIds.map((id) => this.requireOrder(id)).filter((o) => !o.paymentFailed);
    const payloads = orders.map((o) => this.orderPayload(o, now));
    const status: SubscriptionStatus = {
      subGroupGenerationId: sub.subGroupGenerationId,
      subscriptionId: sub.subscriptionId,
      purchaseToken: sub.purchaseToken,
      status: sub.revoked ? '5' : sub.expiresTime > now ? '1' : sub.billingRetry ? '3' : '2',
      expiresTime: sub.expiresTime,
      recentPurchaseOrderList: [...payloads].reverse(),
      renewalInfo: {
        environment: this.environment,
        subGroupGenerationId: sub.subGroupGenerationId,
        productId: sub.productId,
        autoRenewStatusCode: sub.autoRenew ? '1' : '0',
        hasInBillingRetryPeriod: sub.billingRetry === true,
      },
    };
    if (sub.autoRenew && status.renewalInfo) status.renewalInfo.renewalTime = sub.expiresTime;
    if (payloads.length > 0) status.lastPurchaseOrder = payloads[payloads.length - 1];
    if (sub.expirationIntent !== undefined && status.renewalInfo) status.renewalInfo.expirationIntent = sub.expirationIntent;
    return status;
  }

  private groupStatus(sub: SubscriptionRecord, now: number): SubGroupStatusPayload {
    const history = this.subscriptions.filter((s) => s.subGroupId === sub.subGroupId && s.seq < sub.seq).slice(-10);
    return {
      environment: this.environment,
      applicationId: this.app.applicationId,
      packageName: this.app.packageName,
      subGroupId: sub.subGroupId,
      signedTime: now,
      lastSubscriptionStatus: this.subscriptionStatus(sub, now),
      historySubscriptionStatusList: history.map((s) => this.subscriptionStatus(s, now)),
    };
  }

  /** What a query returns, in store order; each item renders (signs) its purchaseData at answer time. */
  private queryItems(productType: ProductType, queryType: PurchaseQueryType): Array<{ seq: number; orderIds: string[]; render: () => string }> {
    const now = this.clock.now();
    const items: Array<{ seq: number; orderIds: string[]; render: () => string }> = [];
    if (productType === ProductType.AUTORENEWABLE) {
      for (const sub of this.subscriptions) {
        const orders = sub.orderIds.map((id) => this.requireOrder(id)).filter((o) => this.isLive(o));
        if (orders.length === 0) continue;
        const include =
          queryType === PurchaseQueryType.ALL ||
          (queryType === PurchaseQueryType.UNFINISHED && orders.some((o) => o.finishTime === undefined)) ||
          (queryType === PurchaseQueryType.CURRENT_ENTITLEMENT &&
            !sub.revoked &&
            sub.switchedTo === undefined &&
            (sub.expiresTime > now || sub.billingRetry === true) &&
            orders.some((o) => o.purchaseTime !== undefined));
        if (include) items.push({ seq: sub.seq, orderIds: orders.map((o) => o.purchaseOrderId), render: () => this.purchaseDataFor(orders[orders.length - 1]) });
      }
    } else {
      for (const order of this.orderList) {
        if (!this.isLive(order) || order.productType !== productType) continue;
        if (this.sandboxNonConsumableQuirk && productType === ProductType.NONCONSUMABLE && order.finishTime !== undefined) continue;
        const include =
          queryType === PurchaseQueryType.ALL ||
          (queryType === PurchaseQueryType.UNFINISHED && order.finishTime === undefined) ||
          (queryType === PurchaseQueryType.CURRENT_ENTITLEMENT &&
            productType === ProductType.NONCONSUMABLE &&
            order.purchaseTime !== undefined &&
            order.revocationTime === undefined);
        if (include) items.push({ seq: order.seq, orderIds: [order.purchaseOrderId], render: () => this.purchaseDataFor(order) });
      }
    }
    for (const p of this.planted) {
      // A planted purchaseData is none of the store's orders.
      if (p.productType === productType && p.queryType === queryType) items.push({ seq: p.seq, orderIds: [], render: () => p.purchaseData });
    }
    return items.sort((a, b) => a.seq - b.seq);
  }

  private cursor(productType: ProductType, queryType: PurchaseQueryType, afterSeq: number): string {
    return CURSOR_PREFIX + Buffer.from(JSON.stringify({ t: productType, q: queryType, a: afterSeq })).toString('base64url');
  }

  private parseCursor(token: unknown, productType: ProductType, queryType: PurchaseQueryType): number {
    if (typeof token !== 'string' || !token.startsWith(CURSOR_PREFIX)) throw parameterError('continuationToken is invalid.');
    let parsed: { t?: unknown; q?: unknown; a?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(token.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8')) as typeof parsed;
    } catch {
      throw parameterError('continuationToken is invalid.');
    }
    if (parsed.t !== productType || parsed.q !== queryType || typeof parsed.a !== 'number') {
      throw parameterError('continuationToken belongs to another query.');
    }
    return parsed.a;
  }

  /** An unrelated chain (its own root), shared by every simulator of the process. */
  private foreignChain(): Promise<TestPki> {
    if (!sharedForeignPki) sharedForeignPki = createTestPki({ subjectPrefix: 'Foreign' });
    return sharedForeignPki;
  }

  /** A chain under this store's root whose leaf lacks the IAP OID (one per root). */
  private noOidChain(): Promise<TestPki> {
    let chain = noOidPkis.get(this.pki);
    if (!chain) {
      chain = createTestPki({ parent: this.pki, leafOid: false, subjectPrefix: 'No OID' });
      noOidPkis.set(this.pki, chain);
    }
    return chain;
  }
}
