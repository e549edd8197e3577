// The entitlement state of one subscription generation, derived from what the store merged (pure functions).
//
// Every input is merged with a join that is commutative, associative and idempotent, so the result does not depend
// on the order in which verified statuses and notifications arrive, nor on duplicates:
//   - the status element with the greatest (expiresTime, observedAt, rank(status)): expiresTime is signed by Huawei
//     and only grows with each paid period, so a renewal outranks anything said about an earlier period; within one
//     period the later observation wins (observedAt = the status's signedTime, or the verification time when the
//     status carries none);
//   - the latest EXPIRE signal (notification signedTime, then subtype);
//   - revocation: sticky (a revoked generation stays revoked; Huawei starts a new generation for a new subscription);
//   - auto-renew: last writer by signedTime.
// A notification's signedTime may be renewed when Huawei re-signs a retry, so it never outranks a status by itself:
// an EXPIRE only counts when it was signed at or after the recorded expiresTime (the period it ends had ended) and
// after the newest status observed. A late EXPIRE therefore never undoes a renewal: the renewal's expiresTime lies
// after any time the EXPIRE of an earlier period can have been signed at, until that renewal has itself run out.

export type SignedStatus = '1' | '2' | '3' | '5';
export type SubscriptionStateName = 'active' | 'billing-retry' | 'expired' | 'revoked';

export const STATUS_CODES: readonly SignedStatus[] = ['1', '2', '3', '5'];

/** Tie-break between statuses of one period observed at the same time: the more final one wins. */
export function statusRank(s: SignedStatus): number {
  return { '1': 0, '3': 1, '2': 2, '5': 3 }[s];
}

export interface StatusElement {
  status: SignedStatus;
  expiresTime: number;
  observedAt: number;
}

/** True when `a` outranks `b` (the join keeps `a`). */
export function outranks(a: StatusElement, b: StatusElement | undefined): boolean {
  if (b === undefined) return true;
  if (a.expiresTime !== b.expiresTime) return a.expiresTime > b.expiresTime;
  if (a.observedAt !== b.observedAt) return a.observedAt > b.observedAt;
  return statusRank(a.status) > statusRank(b.status);
}

export interface ExpireSignal {
  signedTime: number;
  /** BILLING_RETRY (the generation is retrying the charge) or any other EXPIRE subtype. */
  billingRetry: boolean;
}

export function expireOutranks(a: ExpireSignal, b: ExpireSignal | undefined): boolean {
  if (b === undefined) return true;
  if (a.signedTime !== b.signedTime) return a.signedTime > b.signedTime;
  // Same signing time, two subtypes: "expired" is the more final.
  return !a.billingRetry && b.billingRetry;
}

export interface DerivedState {
  state: SubscriptionStateName;
  entitled: boolean;
}

/**
 * "5" revoked; "2" expired; "3" billing-retry; "1" active while expiresTime > now, else expired. An EXPIRE signal
 * signed at or after expiresTime and after the newest status relabels it expired / billing-retry. Entitled: active
 * or billing-retry (a grace period), and expiresTime > now.
 */
export function deriveState(
  status: StatusElement,
  expire: ExpireSignal | undefined,
  revoked: boolean,
  now: number,
): DerivedState {
  if (revoked || status.status === '5') return { state: 'revoked', entitled: false };
  let code: SignedStatus = status.status;
  if (expire !== undefined && expire.signedTime >= status.expiresTime && expire.signedTime > status.observedAt) {
    code = expire.billingRetry ? '3' : '2';
  }
  const live = status.expiresTime > now;
  switch (code) {
    case '1':
      return live ? { state: 'active', entitled: true } : { state: 'expired', entitled: false };
    case '3':
      return { state: 'billing-retry', entitled: live };
    default:
      return { state: 'expired', entitled: false };
  }
}
