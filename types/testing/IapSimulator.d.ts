/*
 * Node-only test support for .ets suites: operator controls of the IAP Kit simulator
 * (implementation: tools/testing/IapSimulator.ts over tools/iap-sim). Product code never imports this.
 *
 *   import { resetIapSimulator, IapSimulatorControl, IapFunctionName } from 'types/testing/IapSimulator' (a relative import);
 *   const sim: IapSimulatorControl = await resetIapSimulator({ pageSize: 2 });
 *   sim.failNext(IapFunctionName.FINISH_PURCHASE, 1001860005, 1);
 *
 * Written as .d.ts so the ArkTS linter does not lint the declaration itself; the types are ArkTS-friendly.
 */

export interface SimulatorSetup {
  applicationId?: string;
  /** 'SANDBOX' (default) or 'NORMAL'. */
  environment?: string;
  /** queryPurchases page size; default 2 so paging is always exercised. */
  pageSize?: number;
  /** FREQUENT_CALLS when a function is called again sooner than this (0 = never). */
  minCallIntervalMs?: number;
  latencyMs?: number;
  /** Seed of order ids and tokens. */
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
  /** The call changed the store. */
  applied: boolean;
  /** The app received the success answer. */
  delivered: boolean;
  /** '' / -1 when not applicable. */
  productId: string;
  productType: number;
  queryType: number;
  purchaseOrderId: string;
  /** queryPurchases: a follow-up page. */
  continued: boolean;
  /** Items returned by a query. */
  returned: number;
}

export declare class IapFunctionName {
  static readonly QUERY_ENVIRONMENT_STATUS: string;
  static readonly QUERY_PRODUCTS: string;
  static readonly CREATE_PURCHASE: string;
  static readonly FINISH_PURCHASE: string;
  static readonly QUERY_PURCHASES: string;
  static readonly SHOW_MANAGED_SUBSCRIPTIONS: string;
  static readonly IS_SANDBOX_ACTIVATED: string;
  static readonly CREATE_REFUND_REQUEST: string;
  static readonly ANY: string;
}

export declare class ForgeryKindName {
  /** A well-formed order for this app signed by an unrelated chain. */
  static readonly FOREIGN_PKI: string;
  /** Genuinely signed, then the payload was edited. */
  static readonly TAMPERED: string;
  /** Genuinely signed, for another applicationId. */
  static readonly FOREIGN_APP: string;
  /** Genuinely signed, the other environment. */
  static readonly WRONG_ENVIRONMENT: string;
  /** Genuinely signed, a product this app does not sell. */
  static readonly UNKNOWN_PRODUCT: string;
  /** Chain under the trusted root whose leaf lacks OID 1.3.6.1.4.1.2011.2.415.1.1. */
  static readonly MISSING_OID: string;
  /** Header alg other than ES256. */
  static readonly WRONG_ALG: string;
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

export declare class IapSimulatorControl {
  /** Renewals, expiry and billing retry up to the store clock's now (also done before every kit call). */
  advanceSubscriptions(): void;
  /** Subscriptions in the store, oldest first. */
  subscriptions(): SimulatedSubscription[];
  cancelSubscription(subscriptionId: string): void;
  resumeSubscription(subscriptionId: string): void;
  /** Renewal charges fail (billing retry) or succeed again (charging the renewal now during billing retry). */
  setChargeFails(subscriptionId: string, fails: boolean): void;
  endBillingRetry(subscriptionId: string): void;
  /** A compact JWS of `payloadJson` signed by the store's own chain (genuine), for hand-made vectors. */
  signWithStoreChain(payloadJson: string): string;
  /** The same, signed by an unrelated chain (a forgery). */
  signWithForeignChain(payloadJson: string): Promise<string>;
  readonly applicationId: string;
  readonly environment: string;
  /** The root the store's JWS chains end in (PEM): pin it in the verifier under test. */
  rootCertificatePem(): string;
  /** The same root as base64 DER. */
  rootCertificateBase64(): string;
  /** The next `count` (default 1) calls of `fn` (IapFunctionName; ANY = any) fail with `code`, without effect. */
  failNext(fn: string, code: number, count?: number): void;
  /** The next call of `fn` (createPurchase / finishPurchase / createRefundRequest) takes effect, then fails with `code`. */
  failNextAfterApplying(fn: string, code: number): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  setMinCallInterval(ms: number): void;
  setPageSize(size: number): void;
  setSignedIn(signedIn: boolean): void;
  setCountryCode(countryCode: string): void;
  setSandbox(appDebugSigned: boolean, testAccount: boolean): void;
  /** The user cancels the next purchase (USER_CANCELED). */
  nextPurchaseCanceled(): void;
  /** The next purchase stays unpaid: no purchaseTime; finishing it gives PURCHASE_NOT_PAID. */
  nextPurchasePending(): void;
  completePayment(purchaseOrderId: string): SimulatedOrder;
  failPayment(purchaseOrderId: string): void;
  /** A paid, unfinished order made outside this app process (another device, or a lost result). */
  purchaseOutsideApp(productId: string, quantity?: number, developerPayload?: string): SimulatedOrder;
  /** Refunds the order: later JWS carry purchaseOrderRevocationReasonCode and revocationTime. */
  refund(purchaseOrderId: string): SimulatedOrder;
  /** Forged purchaseData; kind is one of ForgeryKindName. */
  forgePurchaseData(productId: string, kind: string): Promise<string>;
  /** The next createPurchase resolves with this purchaseData (a hooked device); no order is created. */
  replaceNextPurchaseResult(purchaseData: string): void;
  /** purchaseData that queryPurchases(UNFINISHED) of that product type returns until cleared. */
  plantPurchaseData(productType: number, purchaseData: string): void;
  clearPlantedPurchaseData(): void;
  orders(): SimulatedOrder[];
  order(purchaseOrderId: string): SimulatedOrder | undefined;
  /** Paid orders not finished yet (refunded ones included). */
  unfinishedOrders(): SimulatedOrder[];
  /** The audit log: kit calls (of `fn` if given) and operator actions, oldest first. */
  calls(fn?: string): SimulatedCall[];
  callCount(fn: string): number;
  /** Saves the store to a JSON file. */
  save(file: string): void;
}

/** A fresh, empty store (demo catalog) installed as the one `@kit.IAPKit` talks to. */
export declare function resetIapSimulator(setup?: SimulatorSetup): Promise<IapSimulatorControl>;

/** Controls of the current store (the default one is created on first use). */
export declare function iapSimulator(): Promise<IapSimulatorControl>;
