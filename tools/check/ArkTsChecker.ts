// Type-check and ArkTS-lint .ets files with ohos-typescript, the way DevEco's ets-loader does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Diagnostic } from './Diagnostic';
import { DECLARATIONS, declarationRootFiles, etsCompilerOptions } from './EtsCompilerOptions';
import { MODULE_DIRS, ROOT, readJson5 } from './EtsProject';

// ohos-typescript ships TS 4.9-era typings that TS 5 cannot consume; we use the small surface we need untyped.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ts = require('ohos-typescript') as OhosTs;

interface OhosSourceFile {
  fileName: string;
  getLineAndCharacterOfPosition(pos: number): { line: number; character: number };
}
interface OhosDiagnostic {
  file?: OhosSourceFile;
  start?: number;
  code: number;
  category: number;
  messageText: string | { messageText: string; next?: unknown[] };
}
interface OhosProgram {
  getSemanticDiagnostics(): OhosDiagnostic[];
  getSyntacticDiagnostics(): OhosDiagnostic[];
  getGlobalDiagnostics(): OhosDiagnostic[];
  getOptionsDiagnostics(): OhosDiagnostic[];
}
interface OhosBuilder {
  getProgram(): OhosProgram;
}
interface OhosTs {
  createIncrementalProgramForArkTs(args: { rootNames: string[]; options: Record<string, unknown> }): OhosBuilder;
  flattenDiagnosticMessageText(m: OhosDiagnostic['messageText'], nl: string): string;
  ArkTSLinter_1_1: {
    runArkTSLinter(b: OhosBuilder, src: undefined, w: undefined, version: string): OhosDiagnostic[];
  };
}

/** `@zerolost/iap` → common/iap/Index.ets etc., read from each HAR's oh-package.json5 ("main"). */
export function localPackagePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const dir of MODULE_DIRS) {
    const pkgFile = path.join(ROOT, dir, 'oh-package.json5');
    if (!fs.existsSync(pkgFile)) continue;
    const pkg = readJson5(pkgFile) as { name: string; main?: string };
    if (pkg.main) {
      paths[pkg.name] = [path.join(ROOT, dir, pkg.main)];
    }
  }
  paths['@ohos/hypium'] = [path.join(ROOT, 'node_modules', '@ohos', 'hypium', 'index.d.ts')];
  return paths;
}

function toDiagnostic(d: OhosDiagnostic, rulePrefix: 'TS' | 'arkts'): Diagnostic | undefined {
  if (!d.file) {
    return { file: '<program>', line: 0, column: 0, severity: 'error', rule: `TS${d.code}`, message: ts.flattenDiagnosticMessageText(d.messageText, ' ') };
  }
  const file = path.resolve(d.file.fileName);
  // Declarations carry @ts-nocheck and trip the linter's strict-typing rule; they are not ours to fix.
  if (file.includes(`${path.sep}node_modules${path.sep}`) || file.startsWith(DECLARATIONS)) {
    return undefined;
  }
  const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
  // `$x` / `$$this.x` two-way bindings are dropped by the real compiler before type-checking.
  if ([2304, 2339, 2551, 2552].includes(d.code) && /'\$(?!r'|rawfile')\$?[\w.]*'/.test(message)) {
    return undefined;
  }
  const pos = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
  const ruleMatch = /\((arkts-[a-z0-9-]+)\)/.exec(message);
  const rule = rulePrefix === 'arkts' && ruleMatch ? ruleMatch[1] : `TS${d.code}`;
  // Category 0 = warning, 1 = error (2/3 = suggestion/message).
  const severity = d.category === 1 ? 'error' : 'warning';
  if (d.category > 1) return undefined;
  return { file, line: pos.line + 1, column: pos.character + 1, severity, rule, message };
}

/** The program of the last runArkTsCheck, for checks that need its type checker (API levels, UI syntax). */
let lastProgram: unknown;
export function lastEtsProgram(): unknown {
  return lastProgram;
}

export function runArkTsCheck(files: string[]): Diagnostic[] {
  if (files.length === 0) return [];
  const options = etsCompilerOptions();
  options.paths = { ...(options.paths as Record<string, string[]>), ...localPackagePaths() };
  // Turns on the real "UI component cannot be used in this place" check; only settable in code.
  options.etsLoaderPath = path.join(ROOT, 'node_modules', '@arkts');
  const rootNames = [...declarationRootFiles(), ...files];
  const builder = ts.createIncrementalProgramForArkTs({ rootNames, options });
  const program = builder.getProgram();
  lastProgram = program;
  const raw: Array<[OhosDiagnostic, 'TS' | 'arkts']> = [];
  for (const d of program.getOptionsDiagnostics()) raw.push([d, 'TS']);
  for (const d of program.getGlobalDiagnostics()) raw.push([d, 'TS']);
  for (const d of program.getSyntacticDiagnostics()) raw.push([d, 'TS']);
  for (const d of program.getSemanticDiagnostics()) raw.push([d, 'TS']);
  for (const d of ts.ArkTSLinter_1_1.runArkTSLinter(builder, undefined, undefined, '1.1')) raw.push([d, 'arkts']);
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const [d, kind] of raw) {
    const diag = toDiagnostic(d, kind);
    if (!diag) continue;
    const key = `${diag.file}:${diag.line}:${diag.column}:${diag.rule}:${diag.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(diag);
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
