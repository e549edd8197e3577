// Node-only test support for the delivery-engine suites (common/iap/src/nodeTest): process death of every open RDB
// store, hilog capture, and raw access to a store file (corruption tests). Imported from .ets suites as
// 'types/testing/EngineTestSupport' (a relative import); declared for the gate in types/testing/EngineTestSupport.d.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simulateProcessDeath as killOpenStores } from '../node-kits/ArkData';
import { hilogCapture } from '../node-kits/PerformanceAnalysisKit';

/** Every open RDB store dies as if the app process was killed: uncommitted work is lost, the files stay. */
export function simulateProcessDeath(): void {
  killOpenStores();
}

/** Starts recording every hilog line, formatted as a device prints it (private arguments as <private>). */
export function startLogCapture(): void {
  hilogCapture.start();
}

/** Stops recording and returns the lines since startLogCapture(). */
export function stopLogCapture(): string[] {
  return hilogCapture.stop();
}

function storeFile(databaseDir: string, storeName: string): string {
  return path.join(databaseDir, 'rdb', storeName);
}

/** Replaces a store's file with `content` (e.g. garbage, to model a corrupt database). */
export function overwriteStoreFile(databaseDir: string, storeName: string, content: string): void {
  const file = storeFile(databaseDir, storeName);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const suffix of ['-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  fs.writeFileSync(file, content, 'latin1');
}

/** A store file's bytes as latin1 text; '' when the file does not exist. */
export function readStoreFile(databaseDir: string, storeName: string): string {
  const file = storeFile(databaseDir, storeName);
  return fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
}
