// Optional CRL revocation policy for the leaf and intermediate certificates (config switch IAP_CRL_MODE).
//
//   off  (default) no revocation checking — what Huawei's documentation snippet does.
//   hard every certificate that names a CRL distribution point (http/https URI) is looked up in that CRL; the CRL
//        must be signed by the certificate's issuer and be current. A listed certificate → 422 cert-revoked; an
//        unreachable / invalid / stale CRL → 503 crl-unavailable (transient, the client retries). This matches the
//        official server sample (PKIXRevocationChecker, PREFER_CRLS, NO_FALLBACK).
//   soft like hard, but an unreachable CRL lets the verification pass (the sample's CRL_SOFT_FAIL_ENABLED).
// Certificates without a CRL distribution point are not checked. CRLs are cached per URL until nextUpdate (at most
// 24 h, bounded number of URLs). OCSP is not implemented.
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { RejectError, TransientError } from './Errors';
import type { ValidatedChain } from './JwsVerifier';

x509.cryptoProvider.set(crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type RevocationMode = 'off' | 'soft' | 'hard';

export interface RevocationOptions {
  mode: RevocationMode;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  maxCachedCrls?: number;
}

interface CachedCrl {
  revoked: Set<string>;
  validUntil: number;
}

const normSerial = (hex: string): string => hex.toLowerCase().replace(/^0+/, '') || '0';

export class CrlRevocationChecker {
  private readonly cache = new Map<string, CachedCrl>();
  private readonly inflight = new Map<string, Promise<CachedCrl>>();
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: RevocationOptions) {
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.mode !== 'off';
  }

  async check(chain: ValidatedChain): Promise<void> {
    if (this.opts.mode === 'off') return;
    await this.checkOne(chain.leafSerialHex, chain.intermediate, chain.leafCrlUris, 'leaf');
    await this.checkOne(chain.intermediateSerialHex, chain.root, chain.intCrlUris, 'intermediate');
  }

  private async checkOne(
    serialHex: string,
    issuer: crypto.X509Certificate,
    uris: string[],
    what: string,
  ): Promise<void> {
    const url = uris.find((u) => /^https?:\/\//i.test(u));
    if (!url) return;
    let crl: CachedCrl;
    try {
      crl = await this.load(url, issuer);
    } catch (e) {
      if (this.opts.mode === 'soft') return;
      throw new TransientError('crl-unavailable', `${what} CRL unavailable: ${(e as Error).message}`, 30);
    }
    if (crl.revoked.has(normSerial(serialHex))) {
      throw new RejectError('cert-revoked', `${what} certificate is revoked`);
    }
  }

  private async load(url: string, issuer: crypto.X509Certificate): Promise<CachedCrl> {
    const key = `${url}\n${issuer.fingerprint256}`;
    const hit = this.cache.get(key);
    if (hit && hit.validUntil > this.now()) return hit;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchCrl(url, issuer).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const crl = await p;
    this.cache.set(key, crl);
    while (this.cache.size > (this.opts.maxCachedCrls ?? 64)) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    return crl;
  }

  private async fetchCrl(url: string, issuer: crypto.X509Certificate): Promise<CachedCrl> {
    const res = await this.fetchFn(url, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = Buffer.from(await res.arrayBuffer());
    const text = body.subarray(0, 20).toString('latin1');
    const crl = new x509.X509Crl(text.startsWith('-----BEGIN') ? body.toString('latin1') : body);
    const ok = await crl.verify({ publicKey: new x509.X509Certificate(issuer.raw) });
    if (!ok) throw new Error('CRL signature does not verify with the issuer key');
    const now = this.now();
    if (crl.thisUpdate.getTime() > now + 5 * 60_000) throw new Error('CRL not yet valid');
    const next = crl.nextUpdate?.getTime() ?? now + 3_600_000;
    if (next < now) throw new Error('CRL is stale (nextUpdate passed)');
    return {
      revoked: new Set(crl.entries.map((e) => normSerial(e.serialNumber))),
      validUntil: Math.min(next, now + 24 * 3_600_000),
    };
  }
}
