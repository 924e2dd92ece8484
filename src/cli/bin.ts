import { VirtbenchError } from '../errors.js';
import { runCli } from './main.js';

try {
  process.exitCode = await runCli(process.argv.slice(2), { log: (line) => console.log(line), env: process.env });
} catch (error) {
  // Bad usage and bad files are the user's to fix: say what and exit 2, without a stack.
  if (error instanceof VirtbenchError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`virtbench: ${(error as Error).message}`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
