// Loads the device code (common/iap, the same .ets the app ships) into Node, bundled by tools/test/EtsBundler with
// `@kit.*` mapped to tools/node-kits, together with the IAP Kit simulator those kits talk to. One bundle, so the
// simulator the benchmark installs is the very one `@kit.IAPKit` calls reach.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../tools/check/EtsProject';
import { bundleEts } from '../tools/test/EtsBundler';
import type { IapSimulator, SimulatorOptions } from '../tools/iap-sim/IapSimulator';

export interface VerificationResultLike {
  readonly isValid: boolean;
  readonly reason: string;
  readonly detail: string;
}

export interface OnDeviceVerifierConfigLike {
  applicationId: string;
  environment: string;
  cacheMaxEntries: number;
  cacheTtlMs: number;
}

export interface OnDeviceVerifierLike {
  verify(purchaseData: string, jwsPurchaseOrder: string): Promise<VerificationResultLike>;
  readonly cachedChains: number;
}

export interface DeliveryRecordLike {
  purchaseOrderId: string;
  purchaseToken: string;
  productId: string;
  productType: number;
  quantity: number;
  state: string;
  attempts: number;
  lastErrorCode: number;
  lastError: string;
  nextAttemptAt: number;
  createdAt: number;
  updatedAt: number;
  grantedAt: number;
  finishedAt: number;
  payload: string;
}

export interface LedgerTransactionLike {
  find(purchaseOrderId: string): Promise<DeliveryRecordLike | undefined>;
  save(record: DeliveryRecordLike): Promise<void>;
}

export interface DeliveryLedgerLike {
  open(): Promise<void>;
  close(): Promise<void>;
  find(purchaseOrderId: string): Promise<DeliveryRecordLike | undefined>;
  save(record: DeliveryRecordLike): Promise<void>;
  transact<T>(work: (tx: LedgerTransactionLike) => Promise<T>): Promise<T>;
}

export interface SweepReportLike {
  readonly complete: boolean;
  readonly pages: number;
  readonly seen: number;
  readonly delivered: number;
  readonly completed: number;
  readonly pending: number;
  readonly rejected: number;
  readonly malformed: number;
  readonly errorCategory: string;
  readonly errorMessage: string;
}

export interface PurchasePageLike {
  readonly purchaseDataList: string[];
  readonly continuationToken: string | undefined;
}

/** The StoreGateway port as IapKitStoreGateway implements it over `@kit.IAPKit`. */
export interface StoreGatewayLike {
  queryPurchases(productType: number, queryType: number, continuationToken?: string): Promise<PurchasePageLike>;
  finishPurchase(productType: number, purchaseToken: string, purchaseOrderId: string): Promise<void>;
}

export interface GranterLike {
  prepare(tx: object): Promise<void>;
  grant(order: object, tx: object): Promise<void>;
  revoke(record: object, tx: object): Promise<void>;
}

export interface EnginePortsLike {
  store: object;
  ledger: DeliveryLedgerLike;
  verifier: OnDeviceVerifierLike;
  granter: GranterLike;
  clock: object;
  logger: object;
}

export interface EngineConfigLike {
  applicationId: string;
  environment: string;
  products: Array<{ productId: string; productType: number }>;
  sweepProductTypes?: number[];
  restoreProductTypes?: number[];
}

export interface DeliveryEngineLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  recover(trigger: string): Promise<SweepReportLike>;
}

export interface ResultSetLike {
  readonly rowCount: number;
  goToNextRow(): boolean;
  close(): void;
}

/** The promise API of relationalStore.RdbStore (tools/node-kits/ArkData.ts: SQLite, WAL, synchronous FULL). */
export interface RdbStoreLike {
  beginTransaction(): void;
  commit(): void;
  querySql(sql: string, bindArgs?: Array<string | number | null>): Promise<ResultSetLike>;
  executeSql(sql: string, bindArgs?: Array<string | number | null>): Promise<void>;
  close(): Promise<void>;
}

/** An application context as the Node kits read it (relationalStore keeps its files under databaseDir/rdb). */
export interface NodeContext {
  databaseDir: string;
}

/** What the bundle exports, typed as the benchmarks use it. */
export interface EtsRuntime {
  OnDeviceJwsVerifierConfig: new (pinnedRoot: Uint8Array | string) => OnDeviceVerifierConfigLike;
  OnDeviceJwsVerifier: new (config: OnDeviceVerifierConfigLike, crypto: object) => OnDeviceVerifierLike;
  CryptoKitPort: new () => object;
  RdbDeliveryLedger: new (context: NodeContext, storeName: string) => DeliveryLedgerLike;
  DeliveryRecord: new () => DeliveryRecordLike;
  DeliveryState: { readonly PENDING: string; readonly GRANTED: string; readonly FINISHED: string };
  DeliveryEngine: new (ports: EnginePortsLike, config: EngineConfigLike) => DeliveryEngineLike;
  IapKitStoreGateway: new (context: object) => StoreGatewayLike;
  HilogLogger: new () => object;
  TimerClock: new () => object;
  IapProductType: { readonly CONSUMABLE: number };
  IapQueryType: { readonly UNFINISHED: number };
  SweepTrigger: { readonly USER: string };
  IapSimulator: { create(options: SimulatorOptions): Promise<IapSimulator> };
  installSimulator(sim: IapSimulator): IapSimulator;
  /** The Node relationalStore the RDB adapter runs on (the same module instance). */
  relationalStore: { getRdbStore(context: NodeContext, config: { name: string; securityLevel: number }): Promise<RdbStoreLike> };
}

const ENTRY =
  'export { OnDeviceJwsVerifier, OnDeviceJwsVerifierConfig, CryptoKitPort, RdbDeliveryLedger, DeliveryRecord, ' +
  'DeliveryState, DeliveryEngine, IapKitStoreGateway, HilogLogger, TimerClock, IapProductType, IapQueryType, SweepTrigger } ' +
  "from './common/iap/Index.ets';\n" +
  "export { IapSimulator } from './tools/iap-sim/IapSimulator';\n" +
  "export { installSimulator } from './tools/iap-sim/CurrentSimulator';\n" +
  "export { relationalStore } from './tools/node-kits/ArkData';\n";

let loaded: Promise<EtsRuntime> | undefined;

/** Bundles and loads the runtime once per process; `workDir` receives the temporary bundle. */
export function loadEtsRuntime(workDir: string): Promise<EtsRuntime> {
  loaded ??= (async (): Promise<EtsRuntime> => {
    fs.mkdirSync(workDir, { recursive: true });
    const outfile = path.join(workDir, `ets-runtime-${process.pid}.cjs`);
    try {
      await bundleEts({ entry: 'bench-ets-runtime.ts', outfile, stdin: { resolveDir: ROOT, contents: ENTRY } });
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      return require(outfile) as EtsRuntime;
    } finally {
      fs.rmSync(outfile, { force: true });
    }
  })();
  return loaded;
}
