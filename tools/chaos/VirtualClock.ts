// Virtual time for a chaos schedule: the simulator and every engine instance read the same clock, and timers
// (the engine's launch sweep and automatic retries) fire only when the harness lets time pass. Minutes of
// backoff cost nothing, and a schedule replays identically from its seed.
// Two clocks, as on a device: the monotonic one (time since boot, never set back) that timers and throttles
// should use, and the device's wall clock, which the user or the network can set forward or back at any moment
// (`jumpWall`), independently of the store's clock (`now()`, which the simulator reads).
import type { Clock } from '@zerolost/iap';

interface Timer {
  id: number;
  at: number;
  order: number;
  callback: () => void;
  owner: object;
}

export class VirtualClock {
  private time: number;
  private nextId = 1;
  private order = 0;
  private readonly timers = new Map<number, Timer>();
  private readonly start: number;
  /** Device wall clock minus true time (0 until a jump). */
  private wallOffset = 0;

  constructor(start: number) {
    this.time = start;
    this.start = start;
  }

  /** True time: the store's clock. */
  now(): number {
    return this.time;
  }

  /** The device's wall clock (what Date.now() returns on the device). */
  deviceNow(): number {
    return this.time + this.wallOffset;
  }

  /** Time since this world started; never goes back. */
  monotonicMs(): number {
    return this.time - this.start;
  }

  /** The device wall clock is set forward (ms > 0) or back; timers and the store's clock are unaffected. */
  jumpWall(ms: number): void {
    this.wallOffset += ms;
  }

  /** A Clock port whose timers belong to `owner`: dropTimersOf(owner) cancels them all (process death). */
  portFor(owner: { readonly dead: boolean }): Clock & { monotonicMs(): number } {
    return {
      now: (): number => this.deviceNow(),
      monotonicMs: (): number => this.monotonicMs(),
      setTimer: (callback: () => void, delayMs: number): number => {
        if (owner.dead) return -1;
        const id = this.nextId++;
        this.timers.set(id, { id, at: this.time + Math.max(0, delayMs), order: this.order++, callback, owner });
        return id;
      },
      clearTimer: (timerId: number): void => {
        this.timers.delete(timerId);
      },
    };
  }

  dropTimersOf(owner: object): void {
    for (const [id, t] of this.timers) if (t.owner === owner) this.timers.delete(id);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the earliest timer is due, or undefined when none is set. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const t of this.timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min;
  }

  /** Runs the earliest timer that is due now (at most one, so the caller can settle in between); false if none. */
  runOneDue(): boolean {
    let first: Timer | undefined;
    for (const t of this.timers.values()) {
      if (t.at <= this.time && (first === undefined || t.at < first.at || (t.at === first.at && t.order < first.order))) first = t;
    }
    if (!first) return false;
    this.timers.delete(first.id);
    first.callback();
    return true;
  }

  /** Moves time forward (never back). */
  advanceTo(time: number): void {
    if (time > this.time) this.time = time;
  }
}
