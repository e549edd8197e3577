// The subscription ledger's port: per subGroupGenerationId state merged from verified statuses and notifications,
// the period orders of each generation, and the one-time entitlements of an account. Promise-returning; its one
// implementation, SqlSubscriptionStore, runs on the ledger's transactions on SQLite and PostgreSQL alike.
import type { DeliverOutcome, OrderPayload } from '../ledger/Ledger';
import type { SignedStatus, SubscriptionStateName } from './SubscriptionState';

export interface PeriodOrder {
  purchaseOrderId: string;
  productId: string;
  purchaseTime: number | undefined;
}

/** The period an order of the ledger pays for. */
export function periodOf(o: OrderPayload): PeriodOrder {
  const t = o['purchaseTime'];
  return { purchaseOrderId: o.purchaseOrderId, productId: o.productId, purchaseTime: typeof t === 'number' ? t : undefined };
}

/** What one verified jwsSubscriptionStatus says about its lastSubscriptionStatus (after every check passed). */
export interface StatusObservation {
  subGroupGenerationId: string;
  subGroupId: string;
  subscriptionId: string;
  /** The product of the newest period. */
  productId: string;
  purchaseToken: string;
  status: SignedStatus;
  expiresTime: number;
  /** The status payload's signedTime, or the verification time when it carries none. */
  observedAt: number;
  /** renewalInfo.autoRenewStatusCode ("0" / "1"), merged last-writer-wins at observedAt. */
  autoRenewStatusCode: string | undefined;
  /** Periods granted (ledger rows granted or replayed). */
  grantedOrders: PeriodOrder[];
  /** Periods recorded revoked (refunded). */
  revokedOrders: PeriodOrder[];
}

/** A verified status whose periods are still to be delivered through the order ledger. */
export type StatusToDeliver = Omit<StatusObservation, 'grantedOrders' | 'revokedOrders'> & {
  /** The unrefunded, paid periods, oldest first. */
  periods: OrderPayload[];
  /** Periods the status itself shows refunded (already recorded revoked in the order ledger). */
  refunded: PeriodOrder[];
  /** purchaseOrderId of the newest period. */
  latestOrderId: string;
};

export type DeliverPeriodsOutcome =
  /** Every period delivered (or replayed) and the status merged; `outcomes[i]` is periods[i]'s. */
  | { kind: 'recorded'; subscription: SubscriptionView; outcomes: DeliverOutcome[] }
  /** The status's newest period is revoked in the order ledger (a REVOKE came first). */
  | { kind: 'revoked'; subscription: SubscriptionView; outcomes: DeliverOutcome[] }
  /** The generation or one of its periods belongs to another account: nothing was written. */
  | { kind: 'account-conflict' }
  /** A period's token is delivered under a one-time order: nothing was written. */
  | { kind: 'token-conflict' };

/** A notification's effect on one generation (the notification's JWS was verified). */
export type SubscriptionEvent =
  | { kind: 'expire'; subGroupGenerationId: string; signedTime: number; billingRetry: boolean }
  | { kind: 'auto-renew'; subGroupGenerationId: string; signedTime: number; autoRenewStatusCode: '0' | '1' }
  /** `period`: the refunded period it names (the generation is revoked while that period is its newest); absent: all of it. */
  | { kind: 'revoke'; subGroupGenerationId: string; signedTime: number; reason: string; period?: PeriodOrder };

export interface SubscriptionView {
  subGroupGenerationId: string;
  subGroupId: string | undefined;
  subscriptionId: string | undefined;
  productId: string | undefined;
  accountId: string | undefined;
  /** The signed status of the newest observation (undefined: known from notifications only). */
  status: SignedStatus | undefined;
  expiresTime: number | undefined;
  state: SubscriptionStateName;
  entitled: boolean;
  autoRenewStatusCode: string | undefined;
  revokedAt: number | undefined;
  updatedAt: number;
}

export type ObserveOutcome = { kind: 'recorded'; subscription: SubscriptionView } | { kind: 'account-conflict' };

/** A granted non-consumable (productType "1") or non-renewable ("3") of an account, from the order ledger. */
export interface OneTimeEntitlement {
  purchaseOrderId: string;
  productId: string;
  productType: '1' | '3';
  purchaseTime: number | undefined;
  grantedAt: number;
}

export interface SubscriptionStore {
  /**
   * Merges a verified status into its generation (creating it), records its period orders, and binds the generation
   * to `accountId` when it has none. `account-conflict`: the generation is bound to another account (nothing changes).
   * Idempotent; resolves once durable.
   */
  observe(s: StatusObservation, accountId: string | undefined, now: number): Promise<ObserveOutcome>;
  /**
   * ONE transaction, so that a period is never granted to an account the subscription does not belong to: checks
   * the generation's account first, delivers each period through the order ledger (grant hook included), then merges
   * the status as observe() does. Concurrent callers for one generation (other instances too) are serialised on it.
   */
  deliverPeriods(s: StatusToDeliver, accountId: string | undefined, now: number, confirmPending: boolean): Promise<DeliverPeriodsOutcome>;
  /** Merges a notification's effect (creating the generation if unknown). Idempotent and order-independent. */
  applyEvent(e: SubscriptionEvent, now: number): Promise<void>;
  /** The generation with its state derived at `now`. */
  get(subGroupGenerationId: string, now: number): Promise<SubscriptionView | undefined>;
  /** The generation a recorded period order belongs to. */
  generationOfOrder(purchaseOrderId: string): Promise<string | undefined>;
  /** Every generation bound to the account, newest expiry first, state derived at `now`. */
  listForAccount(accountId: string, now: number): Promise<SubscriptionView[]>;
  /** Granted, non-revoked non-consumables and non-renewables bound to the account. */
  oneTimeEntitlements(accountId: string): Promise<OneTimeEntitlement[]>;
}
