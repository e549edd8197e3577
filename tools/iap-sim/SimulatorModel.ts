// The simulator's data model: options, accounts, orders, subscriptions, audit entries and forgery kinds.
// Plain types shared by IapSimulator.ts, its facade for .ets tests and the chaos harness.
import type { TestPki } from '../testing/TestPki';
import type { ProductDefinition } from './Catalog';
import type { CallFacts, IapFunction } from './FaultPlan';
import type { ProductType } from './IapTypes';

export interface SimClock {
  now(): number;
}

export interface AccountState {
  /** A HUAWEI ID is signed in. */
  signedIn: boolean;
  /** ISO 3166 region of the account; IAP settles only for mainland China (see supportedCountries). */
  countryCode: string;
  /** The account is a sandbox test account (AGC › Sandbox testing). */
  testAccount: boolean;
}

export interface AppState {
  applicationId: string;
  packageName: string;
  /** Debug-signed with the fingerprint configured: needed, with a test account, for sandbox. */
  debugSigned: boolean;
  /** IAP is switched on and the signing identity is configured; false → APP_NOT_AUTHORIZED everywhere. */
  authorized: boolean;
}

export interface SimulatorOptions {
  /** The store's signing chain; default: one test PKI shared by the whole process (sharedTestPki()). */
  pki?: TestPki;
  catalog?: readonly ProductDefinition[];
  applicationId?: string;
  packageName?: string;
  account?: Partial<AccountState>;
  app?: Partial<Omit<AppState, 'applicationId' | 'packageName'>>;
  /** Shortcut: 'NORMAL' makes the account a non-test account (sandbox inactive). Default 'SANDBOX'. */
  environment?: 'SANDBOX' | 'NORMAL';
  /** Regions where the account may pay (default ['CN']). */
  supportedCountries?: readonly string[];
  /** queryPurchases page size (default 20). */
  pageSize?: number;
  /** FREQUENT_CALLS when the same function is called again sooner than this (default 0 = never). */
  minCallIntervalMs?: number;
  /** Latency of every call, or per function (default 0: answers on the next turn of the event loop). */
  latencyMs?: number | Partial<Record<IapFunction, number>>;
  clock?: SimClock;
  /** Seed for order ids and tokens (default random). */
  seed?: number;
  /**
   * Sandbox quirk (documented): a finished non-consumable is no longer returned by queryPurchases and can be
   * bought again. Off by default: it would make restore-after-reinstall impossible to test.
   */
  sandboxNonConsumableQuirk?: boolean;
  /** The user approves refund requests opened by createRefundRequest (sandbox auto-approves). Default true. */
  approveRefundRequests?: boolean;
  /** Save the state to this JSON file after every change. */
  persistTo?: string;
  /**
   * Length of one subscription "day" in ms. Default 86 400 000 (real time); the sandbox time machine is 10 000
   * (10 s = 1 day, so a monthly product renews every 300 s). Renewals, expiry and billing retry happen as the
   * clock passes a period's end, evaluated at every kit call and operator action.
   */
  subscriptionDayMs?: number;
  /**
   * How many automatic renewals a subscription gets before it stops renewing (the sandbox renews a first purchase
   * 5 times: 6 periods in total). Default unlimited.
   */
  maxAutoRenewals?: number;
}

/** One order in the store. Times are the simulator clock's ms. */
export interface OrderRecord {
  seq: number;
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: ProductType;
  quantity: number;
  /** Total in fen (unit price × quantity). */
  priceFen: number;
  currency: string;
  countryCode: string;
  environment: string;
  applicationId: string;
  developerPayload?: string;
  createdTime: number;
  /** Set once paid; absent while the payment is pending. */
  purchaseTime?: number;
  /** A pending payment that failed: the order is void. */
  paymentFailed?: boolean;
  finishTime?: number;
  revocationReasonCode?: string;
  revocationTime?: number;
  subscriptionId?: string;
  /** "0" normal period, "1" extension (subscriptions only). */
  durationTypeCode?: string;
}

export interface SubscriptionRecord {
  seq: number;
  subscriptionId: string;
  subGroupGenerationId: string;
  subGroupId: string;
  productId: string;
  purchaseToken: string;
  startTime: number;
  expiresTime: number;
  orderIds: string[];
  autoRenew: boolean;
  revoked: boolean;
  /** Why it stopped renewing ("7" = an undelivered order blocked the renewal). */
  expirationIntent?: string;
  /** The renewal charge failed and the store is retrying it (status "3"). */
  billingRetry?: boolean;
  /** Operator: renewal charges fail (a card that is declined) until cleared. */
  chargeFails?: boolean;
  /** Automatic renewals so far. */
  renewals?: number;
  /** Replaced by a switch (upgrade / downgrade) to another product of the group. */
  switchedTo?: string;
}

/** Read-only view of an order with its derived states. */
export interface OrderView extends Readonly<OrderRecord> {
  readonly paid: boolean;
  readonly finished: boolean;
  readonly revoked: boolean;
}

export type AuditKind = 'call' | 'operator';

/** One entry of the audit log: every kit call (and every operator action), in order. */
export interface AuditEntry {
  seq: number;
  /** Simulator clock when the call arrived. */
  time: number;
  kind: AuditKind;
  /** Kit function name, or the operator action ('refund', 'completePayment', …). */
  fn: string;
  ok: boolean;
  /** 0 on success, else the BusinessError code the app received. */
  code: number;
  message?: string;
  /** The call changed the store (an order was created, paid, finished or refunded). */
  applied: boolean;
  /** The app received the success answer (false for errors, including "applied but the answer was lost"). */
  delivered: boolean;
  facts: Omit<CallFacts, 'fn'>;
  /** queryPurchases / queryProducts: how many items were returned. */
  returned?: number;
  /** queryPurchases: the store's orders in the returned page (a subscription: all its periods; planted data: none). */
  returnedOrderIds?: string[];
  /** queryPurchases: a continuationToken was returned. */
  morePages?: boolean;
}

export type SimulatorObserver = (entry: AuditEntry, order: OrderView | undefined) => void;

/** Kinds of forged purchaseData an attacker (or a hooked device) can present. */
export type ForgeryKind =
  | 'foreign-pki' // a well-formed order for this app signed by an unrelated chain
  | 'tampered' // genuinely signed, then the payload was edited (signature no longer matches)
  | 'foreign-app' // genuinely signed by the store, for another application
  | 'wrong-environment' // genuinely signed, the other environment (SANDBOX vs NORMAL)
  | 'unknown-product' // genuinely signed, a product this app does not sell
  | 'missing-oid' // chain under the trusted root, but the leaf lacks the IAP OID
  | 'wrong-alg'; // header alg is not ES256

export const FORGERY_KINDS: readonly ForgeryKind[] = [
  'foreign-pki',
  'tampered',
  'foreign-app',
  'wrong-environment',
  'unknown-product',
  'missing-oid',
  'wrong-alg',
];

export interface ForgeOptions {
  quantity?: number;
  developerPayload?: string;
  /** Re-use the id and token of this real order (a replay of a real order with altered fields). */
  basedOnOrderId?: string;
}

export interface OutsidePurchaseOptions {
  quantity?: number;
  developerPayload?: string;
  /** The payment is still pending (no purchaseTime). */
  pending?: boolean;
}
