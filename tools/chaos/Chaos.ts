// `npm run chaos -- [options]`: kills the app at every step of the delivery pipeline (and injects store, verifier,
// clock, disk and data faults) over random schedules, then checks that no paid order was lost, duplicated,
// finished before its grant was durable, granted when it should not have been, delivered late while the app kept
// running, or left the engine stuck. Exit 0: every counter 0; 1: a violation (or a mutant survived); 2: bad arguments.
import { loadChaos } from './ChaosBundle';
import { remoteServerFactory } from './ChaosServer';
import { MUTANTS, buildMutant, formatMutants, removeMutants, runMutants } from './Mutants';

const USAGE = `usage: npm run chaos -- [--runs N] [--seed S] [--path P] [--no-shrink] [--keep-going] [--remote] [--subscriptions] [--mutants | --mutant NAME] [--help]

Runs N random user sessions (schedules) against the real engine, the IAP Kit simulator and SQLite, with faults
woven in, and checks every paid order at the end of each: first with the app left running after the last fault
(the liveness bound), then after a final relaunch.

  --runs N        schedules to run (positive integer, default 500)
  --seed S        fast-check seed (integer, default: random; printed, so a run can be repeated)
  --path P        replay one reported failure (with its --seed)
  --no-shrink     report the first failing schedule as is, without shrinking it
  --keep-going    run all N schedules even after violations and count them all (per fault: which counters fired)
  --remote        the device verifies through RemoteVerifier against the real reference server (server/src)
  --subscriptions subscriptions in the mix: the Gem Club group, period ends (renewals), cancel, billing retry
  --mutants       run the schedules against each deliberately broken engine; each must be caught
  --mutant NAME   run against one broken engine and show its failure in full (${MUTANTS.map((m) => m.name).join(', ')})
  --help          this text

Last line: chaos: runs N, orders M, lost 0, duplicated 0, premature-finish 0, wrongly-granted 0, late 0, stuck 0
Exit code: 0 when every counter is 0, 1 on any violation (or a surviving mutant), 2 on bad arguments.`;

/** A bad command line: reported in one line, exit code 2. */
class UsageError extends Error {}

interface Args {
  runs: number;
  seed: number;
  path?: string;
  noShrink: boolean;
  keepGoing: boolean;
  mutants: boolean;
  /** Remote-verifier schedules (the real reference server, ChaosServer.ts). */
  remote?: boolean;
  /** Schedules with subscriptions in the mix (subscriptionScheduleArbitrary). */
  subscriptions?: boolean;
  /** Run the schedules against one deliberately broken engine (Mutants.ts) and show its failure. */
  mutant?: string;
  help: boolean;
}

function integer(flag: string, text: string, min: number): number {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be ${min === 1 ? 'a positive integer' : 'an integer'}, got '${text}'`);
  }
  return n;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 500, seed: Math.floor(Math.random() * 0x7fffffff), noShrink: false, keepGoing: false, mutants: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--runs':
        args.runs = integer('--runs', value(), 1);
        break;
      case '--seed':
        args.seed = integer('--seed', value(), Number.MIN_SAFE_INTEGER);
        break;
      case '--path':
        args.path = value();
        break;
      case '--no-shrink':
        args.noShrink = true;
        break;
      case '--keep-going':
        args.keepGoing = true;
        break;
      case '--mutants':
        args.mutants = true;
        break;
      case '--subscriptions':
        args.subscriptions = true;
        break;
      case '--remote':
        args.remote = true;
        break;
      case '--mutant': {
        const name = value();
        if (!MUTANTS.some((m) => m.name === name)) {
          throw new UsageError(`unknown mutant '${name}' (one of: ${MUTANTS.map((m) => m.name).join(', ')})`);
        }
        args.mutant = name;
        break;
      }
      case '--help':
      case '-h':
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown argument '${flag}' (see npm run chaos -- --help)`);
    }
  }
  if (args.mutants && args.mutant !== undefined) throw new UsageError('--mutants and --mutant exclude each other');
  return args;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`chaos: ${e.message}`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.mutants) {
    const results = await runMutants(args.runs, args.seed);
    console.log(formatMutants(results));
    process.exitCode = results.every((r) => r.caught) ? 0 : 1;
    return;
  }
  const mutant = args.mutant === undefined ? undefined : MUTANTS.find((m) => m.name === args.mutant);
  const serverMutant = mutant?.target === 'server';
  const chaos = await loadChaos(mutant && !serverMutant ? buildMutant(mutant) : undefined);
  // A server mutant is the real engine against a broken copy of server/src, imported at the first schedule.
  const remote = serverMutant ? remoteServerFactory(buildMutant(mutant)) : args.remote ? remoteServerFactory() : undefined;
  if (!serverMutant) removeMutants();
  const step = Math.max(1, Math.floor(args.runs / 10));
  const summary = await chaos.runChaos({
    runs: args.runs,
    seed: args.seed,
    path: args.path,
    noShrink: args.noShrink,
    keepGoing: args.keepGoing,
    remote,
    subscriptions: args.subscriptions === true || mutant?.subscriptions === true,
    onProgress: (done, orders, counters) => {
      if (done % step !== 0) return;
      const figures = Object.entries(counters).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stderr.write(`  ${done}/${args.runs} schedules, orders ${orders}, ${figures}\n`);
    },
  });
  removeMutants();
  const flags = [args.remote ? '--remote' : '', args.subscriptions ? '--subscriptions' : ''].filter((f) => f.length > 0).join(' ');
  console.log(chaos.formatSummary(summary, args.seed, mutant ? `--mutant ${mutant.name}` : flags));
  process.exitCode = summary.failure || chaos.violationCount(summary) > 0 ? 1 : 0;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : String(e));
    process.exitCode = 1;
  });
}
