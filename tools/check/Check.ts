// The build gate: ArkTS type-check + ArkTS linter 1.1 over every .ets file of every module, and a check that
// every $r('app.…') / $string:… reference resolves. Usage: npm run check [-- --root <dir> ...] [--quiet]
import * as path from 'node:path';
import { ROOT, listEtsFiles } from './EtsProject';
import { lastEtsProgram, runArkTsCheck } from './ArkTsChecker';
import { checkApiLevels } from './ApiLevelChecker';
import { checkMainPages, checkUiSyntax } from './UiSyntaxChecker';
import { checkResources } from './ResourceChecker';
import { checkLayering } from './LayeringChecker';
import { Diagnostic, formatDiagnostic } from './Diagnostic';

function parseArgs(argv: string[]): { roots: string[] | undefined; extra: string[] } {
  const roots: string[] = [];
  const extra: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') {
      roots.push(path.resolve(argv[++i]));
    } else if (argv[i] === '--extra') {
      // Extra files checked as if they lived in the module that contains them (used by the gate's self-test).
      extra.push(path.resolve(argv[++i]));
    }
  }
  return { roots: roots.length > 0 ? roots : undefined, extra };
}

export function runCheck(roots?: string[], extraFiles: string[] = []): { files: number; diagnostics: Diagnostic[] } {
  const files = [...listEtsFiles(roots), ...extraFiles];
  const diagnostics = [...runArkTsCheck(files)];
  const program = lastEtsProgram();
  if (program) diagnostics.push(...checkApiLevels(program, files), ...checkUiSyntax(program, files));
  diagnostics.push(...checkMainPages());
  diagnostics.push(...checkResources(files), ...checkLayering(files));
  return { files: files.length, diagnostics };
}

function main(): void {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  const { files, diagnostics } = runCheck(args.roots, args.extra);
  for (const d of diagnostics) {
    console.log(formatDiagnostic(d, ROOT));
  }
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  console.log(
    `check: ${files} .ets files checked (type-check, ArkTS linter 1.1, API levels, ArkUI syntax, resources, layering): ` +
      `${errors} errors, ${warnings} warnings in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  process.exitCode = errors > 0 ? 1 : 0;
}

if (require.main === module) {
  main();
}
