// Test chains and signed payloads for the benchmarks (TEST PKI ONLY: tools/testing/TestPki.ts).
//
// Every chain carries BOTH Huawei's IAP leaf OID (1.3.6.1.4.1.2011.2.415.1.1) and Apple's marker OIDs (leaf
// 1.2.840.113635.100.6.11.1, intermediate 1.2.840.113635.100.6.2.1), so each verifier is handed exactly the same
// certificates: ES256, x5c = [leaf, intermediate, root], checked up to one pinned root.
import * as crypto from 'node:crypto';
import { createTestPki, type TestPki } from '../tools/testing/TestPki';
import { mapLimit } from './Measure';

export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';
export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';
export const APP_ID = '110000000';
export const BUNDLE_ID = 'com.example.zerolost.store';

export interface ChainSet {
  root: TestPki;
  /** Distinct chains under `root`: each has its own intermediate and leaf. */
  chains: TestPki[];
}

/** `count` distinct chains (own intermediate + leaf each) under one new root, several generated at a time. */
export async function createChains(count: number): Promise<ChainSet> {
  const markers = { extraLeafOids: [APPLE_LEAF_OID], extraIntermediateOids: [APPLE_INTERMEDIATE_OID], subjectPrefix: 'Bench' };
  const root = await createTestPki(markers);
  const chains = await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    () => createTestPki({ ...markers, parent: root }),
  );
  return { root, chains };
}

let orderSeq = 0;

/** A consumable PurchaseOrderPayload (IAP Kit data model) with a fresh purchaseOrderId / purchaseToken. */
export function huaweiOrderPayload(signedTime: number, productId = 'gems_100'): Record<string, string | number | boolean> {
  const n = ++orderSeq;
  return {
    environment: 'SANDBOX',
    purchaseOrderId: `bench-${process.pid}-${n}-${crypto.randomBytes(4).toString('hex')}`,
    purchaseToken: `000001${crypto.randomBytes(60).toString('hex')}`,
    applicationId: APP_ID,
    productId,
    productType: '0',
    purchaseTime: signedTime - 1000,
    quantity: 1,
    finishStatus: '2',
    needFinish: true,
    price: 600,
    currency: 'CNY',
    countryCode: 'CN',
    signedTime,
  };
}

/** An App Store JWSTransaction payload that Apple's SignedDataVerifier (SANDBOX) accepts. */
export function appleTransactionPayload(signedDate: number): Record<string, string | number> {
  const id = String(2000000000000000 + ++orderSeq);
  return {
    transactionId: id,
    originalTransactionId: id,
    bundleId: BUNDLE_ID,
    productId: 'gems_100',
    purchaseDate: signedDate - 1000,
    originalPurchaseDate: signedDate - 1000,
    quantity: 1,
    type: 'Consumable',
    inAppOwnershipType: 'PURCHASED',
    signedDate,
    environment: 'Sandbox',
    transactionReason: 'PURCHASE',
    storefront: 'CHN',
    storefrontId: '143465',
    price: 6000,
    currency: 'CNY',
  };
}

/** purchaseData as createPurchase / queryPurchases return it. */
export function purchaseDataOf(jwsPurchaseOrder: string, type = 0): string {
  return JSON.stringify({ type, jwsPurchaseOrder });
}
