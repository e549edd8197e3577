// The demo's readable timeline: one line per step, with the time since the demo started, who acted (the user, an
// app process, the store, the app server) and what happened. Orders appear only by a short id; a purchase token or
// a JWS never reaches a line (Demo.ts checks every line it printed against the tokens the store issued).

/** Who did something. App processes are `app#1`, `app#2`… (one per launch). */
export type Actor = 'demo' | 'user' | 'store' | 'server' | `app#${number}`;

export interface TimelineEntry {
  /** Milliseconds since the timeline started. */
  readonly atMs: number;
  readonly actor: Actor;
  readonly text: string;
}

/** Where the device side (bundled with the engine) writes its steps. */
export interface TimelineSink {
  note(actor: Actor, text: string): void;
  /** A heading between the acts of the story (not an event). */
  heading(title: string): void;
}

/** `#` and the last 6 characters of a purchaseOrderId: enough to tell the demo's orders apart, nothing secret. */
export function shortOrderId(purchaseOrderId: string): string {
  return purchaseOrderId.length === 0 ? '#?' : `#${purchaseOrderId.slice(-6)}`;
}

const ACTOR_WIDTH = 7;

export class Timeline implements TimelineSink {
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly print: (line: string) => void;
  private readonly list: TimelineEntry[] = [];

  constructor(print: (line: string) => void, now: () => number = Date.now) {
    this.now = now;
    this.startedAt = now();
    this.print = print;
  }

  note(actor: Actor, text: string): void {
    const entry: TimelineEntry = { atMs: this.now() - this.startedAt, actor, text };
    this.list.push(entry);
    this.print(Timeline.format(entry));
  }

  heading(title: string): void {
    this.print('');
    this.print(`── ${title} ${'─'.repeat(Math.max(3, 100 - title.length))}`);
  }

  entries(): readonly TimelineEntry[] {
    return this.list;
  }

  static format(entry: TimelineEntry): string {
    const seconds = (entry.atMs / 1000).toFixed(3);
    return `  +${seconds.padStart(7)}s  ${entry.actor.padEnd(ACTOR_WIDTH)}  ${entry.text}`;
  }
}
