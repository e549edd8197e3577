// API levels: every kit symbol a module uses (function, enum member, interface field, also a field set through an
// object literal typed by a kit interface) must exist at the app's compatibleSdkVersion, unless the use sits behind
// a runtime level check. The level of a declaration is the earliest `@since` of its doc comments (HarmonyOS keeps
// one comment per change, "multi-segment comments"; the first one is the introduction). `@since` is a number for
// OpenHarmony APIs (`@since 10`) or Huawei's `M.F.S(N)` for HarmonyOS kits (`@since 5.0.2(14)`).
//
// Recognised guards (the forms of Huawei's "ArkTS API compatibility protection" guide):
//   if (deviceInfo.sdkApiVersion >= N) { use }                 also `> N-1`, `N <= deviceInfo.sdkApiVersion`
//   if (deviceInfo.distributionOSApiVersion >= M*10000+F*100+S) { use }   for `since M.F.S(N)` APIs
//   if (deviceInfo.sdkApiVersion < N) { return | throw } ... use        (early exit; also the else branch of `<`)
//   cond ? use : other, cond && use                                      with the same conditions
//   if (<the used expression> !== undefined) { use }                     the null check of the guide
// Not recognised: canIUse('SystemCapability.…') (a syscap says nothing about the level: NONRENEWABLE and
// PurchaseParameter.quantity have the same SystemCapability.Payment.IAP as the API 12 functions), try/catch (a missing
// enum member is `undefined`, a missing field is ignored: nothing throws), and levels in variables.
import * as path from 'node:path';
import { Diagnostic } from './Diagnostic';
import { DECLARATIONS, PROJECT_STAND_INS } from './EtsCompilerOptions';
import { ROOT, readJson5 } from './EtsProject';

/* eslint-disable @typescript-eslint/no-explicit-any */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ts = require('ohos-typescript') as any;

/** A level: the API number, and for HarmonyOS `M.F.S(N)` the distributionOSApiVersion value M*10000+F*100+S. */
export interface ApiLevel {
  api: number;
  os?: number;
  text: string;
}

/** `12`, `'12'`, `'5.0.0(12)'`, `'26.0.0'` → level. */
export function parseLevel(value: string | number): ApiLevel | undefined {
  const text = String(value).trim();
  let m = /^(\d+)\.(\d+)\.(\d+)\((\d+)\)$/.exec(text);
  if (m) return { api: Number(m[4]), os: Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]), text };
  m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (m) return { api: Number(m[1]), os: Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]), text };
  m = /^(\d+)$/.exec(text);
  if (m) return { api: Number(m[1]), text };
  return undefined;
}

/** The lowest compatibleSdkVersion of the products in build-profile.json5. */
export function compatibleSdkLevel(root: string = ROOT): ApiLevel {
  const profile = readJson5(path.join(root, 'build-profile.json5')) as {
    app: { products: Array<{ compatibleSdkVersion?: string | number }> };
  };
  let lowest: ApiLevel | undefined;
  for (const p of profile.app.products) {
    const level = p.compatibleSdkVersion === undefined ? undefined : parseLevel(p.compatibleSdkVersion);
    if (level && (!lowest || level.api < lowest.api)) lowest = level;
  }
  if (!lowest) throw new Error('build-profile.json5 declares no compatibleSdkVersion');
  return lowest;
}

const SINCE = /@since\s+(\d+(?:\.\d+\.\d+(?:\(\d+\))?)?)/g;

/** Earliest `@since` in the doc comments directly in front of a declaration. */
function sinceOf(decl: any, cache: Map<any, ApiLevel | null>): ApiLevel | undefined {
  if (cache.has(decl)) return cache.get(decl) ?? undefined;
  const sf = decl.getSourceFile();
  const text: string = sf.text;
  let earliest: ApiLevel | undefined;
  const ranges = ts.getLeadingCommentRanges(text, decl.pos) ?? [];
  for (const r of ranges) {
    for (const m of text.slice(r.pos, r.end).matchAll(SINCE)) {
      const level = parseLevel(m[1]);
      if (level && (!earliest || level.api < earliest.api)) earliest = level;
    }
  }
  cache.set(decl, earliest ?? null);
  return earliest;
}

function isKitDeclarationFile(fileName: string): boolean {
  const file = path.resolve(fileName);
  return file.startsWith(DECLARATIONS) || file === path.resolve(PROJECT_STAND_INS['@kit.IAPKit']);
}

const SDK_API = /(^|\.)deviceInfo\.sdkApiVersion$/;
const OS_API = /(^|\.)deviceInfo\.distributionOSApiVersion$/;

interface VersionTest {
  /** The condition is true exactly when the device is at least `api` / `os`. */
  api?: number;
  os?: number;
}

function numericLiteral(e: any): number | undefined {
  return e && ts.isNumericLiteral(e) ? Number(e.text) : undefined;
}

/** `deviceInfo.X >= n` (and its spellings) → the minimum it proves; `negated` for the `<` forms. */
function versionTest(cond: any): { test: VersionTest; negated: boolean } | undefined {
  if (!cond || !ts.isBinaryExpression(cond)) return undefined;
  const op = cond.operatorToken.kind;
  const K = ts.SyntaxKind;
  let subject = cond.left;
  let value = numericLiteral(cond.right);
  let kind = op;
  if (value === undefined) {
    subject = cond.right;
    value = numericLiteral(cond.left);
    // n <= v  ≡  v >= n, etc.
    const flip: Record<number, number> = {
      [K.LessThanEqualsToken]: K.GreaterThanEqualsToken,
      [K.LessThanToken]: K.GreaterThanToken,
      [K.GreaterThanEqualsToken]: K.LessThanEqualsToken,
      [K.GreaterThanToken]: K.LessThanToken,
    };
    kind = flip[op];
  }
  if (value === undefined || kind === undefined) return undefined;
  const subjectText: string = subject.getText();
  const which: 'api' | 'os' | undefined = SDK_API.test(subjectText) ? 'api' : OS_API.test(subjectText) ? 'os' : undefined;
  if (!which) return undefined;
  if (kind === K.GreaterThanEqualsToken) return { test: { [which]: value }, negated: false };
  if (kind === K.GreaterThanToken) return { test: { [which]: value + 1 }, negated: false };
  if (kind === K.LessThanToken) return { test: { [which]: value }, negated: true };
  if (kind === K.LessThanEqualsToken) return { test: { [which]: value + 1 }, negated: true };
  return undefined;
}

function satisfies(test: VersionTest, need: ApiLevel): boolean {
  if (test.api !== undefined && test.api >= need.api) return true;
  if (test.os !== undefined && need.os !== undefined && test.os >= need.os) return true;
  return false;
}

/** The conjuncts of `a && b && c`. */
function conjuncts(e: any, out: any[] = []): any[] {
  while (e && ts.isParenthesizedExpression(e)) e = e.expression;
  if (e && ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) {
    conjuncts(e.left, out);
    conjuncts(e.right, out);
  } else if (e) {
    out.push(e);
  }
  return out;
}

/** The disjuncts of `a || b` (for the negated early-exit form). */
function disjuncts(e: any, out: any[] = []): any[] {
  while (e && ts.isParenthesizedExpression(e)) e = e.expression;
  if (e && ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.BarBarToken) {
    disjuncts(e.left, out);
    disjuncts(e.right, out);
  } else if (e) {
    out.push(e);
  }
  return out;
}

/** True when `cond` being true proves the level (or that the used expression exists). */
function provesWhenTrue(cond: any, need: ApiLevel, usedText: string): boolean {
  for (const c of conjuncts(cond)) {
    const v = versionTest(c);
    if (v && !v.negated && satisfies(v.test, need)) return true;
    if (ts.isBinaryExpression(c) && [ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken].includes(c.operatorToken.kind)) {
      const other = c.right.kind === ts.SyntaxKind.UndefinedKeyword || c.right.getText() === 'undefined' || c.right.kind === ts.SyntaxKind.NullKeyword ? c.left : undefined;
      if (other && other.getText() === usedText) return true;
    }
  }
  return false;
}

/** True when `cond` being false proves the level (`if (v < N) return;`). */
function provesWhenFalse(cond: any, need: ApiLevel): boolean {
  for (const d of disjuncts(cond)) {
    const v = versionTest(d);
    if (v && v.negated && satisfies(v.test, need)) return true;
  }
  return false;
}

function exitsAlways(stmt: any): boolean {
  if (!stmt) return false;
  if (ts.isReturnStatement(stmt) || ts.isThrowStatement(stmt)) return true;
  if (ts.isBlock(stmt)) return stmt.statements.length > 0 && exitsAlways(stmt.statements[stmt.statements.length - 1]);
  return false;
}

function contains(outer: any, inner: any): boolean {
  return !!outer && inner.pos >= outer.pos && inner.end <= outer.end;
}

/** Is `node` behind a recognised runtime check for `need`? */
function isGuarded(node: any, need: ApiLevel, usedText: string): boolean {
  let child = node;
  let parent = node.parent;
  while (parent) {
    // The null check's own operand: `if (iap.ProductType.NONRENEWABLE !== undefined)`.
    if (ts.isBinaryExpression(parent) && parent.left === child && child.getText() === usedText &&
      [ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken].includes(parent.operatorToken.kind) &&
      ['undefined', 'null'].includes(parent.right.getText())) {
      return true;
    }
    if (ts.isIfStatement(parent)) {
      if (contains(parent.thenStatement, child) && provesWhenTrue(parent.expression, need, usedText)) return true;
      if (contains(parent.elseStatement, child) && provesWhenFalse(parent.expression, need)) return true;
    } else if (ts.isConditionalExpression(parent)) {
      if (contains(parent.whenTrue, child) && provesWhenTrue(parent.condition, need, usedText)) return true;
      if (contains(parent.whenFalse, child) && provesWhenFalse(parent.condition, need)) return true;
    } else if (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) {
      if (contains(parent.right, child) && provesWhenTrue(parent.left, need, usedText)) return true;
    } else if (ts.isBlock(parent) || ts.isSourceFile(parent)) {
      // An earlier `if (level < N) { return; }` in the same block guards what follows it.
      for (const stmt of parent.statements) {
        if (stmt.pos >= child.pos) break;
        if (ts.isIfStatement(stmt) && !stmt.elseStatement && exitsAlways(stmt.thenStatement) && provesWhenFalse(stmt.expression, need)) {
          return true;
        }
      }
    }
    if (ts.isFunctionLike(parent) && !ts.isArrowFunction(parent) && !ts.isFunctionExpression(parent)) break;
    child = parent;
    parent = parent.parent;
  }
  return false;
}

function guardHint(need: ApiLevel): string {
  const forms = [`deviceInfo.sdkApiVersion >= ${need.api}`];
  if (need.os !== undefined) forms.unshift(`deviceInfo.distributionOSApiVersion >= ${need.os}`);
  return forms.map((f) => `'if (${f})'`).join(' or ');
}

/** API-level diagnostics for the project files of a program (the gate's type-checked program). */
export function checkApiLevels(program: any, files: string[], compatible: ApiLevel = compatibleSdkLevel()): Diagnostic[] {
  const checker = program.getTypeChecker();
  // src/test suites run in Node against tools/node-kits, never on a device: they may compare with every kit member.
  const wanted = new Set(files.map((f) => path.resolve(f)).filter((f) => !/[\\/]src[\\/]test[\\/]/.test(f)));
  const cache = new Map<any, ApiLevel | null>();
  const out: Diagnostic[] = [];

  const levelOfSymbol = (symbol: any, preferred?: any): { level: ApiLevel; decl: any } | undefined => {
    if (!symbol) return undefined;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    const decls: any[] = preferred ? [preferred] : symbol.declarations ?? [];
    let best: { level: ApiLevel; decl: any } | undefined;
    for (const d of decls) {
      if (!isKitDeclarationFile(d.getSourceFile().fileName)) continue;
      const level = sinceOf(d, cache);
      // Overloads and merged declarations: the earliest one that exists is what an old device has.
      if (level && (!best || level.api < best.level.api)) best = { level, decl: d };
    }
    return best;
  };

  const report = (sf: any, node: any, name: string, level: ApiLevel, usedText: string): void => {
    if (level.api <= compatible.api) return;
    if (isGuarded(node, level, usedText)) return;
    const pos = sf.getLineAndCharacterOfPosition(node.getStart());
    out.push({
      file: path.resolve(sf.fileName),
      line: pos.line + 1,
      column: pos.character + 1,
      severity: 'error',
      rule: 'api-level',
      message:
        `'${name}' is available since ${level.text}, above compatibleSdkVersion ${compatible.text}: on an older device ` +
        `it is undefined or ignored. Use it only behind ${guardHint(level)}.`,
    });
  };

  for (const sf of program.getSourceFiles()) {
    if (!wanted.has(path.resolve(sf.fileName))) continue;
    const visit = (node: any): void => {
      if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) return;
      if (ts.isPropertyAccessExpression(node) || ts.isQualifiedName(node)) {
        const nameNode = node.name ?? node.right;
        const symbol = checker.getSymbolAtLocation(nameNode);
        let preferred: any;
        if (ts.isCallExpression(node.parent) && node.parent.expression === node) {
          preferred = checker.getResolvedSignature(node.parent)?.declaration;
          if (preferred && !isKitDeclarationFile(preferred.getSourceFile().fileName)) preferred = undefined;
        }
        const hit = levelOfSymbol(symbol, preferred) ?? (preferred ? levelOfSymbol(symbol) : undefined);
        if (hit) report(sf, nameNode, node.getText().replace(/\s+/g, ''), hit.level, node.getText());
      } else if (ts.isIdentifier(node) && node.parent && !ts.isPropertyAccessExpression(node.parent) && !ts.isQualifiedName(node.parent) &&
        (ts.isCallExpression(node.parent) || ts.isExpressionStatement(node.parent) || ts.isBinaryExpression(node.parent))) {
        // A bare imported kit function or value, e.g. `canIUse(...)` or a named import of a kit function.
        const hit = levelOfSymbol(checker.getSymbolAtLocation(node));
        if (hit) report(sf, node, node.getText(), hit.level, node.getText());
      } else if (ts.isObjectLiteralExpression(node)) {
        // `{ quantity: 2 }` where a kit interface is expected: the field is a use of the interface member.
        const type = checker.getContextualType(node);
        if (type) {
          for (const prop of node.properties) {
            if (!prop.name || !(ts.isPropertyAssignment(prop) || ts.isShorthandPropertyAssignment(prop))) continue;
            const name = prop.name.getText();
            const member = type.getProperty?.(name) ?? checker.getPropertyOfType(checker.getApparentType(type), name);
            const hit = levelOfSymbol(member);
            if (hit) {
              const owner = hit.decl.parent?.name?.getText?.() ?? 'kit interface';
              report(sf, prop.name, `${owner}.${name}`, hit.level, name);
            }
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}
