// Runs struct-free ArkTS in Node: esbuild bundles .ets as TypeScript, resolves `@kit.*` imports to the Node
// implementations in tools/node-kits, local HARs (`@zerolost/*`) to their Index.ets, and replaces files that
// declare ArkUI structs (which need the ArkUI runtime) with stubs that throw if used.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODULE_DIRS, ROOT, readJson5 } from '../check/EtsProject';

export const NODE_KITS_DIR = path.join(ROOT, 'tools', 'node-kits');

function localPackages(): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of MODULE_DIRS) {
    const pkgFile = path.join(ROOT, dir, 'oh-package.json5');
    if (!fs.existsSync(pkgFile)) continue;
    const pkg = readJson5(pkgFile) as { name: string; main?: string };
    if (pkg.main) out.set(pkg.name, path.join(ROOT, dir, pkg.main));
  }
  return out;
}

/** Where the .ets suites' Node test support is declared (types/testing/X.d.ts for tools/testing/X.ts). */
const TESTING_DECLARATIONS = path.join(ROOT, 'types', 'testing');

// ArkUI UI code: a struct, or a global @Builder function (decorators on functions are not TypeScript).
const STRUCT_DECL = /^\s*(?:export\s+)?struct\s+\w+|^@Builder\s+(?:export\s+)?function\s+\w+/m;

/** A stub module for a struct file: same export names, each throwing when the UI is actually used. */
function structStub(source: string, file: string): string {
  const names = new Set<string>();
  for (const m of source.matchAll(/^\s*export\s+(?:default\s+)?(?:struct|function|class|const|let)\s+(\w+)/gm)) names.add(m[1] as string);
  const rel = path.relative(ROOT, file);
  const lines = [...names].map(
    (n) => `export const ${n} = new Proxy(function () {}, { get(){ throw new Error('${n} (${rel}) is ArkUI UI code: it runs on a device, not in Node'); }, apply(){ throw new Error('${n} (${rel}) is ArkUI UI code: it runs on a device, not in Node'); } });`,
  );
  return lines.join('\n') + '\n';
}

export function etsPlugin(extraAliases: Record<string, string> = {}): esbuild.Plugin {
  const packages = localPackages();
  return {
    name: 'ets',
    setup(build) {
      build.onResolve({ filter: /^@kit\./ }, (args) => {
        const alias = extraAliases[args.path];
        if (alias) return { path: alias };
        const file = path.join(NODE_KITS_DIR, `${args.path.slice('@kit.'.length)}.ts`);
        if (!fs.existsSync(file)) {
          return { errors: [{ text: `No Node implementation of ${args.path}: add tools/node-kits/${path.basename(file)}` }] };
        }
        return { path: file };
      });
      // Node-only test support (simulator controls, test PKI) for .ets suites: they import its declaration
      // types/testing/X (a relative path any ArkTS checker resolves); the bundle runs tools/testing/X.ts.
      // Product code never imports these.
      build.onResolve({ filter: /(^|\/)types\/testing\/\w+$/ }, (args) => {
        const declared = path.resolve(args.resolveDir, args.path);
        if (path.dirname(declared) !== TESTING_DECLARATIONS) return undefined;
        const file = path.join(ROOT, 'tools', 'testing', `${path.basename(declared)}.ts`);
        return fs.existsSync(file) ? { path: file } : { errors: [{ text: `No Node test support module ${file}` }] };
      });
      build.onResolve({ filter: /^@zerolost\// }, (args) => {
        const target = packages.get(args.path);
        return target ? { path: target } : { errors: [{ text: `Unknown local package ${args.path}` }] };
      });
      build.onLoad({ filter: /\.ets$/ }, (args) => {
        const source = fs.readFileSync(args.path, 'utf8');
        if (STRUCT_DECL.test(source)) return { contents: structStub(source, args.path), loader: 'js' };
        return { contents: source, loader: 'ts' };
      });
    },
  };
}

export interface BundleOptions {
  entry: string;
  outfile: string;
  aliases?: Record<string, string>;
  /** Entry content instead of a file (resolved relative to resolveDir). */
  stdin?: { contents: string; resolveDir: string };
  /** Plugins that run before the .ets plugin, e.g. to swap a module for a patched copy. */
  plugins?: esbuild.Plugin[];
}

export async function bundleEts(opts: BundleOptions): Promise<void> {
  await esbuild.build({
    ...(opts.stdin ? { stdin: { ...opts.stdin, loader: 'ts', sourcefile: opts.entry } } : { entryPoints: [opts.entry] }),
    outfile: opts.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'silent',
    resolveExtensions: ['.ets', '.ts', '.js', '.mjs', '.json'],
    external: ['better-sqlite3', 'fast-check', '@peculiar/x509', 'reflect-metadata'],
    inject: [path.join(NODE_KITS_DIR, 'ArkTsGlobals.ts')],
    plugins: [...(opts.plugins ?? []), etsPlugin(opts.aliases)],
    tsconfigRaw: {
      compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false, target: 'es2020' },
    },
  });
}
