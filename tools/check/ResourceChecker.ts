// The real build rejects a $r('app.<type>.<name>') or "$string:name" that no resource defines. This check does the
// same over the project: every reference resolves in the module's own resources, its HAR dependencies' (merged
// into the HAP at build time) or AppScope's; every string exists in base, zh_CN and en_US; every dark colour
// overrides a base one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Diagnostic } from './Diagnostic';
import { MODULE_DIRS, ROOT, readJson5 } from './EtsProject';

type ResourceIndex = Map<string, Set<string>>; // type -> names

const QUALIFIERS = ['base', 'zh_CN', 'en_US', 'dark'];
const LOCALES_REQUIRED = ['base', 'zh_CN', 'en_US'];

function addAll(index: ResourceIndex, type: string, names: Iterable<string>): void {
  let set = index.get(type);
  if (!set) {
    set = new Set();
    index.set(type, set);
  }
  for (const n of names) set.add(n);
}

function elementNames(file: string): Map<string, string[]> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Array<{ name: string }>>;
  const out = new Map<string, string[]>();
  for (const [type, entries] of Object.entries(json)) {
    out.set(type, Array.isArray(entries) ? entries.map((e) => e.name) : []);
  }
  return out;
}

/** Resources of one resources/ folder, per qualifier. */
function readResourceDir(resDir: string): Map<string, ResourceIndex> {
  const perQualifier = new Map<string, ResourceIndex>();
  if (!fs.existsSync(resDir)) return perQualifier;
  for (const q of fs.readdirSync(resDir)) {
    const index: ResourceIndex = new Map();
    const elementDir = path.join(resDir, q, 'element');
    if (fs.existsSync(elementDir)) {
      for (const f of fs.readdirSync(elementDir).filter((x) => x.endsWith('.json'))) {
        for (const [type, names] of elementNames(path.join(elementDir, f))) addAll(index, type, names);
      }
    }
    for (const kind of ['media', 'profile']) {
      const dir = path.join(resDir, q, kind);
      if (fs.existsSync(dir)) {
        addAll(index, kind, fs.readdirSync(dir).map((f) => f.replace(/\.[^.]+$/, '')));
      }
    }
    perQualifier.set(q, index);
  }
  return perQualifier;
}

function merge(into: ResourceIndex, from: ResourceIndex | undefined): void {
  if (!from) return;
  for (const [type, names] of from) addAll(into, type, names);
}

function mergedResources(resDirs: string[]): ResourceIndex {
  const index: ResourceIndex = new Map();
  for (const dir of resDirs) {
    for (const q of readResourceDir(dir).values()) merge(index, q);
  }
  return index;
}

/** Module root and source set of a file: `<module>/src/<set>/...`; AppScope has no source set. */
function locate(file: string): { moduleRoot: string; sourceSet: string } | undefined {
  const m = /^(.*?)[\\/]src[\\/](main|test|ohosTest|mock)[\\/]/.exec(file);
  if (m) return { moduleRoot: m[1], sourceSet: m[2] };
  const dir = path.dirname(file);
  if (fs.existsSync(path.join(dir, 'oh-package.json5'))) return { moduleRoot: dir, sourceSet: 'main' };
  return undefined;
}

/** The module's HAR dependencies, transitively, from `"file:..."` links in oh-package.json5. */
function dependencyRoots(moduleRoot: string, seen: Set<string> = new Set()): string[] {
  const pkgFile = path.join(moduleRoot, 'oh-package.json5');
  if (!fs.existsSync(pkgFile) || seen.has(moduleRoot)) return [];
  seen.add(moduleRoot);
  const pkg = readJson5(pkgFile) as { dependencies?: Record<string, string> };
  const out: string[] = [];
  for (const spec of Object.values(pkg.dependencies ?? {})) {
    if (spec.startsWith('file:')) {
      const dep = path.resolve(moduleRoot, spec.slice('file:'.length));
      out.push(dep, ...dependencyRoots(dep, seen));
    }
  }
  return out;
}

function visibleResources(moduleRoot: string, sourceSet: string): ResourceIndex {
  const dirs = [path.join(ROOT, 'AppScope', 'resources'), path.join(moduleRoot, 'src', 'main', 'resources')];
  if (sourceSet !== 'main') dirs.push(path.join(moduleRoot, 'src', sourceSet, 'resources'));
  for (const dep of dependencyRoots(moduleRoot)) dirs.push(path.join(dep, 'src', 'main', 'resources'));
  return mergedResources(dirs);
}

function lineCol(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - before.lastIndexOf('\n') };
}

const ETS_REF = /\$r\(\s*['"]app\.(\w+)\.(\w+)['"]\s*\)/g;
const JSON_REF = /"\$(string|media|color|float|profile|integer|boolean):(\w+)"/g;
/** Any literal $r('…'), to judge its form and type as the compiler does. */
const ETS_ANY_REF = /\$r\(\s*['"]([^'"]*)['"]/g;
/** The resource types of the compiler's resource check. */
const RESOURCE_TYPES = new Set(['color', 'float', 'string', 'plural', 'media', 'profile', 'boolean', 'integer', 'intarray',
  'strarray', 'pattern', 'theme', 'symbol']);

/**
 * The compiler's resource codes: 10903329 unknown resource name, 10903330 unknown type, 10905332 not of the form
 * 'xxx.yyy.zzz'. Config files ("$string:name") report the name the same way.
 */
function checkReferences(file: string, text: string, refs: RegExp, index: ResourceIndex, out: Diagnostic[]): void {
  for (const m of text.matchAll(refs)) {
    const [type, name] = [m[1], m[2]];
    if (!RESOURCE_TYPES.has(type)) continue;
    if (!index.get(type)?.has(name)) {
      const pos = lineCol(text, m.index ?? 0);
      out.push({ file, ...pos, severity: 'error', rule: '10903329', message: `Unknown resource name '${name}'. No ${type} resource of that name is visible to this module (${m[0]}).` });
    }
  }
}

function checkReferenceForms(file: string, text: string, out: Diagnostic[]): void {
  for (const m of text.matchAll(ETS_ANY_REF)) {
    const parts = m[1].split('.');
    const pos = lineCol(text, m.index ?? 0);
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
      out.push({ file, ...pos, severity: 'error', rule: '10905332', message: `Invalid resource file parameter. Enter a value in the format of 'xxx.yyy.zzz'. (${m[0]})` });
    } else if (parts[0] === 'app' && !RESOURCE_TYPES.has(parts[1])) {
      out.push({ file, ...pos, severity: 'error', rule: '10903330', message: `Unknown resource type '${parts[1]}'.` });
    } else if (parts[0] !== 'app' && parts[0] !== 'sys') {
      out.push({ file, ...pos, severity: 'error', rule: '10903331', message: `Unknown resource source '${parts[0]}'.` });
    }
  }
}

/** Per module: string keys present in base, zh_CN and en_US; dark colours override existing base colours. */
function checkLocaleCompleteness(resDir: string, out: Diagnostic[]): void {
  const perQ = readResourceDir(resDir);
  if (perQ.size === 0) return;
  const allStrings = new Set<string>();
  for (const q of LOCALES_REQUIRED) for (const n of perQ.get(q)?.get('string') ?? []) allStrings.add(n);
  for (const q of LOCALES_REQUIRED) {
    const have = perQ.get(q)?.get('string') ?? new Set<string>();
    for (const name of allStrings) {
      if (!have.has(name)) {
        const file = path.join(resDir, q, 'element', 'string.json');
        out.push({ file, line: 1, column: 1, severity: 'error', rule: 'resource-locale-missing', message: `String '${name}' is missing in ${q}.` });
      }
    }
  }
  const baseColors = perQ.get('base')?.get('color') ?? new Set<string>();
  for (const name of perQ.get('dark')?.get('color') ?? []) {
    if (!baseColors.has(name)) {
      const file = path.join(resDir, 'dark', 'element', 'color.json');
      out.push({ file, line: 1, column: 1, severity: 'error', rule: 'resource-missing', message: `Dark colour '${name}' has no base colour to override.` });
    }
  }
  for (const q of perQ.keys()) {
    if (!QUALIFIERS.includes(q) && q !== 'rawfile') {
      out.push({ file: path.join(resDir, q), line: 1, column: 1, severity: 'warning', rule: 'resource-qualifier', message: `Unexpected resource qualifier folder '${q}'.` });
    }
  }
}

export function checkResources(etsFiles: string[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const cache = new Map<string, ResourceIndex>();
  const indexFor = (moduleRoot: string, sourceSet: string): ResourceIndex => {
    const key = `${moduleRoot}#${sourceSet}`;
    let idx = cache.get(key);
    if (!idx) {
      idx = visibleResources(moduleRoot, sourceSet);
      cache.set(key, idx);
    }
    return idx;
  };
  for (const file of etsFiles) {
    const where = locate(file);
    if (!where) continue;
    const text = fs.readFileSync(file, 'utf8');
    checkReferenceForms(file, text, out);
    checkReferences(file, text, ETS_REF, indexFor(where.moduleRoot, where.sourceSet), out);
  }
  // Config files: module.json5 (main and ohosTest) and app.json5 reference resources with "$type:name".
  const appJson = path.join(ROOT, 'AppScope', 'app.json5');
  if (fs.existsSync(appJson)) {
    checkReferences(appJson, fs.readFileSync(appJson, 'utf8'), JSON_REF, mergedResources([path.join(ROOT, 'AppScope', 'resources')]), out);
  }
  for (const dir of MODULE_DIRS.filter((d) => d !== 'AppScope')) {
    const moduleRoot = path.join(ROOT, dir);
    for (const set of ['main', 'ohosTest']) {
      const manifest = path.join(moduleRoot, 'src', set, 'module.json5');
      if (fs.existsSync(manifest)) {
        checkReferences(manifest, fs.readFileSync(manifest, 'utf8'), JSON_REF, indexFor(moduleRoot, set), out);
      }
      checkLocaleCompleteness(path.join(moduleRoot, 'src', set, 'resources'), out);
    }
  }
  checkLocaleCompleteness(path.join(ROOT, 'AppScope', 'resources'), out);
  return out;
}
