// The part of `@zerolost/iap` (common/iap/Index.ets) the chaos harness uses, declared for the Node-side type
// check (tsc cannot read .ets). At run time esbuild bundles the real module (tools/test/EtsBundler.ts), so a drift
// here shows up as a harness failure, never as silently different behaviour.
declare module '@zerolost/iap' {
  export type SqlValue = string | number | null;

  export class SqlRow {
    getString(column: string): string;
    getNumber(column: string): number;
    isNull(column: string): boolean;
  }

  export interface GrantTransaction {
    executeSql(sql: string, args?: SqlValue[]): Promise<void>;
    querySql(sql: string, args?: SqlValue[]): Promise<SqlRow[]>;
  }

  export class DeliveryRecord {
    purchaseOrderId: string;
    purchaseToken: string;
    productId: string;
    productType: number;
    quantity: number;
    state: string;
    payload: string;
  }

  export interface LedgerTransaction extends GrantTransaction {
    find(purchaseOrderId: string): Promise<DeliveryRecord | undefined>;
    save(record: DeliveryRecord): Promise<void>;
  }

  export class LedgerCounts {
    awaitingDelivery: number;
    held: number;
    rejected: number;
  }

  export interface DeliveryLedger {
    open(): Promise<void>;
    close(): Promise<void>;
    find(purchaseOrderId: string): Promise<DeliveryRecord | undefined>;
    save(record: DeliveryRecord): Promise<void>;
    transact<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
    list(states: string[], limit: number): Promise<DeliveryRecord[]>;
    counts(): Promise<LedgerCounts>;
    nextRetryAt(now: number): Promise<number>;
  }

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
    purchaseOrderRevocationReasonCode?: string;
    revocationTime?: number;
  }

  export class VerifiedOrder {
    readonly purchaseOrderId: string;
    readonly productId: string;
    readonly productType: number;
    readonly quantity: number;
    readonly payload: PurchaseOrderPayload;
  }

  export interface Granter {
    prepare(tx: GrantTransaction): Promise<void>;
    grant(order: VerifiedOrder, tx: GrantTransaction): Promise<void>;
    revoke(record: DeliveryRecord, tx: GrantTransaction): Promise<void>;
  }

  export class VerificationResult {
    readonly payload: PurchaseOrderPayload | undefined;
    readonly reason: string;
    readonly detail: string;
    readonly isValid: boolean;
  }

  export interface PurchaseVerifier {
    verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResult>;
  }

  export class VerifierUnavailableError extends Error {
    readonly retryAfterMs: number;
    constructor(message: string, retryAfterMs: number);
  }

  export class PurchasePage {
    readonly purchaseDataList: string[];
    readonly continuationToken: string | undefined;
  }

  export class StoreProduct {
    id: string;
    type: number;
  }

  export interface StoreGateway {
    queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage>;
    finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void>;
    createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string>;
    queryEnvironmentStatus(): Promise<void>;
    queryProducts(productType: number, productIds: string[]): Promise<StoreProduct[]>;
    isSandboxActivated(): Promise<boolean>;
  }

  export interface Clock {
    now(): number;
    setTimer(callback: () => void, delayMs: number): number;
    clearTimer(timerId: number): void;
  }

  export type LogArg = string | number | boolean;

  export interface Logger {
    debug(format: string, ...args: LogArg[]): void;
    info(format: string, ...args: LogArg[]): void;
    warn(format: string, ...args: LogArg[]): void;
    error(format: string, ...args: LogArg[]): void;
  }

  export interface CatalogEntry {
    productId: string;
    productType: number;
  }

  export interface EngineConfig {
    applicationId: string;
    environment: string;
    products: CatalogEntry[];
  }

  export interface EnginePorts {
    store: StoreGateway;
    ledger: DeliveryLedger;
    verifier: PurchaseVerifier;
    granter: Granter;
    clock: Clock;
    logger: Logger;
    random?: () => number;
  }

  export class SweepReport {
    readonly trigger: string;
    complete: boolean;
    delivered: number;
    errorCategory: string;
  }

  export class PurchaseOutcome {
    readonly status: string;
    readonly productId: string;
    readonly purchaseOrderId: string;
    readonly quantity: number;
    readonly errorCategory: string;
    readonly errorCode: number;
    readonly message: string;
  }

  export class RecoveryState {
    sweeping: boolean;
  }

  export class DeliveryEngine {
    readonly state: RecoveryState;
    constructor(ports: EnginePorts, config: EngineConfig);
    start(): Promise<void>;
    stop(): Promise<void>;
    idle(): Promise<void>;
    recover(trigger?: string): Promise<SweepReport>;
    onForeground(): Promise<SweepReport | undefined>;
    restore(): Promise<SweepReport>;
    purchase(productId: string, quantity?: number): Promise<PurchaseOutcome>;
  }

  export class OnDeviceJwsVerifierConfig {
    applicationId: string;
    environment: string;
    clock: () => number;
    constructor(pinnedRoot: Uint8Array | string, morePinnedRoots?: Array<Uint8Array | string>);
  }

  export interface CryptoPort {}

  export class CryptoKitPort implements CryptoPort {}

  export class OnDeviceJwsVerifier implements PurchaseVerifier {
    constructor(config: OnDeviceJwsVerifierConfig, crypto: CryptoPort);
    verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResult>;
  }

  export class IapKitStoreGateway implements StoreGateway {
    constructor(context: object);
    queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePage>;
    finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void>;
    createPurchase(productId: string, productType: number, developerPayload?: string, quantity?: number): Promise<string>;
    queryEnvironmentStatus(): Promise<void>;
    queryProducts(productType: number, productIds: string[]): Promise<StoreProduct[]>;
    isSandboxActivated(): Promise<boolean>;
  }

  export class RdbDeliveryLedger implements DeliveryLedger {
    static readonly DEFAULT_STORE_NAME: string;
    constructor(context: object, storeName?: string);
    open(): Promise<void>;
    close(): Promise<void>;
    find(purchaseOrderId: string): Promise<DeliveryRecord | undefined>;
    save(record: DeliveryRecord): Promise<void>;
    transact<T>(work: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
    list(states: string[], limit: number): Promise<DeliveryRecord[]>;
    counts(): Promise<LedgerCounts>;
    nextRetryAt(now: number): Promise<number>;
  }
}
