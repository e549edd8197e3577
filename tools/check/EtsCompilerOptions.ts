// Compiler options for checking .ets with ohos-typescript, as the DevEco ets-loader sets them up.
// The ArkUI component list is derived from the declarations themselves so it never drifts from the SDK level.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './EtsProject';

export const DECLARATIONS = path.join(ROOT, 'node_modules', '@arkts', 'declarations', 'dist');

/** Project-owned stand-ins for HarmonyOS-only kits (written as .d.ts so they are not themselves linted). */
export const PROJECT_STAND_INS: Readonly<Record<string, string>> = {
  '@kit.IAPKit': path.join(ROOT, 'types', 'kits', '@kit.IAPKit.d.ts'),
  // hvigor generates `BuildProfile` per build (entry/src/main/ets/config/StoreModeGate.ets reads it).
  BuildProfile: path.join(ROOT, 'types', 'build', 'BuildProfile.d.ts'),
};

interface ComponentInfo {
  name: string;
  attribute: string;
}

function componentInfos(): ComponentInfo[] {
  const out: ComponentInfo[] = [];
  const dir = path.join(DECLARATIONS, 'component');
  for (const file of fs.readdirSync(dir)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/^declare const (\w+)Instance: (\w+)/gm)) {
      if (m[1] !== 'Common') out.push({ name: m[1], attribute: m[2] });
    }
  }
  return out;
}

function declarationPaths(): Record<string, string[]> {
  const base = JSON.parse(fs.readFileSync(path.join(DECLARATIONS, 'tsconfig.base.json'), 'utf8')) as {
    compilerOptions: { paths: Record<string, string[]> };
  };
  const paths: Record<string, string[]> = {};
  for (const [key, targets] of Object.entries(base.compilerOptions.paths)) {
    paths[key] = targets.map((t) => path.join(DECLARATIONS, t));
  }
  for (const [key, file] of Object.entries(PROJECT_STAND_INS)) {
    paths[key] = [file];
  }
  return paths;
}

/** Root files that bring the ArkUI globals (components, $r, decorators) into every program. */
export function declarationRootFiles(): string[] {
  const dir = path.join(DECLARATIONS, 'component');
  return [
    ...fs.readdirSync(dir).filter((f) => f.endsWith('.d.ts')).map((f) => path.join(dir, f)),
    path.join(DECLARATIONS, 'global.d.ts'),
  ];
}

// The options object is handed to ohos-typescript, whose types are not published in a form TS 5 reads.
export function etsCompilerOptions(): Record<string, unknown> {
  const components = componentInfos();
  return {
    // Numeric enum values as ts.ScriptTarget.ES2017, ts.ModuleKind.ESNext, ts.ModuleResolutionKind.NodeJs.
    target: 4,
    module: 99,
    moduleResolution: 2,
    lib: ['lib.es2020.d.ts'],
    types: [],
    experimentalDecorators: true,
    emitDecoratorMetadata: false,
    allowJs: false,
    noEmit: true,
    skipLibCheck: true,
    // Non-strict like the real ets-loader; the ArkTS linter program adds the strict checks itself.
    strict: false,
    baseUrl: ROOT,
    paths: declarationPaths(),
    packageManagerType: 'ohpm',
    ets: {
      render: { method: ['build', 'pageTransition'], decorator: ['Builder', 'LocalBuilder'] },
      components: components.map((c) => c.name),
      extend: {
        decorator: ['Extend', 'AnimatableExtend'],
        components: components.map((c) => ({ name: c.name, type: c.attribute, instance: c.name + 'Instance' })),
      },
      styles: {
        decorator: 'Styles',
        component: { name: 'Common', type: 'T', instance: 'CommonInstance' },
        property: 'stateStyles',
      },
      concurrent: { decorator: 'Concurrent' },
      customComponent: 'CustomComponent',
      syntaxComponents: {
        paramsUICallback: ['ForEach', 'LazyForEach'],
        attrUICallback: [{ name: 'Repeat', attributes: ['each', 'template'] }],
      },
      libs: [],
    },
  };
}
