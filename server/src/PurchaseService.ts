// Verify → check → record: the logic behind POST /v1/purchases/verify and POST /v1/notifications.
import type { FastifyBaseLogger } from 'fastify';
import { isWellFormed, type AuthenticatedAccount } from './auth/Authenticator';
import type { Catalog, IapEnvironment } from './Config';
import { ConfirmError, type ConfirmOutcome, type ShipmentConfirmer } from './confirm/ConfirmClient';
import { RejectError } from './jws/Errors';
import type { JwsVerifier, VerifiedJws } from './jws/JwsVerifier';
import type { CrlRevocationChecker } from './jws/Revocation';
import { applyNotificationIn, isTransactional, type Ledger, type OrderPayload } from './ledger/Ledger';
// --- subscriptions (auto-renewables live in server/src/subscriptions) ---
import { SubscriptionService, type SubscriptionVerifyResult } from './subscriptions/SubscriptionService';
import type { SubscriptionStore } from './subscriptions/SubscriptionStore';
// --- end subscriptions ---

export interface PurchaseServiceDeps {
  verifier: JwsVerifier;
  revocation: CrlRevocationChecker;
  ledger: Ledger;
  appId: string;
  environment: IapEnvironment;
  catalog: Catalog;
  confirmer: ShipmentConfirmer | undefined;
  log: FastifyBaseLogger;
  now: () => number;
  // --- subscriptions ---
  /** Where subscription state lives; without it, auto-renewables get 422 unsupported-product-type. */
  subscriptionStore?: SubscriptionStore;
  /** productId → ISO 8601 period of each non-renewable (entitlement read). */
  nonRenewablePeriods?: ReadonlyMap<string, string>;
  // --- end subscriptions ---
}

export type VerifyResult =
  | { kind: 'valid'; payload: OrderPayload; replay: boolean }
  | Extract<SubscriptionVerifyResult, { kind: 'subscription' }>
  /** A genuine order whose payment is not complete (no purchaseTime): nothing recorded, ask again once paid. */
  | { kind: 'not-paid'; payload: OrderPayload }
  | { kind: 'account-conflict' }
  /** The order's signed developerPayload names another account than the session's. */
  | { kind: 'account-mismatch' };

export type NotificationResult = { kind: 'processed'; action: string } | { kind: 'duplicate' };

const MAX_FIELD = 1024;

function str(payload: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = payload[name];
  if (v === undefined || v === null) {
    if (required) throw new RejectError('invalid-payload', `${name} is missing`);
    return undefined;
  }
  if (typeof v !== 'string' || (required && v.length === 0) || v.length > MAX_FIELD || !isWellFormed(v)) {
    throw new RejectError('invalid-payload', `${name} must be a non-empty string of at most ${MAX_FIELD} characters of well-formed text`);
  }
  // An empty optional field names nothing: it is absent (a REVOKE with purchaseOrderId "" falls back to the token).
  return v.length === 0 ? undefined : v;
}

// The optional PurchaseOrderPayload fields and their JSON types, as the device's PurchaseOrderPayloadReader reads them:
// a payload the server accepts is always one the device can read from its answer (null counts as absent).
const OPTIONAL_NUMBERS = ['purchaseTime', 'quantity', 'price', 'revocationTime'];
const OPTIONAL_STRINGS = ['finishStatus', 'currency', 'countryCode', 'developerPayload', 'purchaseOrderRevocationReasonCode', 'offerTypeCode', 'offerId'];

function wrongOptionalTypes(p: Record<string, unknown>): string[] {
  const present = (name: string): boolean => p[name] !== undefined && p[name] !== null;
  const wrong = OPTIONAL_NUMBERS.filter((n) => present(n) && !(typeof p[n] === 'number' && Number.isFinite(p[n])));
  wrong.push(...OPTIONAL_STRINGS.filter((n) => present(n) && typeof p[n] !== 'string'));
  if (present('needFinish') && typeof p['needFinish'] !== 'boolean') wrong.push('needFinish');
  return wrong;
}

function isRevoked(p: Record<string, unknown>): boolean {
  const code = p['purchaseOrderRevocationReasonCode'];
  const time = p['revocationTime'];
  return (code !== undefined && code !== null && code !== '') || (time !== undefined && time !== null && time !== '');
}

export class PurchaseService {
  private readonly inflightConfirms = new Set<Promise<void>>();
  private readonly confirming = new Set<string>();

  /** Undefined without a subscription store. */
  readonly subscriptions: SubscriptionService | undefined;

  constructor(private readonly d: PurchaseServiceDeps) {
    // --- subscriptions ---
    this.subscriptions =
      d.subscriptionStore === undefined
        ? undefined
        : new SubscriptionService({
            store: d.subscriptionStore,
            ledger: d.ledger,
            appId: d.appId,
            environment: d.environment,
            verifyJws: (jws, timeOf) => this.verifyJws(jws, timeOf),
            checkOrder: (p, type) => this.checkOrder(p, type),
            confirmPending: d.confirmer !== undefined,
            scheduleConfirm: (order) => this.scheduleConfirm(order),
            nonRenewablePeriods: d.nonRenewablePeriods ?? new Map(),
            log: d.log,
            now: d.now,
          });
    // --- end subscriptions ---
  }

  private async verifyJws<T>(jws: string, timeOf?: (payload: Record<string, unknown>) => number): Promise<VerifiedJws<T>> {
    const v = await this.d.verifier.verifyAsync<T>(jws, timeOf);
    if (this.d.revocation.enabled) await this.d.revocation.check(v.chain);
    return v;
  }

  /** Checks a verified PurchaseOrderPayload against the configuration; returns it typed. */
  checkOrder(p: Record<string, unknown>, purchaseDataType: number): OrderPayload {
    const environment = str(p, 'environment', true)!;
    const applicationId = str(p, 'applicationId', true)!;
    const purchaseOrderId = str(p, 'purchaseOrderId', true)!;
    const purchaseToken = str(p, 'purchaseToken', true)!;
    const productId = str(p, 'productId', true)!;
    const productType = p['productType'];
    if (typeof productType !== 'string' || !/^[0-3]$/.test(productType)) {
      throw new RejectError('invalid-payload', 'productType must be a string "0".."3"');
    }
    // The JWS verifier already requires it of a jwsPurchaseOrder; the orders inside a subscription status need it too.
    const signedTime = p['signedTime'];
    if (typeof signedTime !== 'number' || !Number.isFinite(signedTime) || signedTime <= 0) {
      throw new RejectError('invalid-payload', 'signedTime must be a positive number of UTC ms');
    }
    const wrongType = wrongOptionalTypes(p);
    if (wrongType.length > 0) throw new RejectError('invalid-payload', `wrong JSON type for ${wrongType.join(', ')}`);
    for (const name of OPTIONAL_STRINGS) str(p, name, false);
    const q = p['quantity'];
    if (q !== undefined && q !== null && !(Number.isInteger(q) && (q as number) >= 1 && (q as number) <= 10)) {
      throw new RejectError('invalid-payload', 'quantity must be an integer 1..10');
    }
    if (applicationId !== this.d.appId) throw new RejectError('wrong-app', 'applicationId does not match this app');
    if (environment !== this.d.environment) {
      throw new RejectError('wrong-environment', `environment ${environment} on a ${this.d.environment} server`);
    }
    if (!this.d.catalog.has(productId)) throw new RejectError('unknown-product', `productId ${productId} is not sold by this app`);
    const catalogType = this.d.catalog.get(productId);
    if (catalogType !== undefined && Number(productType) !== catalogType) {
      throw new RejectError('wrong-product-type', `productType ${productType} does not match the catalog (${catalogType})`);
    }
    if (Number(productType) !== purchaseDataType) {
      throw new RejectError('wrong-product-type', `PurchaseData.type ${purchaseDataType} differs from productType ${productType}`);
    }
    return { ...p, purchaseOrderId, purchaseToken, productId, productType } as OrderPayload;
  }

  /**
   * `account`: the caller's authenticated account (a string is an account id whose binding is itself), or undefined
   * on a server without an authenticator.
   */
  async verifyPurchase(purchaseData: string, account: AuthenticatedAccount | string | undefined): Promise<VerifyResult> {
    const caller = typeof account === 'string' ? { accountId: account } : account;
    const accountId = caller?.accountId;
    let pd: unknown;
    try {
      pd = JSON.parse(purchaseData);
    } catch {
      throw new RejectError('malformed-purchase-data', 'purchaseData is not JSON');
    }
    if (pd === null || typeof pd !== 'object' || Array.isArray(pd)) {
      throw new RejectError('malformed-purchase-data', 'purchaseData is not a JSON object');
    }
    const rec = pd as Record<string, unknown>;
    const type = rec['type'];
    if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 3) {
      throw new RejectError('malformed-purchase-data', 'purchaseData.type must be 0..3');
    }
    const jws = rec['jwsPurchaseOrder'];
    // --- subscriptions: type 2 carries jwsSubscriptionStatus ---
    if (type === 2) {
      if (this.subscriptions === undefined) {
        throw new RejectError('unsupported-product-type', 'auto-renewable subscriptions (jwsSubscriptionStatus) are not handled');
      }
      return this.subscriptions.verify(rec, caller);
    }
    // --- end subscriptions ---
    if (typeof jws !== 'string') throw new RejectError('malformed-purchase-data', 'jwsPurchaseOrder missing');

    const v = await this.verifyJws<Record<string, unknown>>(jws);
    const order = this.checkOrder(v.payload, type);
    const now = this.d.now();
    // The developerPayload is signed by Huawei and was set by the app at createPurchase: when present, it says whose
    // order this is, like Apple's appAccountToken. Checked before anything is recorded.
    const dp = order['developerPayload'];
    if (caller !== undefined && typeof dp === 'string' && dp.length > 0 && dp !== (caller.binding ?? caller.accountId)) {
      return { kind: 'account-mismatch' };
    }

    if (isRevoked(v.payload)) {
      await this.d.ledger.revoke(
        { ...order, payload: order },
        String(v.payload['purchaseOrderRevocationReasonCode'] ?? 'revoked'),
        now,
      );
      throw new RejectError('revoked', 'the order was revoked (refunded)');
    }
    if (v.payload['purchaseTime'] === undefined || v.payload['purchaseTime'] === null) {
      // A verdict, not an outage: the device keeps the order as awaiting payment, as its own verifier does.
      return { kind: 'not-paid', payload: order };
    }

    const out = await this.d.ledger.deliver(order, accountId, now, this.d.confirmer !== undefined);
    if (out.kind === 'revoked') throw new RejectError('revoked', 'the order was revoked (refunded)');
    if (out.kind === 'account-conflict') return { kind: 'account-conflict' };
    if (out.kind === 'token-conflict') throw new RejectError('invalid-payload', 'purchaseToken is already recorded for another order');
    // A bound order needs its account: a caller without one (a server run without an authenticator on a ledger
    // that has accounts) does not get it.
    if (out.replay && out.accountId !== undefined && accountId === undefined) return { kind: 'account-conflict' };
    this.d.log.info(
      { purchaseOrderId: order.purchaseOrderId, productId: order.productId, replay: out.replay },
      out.replay ? 'order replayed' : 'order granted',
    );
    if (this.d.confirmer) {
      if (!out.replay || out.confirmState === 'pending' || out.confirmState === 'failed') {
        this.scheduleConfirm(order);
      }
    }
    return { kind: 'valid', payload: out.payload, replay: out.replay };
  }

  async handleNotification(jwsNotification: string): Promise<NotificationResult> {
    const v = await this.verifyJws<Record<string, unknown>>(jwsNotification);
    const p = v.payload;
    const type = str(p, 'notificationType', true)!;
    const subtype = str(p, 'notificationSubtype', false);
    const requestId = str(p, 'notificationRequestId', true)!;
    const version = p['notificationVersion'];
    if (version !== undefined && version !== 'v3') throw new RejectError('invalid-payload', 'only notificationVersion v3 is supported');
    const metaRaw = p['notificationMetaData'];
    if (metaRaw === null || typeof metaRaw !== 'object' || Array.isArray(metaRaw)) {
      throw new RejectError('invalid-payload', 'notificationMetaData missing');
    }
    const meta = metaRaw as Record<string, unknown>;
    const appId = str(meta, 'applicationId', true)!;
    const env = str(meta, 'environment', true)!;
    const token = str(meta, 'purchaseToken', false);
    const orderId = str(meta, 'purchaseOrderId', false);
    if (appId !== this.d.appId) throw new RejectError('wrong-app', 'applicationId does not match this app');
    // TEST notifications always come from the production endpoint with environment NORMAL.
    if (type !== 'TEST' && env !== this.d.environment) {
      throw new RejectError('wrong-environment', `environment ${env} on a ${this.d.environment} server`);
    }
    const now = this.d.now();
    // --- subscriptions: merged first (idempotent, order-independent), so a crash before the ledger records the
    // notification loses nothing: Huawei's retry applies it again.
    const subAction = await this.subscriptions?.onNotification(type, subtype, v.signedTime, meta);
    // --- end subscriptions ---

    // One ledger transaction: recording the notification and what it does commit together.
    // DID_NEW_TRANSACTION, EXPIRE, DID_CHANGE_RENEWAL_STATUS, RENEWAL_TIME_MODIFIED, TEST and unknown types are
    // triggers only: the device's recovery sweep (or a status query) delivers; nothing to change here.
    const revoke =
      type === 'REVOKE'
        ? {
            orderId,
            token,
            productId: typeof meta['currentProductId'] === 'string' ? (meta['currentProductId'] as string) : undefined,
            productType: typeof meta['type'] === 'number' ? String(meta['type']) : undefined,
            reason: subtype ?? 'REVOKE',
          }
        : undefined;
    const rec = { requestId, type, subtype, orderId, token, now };
    // --- subscriptions: a notification that changed a subscription is stored with that outcome instead of "noted"
    // (a subscription store implies a transactional ledger: App builds one only over it).
    const transactional = subAction !== undefined && isTransactional(this.d.ledger) ? this.d.ledger : undefined;
    const result: NotificationResult =
      transactional !== undefined
        ? await transactional.transaction((tx) => applyNotificationIn(tx, rec, revoke, subAction))
        : await this.d.ledger.applyNotification(rec, revoke);
    // --- end subscriptions ---
    if (result.kind === 'processed') {
      this.d.log.info(
        { notificationType: type, notificationSubtype: subtype ?? null, purchaseOrderId: orderId ?? null, action: result.action },
        'notification',
      );
    }
    return result;
  }

  private scheduleConfirm(order: OrderPayload): void {
    const confirmer = this.d.confirmer;
    if (!confirmer || this.confirming.has(order.purchaseOrderId)) return;
    this.confirming.add(order.purchaseOrderId);
    const run = async (): Promise<void> => {
      const delays = [0, 500, 2000];
      for (let attempt = 0; attempt < delays.length; attempt++) {
        if (delays[attempt]! > 0) await new Promise((r) => setTimeout(r, delays[attempt]));
        let outcome: ConfirmOutcome;
        try {
          outcome = await confirmer.confirm(order);
        } catch (e) {
          const retryable = e instanceof ConfirmError ? e.retryable : true;
          const msg = e instanceof Error ? e.message : String(e);
          this.d.log.warn({ purchaseOrderId: order.purchaseOrderId, attempt, retryable, err: msg }, 'confirm delivery failed');
          if (!retryable || attempt === delays.length - 1) {
            await this.d.ledger.setConfirmState(order.purchaseOrderId, 'failed', msg, this.d.now());
            return;
          }
          continue;
        }
        // Outside the try: a ledger failure here must not be taken for a failed confirm (and confirm again).
        await this.d.ledger.setConfirmState(order.purchaseOrderId, 'confirmed', outcome, this.d.now());
        this.d.log.info({ purchaseOrderId: order.purchaseOrderId, outcome }, 'delivery confirmed');
        return;
      }
    };
    const p = run()
      .catch(() => undefined)
      .finally(() => {
        this.confirming.delete(order.purchaseOrderId);
        this.inflightConfirms.delete(p);
      });
    this.inflightConfirms.add(p);
  }

  /** Resolves when no confirm-delivery call is in flight (tests, graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inflightConfirms.size > 0) await Promise.allSettled([...this.inflightConfirms]);
  }
}
