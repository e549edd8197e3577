// The ArkUI compiler's UI-syntax rules (ets-loader's validate_ui_syntax / process_component_build), on the
// ohos-typescript AST of the gate's program. Each diagnostic's rule is the compiler's error code and its message is
// the compiler's message (the codes and texts of the ArkUI "compile error codes" reference, 10905xxx). One rule is
// ours, stricter than the compiler, and says so: `ours-foreach-key`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Diagnostic } from './Diagnostic';
import { MODULE_DIRS, ROOT } from './EtsProject';

/* eslint-disable @typescript-eslint/no-explicit-any */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ts = require('ohos-typescript') as any;

/** Container components (may be the root of an @Entry build()). */
const CONTAINERS = new Set([
  'Column', 'Row', 'Stack', 'Flex', 'List', 'ListItem', 'ListItemGroup', 'Grid', 'GridItem', 'GridRow', 'GridCol',
  'Scroll', 'Navigation', 'NavDestination', 'Tabs', 'TabContent', 'RelativeContainer', 'Refresh', 'Swiper',
  'SideBarContainer', 'WaterFlow', 'FlowItem', 'Badge', 'Counter', 'Panel', 'Stepper', 'StepperItem', 'Navigator',
  'FolderStack', 'ColumnSplit', 'RowSplit', 'GridContainer', 'Button', 'Menu', 'MenuItemGroup', 'NodeContainer',
]);

/** Components that must sit in one of these parents (10905201); if / ForEach / @Builder bodies are transparent. */
const VALID_PARENTS: Record<string, string[]> = {
  ListItem: ['List', 'ListItemGroup'],
  ListItemGroup: ['List'],
  GridItem: ['Grid'],
  GridCol: ['GridRow'],
  Span: ['Text', 'RichEditor', 'ContainerSpan'],
  ImageSpan: ['Text', 'RichEditor', 'ContainerSpan'],
  SymbolSpan: ['Text', 'RichEditor', 'ContainerSpan'],
  ContainerSpan: ['Text'],
  Blank: ['Row', 'Column', 'Flex'],
  TabContent: ['Tabs'],
  FlowItem: ['WaterFlow'],
};

/** Components whose built-in children are restricted (10905219). Custom components and @Builder calls are not judged. */
const VALID_CHILDREN: Record<string, string[]> = {
  List: ['ListItem', 'ListItemGroup'],
  ListItemGroup: ['ListItem'],
  Grid: ['GridItem'],
  GridRow: ['GridCol'],
  Text: ['Span', 'ImageSpan', 'ContainerSpan', 'SymbolSpan'],
  Tabs: ['TabContent'],
  WaterFlow: ['FlowItem'],
};

/** Components that take no children at all (10905222). */
const ATOMIC = new Set(['Image', 'Divider', 'LoadingProgress', 'TextInput', 'TextArea', 'Progress', 'Slider', 'Search', 'Blank']);

const V1_MEMBER = new Set(['State', 'Prop', 'Link', 'ObjectLink', 'Provide', 'Consume', 'StorageLink', 'StorageProp',
  'LocalStorageLink', 'LocalStorageProp', 'Watch']);
const V2_MEMBER = new Set(['Local', 'Param', 'Once', 'Event', 'Provider', 'Consumer', 'Monitor', 'Computed']);
/** Decorators whose property takes its value from the parent only (10905304). */
const NO_LOCAL_INIT = new Set(['Link', 'ObjectLink', 'Consume']);

function decoratorNames(node: any): string[] {
  const decorators = ts.canHaveDecorators?.(node) ? ts.getDecorators(node) : node.decorators;
  const out: string[] = [];
  for (const d of decorators ?? []) {
    const e = ts.isCallExpression(d.expression) ? d.expression.expression : d.expression;
    if (ts.isIdentifier(e)) out.push(e.text);
  }
  return out;
}

interface StructInfo {
  name: string;
  file: string;
  v2: boolean;
  /** @Require properties (V1 and V2) and @Link properties (V1): must be passed at every construction site. */
  required: Map<string, 'Require' | 'Link'>;
  /** @BuilderParam properties: a trailing closure `Child() { … }` initialises the (one) of them. */
  builderParams: Set<string>;
}

/** A UI statement's component: `X(...)`, `X(...) { }`, `this.b()` with its chained attributes peeled off. */
function componentOf(expr: any): { name?: string; call: any; body?: any; args: any[] } | undefined {
  let e = expr;
  while (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && !isThisAccess(e.expression)) {
    e = e.expression.expression;
  }
  if (ts.isEtsComponentExpression?.(e)) {
    return { name: ts.isIdentifier(e.expression) ? e.expression.text : undefined, call: e, body: e.body, args: [...(e.arguments ?? [])] };
  }
  if (ts.isCallExpression(e)) {
    return { name: ts.isIdentifier(e.expression) ? e.expression.text : undefined, call: e, args: [...e.arguments] };
  }
  return undefined;
}

function isThisAccess(e: any): boolean {
  return ts.isPropertyAccessExpression(e) && e.expression.kind === ts.SyntaxKind.ThisKeyword;
}

export function checkUiSyntax(program: any, files: string[]): Diagnostic[] {
  const checker = program.getTypeChecker();
  const wanted = new Set(files.map((f) => path.resolve(f)));
  const out: Diagnostic[] = [];
  const sources = program.getSourceFiles().filter((sf: any) => wanted.has(path.resolve(sf.fileName)));

  const push = (sf: any, node: any, rule: string, message: string): void => {
    const pos = sf.getLineAndCharacterOfPosition(node.getStart(sf));
    out.push({ file: path.resolve(sf.fileName), line: pos.line + 1, column: pos.character + 1, severity: 'error', rule, message });
  };

  // Pass 1: the structs of every project file, so construction sites in other modules can be checked.
  const structs = new Map<any, StructInfo>();
  for (const sf of sources) {
    for (const s of sf.statements) {
      if (!ts.isStructDeclaration?.(s) || !s.name) continue;
      const decos = decoratorNames(s);
      const info: StructInfo = { name: s.name.text, file: sf.fileName, v2: decos.includes('ComponentV2'), required: new Map(), builderParams: new Set() };
      for (const m of s.members) {
        if (!ts.isPropertyDeclaration(m) || !m.name) continue;
        const md = decoratorNames(m);
        if (md.includes('BuilderParam')) info.builderParams.add(m.name.getText(sf));
        if (md.includes('Require')) info.required.set(m.name.getText(sf), 'Require');
        else if (md.includes('Link') && !m.initializer) info.required.set(m.name.getText(sf), 'Link');
      }
      structs.set(s, info);
    }
  }

  const structOfCall = (ident: any): StructInfo | undefined => {
    let symbol = checker.getSymbolAtLocation(ident);
    if (!symbol) return undefined;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    for (const d of symbol.declarations ?? []) {
      const info = structs.get(d);
      if (info) return info;
    }
    return undefined;
  };

  for (const sf of sources) {
    const entries = sf.statements.filter((s: any) => ts.isStructDeclaration?.(s) && decoratorNames(s).includes('Entry'));
    for (const extra of entries.slice(1)) push(sf, extra, '10905231', `A page can't contain more than one '@Entry' decorator.`);

    const visitUi = (block: any, parent: string | undefined, inBuilder: boolean): void => {
      for (const stmt of block.statements) {
        if (ts.isIfStatement(stmt)) {
          for (let s: any = stmt; s; s = s.elseStatement && ts.isIfStatement(s.elseStatement) ? s.elseStatement : undefined) {
            if (ts.isBlock(s.thenStatement)) visitUi(s.thenStatement, parent, inBuilder);
            if (s.elseStatement && ts.isBlock(s.elseStatement)) visitUi(s.elseStatement, parent, inBuilder);
          }
          continue;
        }
        if (ts.isBlock(stmt)) {
          visitUi(stmt, parent, inBuilder);
          continue;
        }
        if (!ts.isExpressionStatement(stmt)) {
          push(sf, stmt, '10905209', 'Only UI component syntax can be written here.');
          continue;
        }
        const comp = componentOf(stmt.expression);
        if (!comp) {
          push(sf, stmt, '10905204', `'${stmt.expression.getText(sf).slice(0, 40)}' does not meet UI component syntax.`);
          continue;
        }
        const name = comp.name;
        if (name === 'ForEach' || name === 'LazyForEach') {
          if (name === 'ForEach' && comp.args.length < 3) {
            push(sf, stmt, 'ours-foreach-key', `ForEach without a key generator (ours, stricter than the compiler): pass (item) => key so items keep their components when the array changes.`);
          }
          const itemGen = comp.args[1];
          if (itemGen && (ts.isArrowFunction(itemGen) || ts.isFunctionExpression(itemGen)) && ts.isBlock(itemGen.body)) {
            visitUi(itemGen.body, parent, inBuilder);
          }
          continue;
        }
        const struct = name && ts.isIdentifier(comp.call.expression) ? structOfCall(comp.call.expression) : undefined;
        if (struct) {
          const init = comp.args[0];
          const given = new Set<string>();
          if (init && ts.isObjectLiteralExpression(init)) {
            for (const p of init.properties) if (p.name) given.add(p.name.getText(sf));
          }
          if (comp.body) for (const b of struct.builderParams) given.add(b);
          for (const [prop, kind] of struct.required) {
            if (given.has(prop)) continue;
            if (kind === 'Link') push(sf, stmt, '10905316', `The property '${prop}' in the custom component '${struct.name}' is missing (mandatory to specify).`);
            else if (struct.v2) push(sf, stmt, '10905359', `Property '${prop}' must be initialized through the component constructor.`);
            else push(sf, stmt, '10905321', `'@Require' decorated '${prop}' must be initialized through the component constructor.`);
          }
          if (comp.body) visitUi(comp.body, undefined, inBuilder);
          continue;
        }
        if (name && !isThisAccess(comp.call.expression)) {
          const allowedParents = VALID_PARENTS[name];
          if (allowedParents && parent !== undefined && !allowedParents.includes(parent)) {
            push(sf, stmt, '10905201', `The '${name}' component can only be nested in the '${allowedParents.join(',')}' parent component.`);
          }
          const allowedChildren = parent !== undefined ? VALID_CHILDREN[parent] : undefined;
          if (allowedChildren && !allowedChildren.includes(name)) {
            push(sf, stmt, '10905219', `The component '${parent}' can only have the child component '${allowedChildren.join(',')}'.`);
          }
          if (comp.body) {
            if (ATOMIC.has(name)) push(sf, stmt, '10905222', `The component '${name}' can't have any child.`);
            visitUi(comp.body, name, inBuilder);
          }
        }
      }
    };

    for (const s of sf.statements) {
      if (ts.isFunctionDeclaration(s) && decoratorNames(s).includes('Builder') && s.body) visitUi(s.body, undefined, true);
      if (!ts.isStructDeclaration?.(s)) continue;
      const decos = decoratorNames(s);
      const v2 = decos.includes('ComponentV2');
      const v1 = decos.includes('Component') || decos.includes('CustomDialog');
      const isEntry = decos.includes('Entry');
      for (const m of s.members) {
        const md = decoratorNames(m);
        for (const d of md) {
          if (v2 && V1_MEMBER.has(d)) push(sf, m, '10905339', `The '@${d}' decorator can only be used in a 'struct' decorated with '@Component'.`);
          if (v1 && V2_MEMBER.has(d)) push(sf, m, '10905338', `The '@${d}' decorator can only be used in a 'struct' decorated with '@ComponentV2'.`);
          if (NO_LOCAL_INIT.has(d) && ts.isPropertyDeclaration(m) && m.initializer) {
            push(sf, m, '10905304', `The '@${d}' property cannot be specified a default value.`);
          }
        }
        if (v2 && ts.isPropertyDeclaration(m) && md.includes('Param') && !m.initializer && !md.includes('Require')) {
          push(sf, m, '10905327', `When a variable decorated with '@Param' is not assigned a default value, it must also be decorated with '@Require'.`);
        }
        if (!ts.isMethodDeclaration(m) || !m.body) continue;
        const methodName = m.name?.getText(sf);
        if (methodName === 'build') {
          const statements = m.body.statements;
          let valid = statements.length === 1;
          if (valid && isEntry && !ts.isIfStatement(statements[0])) {
            const comp = ts.isExpressionStatement(statements[0]) ? componentOf(statements[0].expression) : undefined;
            valid = !!comp?.name && CONTAINERS.has(comp.name);
          }
          if (!valid) {
            push(sf, m.name, '10905210', `In an '@Entry' decorated component, the 'build' method can have only one root node, which must be a container component.`);
          }
          visitUi(m.body, undefined, false);
        } else if (md.includes('Builder') || md.includes('LocalBuilder')) {
          visitUi(m.body, undefined, true);
        }
      }
    }
  }
  return out;
}

/** 10905402: every page of each module's main_pages.json has exactly one @Entry. */
export function checkMainPages(root: string = ROOT): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const dir of MODULE_DIRS) {
    const profile = path.join(root, dir, 'src', 'main', 'resources', 'base', 'profile', 'main_pages.json');
    if (!fs.existsSync(profile)) continue;
    const pages = (JSON.parse(fs.readFileSync(profile, 'utf8')) as { src?: string[] }).src ?? [];
    for (const page of pages) {
      const file = path.join(root, dir, 'src', 'main', 'ets', `${page}.ets`);
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '') : '';
      const count = (text.match(/^\s*@Entry\b/gm) ?? []).length;
      if (count !== 1) {
        out.push({
          file: fs.existsSync(file) ? file : profile,
          line: 1,
          column: 1,
          severity: 'error',
          rule: '10905402',
          message: `A page configured in 'main_pages.json' or 'build-profile.json5' must have one and only one '@Entry' decorator. ('${page}')`,
        });
      }
    }
  }
  return out;
}
