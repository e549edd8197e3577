// Reason codes of a permanent rejection (HTTP 422), and the transient error type (HTTP 503).

export type RejectReason =
  | 'malformed' // not a compact JWS: part count, non-base64url, header/payload not a JSON object, crit header
  | 'unsupported-alg' // alg is not ES256 (none, HS256, RS256, ...)
  | 'bad-chain-length' // x5c missing or not exactly 3 certificates
  | 'bad-certificate' // an x5c entry is not a parsable X.509 certificate / not an EC P-256 leaf / bad key usage
  | 'untrusted-chain' // leaf → intermediate → PINNED root does not verify, or the intermediate is not a CA
  | 'missing-oid' // leaf lacks the non-critical extension 1.3.6.1.4.1.2011.2.415.1.1
  | 'bad-signature' // ES256 signature (raw r||s) does not verify with the leaf key
  | 'cert-expired' // leaf or intermediate expired at the payload's signedTime
  | 'cert-not-yet-valid' // leaf or intermediate not yet valid at the payload's signedTime
  | 'signed-in-future' // signedTime later than now + allowed clock skew
  | 'cert-revoked' // CRL policy on and a certificate is listed
  | 'malformed-purchase-data' // purchaseData is not JSON, or lacks type / jwsPurchaseOrder
  | 'invalid-payload' // the signed payload lacks a required field or has a wrong type
  | 'wrong-app' // applicationId differs from IAP_APP_ID
  | 'wrong-environment' // environment differs from IAP_ENVIRONMENT
  | 'unknown-product' // productId is not in the catalog
  | 'wrong-product-type' // productType differs from the catalog or from PurchaseData.type
  | 'unsupported-product-type' // auto-renewable subscriptions (jwsSubscriptionStatus) are not handled here
  | 'revoked'; // the order carries a revocation code or the ledger marked it revoked (refund)

export class RejectError extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'RejectError';
  }
}

/** A failure that may succeed later (CRL endpoint unreachable, database busy). Mapped to 503 + Retry-After. */
export class TransientError extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'TransientError';
  }
}
