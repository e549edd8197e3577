// ArkTS-facing declaration of tools/testing/EngineTestSupport.ts (Node-only test support for the delivery-engine
// suites, imported as 'types/testing/EngineTestSupport' (a relative import)). Product code never imports this.

/** Every open RDB store dies as if the app process was killed: uncommitted work is lost, the files stay. */
export declare function simulateProcessDeath(): void;

/** Starts recording every hilog line, formatted as a device prints it (private arguments as <private>). */
export declare function startLogCapture(): void;

/** Stops recording and returns the lines since startLogCapture(). */
export declare function stopLogCapture(): string[];

/** Replaces a store's file (<databaseDir>/rdb/<storeName>) with `content`, e.g. garbage. */
export declare function overwriteStoreFile(databaseDir: string, storeName: string, content: string): void;

/** A store file's bytes as latin1 text; '' when the file does not exist. */
export declare function readStoreFile(databaseDir: string, storeName: string): string;
