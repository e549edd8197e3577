// The part of `@zerolost/iap` (common/iap/Index.ets) that the demo's simulated device uses, as Node TypeScript
// types. The device code is bundled with the REAL engine by tools/test/EtsBundler (esbuild loads the .ets sources),
// but the Node type-checker cannot read ArkTS, so the surface is declared here and the module object is passed in
// at run time (see DEVICE_ENTRY in Demo.ts). Keep it a faithful subset: names and shapes are copied from the .ets sources,
// and the demo's own run (npm test) fails if they drift.

/** common/iap core/StoreGateway.ets */
export interface PurchasePage {
  readonly purchaseDataList: string[];
  readonly continuationToken: string | undefined;
}

export interface StoreProduct {
  id: string;
  type: number;
  name: string;
  description: string;
  localPrice: string;
  microPrice: number;
  currency: string;
}

export interface StoreGateway {
  queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage>;
  finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void>;
  createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string>;
  queryEnvironmentStatus(): Promise<void>;
  queryProducts(productType: number, productIds: string[]): Promise<StoreProduct[]>;
  isSandboxActivated(): Promise<boolean>;
}

/** core/StoreGateway.ets StoreError: a failed store call with its IAP Kit code. */
export interface StoreErrorLike extends Error {
  readonly code: number;
}

/** core/PurchaseOrderPayload.ets (the fields the demo reads). */
export interface PurchaseOrderPayload {
  environment: string;
  purchaseOrderId: string;
  purchaseToken: string;
  applicationId: string;
  productId: string;
  productType: string;
  purchaseTime?: number;
  signedTime: number;
  quantity?: number;
  developerPayload?: string;
}

/** core/PurchaseVerifier.ets */
export interface VerificationResult {
  readonly payload: PurchaseOrderPayload | undefined;
  readonly reason: string;
  readonly detail: string;
  readonly isValid: boolean;
}

export interface PurchaseVerifier {
  verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResult>;
}

/** core/GrantTransaction.ets */
export type SqlValue = string | number | null;

export interface SqlRow {
  getString(column: string): string;
  getNumber(column: string): number;
  isNull(column: string): boolean;
}

export interface GrantTransaction {
  executeSql(sql: string, args?: SqlValue[]): Promise<void>;
  querySql(sql: string, args?: SqlValue[]): Promise<SqlRow[]>;
}

/** core/VerifiedOrder.ets */
export interface VerifiedOrder {
  readonly purchaseOrderId: string;
  readonly productId: string;
  readonly productType: number;
  readonly quantity: number;
  readonly payload: PurchaseOrderPayload;
}

/** core/DeliveryRecord.ets (the fields the demo reads). */
export interface DeliveryRecord {
  purchaseOrderId: string;
  productId: string;
  productType: number;
  quantity: number;
  state: string;
}

/** core/Granter.ets */
export interface Granter {
  prepare(tx: GrantTransaction): Promise<void>;
  grant(order: VerifiedOrder, tx: GrantTransaction): Promise<void>;
  revoke(record: DeliveryRecord, tx: GrantTransaction): Promise<void>;
}

/** core/Clock.ets */
export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): number;
  clearTimer(timerId: number): void;
}

/** core/Logger.ets */
export type LogArg = string | number | boolean;

export interface Logger {
  debug(format: string, ...args: LogArg[]): void;
  info(format: string, ...args: LogArg[]): void;
  warn(format: string, ...args: LogArg[]): void;
  error(format: string, ...args: LogArg[]): void;
}

/** core/AccountProvider.ets */
export interface AccountProvider {
  currentBinding(): Promise<string | undefined>;
}

/** core/DeliveryLedger.ets (opaque to the demo: only handed to the engine). */
export interface DeliveryLedger {
  open(): Promise<void>;
  close(): Promise<void>;
}

/** core/EngineConfig.ets */
export interface CatalogEntry {
  productId: string;
  productType: number;
}

export interface EngineConfig {
  applicationId: string;
  environment: string;
  products: CatalogEntry[];
  sweepProductTypes?: number[];
  restoreProductTypes?: number[];
  foregroundThrottleMs?: number;
}

/** core/SweepReport.ets (counters). */
export interface SweepReport {
  readonly trigger: string;
  complete: boolean;
  halted: boolean;
  errorCategory: string;
  errorMessage: string;
  pages: number;
  seen: number;
  delivered: number;
  completed: number;
  pending: number;
  deferred: number;
  rejected: number;
  held: number;
  revoked: number;
  malformed: number;
}

/** core/PurchaseOutcome.ets */
export interface PurchaseOutcome {
  readonly status: string;
  readonly productId: string;
  readonly purchaseOrderId: string;
  readonly quantity: number;
  readonly errorCategory: string;
  readonly errorCode: number;
  readonly message: string;
  readonly report: SweepReport | undefined;
}

/** core/DeliveredItem.ets */
export interface DeliveredItem {
  readonly purchaseOrderId: string;
  readonly productId: string;
  readonly productType: number;
  readonly quantity: number;
  readonly at: number;
}

/** core/DeliveryEngine.ets */
export interface EnginePorts {
  store: StoreGateway;
  ledger: DeliveryLedger;
  verifier: PurchaseVerifier;
  granter: Granter;
  clock: Clock;
  logger: Logger;
  accounts?: AccountProvider;
}

export interface DeliveryEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  idle(): Promise<void>;
  recover(trigger?: string): Promise<SweepReport>;
  restore(): Promise<SweepReport>;
  purchase(productId: string, quantity?: number): Promise<PurchaseOutcome>;
  onDelivered(listener: (item: DeliveredItem) => void): void;
}

/** adapters/RemoteVerifier.ets */
export interface RemoteVerifierConfig {
  readonly verifyUrl: string;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  accountIdProvider: () => string;
}

/** What an ability context offers the adapters in Node (RdbDeliveryLedger reads databaseDir). */
export interface DeviceContext {
  databaseDir: string;
  filesDir: string;
  cacheDir: string;
  tempDir: string;
}

/** The module object `import * as iap from '@zerolost/iap'` gives (the members the demo uses). */
export interface IapModule {
  DeliveryEngine: new (ports: EnginePorts, config: EngineConfig) => DeliveryEngine;
  IapKitStoreGateway: new (context: DeviceContext) => StoreGateway;
  RdbDeliveryLedger: (new (context: DeviceContext, storeName?: string) => DeliveryLedger) & {
    readonly DEFAULT_STORE_NAME: string;
  };
  RemoteVerifier: new (config: RemoteVerifierConfig) => PurchaseVerifier;
  RemoteVerifierConfig: new (serverBase: string) => RemoteVerifierConfig;
  HilogLogger: new (tag?: string, prefix?: string, domain?: number) => Logger;
  SweepTrigger: {
    readonly LAUNCH: string;
    readonly FOREGROUND: string;
    readonly PURCHASE_ERROR: string;
    readonly RESTORE: string;
    readonly USER: string;
    readonly PURCHASE: string;
    readonly RETRY: string;
  };
  IapProductType: {
    readonly CONSUMABLE: number;
    readonly NONCONSUMABLE: number;
    readonly AUTORENEWABLE: number;
    readonly NONRENEWABLE: number;
  };
  IapEnvironment: {
    readonly NORMAL: string;
    readonly SANDBOX: string;
  };
}
