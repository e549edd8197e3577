// Shared knowledge about the HarmonyOS project layout, used by the gate (check) and the test runner.
import * as fs from 'node:fs';
import * as path from 'node:path';
import JSON5 from 'json5';

/** The project root; CHECK_PROJECT_ROOT points the gate at a copy (its self-test uses one). */
export const ROOT = process.env.CHECK_PROJECT_ROOT ? path.resolve(process.env.CHECK_PROJECT_ROOT) : path.resolve(__dirname, '..', '..');

/** The HarmonyOS modules as build-profile.json5 lists them; the gate walks these folders, never a hand-kept file list. */
export const MODULE_DIRS: readonly string[] = ['AppScope', 'entry', 'features/store', 'common/iap'];

const SKIP_DIRS = new Set(['node_modules', 'oh_modules', 'build', '.hvigor', '.preview', '.idea']);

export function walk(dir: string, accept: (file: string) => boolean, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) {
    return out;
  }
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) {
        walk(full, accept, out);
      }
    } else if (accept(full)) {
      out.push(full);
    }
  }
  return out.sort();
}

/** Every .ets file of every module: main, test and ohosTest sources, and the module's Index.ets. */
export function listEtsFiles(roots: readonly string[] = MODULE_DIRS.map((d) => path.join(ROOT, d))): string[] {
  const files: string[] = [];
  for (const root of roots) {
    walk(root, (f) => f.endsWith('.ets') && !f.endsWith('.d.ets'), files);
  }
  return files;
}

/** Reads a JSON5 config file (build-profile.json5, oh-package.json5, module.json5) with the json5 package. */
export function readJson5(file: string): unknown {
  return JSON5.parse(fs.readFileSync(file, 'utf8'));
}
