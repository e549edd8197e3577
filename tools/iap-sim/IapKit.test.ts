// tools/node-kits/IAPKit.ts is THE `@kit.IAPKit` of every Node run: it must expose exactly the functions and enum
// values of the project's declaration, answer in both Promise and AsyncCallback forms, and talk to the current
// simulator (replaceable by tests).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../check/EtsProject';
import { BusinessError } from '../node-kits/BasicServicesKit';
import { iap } from '../node-kits/IAPKit';
import { currentSimulator, installSimulator, resetSimulator } from './CurrentSimulator';
import { IapSimulator } from './IapSimulator';
import { CreatePurchaseResult, PurchaseQueryType, QueryPurchaseResult } from './IapTypes';

const DECLARATION = path.join(ROOT, 'types', 'kits', '@kit.IAPKit.d.ts');
const CTX = {};

function declaration(): { functions: Set<string>; enums: Map<string, Map<string, number>> } {
  const text = fs.readFileSync(DECLARATION, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const functions = new Set([...text.matchAll(/export function (\w+)\s*\(/g)].map((m) => m[1]));
  const enums = new Map<string, Map<string, number>>();
  for (const m of text.matchAll(/export enum (\w+)\s*\{([^}]*)\}/g)) {
    const members = new Map<string, number>();
    for (const mm of m[2].matchAll(/(\w+)\s*=\s*(\d+)/g)) members.set(mm[1], Number(mm[2]));
    enums.set(m[1], members);
  }
  return { functions, enums };
}

test('iap has exactly the declared functions, and every declared enum with the same names and values', () => {
  const { functions, enums } = declaration();
  assert.ok(functions.size >= 8 && enums.size >= 8, 'the declaration was parsed');
  const record = iap as unknown as Record<string, unknown>;
  const runtimeFunctions = Object.keys(record).filter((k) => typeof record[k] === 'function');
  assert.deepEqual(runtimeFunctions.sort(), [...functions].sort());
  for (const [name, members] of enums) {
    const runtime = record[name] as Record<string, unknown> | undefined;
    assert.ok(runtime, `iap.${name} exists`);
    const numeric = Object.entries(runtime).filter(([, v]) => typeof v === 'number');
    assert.deepEqual(new Map(numeric), members, `iap.${name} matches the declaration`);
  }
});

test('Promise form: calls reach the current simulator and failures are BusinessErrors with kit codes', async () => {
  const sim = await resetSimulator({ pageSize: 2 });
  const r = await iap.createPurchase(CTX, { productId: 'gems_100', productType: iap.ProductType.CONSUMABLE });
  assert.equal(sim.orders().length, 1);
  assert.equal(JSON.parse(r.purchaseData).type, 0);
  await assert.rejects(iap.createPurchase(CTX, { productId: 'gems_100', productType: iap.ProductType.CONSUMABLE }), (e: unknown) => {
    return e instanceof BusinessError && e.code === iap.IAPErrorCode.PRODUCT_OWNED;
  });
  assert.equal(await iap.isSandboxActivated(CTX), true);
});

test('AsyncCallback form: (null, data) on success, (BusinessError) on failure', async () => {
  await resetSimulator();
  const ok = await new Promise<CreatePurchaseResult | undefined>((resolve, reject) => {
    iap.createPurchase(CTX, { productId: 'remove_ads', productType: iap.ProductType.NONCONSUMABLE }, (err, data) => (err ? reject(err) : resolve(data)));
  });
  assert.ok(ok?.purchaseData.includes('jwsPurchaseOrder'));
  const err = await new Promise<BusinessError | null>((resolve) => {
    iap.createPurchase(CTX, { productId: 'remove_ads', productType: iap.ProductType.NONCONSUMABLE }, (e) => resolve(e));
  });
  assert.equal(err?.code, iap.IAPErrorCode.PRODUCT_OWNED);
  const page = await new Promise<QueryPurchaseResult | undefined>((resolve, reject) => {
    iap.queryPurchases(CTX, { productType: 1, queryType: PurchaseQueryType.UNFINISHED }, (e, data) => (e ? reject(e) : resolve(data)));
  });
  assert.equal(page?.purchaseDataList.length, 1);
  const finished = await new Promise<BusinessError | null>((resolve) => {
    iap.finishPurchase(CTX, { productType: 1, purchaseToken: 't', purchaseOrderId: 'nope' }, (e) => resolve(e));
  });
  assert.equal(finished?.code, iap.IAPErrorCode.SYSTEM_ERROR);
  await new Promise<void>((resolve, reject) => iap.queryEnvironmentStatus(CTX, (e) => (e ? reject(e) : resolve())));
});

test('state outlives the caller: a replaced simulator is used by later calls, the old one keeps its orders', async () => {
  const first = await resetSimulator();
  await iap.createPurchase(CTX, { productId: 'gems_100', productType: 0 });
  const second = installSimulator(await IapSimulator.create());
  assert.equal(await currentSimulator(), second);
  const r = await iap.queryPurchases(CTX, { productType: 0, queryType: PurchaseQueryType.UNFINISHED });
  assert.equal(r.purchaseDataList.length, 0);
  installSimulator(first);
  const again = await iap.queryPurchases(CTX, { productType: 0, queryType: PurchaseQueryType.UNFINISHED });
  assert.equal(again.purchaseDataList.length, 1);
});
