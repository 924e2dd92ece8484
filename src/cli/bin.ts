import { isVirtbenchError } from '../errors.js';
import { runCli } from './main.js';

/** Failures that are the user's to fix (usage, input files, the file system): a reason, not a stack. */
function isUsersToFix(error: unknown): boolean {
  if (isVirtbenchError(error)) return true;
  const { code, syscall } = (error ?? {}) as { code?: unknown; syscall?: unknown };
  // parseArgs' errors, and a system call that failed (EACCES, ENOSPC, EISDIR...) on a path the user gave.
  return (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) || typeof syscall === 'string';
}

// `virtbench baseline list | head` closes the pipe early: that is no error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await runCli(process.argv.slice(2), { log: (line) => console.log(line), env: process.env });
} catch (error) {
  if (isUsersToFix(error)) {
    console.error(`virtbench: ${(error as Error).message}`);
  } else {
    // A bug: its stack is what a report of it needs. Exit 2 rather than 1, which means "regression" to a CI gate.
    console.error(`virtbench: internal error, please report it with this output:\n${(error as Error)?.stack ?? String(error)}`);
  }
  process.exitCode = 2;
}
