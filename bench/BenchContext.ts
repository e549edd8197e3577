// What every benchmark item receives, and what it hands back.
import type { EtsRuntime } from './EtsRuntime';
import type { BenchResult } from './Report';

/** Figures one item measured that a later item of the same run compares against. */
export interface SharedFigures {
  /** Item 1: the server's JwsVerifier, warm (a few chains, again and again), verifications/s. */
  serverWarmVerifyPerSec?: number;
}

export interface BenchContext {
  /** Scratch directory of this run (databases, bundles), on the disk the project lives on; removed at the end. */
  readonly dataDir: string;
  /** The device code (common/iap) and the IAP Kit simulator, loaded into Node. */
  runtime(): Promise<EtsRuntime>;
  /** A progress line on stderr (the table goes to stdout). */
  log(line: string): void;
  readonly shared: SharedFigures;
}

export interface ItemOutput {
  results: BenchResult[];
  /** One line of context per result name, for the table. */
  summaries: Map<string, string>;
}
