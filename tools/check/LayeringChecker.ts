// The architecture, enforced: entry → features/store → common/iap, never the reverse; modules meet only through
// their Index.ets (no deep imports); the recovery logic in common/iap/src/main/ets/core imports no kit, which is
// what lets the same code run on a device and in Node.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Diagnostic } from './Diagnostic';
import { ROOT } from './EtsProject';

/** Lowest layer first: a module may import only modules below it. */
const LAYERS: ReadonlyArray<{ dir: string; pkg: string }> = [
  { dir: 'common/iap', pkg: '@zerolost/iap' },
  { dir: 'features/store', pkg: '@zerolost/store' },
  { dir: 'entry', pkg: 'entry' },
];

/** types/testing: declarations of the Node test support (tools/testing) for the src/nodeTest suites. */
const TESTING_DECLARATIONS = path.join(ROOT, 'types', 'testing');
const CORE_DIR = path.join(ROOT, 'common', 'iap', 'src', 'main', 'ets', 'core') + path.sep;
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function layerOf(file: string): number {
  const rel = path.relative(ROOT, file).split(path.sep).join('/');
  return LAYERS.findIndex((l) => rel === l.dir || rel.startsWith(`${l.dir}/`));
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** `read` gives a file's text (the tests pass sources for paths that need not exist). */
export function checkLayering(files: string[], read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8')): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const file of files) {
    const layer = layerOf(file);
    if (layer < 0) continue;
    const moduleRoot = path.join(ROOT, LAYERS[layer].dir) + path.sep;
    const text = read(file);
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      const at = (m.index ?? 0) + m[0].indexOf(spec);
      const pos = { file, line: lineOf(text, at), column: 1, severity: 'error' as const };
      if (file.startsWith(CORE_DIR) && (spec.startsWith('@kit.') || spec.startsWith('@ohos.') || spec.startsWith('@hms.'))) {
        out.push({ ...pos, rule: 'layer-kit-in-core', message: `common/iap core must not import '${spec}': talk to a port; put kit code in adapters/.` });
      }
      const target = LAYERS.findIndex((l) => spec === l.pkg || spec.startsWith(`${l.pkg}/`));
      if (target >= 0 && spec !== LAYERS[target].pkg) {
        out.push({ ...pos, rule: 'layer-deep-import', message: `Import '${LAYERS[target].pkg}' through its Index.ets, not '${spec}'.` });
      }
      if (target >= 0 && target >= layer) {
        out.push({ ...pos, rule: 'layer-direction', message: `${LAYERS[layer].dir} must not depend on ${LAYERS[target].dir} (entry → features/store → common/iap).` });
      }
      if (spec.startsWith('.')) {
        const resolved = path.resolve(path.dirname(file), spec);
        // The Node harness's suites (src/nodeTest) may reach the Node test support's declarations, nothing else.
        const testSupport = file.startsWith(path.join(moduleRoot, 'src', 'nodeTest') + path.sep) &&
          path.dirname(resolved) === TESTING_DECLARATIONS;
        if (!resolved.startsWith(moduleRoot) && !testSupport) {
          out.push({ ...pos, rule: 'layer-deep-import', message: `Relative import '${spec}' leaves the module; import the other module's package instead.` });
        }
      }
    }
  }
  return out;
}
