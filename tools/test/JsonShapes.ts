// Finds the property names that cross a JSON boundary in a module's ArkTS code, so the obfuscation keep lists can
// be checked against them. ArkGuard's property obfuscation renames properties, but JSON text keeps the original
// names: a field read from `JSON.parse` (purchaseData, the JWS payload and header, server answers) or written with
// `JSON.stringify` (the request body, the ledger's stored payload) must be listed under `-keep-property-name`.
//
// A JSON shape is the type T of `<json> as T`, where <json> is a call to JSON.parse or to a `jsonObject(...)`
// helper, or a variable initialised from one; and the class C of `JSON.stringify(new C(...))`, or the declared type
// of a variable passed to JSON.stringify. Members of project interfaces/classes used as member types are included.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { ROOT, walk } from '../check/EtsProject';

const UI_FILE = /^\s*(?:export\s+)?struct\s+\w+|^@Builder\s/m;

interface Declarations {
  /** type name → member names and the type names its members refer to */
  members: Map<string, { names: string[]; refs: string[] }>;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2020, true, ts.ScriptKind.TS);
}

function typeNames(node: ts.TypeNode | undefined, out: string[] = []): string[] {
  if (!node) return out;
  if (ts.isTypeReferenceNode(node)) out.push(node.typeName.getText());
  else if (ts.isUnionTypeNode(node)) node.types.forEach((t) => typeNames(t, out));
  else if (ts.isArrayTypeNode(node)) typeNames(node.elementType, out);
  else if (ts.isParenthesizedTypeNode(node)) typeNames(node.type, out);
  return out;
}

/** Interfaces and classes of the given files, with their property names. */
function declarations(files: string[]): Declarations {
  const members = new Map<string, { names: string[]; refs: string[] }>();
  for (const file of files) {
    const visit = (node: ts.Node): void => {
      if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name) {
        const names: string[] = [];
        const refs: string[] = [];
        for (const m of node.members) {
          if ((ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) && m.name && ts.isIdentifier(m.name)) {
            if (ts.isPropertyDeclaration(m) && m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)) continue;
            names.push(m.name.text);
            typeNames(m.type, refs);
          }
        }
        members.set(node.name.text, { names, refs });
      }
      ts.forEachChild(node, visit);
    };
    visit(parse(file));
  }
  return { members };
}

function isJsonCall(node: ts.Expression): boolean {
  let e: ts.Expression = node;
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e)) e = e.expression;
  if (!ts.isCallExpression(e)) return false;
  const callee = e.expression.getText();
  return callee === 'JSON.parse' || callee.endsWith('.jsonObject') || callee === 'jsonObject';
}

/** Type names that are JSON shapes in `file`. */
function shapesIn(file: string): string[] {
  const sf = parse(file);
  const fromJson = new Set<string>();
  const declaredTypes = new Map<string, string[]>();
  const collectVars = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
      if (node.initializer && isJsonCall(node.initializer)) fromJson.add(node.name.text);
      if (node.type) declaredTypes.set(node.name.text, typeNames(node.type));
      else if (node.initializer && ts.isAsExpression(node.initializer)) declaredTypes.set(node.name.text, typeNames(node.initializer.type));
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(node.left) && isJsonCall(node.right)) {
      fromJson.add(node.left.text);
    }
    ts.forEachChild(node, collectVars);
  };
  collectVars(sf);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isAsExpression(node)) {
      const inner = node.expression;
      if (isJsonCall(inner) || (ts.isIdentifier(inner) && fromJson.has(inner.text))) typeNames(node.type, out);
    }
    if (ts.isCallExpression(node) && node.expression.getText() === 'JSON.stringify' && node.arguments.length > 0) {
      const arg = node.arguments[0];
      if (ts.isNewExpression(arg)) out.push(arg.expression.getText());
      else if (ts.isIdentifier(arg)) out.push(...(declaredTypes.get(arg.text) ?? []));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every module's code files (src/main/ets), without UI files. */
function codeFiles(moduleDir: string): string[] {
  return walk(path.join(ROOT, moduleDir, 'src', 'main', 'ets'), (f) => f.endsWith('.ets'))
    .filter((f) => !UI_FILE.test(fs.readFileSync(f, 'utf8')));
}

/** The property names that cross a JSON boundary in `moduleDir`'s code, sorted. */
export function jsonPropertyNames(moduleDir: string, allModules: readonly string[]): string[] {
  const decls = declarations(allModules.flatMap(codeFiles));
  const names = new Set<string>();
  const seen = new Set<string>();
  const add = (type: string): void => {
    const d = decls.members.get(type);
    if (!d || seen.has(type)) return;
    seen.add(type);
    d.names.forEach((n) => names.add(n));
    d.refs.forEach(add);
  };
  for (const file of codeFiles(moduleDir)) shapesIn(file).forEach(add);
  return [...names].sort();
}

/** The names listed after `-keep-property-name` in an ArkGuard rules file (until the next option). */
export function keptPropertyNames(rulesFile: string): string[] {
  const out: string[] = [];
  let inKeep = false;
  for (const raw of fs.readFileSync(rulesFile, 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line.length === 0) continue;
    if (line.startsWith('-')) {
      inKeep = line === '-keep-property-name';
      continue;
    }
    if (inKeep) out.push(line);
  }
  return out;
}
