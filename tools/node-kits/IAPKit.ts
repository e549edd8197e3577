// Node implementation of `@kit.IAPKit` (`import { iap } from '@kit.IAPKit'`): every function and enum of the
// project's declaration (types/kits/@kit.IAPKit.d.ts), same signatures, Promise and AsyncCallback forms where
// declared, failures as BusinessError with the IAP Kit codes. Each call goes to the current IAP Kit simulator
// (tools/iap-sim), whose state outlives any "app process": tests replace it through tools/testing/IapSimulator.ts
// or tools/iap-sim/CurrentSimulator.ts.
import { AsyncCallback, BusinessError } from './BasicServicesKit';
import { currentSimulator } from '../iap-sim/CurrentSimulator';
import { IapSimulator } from '../iap-sim/IapSimulator';
import {
  CreatePurchaseResult,
  FinishPurchaseParameter,
  IAPErrorCode,
  OfferPaymentMode,
  OfferType,
  PeriodUnit,
  Product,
  ProductStatus,
  ProductType,
  PurchaseParameter,
  PurchaseQueryType,
  QueryProductsParameter,
  QueryPurchaseResult,
  QueryPurchasesParameter,
  UIWindowParameter,
  WindowScreenMode,
} from '../iap-sim/IapTypes';

/** The contexts are opaque here: the simulator only requires one to be passed. */
type Context = object;

function run<T>(op: (sim: IapSimulator) => Promise<T>): Promise<T> {
  return currentSimulator().then(op);
}

/** The AsyncCallback form: (err, data) on a later turn; err is null on success. */
function settle<T>(promise: Promise<T>, callback: AsyncCallback<T>): void {
  promise.then(
    (data) => callback(null, data),
    (e: unknown) => callback(e instanceof BusinessError ? e : new BusinessError(IAPErrorCode.SYSTEM_ERROR, String(e))),
  );
}

function queryEnvironmentStatus(context: Context): Promise<void>;
function queryEnvironmentStatus(context: Context, callback: AsyncCallback<void>): void;
function queryEnvironmentStatus(context: Context, callback?: AsyncCallback<void>): Promise<void> | void {
  const p = run((sim) => sim.queryEnvironmentStatus(context));
  if (!callback) return p;
  settle(p, callback);
}

function queryProducts(context: Context, parameter: QueryProductsParameter): Promise<Product[]>;
function queryProducts(context: Context, parameter: QueryProductsParameter, callback: AsyncCallback<Product[]>): void;
function queryProducts(
  context: Context,
  parameter: QueryProductsParameter,
  callback?: AsyncCallback<Product[]>,
): Promise<Product[]> | void {
  const p = run((sim) => sim.queryProducts(context, parameter));
  if (!callback) return p;
  settle(p, callback);
}

function createPurchase(context: Context, parameter: PurchaseParameter): Promise<CreatePurchaseResult>;
function createPurchase(context: Context, parameter: PurchaseParameter, callback: AsyncCallback<CreatePurchaseResult>): void;
function createPurchase(
  context: Context,
  parameter: PurchaseParameter,
  callback?: AsyncCallback<CreatePurchaseResult>,
): Promise<CreatePurchaseResult> | void {
  const p = run((sim) => sim.createPurchase(context, parameter));
  if (!callback) return p;
  settle(p, callback);
}

function finishPurchase(context: Context, parameter: FinishPurchaseParameter): Promise<void>;
function finishPurchase(context: Context, parameter: FinishPurchaseParameter, callback: AsyncCallback<void>): void;
function finishPurchase(context: Context, parameter: FinishPurchaseParameter, callback?: AsyncCallback<void>): Promise<void> | void {
  const p = run((sim) => sim.finishPurchase(context, parameter));
  if (!callback) return p;
  settle(p, callback);
}

function queryPurchases(context: Context, parameter: QueryPurchasesParameter): Promise<QueryPurchaseResult>;
function queryPurchases(context: Context, parameter: QueryPurchasesParameter, callback: AsyncCallback<QueryPurchaseResult>): void;
function queryPurchases(
  context: Context,
  parameter: QueryPurchasesParameter,
  callback?: AsyncCallback<QueryPurchaseResult>,
): Promise<QueryPurchaseResult> | void {
  const p = run((sim) => sim.queryPurchases(context, parameter));
  if (!callback) return p;
  settle(p, callback);
}

function showManagedSubscriptions(context: Context, uiParameter: UIWindowParameter, groupId?: string): Promise<void> {
  return run((sim) => sim.showManagedSubscriptions(context, uiParameter, groupId));
}

function isSandboxActivated(context: Context): Promise<boolean> {
  return run((sim) => sim.isSandboxActivated(context));
}

function createRefundRequest(context: Context, purchaseOrderId: string): Promise<void> {
  return run((sim) => sim.createRefundRequest(context, purchaseOrderId));
}

export const iap = {
  ProductType,
  PurchaseQueryType,
  IAPErrorCode,
  PeriodUnit,
  OfferPaymentMode,
  OfferType,
  WindowScreenMode,
  ProductStatus,
  queryEnvironmentStatus,
  queryProducts,
  createPurchase,
  finishPurchase,
  queryPurchases,
  showManagedSubscriptions,
  isSandboxActivated,
  createRefundRequest,
};
