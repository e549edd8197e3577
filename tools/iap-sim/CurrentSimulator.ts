// The simulator that `@kit.IAPKit` (tools/node-kits/IAPKit.ts) talks to in this process. Tests replace it;
// otherwise a default one (demo catalog, shared test PKI) is created on first use. Setting IAP_SIM_STATE_FILE
// makes the default simulator load its state from that JSON file (if present) and save every change to it, so
// separate Node processes can play "the same store".
import * as fs from 'node:fs';
import { IapSimulator, SimulatorOptions } from './IapSimulator';

let current: IapSimulator | undefined;
let creating: Promise<IapSimulator> | undefined;

async function createDefault(): Promise<IapSimulator> {
  const file = process.env.IAP_SIM_STATE_FILE;
  if (file && fs.existsSync(file)) return IapSimulator.load(file, { persistTo: file });
  return IapSimulator.create(file ? { persistTo: file } : {});
}

/** The current simulator, creating the default one on first use. */
export function currentSimulator(): Promise<IapSimulator> {
  if (current) return Promise.resolve(current);
  if (!creating) {
    creating = createDefault().then((sim) => {
      current ??= sim;
      creating = undefined;
      return current;
    });
  }
  return creating;
}

/** The current simulator if one exists (no creation). */
export function peekSimulator(): IapSimulator | undefined {
  return current;
}

/** Makes `sim` the store every later `@kit.IAPKit` call talks to. */
export function installSimulator(sim: IapSimulator): IapSimulator {
  current = sim;
  creating = undefined;
  return sim;
}

/** A fresh simulator (empty store) with these options, installed as the current one. */
export async function resetSimulator(options: SimulatorOptions = {}): Promise<IapSimulator> {
  return installSimulator(await IapSimulator.create(options));
}
