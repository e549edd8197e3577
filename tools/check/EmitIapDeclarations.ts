// Node-side TypeScript (chaos harness, demo, benchmarks) drives the real common/iap engine, bundled from its .ets
// sources. TypeScript 5 cannot read .ets, so instead of hand-copied types that can drift, this emits the module's
// declarations with ohos-typescript (the compiler that reads ArkTS) and exposes them as `@zerolost/iap` through the
// root tsconfig. Run before `tsc -p tsconfig.json` (npm test does).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localPackagePaths } from './ArkTsChecker';
import { declarationRootFiles, etsCompilerOptions } from './EtsCompilerOptions';
import { ROOT, walk } from './EtsProject';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ts = require('ohos-typescript') as {
  createProgram(args: { rootNames: string[]; options: Record<string, unknown> }): { emit(): { emitSkipped: boolean } };
};

export const IAP_DECLARATIONS_DIR = path.join(ROOT, '.test-out', 'types', 'zerolost-iap');

/** Emits common/iap's declarations as .d.ts; returns the generated Index.d.ts. */
export function emitIapDeclarations(): string {
  fs.rmSync(IAP_DECLARATIONS_DIR, { recursive: true, force: true });
  const options = etsCompilerOptions();
  options.paths = { ...(options.paths as Record<string, string[]>), ...localPackagePaths() };
  Object.assign(options, { noEmit: false, declaration: true, emitDeclarationOnly: true, outDir: IAP_DECLARATIONS_DIR, rootDir: ROOT });
  const result = ts.createProgram({ rootNames: [...declarationRootFiles(), path.join(ROOT, 'common', 'iap', 'Index.ets')], options }).emit();
  if (result.emitSkipped) throw new Error('ohos-typescript could not emit the common/iap declarations');
  for (const file of walk(IAP_DECLARATIONS_DIR, (f) => f.endsWith('.d.ets'))) {
    let text = fs.readFileSync(file, 'utf8');
    // ArkUI structs have no meaning in Node (the bundler stubs them): declare them as opaque values.
    text = text.replace(/export declare struct (\w+) \{[\s\S]*?\n\}/g, 'export declare const $1: unknown;');
    fs.writeFileSync(file.replace(/\.d\.ets$/, '.d.ts'), text);
    fs.rmSync(file);
  }
  return path.join(IAP_DECLARATIONS_DIR, 'common', 'iap', 'Index.d.ts');
}

if (require.main === module) {
  console.log(`declarations of @zerolost/iap: ${path.relative(ROOT, emitIapDeclarations())}`);
}
