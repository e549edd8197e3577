// Server-side confirm delivery (the server equivalent of finishPurchase), behind the ShipmentConfirmer interface.
//
// HuaweiIapClient calls {rootUrl}/order/harmony/v1/application/purchase/shipped/confirm (product types 0, 1, 3) or
// {rootUrl}/subscription/harmony/v1/application/purchase/shipped/confirm (type 2) with the IAP REST API bearer JWT:
// header {alg: ES256, typ: JWT, kid}, payload {iss, aud: "iap-v1", iat, exp (≤ 1 h later), aid, digest = SHA-256 hex of
// the exact request body}, signed with the AGC .p8 key (ES256, raw r||s).
import * as crypto from 'node:crypto';

export interface ConfirmRequest {
  purchaseOrderId: string;
  purchaseToken: string;
  /** IAP product type as in the payload ("0".."3" or 0..3). */
  productType: string | number;
}

export type ConfirmOutcome = 'confirmed' | 'already-confirmed';

export class ConfirmError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly responseCode?: string,
  ) {
    super(message);
    this.name = 'ConfirmError';
  }
}

export interface ShipmentConfirmer {
  confirm(req: ConfirmRequest): Promise<ConfirmOutcome>;
}

export interface IapApiCredentials {
  /** Issuer id from AGC (JWT iss). */
  issuerId: string;
  /** Key id from AGC (JWT header kid). */
  keyId: string;
  /** The .p8 private key (PEM text or KeyObject). */
  privateKey: string | crypto.KeyObject;
  /** APP ID (JWT aid). */
  appId: string;
}

export interface HuaweiIapClientOptions extends IapApiCredentials {
  /** Default https://iap.cloud.huawei.com (China site). Tests use a local fake on 127.0.0.1. */
  rootUrl?: string;
  timeoutMs?: number;
  /** JWT lifetime in seconds (≤ 3600). Default 600. */
  jwtLifetimeSeconds?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export const CONFIRM_ORDER_PATH = '/order/harmony/v1/application/purchase/shipped/confirm';
export const CONFIRM_SUBSCRIPTION_PATH = '/subscription/harmony/v1/application/purchase/shipped/confirm';
/** "already confirmed" answers: order consumed/acked, subscription repeat ship confirm. */
export const ALREADY_CONFIRMED_CODES = new Set(['1001880009', '1001880020']);
/** Codes worth retrying later (fatal/internal error). */
const RETRYABLE_CODES = new Set(['1001880006']);

/** Builds the IAP REST API bearer JWT for a given exact request body. */
export function createIapJwt(
  creds: IapApiCredentials,
  body: string,
  opts: { nowSeconds: number; lifetimeSeconds?: number },
): string {
  const lifetime = Math.min(opts.lifetimeSeconds ?? 600, 3600);
  const header = { alg: 'ES256', typ: 'JWT', kid: creds.keyId };
  const payload = {
    iss: creds.issuerId,
    aud: 'iap-v1',
    iat: opts.nowSeconds,
    exp: opts.nowSeconds + lifetime,
    aid: creds.appId,
    digest: crypto.createHash('sha256').update(body, 'utf8').digest('hex'),
  };
  const enc = (o: object): string => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');
  const input = `${enc(header)}.${enc(payload)}`;
  const key = typeof creds.privateKey === 'string' ? crypto.createPrivateKey(creds.privateKey) : creds.privateKey;
  const sig = crypto.sign('sha256', Buffer.from(input, 'ascii'), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

export class HuaweiIapClient implements ShipmentConfirmer {
  private readonly key: crypto.KeyObject;
  private readonly rootUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: HuaweiIapClientOptions) {
    this.key = typeof opts.privateKey === 'string' ? crypto.createPrivateKey(opts.privateKey) : opts.privateKey;
    if (this.key.asymmetricKeyType !== 'ec') throw new Error('HuaweiIapClient: the .p8 key must be an EC (ES256) key');
    this.rootUrl = (opts.rootUrl ?? 'https://iap.cloud.huawei.com').replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  async confirm(req: ConfirmRequest): Promise<ConfirmOutcome> {
    const subscription = Number(req.productType) === 2;
    const path = subscription ? CONFIRM_SUBSCRIPTION_PATH : CONFIRM_ORDER_PATH;
    const body = JSON.stringify({ purchaseOrderId: req.purchaseOrderId, purchaseToken: req.purchaseToken });
    const jwt = createIapJwt({ ...this.opts, privateKey: this.key }, body, {
      nowSeconds: Math.floor(this.now() / 1000),
      lifetimeSeconds: this.opts.jwtLifetimeSeconds,
    });
    let res: Response;
    try {
      res = await this.fetchFn(this.rootUrl + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json;charset=UTF-8', Authorization: `Bearer ${jwt}` },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      throw new ConfirmError(`confirm request failed: ${(e as Error).name}`, true);
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429) throw new ConfirmError(`confirm HTTP ${res.status}`, true);
    let json: { responseCode?: unknown; responseMessage?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new ConfirmError(`confirm HTTP ${res.status}: non-JSON response`, res.status >= 500);
    }
    const code = json.responseCode === undefined ? undefined : String(json.responseCode);
    if (code === '0') return 'confirmed';
    if (code !== undefined && ALREADY_CONFIRMED_CODES.has(code)) return 'already-confirmed';
    const msg = typeof json.responseMessage === 'string' ? json.responseMessage : '';
    throw new ConfirmError(`confirm failed: responseCode ${code ?? '?'} ${msg}`.trim(), code !== undefined && RETRYABLE_CODES.has(code), code);
  }
}
