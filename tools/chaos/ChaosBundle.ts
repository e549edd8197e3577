// Builds the chaos harness together with the engine: esbuild bundles tools/chaos/ChaosRunner.ts, resolving
// `@zerolost/iap` to common/iap/Index.ets and every `@kit.*` to tools/node-kits (IAP Kit = the simulator), so the
// harness and the engine share one simulator, one relationalStore and one simulateProcessDeath().
// `iapIndex` swaps in another copy of the module (the deliberately broken engines of Mutants.ts).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../check/EtsProject';
import { NODE_KITS_DIR, bundleEts, etsPlugin } from '../test/EtsBundler';

export type ChaosModule = typeof import('./ChaosRunner');

const ENTRY = path.join(ROOT, 'tools', 'chaos', 'ChaosRunner.ts');

/** The same build as bundleEts, with `@zerolost/iap` resolved to `iapIndex`. */
async function bundleWithModule(outfile: string, iapIndex: string): Promise<void> {
  const redirect: esbuild.Plugin = {
    name: 'zerolost-iap-override',
    setup(build) {
      build.onResolve({ filter: /^@zerolost\/iap$/ }, () => ({ path: iapIndex }));
    },
  };
  await esbuild.build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'silent',
    resolveExtensions: ['.ets', '.ts', '.js', '.mjs', '.json'],
    external: ['better-sqlite3', 'fast-check', '@peculiar/x509', 'reflect-metadata'],
    inject: [path.join(NODE_KITS_DIR, 'ArkTsGlobals.ts')],
    plugins: [redirect, etsPlugin()],
    tsconfigRaw: { compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false, target: 'es2020' } },
  });
}

export async function loadChaos(iapIndex?: string): Promise<ChaosModule> {
  const dir = path.join(ROOT, '.test-out', 'chaos');
  fs.mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, `chaos-${process.pid}-${Date.now()}.cjs`);
  if (iapIndex) await bundleWithModule(outfile, iapIndex);
  else await bundleEts({ entry: ENTRY, outfile });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(outfile) as ChaosModule;
  } finally {
    fs.rmSync(outfile, { force: true });
  }
}
