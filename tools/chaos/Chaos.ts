// `npm run chaos -- --runs N --seed S [--path P] [--no-shrink] [--mutants | --mutant NAME]`: kills the app at every step of the delivery
// pipeline (and injects store, verifier and data faults) over random schedules, then checks that no paid order
// was lost, duplicated, finished before its grant was durable, or granted when it should not have been.
// Prints a per-fault table and, last, `chaos: runs N, orders M, lost 0, duplicated 0, premature-finish 0,
// wrongly-granted 0`; on a violation exits 1 with the seed, the fast-check path and the failing schedule's trace.
import { loadChaos } from './ChaosBundle';
import { MUTANTS, buildMutant, formatMutants, removeMutants, runMutants } from './Mutants';

interface Args {
  runs: number;
  seed: number;
  path?: string;
  noShrink: boolean;
  mutants: boolean;
  /** Run the schedules against one deliberately broken engine (Mutants.ts) and show its failure. */
  mutant?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 500, seed: Math.floor(Math.random() * 0x7fffffff), noShrink: false, mutants: false };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--runs':
        args.runs = Number(value());
        break;
      case '--seed':
        args.seed = Number(value());
        break;
      case '--path':
        args.path = value();
        break;
      case '--no-shrink':
        args.noShrink = true;
        break;
      case '--mutants':
        args.mutants = true;
        break;
      case '--mutant':
        args.mutant = value();
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (use --runs N --seed S [--path P] [--no-shrink] [--mutants | --mutant NAME])`);
    }
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
  if (!Number.isInteger(args.seed)) throw new Error('--seed must be an integer');
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.mutants) {
    const results = await runMutants(args.runs, args.seed);
    console.log(formatMutants(results));
    process.exitCode = results.every((r) => r.caught) ? 0 : 1;
    return;
  }
  const mutant = args.mutant === undefined ? undefined : MUTANTS.find((m) => m.name === args.mutant);
  if (args.mutant !== undefined && !mutant) throw new Error(`unknown mutant ${args.mutant} (${MUTANTS.map((m) => m.name).join(', ')})`);
  const chaos = await loadChaos(mutant ? buildMutant(mutant) : undefined);
  removeMutants();
  const step = Math.max(1, Math.floor(args.runs / 10));
  const summary = await chaos.runChaos({
    runs: args.runs,
    seed: args.seed,
    path: args.path,
    noShrink: args.noShrink,
    onProgress: (done) => {
      if (done % step === 0) process.stderr.write(`  ${done}/${args.runs} schedules\n`);
    },
  });
  console.log(chaos.formatSummary(summary, args.seed, mutant ? `--mutant ${mutant.name}` : ''));
  const c = summary.counters;
  process.exitCode = summary.failure || c.lost + c.duplicated + c['premature-finish'] + c['wrongly-granted'] + c.stuck > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 2;
});
