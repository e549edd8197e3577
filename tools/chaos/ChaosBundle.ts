// Builds the chaos harness together with the engine: esbuild bundles tools/chaos/ChaosRunner.ts, resolving
// `@zerolost/iap` to common/iap/Index.ets and every `@kit.*` to tools/node-kits (IAP Kit = the simulator), so the
// harness and the engine share one simulator, one relationalStore and one simulateProcessDeath().
// `iapIndex` swaps in another copy of the module (the deliberately broken engines of Mutants.ts).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import { bundleEts } from '../test/EtsBundler';

export type ChaosModule = typeof import('./ChaosRunner');

const ENTRY = path.join(ROOT, 'tools', 'chaos', 'ChaosRunner.ts');

/** Resolves `@zerolost/iap` to another copy of the module (a deliberately broken engine). */
function redirectIap(iapIndex: string): esbuild.Plugin {
  return {
    name: 'zerolost-iap-override',
    setup(build) {
      build.onResolve({ filter: /^@zerolost\/iap$/ }, () => ({ path: iapIndex }));
    },
  };
}

export async function loadChaos(iapIndex?: string): Promise<ChaosModule> {
  const dir = path.join(ROOT, '.test-out', 'chaos');
  fs.mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, `chaos-${process.pid}-${Date.now()}.cjs`);
  await bundleEts({ entry: ENTRY, outfile, plugins: iapIndex ? [redirectIap(iapIndex)] : [] });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(outfile) as ChaosModule;
  } finally {
    fs.rmSync(outfile, { force: true });
  }
}
