// ArkTS-facing declaration of tools/testing/SubscriptionVectors.ts (Node-only test support, imported by .ets suites
// as 'types/testing/SubscriptionVectors' (a relative import)): signed subscription purchaseData, genuine and adversarial, each with the
// verdict the app server and the on-device verifier both give it (rules in the .ts file's header and SUBS-COORD.md).
import { TestPki } from './TestPki';

export declare interface SubscriptionVectorOptions {
  /** default '110000000' */
  appId?: string;
  /** default 'SANDBOX' */
  environment?: string;
  /** the verification time (ms) the expected verdicts hold at; default Date.now() */
  now?: number;
  /** default 'com.example.gemstore' */
  packageName?: string;
}

/** `verdict`: 'valid' or a RejectionReason code. state: 'active' | 'billing-retry' | 'expired' | 'revoked'. */
export declare interface SubscriptionVerdict {
  verdict: string;
  state?: string;
  entitled?: boolean;
  expiresTime?: number;
  /** the period orders to grant (then finish), by purchaseOrderId, ascending purchaseTime */
  grantedOrderIds?: string[];
  /** older periods carrying a revocation: recorded revoked, never granted */
  revokedOrderIds?: string[];
}

export declare interface SubscriptionVector {
  name: string;
  description: string;
  purchaseData: string;
  /** verify at this time (ms) */
  now: number;
  expected: SubscriptionVerdict;
}

export declare interface SubscriptionNotificationInput {
  notificationType: string;
  notificationSubtype?: string;
  notificationRequestId?: string;
  signedTime?: number;
  meta: Object;
}

/** PurchaseOrderPayload of one auto-renewable period (productType "2"); `over` replaces fields. */
export declare function subscriptionOrder(over?: Object, opts?: SubscriptionVectorOptions): Object;
/** PurchaseOrderPayload of a non-renewable (productType "3"). */
export declare function nonRenewableOrder(over?: Object, opts?: SubscriptionVectorOptions): Object;
/** SubscriptionStatus over `orders` (oldest first): lastPurchaseOrder = the last, recentPurchaseOrderList = all. */
export declare function subscriptionStatus(orders: Object[], over?: Object, opts?: SubscriptionVectorOptions): Object;
/** The payload of jwsSubscriptionStatus (with signedTime); `status` undefined omits lastSubscriptionStatus. */
export declare function subGroupStatusPayload(status: Object | undefined, over?: Object, opts?: SubscriptionVectorOptions): Object;
/** '{"type":2,"jwsSubscriptionStatus":"…"}' signed with the pki's leaf. */
export declare function autoRenewablePurchaseData(pki: TestPki, statusPayload: Object): string;
/** '{"type":3,"jwsPurchaseOrder":"…"}' signed with the pki's leaf. */
export declare function nonRenewablePurchaseData(pki: TestPki, orderPayload: Object): string;
/** A signed notification v3 (the jwsNotification string). */
export declare function subscriptionNotification(pki: TestPki, n: SubscriptionNotificationInput): string;
/** The vectors; `pki` is the genuine (pinned) PKI. */
export declare function subscriptionVectors(pki: TestPki, opts?: SubscriptionVectorOptions): Promise<SubscriptionVector[]>;
