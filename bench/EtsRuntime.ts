// Loads the device code (common/iap, the same .ets the app ships) into Node, bundled by tools/test/EtsBundler with
// `@kit.*` mapped to tools/node-kits, together with the IAP Kit simulator those kits talk to. One bundle, so the
// simulator the benchmark installs is the very one `@kit.IAPKit` calls reach.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../tools/check/EtsProject';
import { bundleEts } from '../tools/test/EtsBundler';
import type { IapSimulator, SimulatorOptions } from '../tools/iap-sim/IapSimulator';
import type * as Iap from '@zerolost/iap';

// The engine's types come from the declarations emitted from its .ets sources (tools/check/EmitIapDeclarations.ts),
// so the benchmarks cannot drift from the code they measure.

export type OnDeviceVerifierLike = Iap.OnDeviceJwsVerifier;
export type DeliveryRecordLike = Iap.DeliveryRecord;
export type DeliveryEngineLike = Iap.DeliveryEngine;
export type GranterLike = Iap.Granter;
export type SweepReportLike = Iap.SweepReport;
type IapModule = typeof import('@zerolost/iap');

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
export type EtsRuntime = Pick<
  IapModule,
  | 'OnDeviceJwsVerifierConfig'
  | 'OnDeviceJwsVerifier'
  | 'CryptoKitPort'
  | 'RdbDeliveryLedger'
  | 'DeliveryRecord'
  | 'DeliveryState'
  | 'DeliveryEngine'
  | 'IapKitStoreGateway'
  | 'HilogLogger'
  | 'TimerClock'
  | 'UtilTextCodec'
  | 'IapProductType'
  | 'IapQueryType'
  | 'SweepTrigger'
> & {
  IapSimulator: { create(options: SimulatorOptions): Promise<IapSimulator> };
  installSimulator(sim: IapSimulator): IapSimulator;
  /** The Node relationalStore the RDB adapter runs on (the same module instance). */
  /** Time spent inside the Node stand-in of @kit.DeviceCertificateKit (native on a device). */
  certKitTime: { ms: number; calls: number };
  relationalStore: { getRdbStore(context: NodeContext, config: { name: string; securityLevel: number }): Promise<RdbStoreLike> };
};

const ENTRY =
  'export { OnDeviceJwsVerifier, OnDeviceJwsVerifierConfig, CryptoKitPort, RdbDeliveryLedger, DeliveryRecord, ' +
  'DeliveryState, DeliveryEngine, IapKitStoreGateway, HilogLogger, TimerClock, UtilTextCodec, IapProductType, IapQueryType, SweepTrigger } ' +
  "from './common/iap/Index.ets';\n" +
  "export { IapSimulator } from './tools/iap-sim/IapSimulator';\n" +
  "export { installSimulator } from './tools/iap-sim/CurrentSimulator';\n" +
  "export { relationalStore } from './tools/node-kits/ArkData';\n" +
  "export { certKitTime } from './tools/node-kits/DeviceCertificateKit';\n";

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
