// Node implementation of `hilog` from @kit.PerformanceAnalysisKit: formats %{public}/%{private} like the device
// does (private arguments are shown as <private>, as in a release build's log) and writes to the console.
type Arg = string | number | boolean | null | undefined | object;

export enum LogLevel {
  DEBUG = 3,
  INFO = 4,
  WARN = 5,
  ERROR = 6,
  FATAL = 7,
}

let minLevel: LogLevel = Number(process.env.HILOG_LEVEL ?? LogLevel.WARN) as LogLevel;
const captured: string[] = [];
let capture = false;

/** Formats like hilog: `%{public}s` prints the value, `%{private}s` and bare `%s` print `<private>`. */
export function formatHilog(format: string, args: Arg[]): string {
  let i = 0;
  return format.replace(/%(\{(public|private)\})?([sdifoOx%])/g, (_m, _p, visibility: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const value = args[i++];
    if (visibility !== 'public') return '<private>';
    return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  });
}

function write(level: LogLevel, label: string, domain: number, tag: string, format: string, args: Arg[]): void {
  const line = `${label} ${domain.toString(16).toUpperCase()}/${tag}: ${formatHilog(format, args)}`;
  if (capture) captured.push(line);
  if (level >= minLevel) {
    (level >= LogLevel.ERROR ? console.error : console.log)(line);
  }
}

export const hilog = {
  LogLevel,
  debug: (d: number, t: string, f: string, ...a: Arg[]): void => write(LogLevel.DEBUG, 'D', d, t, f, a),
  info: (d: number, t: string, f: string, ...a: Arg[]): void => write(LogLevel.INFO, 'I', d, t, f, a),
  warn: (d: number, t: string, f: string, ...a: Arg[]): void => write(LogLevel.WARN, 'W', d, t, f, a),
  error: (d: number, t: string, f: string, ...a: Arg[]): void => write(LogLevel.ERROR, 'E', d, t, f, a),
  fatal: (d: number, t: string, f: string, ...a: Arg[]): void => write(LogLevel.FATAL, 'F', d, t, f, a),
  isLoggable: (_d: number, _t: string, level: LogLevel): boolean => level >= minLevel,
};

/** Test hook (Node only): everything logged from now on, formatted as on a device, to assert on. */
export const hilogCapture = {
  start(): void {
    captured.length = 0;
    capture = true;
  },
  stop(): string[] {
    capture = false;
    return captured.splice(0);
  },
  setMinLevel(level: LogLevel): void {
    minLevel = level;
  },
};
