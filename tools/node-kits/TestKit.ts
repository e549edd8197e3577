// Node stand-in for the parts of @kit.TestKit that local unit tests use: the ability delegator and its
// application context. Each test process gets its own data folder (TEST_DATA_DIR), like an installed app.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface NodeAppContext {
  databaseDir: string;
  filesDir: string;
  cacheDir: string;
  tempDir: string;
}

let context: NodeAppContext | undefined;

function appContext(): NodeAppContext {
  if (!context) {
    const base = process.env.TEST_DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'zerolost-app-'));
    const sub = (name: string): string => {
      const dir = path.join(base, name);
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    };
    context = { databaseDir: sub('database'), filesDir: sub('files'), cacheDir: sub('cache'), tempDir: sub('temp') };
  }
  return context;
}

export const abilityDelegatorRegistry = {
  getAbilityDelegator: () => ({
    getAppContext: (): NodeAppContext => appContext(),
  }),
  getArguments: () => ({ bundleName: 'com.example.zerolost.store', parameters: {} }),
};
