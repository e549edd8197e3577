import * as path from 'node:path';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  /** `TS2322`, an ArkTS rule such as `arkts-no-any-unknown`, `api-level`, an ArkUI compiler code such as `10905210`, or a project rule such as `layer-kit-in-core`. */
  rule: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic, root: string): string {
  const rel = path.relative(root, d.file) || d.file;
  return `${rel}:${d.line}:${d.column} ${d.severity} ${d.rule} ${d.message.replace(/\s+/g, ' ').trim()}`;
}
