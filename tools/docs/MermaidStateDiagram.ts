// Reads the states and transitions of a Mermaid `stateDiagram-v2` block, so a test can hold a README diagram to
// the code. The subset read: `a --> b [: label]`, `state "label" as id {` … `}` (a composite), bare ids inside a
// composite, `id : description`, `direction`, `%%` comments, notes. `[*]` (start / end) is not a state.
//
// Composites follow one convention, said in the README next to the diagram: the states inside a composite may
// replace one another freely, and an edge from or to the composite stands for an edge from or to each of them.
export interface StateDiagram {
  states: Set<string>;
  /** `from->to`, composites expanded, `[*]` edges left out. */
  transitions: Set<string>;
}

export const edgeKey = (from: string, to: string): string => `${from}->${to}`;

/** The body of every ```mermaid fenced block of a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

export function parseStateDiagram(source: string): StateDiagram {
  const lines = source.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('%%'));
  if (lines[0] !== 'stateDiagram-v2') throw new Error(`not a stateDiagram-v2 block: ${lines[0]}`);
  const composites = new Map<string, string[]>();
  const plain = new Set<string>();
  const edges: Array<[string, string]> = [];
  const stack: string[] = [];
  let inNote = false;
  const declare = (id: string): void => {
    if (id === '[*]' || composites.has(id)) return;
    plain.add(id);
    const parent = stack[stack.length - 1];
    if (parent !== undefined && !(composites.get(parent) as string[]).includes(id)) (composites.get(parent) as string[]).push(id);
  };
  for (const line of lines.slice(1)) {
    if (inNote) {
      if (line === 'end note') inNote = false;
      continue;
    }
    if (line.startsWith('note ')) {
      if (!line.includes(':')) inNote = true;
      continue;
    }
    if (line.startsWith('direction ')) continue;
    let m = /^state\s+(?:"[^"]*"\s+as\s+)?([\w-]+)\s*\{$/.exec(line);
    if (m) {
      composites.set(m[1] as string, []);
      plain.delete(m[1] as string);
      stack.push(m[1] as string);
      continue;
    }
    if (line === '}') {
      if (stack.pop() === undefined) throw new Error('unbalanced } in the state diagram');
      continue;
    }
    m = /^(\[\*\]|[\w-]+)\s*-->\s*(\[\*\]|[\w-]+)\s*(?::.*)?$/.exec(line);
    if (m) {
      for (const id of [m[1] as string, m[2] as string]) if (!composites.has(id)) declare(id);
      edges.push([m[1] as string, m[2] as string]);
      continue;
    }
    m = /^state\s+"[^"]*"\s+as\s+([\w-]+)$/.exec(line) ?? /^([\w-]+)\s*(?::.*)?$/.exec(line);
    if (m) {
      declare(m[1] as string);
      continue;
    }
    throw new Error(`a state diagram line this reader does not know: ${line}`);
  }
  if (stack.length > 0) throw new Error('unclosed composite state in the state diagram');
  const expand = (id: string): string[] => composites.get(id) ?? [id];
  const transitions = new Set<string>();
  for (const [from, to] of edges) {
    if (from === '[*]' || to === '[*]') continue;
    for (const a of expand(from)) for (const b of expand(to)) if (a !== b) transitions.add(edgeKey(a, b));
  }
  for (const members of composites.values()) {
    for (const a of members) for (const b of members) if (a !== b) transitions.add(edgeKey(a, b));
  }
  return { states: plain, transitions };
}
