// The README's pictures are held to the code: the ledger's state diagram must show exactly the states declared in
// common/iap DeliveryState.ets and exactly the changes of state DeliveryState.mayReplace allows (the rule every
// ledger write of the engine goes through). Both are read from the .ets itself, bundled with the project's esbuild
// bundler, so a state or a rule added in the code and not in the README (or the reverse) fails here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { ROOT } from '../check/EtsProject';
import { bundleEts } from '../test/EtsBundler';
import { edgeKey, mermaidBlocks, parseStateDiagram, type StateDiagram } from './MermaidStateDiagram';

interface DeliveryStateClass {
  mayReplace(current: string, next: string): boolean;
}

async function loadDeliveryState(): Promise<DeliveryStateClass> {
  const outRoot = path.join(ROOT, '.test-out');
  fs.mkdirSync(outRoot, { recursive: true });
  const dir = fs.mkdtempSync(path.join(outRoot, 'readme-states-'));
  const outfile = path.join(dir, 'states.cjs');
  try {
    await bundleEts({
      entry: 'readme-states-entry.ts',
      outfile,
      stdin: { resolveDir: ROOT, contents: "export { DeliveryState } from './common/iap/src/main/ets/core/DeliveryState.ets';\n" },
    });
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require(outfile) as { DeliveryState: DeliveryStateClass }).DeliveryState;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The states: every static UPPER_CASE string constant of the class (their values are what the ledger's `state`
 * column holds); `name` and the like are the class's own, not states.
 */
function statesOf(cls: DeliveryStateClass): string[] {
  return Object.getOwnPropertyNames(cls)
    .filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name))
    .map((name) => (cls as unknown as Record<string, unknown>)[name])
    .filter((v): v is string => typeof v === 'string');
}

function readmeStateDiagram(): StateDiagram {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = mermaidBlocks(readme).filter((b) => b.trimStart().startsWith('stateDiagram-v2'));
  assert.equal(blocks.length, 1, 'the README has one stateDiagram-v2 block (the ledger states)');
  return parseStateDiagram(blocks[0] as string);
}

describe('README diagrams', () => {
  let code: DeliveryStateClass;
  before(async () => {
    code = await loadDeliveryState();
  });

  it('the state diagram names exactly the states DeliveryState declares', () => {
    const states = statesOf(code);
    assert.ok(states.length >= 7, `DeliveryState declares ${states.join(', ')}`);
    assert.deepEqual([...readmeStateDiagram().states].sort(), [...states].sort());
  });

  it('the state diagram draws exactly the changes of state DeliveryState.mayReplace allows', () => {
    const states = statesOf(code);
    const allowed = new Set<string>();
    for (const a of states) for (const b of states) if (a !== b && code.mayReplace(a, b)) allowed.add(edgeKey(a, b));
    const drawn = readmeStateDiagram().transitions;
    const missing = [...allowed].filter((e) => !drawn.has(e)).sort();
    const extra = [...drawn].filter((e) => !allowed.has(e)).sort();
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] },
      'README stateDiagram vs DeliveryState.mayReplace: "missing" are allowed by the code but not drawn, "extra" drawn but refused');
  });

  it('the README has the recovery flow as a Mermaid diagram, in the order pay, crash, relaunch, sweep, verify, grant, finish', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const flow = mermaidBlocks(readme).find((b) => b.trimStart().startsWith('sequenceDiagram'));
    assert.ok(flow, 'a sequenceDiagram block');
    const steps = [/pays/i, /killed/i, /relaunch/i, /queryPurchases/, /verify/i, /grant .*record/i, /finishPurchase/];
    let at = 0;
    for (const step of steps) {
      const i = flow.slice(at).search(step);
      assert.ok(i >= 0, `${step} after position ${at} of the recovery flow`);
      at += i;
    }
  });
});

describe('the state diagram reader', () => {
  it('expands composites and ignores [*], notes and labels', () => {
    const d = parseStateDiagram([
      'stateDiagram-v2', '    direction LR', '    %% a comment', '    state "open" as open {', '        a', '        b', '    }',
      '    [*] --> open : first', '    open --> c : grant', '    c --> d', '    note right of d : final', '    d --> [*]',
    ].join('\n'));
    assert.deepEqual([...d.states].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual([...d.transitions].sort(), ['a->b', 'a->c', 'b->a', 'b->c', 'c->d']);
  });

  it('refuses a line it does not understand, so a diagram cannot silently drift out of what it checks', () => {
    assert.throws(() => parseStateDiagram('stateDiagram-v2\n  a -> b\n'), /does not know/);
    assert.throws(() => parseStateDiagram('flowchart LR\n  a --> b\n'), /not a stateDiagram-v2/);
  });
});
