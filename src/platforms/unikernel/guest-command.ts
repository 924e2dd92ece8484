import { BadOptionError } from '../../errors.js';

/*
 * How a single-application guest is started: a QEMU argv template whose
 * placeholders are filled per boot. The built-in one boots a Debian kernel
 * with our workload as /init; a user's own unikernel image (a rumprun or
 * Unikraft build of a workload) comes with its own template.
 */

export const PLACEHOLDERS = ['{qemu}', '{accel}', '{kernel}', '{initrd}', '{image}', '{args}', '{pidfile}'] as const;

export interface UnikernelImageOptions {
  /** QEMU argv with placeholders, e.g. ["{qemu}", "-kernel", "{image}", "-append", "{args}", "-display", "none", "-serial", "stdio"]. */
  command: string[];
  /** Prebuilt images by workload program (linpack, memsweep, forksum). */
  images: Record<string, string>;
  /**
   * Where the result is in the console output: a regular expression with
   * named groups value, unit and seconds. Default: our own RESULT line.
   */
  resultPattern?: string;
}

export interface BootValues {
  qemu: string;
  accel: string;
  kernel?: string;
  initrd?: string;
  image?: string;
  args: readonly string[];
  pidfile: string;
}

/** The built-in template: our kernel, the workload as /init, the console on the serial port. */
export function defaultCommand(machine: string, memoryMiB: number, cpus: number): string[] {
  // A flag and its value on one line:
  // prettier-ignore
  return [
    '{qemu}',
    '-machine', machine,
    '-accel', '{accel}',
    '-m', String(memoryMiB),
    '-smp', String(cpus),
    '-kernel', '{kernel}',
    '-initrd', '{initrd}',
    // Everything after "--" on the kernel command line becomes /init's argv.
    '-append', 'console=ttyS0 quiet loglevel=0 panic=-1 -- {args}',
    '-display', 'none',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-nodefaults',
    '-no-reboot',
  ];
}

function fail(message: string): never {
  throw new BadOptionError(`unikernel command template: ${message}`, { platform: 'unikernel' });
}

/** Checks a user's template once, where it comes in. */
export function validateImageOptions(options: unknown): asserts options is UnikernelImageOptions {
  if (typeof options !== 'object' || options === null) fail('the unikernel option must be an object with "command" and "images"');
  const { command, images, resultPattern } = options as Partial<UnikernelImageOptions>;
  if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
    fail('"command" must be a non-empty array of strings (argv, not a shell string)');
  }
  if (command.length === 1 && /\s/.test(command[0]!)) {
    fail(`"command" looks like a shell string: ${JSON.stringify(command[0])}; give each argument separately`);
  }
  for (const arg of command) {
    for (const found of arg.match(/\{[^}]*\}/g) ?? []) {
      if (!(PLACEHOLDERS as readonly string[]).includes(found)) {
        fail(`unknown placeholder ${found} in ${JSON.stringify(arg)}; known: ${PLACEHOLDERS.join(' ')}`);
      }
    }
  }
  if (!command.some((a) => a.includes('{image}'))) fail('"command" must use {image}, the prebuilt unikernel image');
  if (typeof images !== 'object' || images === null || Object.keys(images).length === 0) {
    fail('"images" must map workload programs (linpack, memsweep, forksum) to image paths');
  }
  if (resultPattern !== undefined) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(resultPattern);
    } catch (cause) {
      return fail(`"resultPattern" is not a regular expression: ${(cause as Error).message}`);
    }
    for (const group of ['value', 'unit', 'seconds']) {
      if (!pattern.source.includes(`(?<${group}>`)) fail(`"resultPattern" needs a named group (?<${group}>...)`);
    }
  }
}

/** Fills one boot's values into the template; QEMU always gets a pid file so no guest outlives its owner. */
export function expandCommand(template: readonly string[], values: BootValues): string[] {
  for (const arg of values.args) {
    if (arg === '' || /\s/.test(arg)) fail(`argument ${JSON.stringify(arg)} cannot travel on a kernel command line (empty or with spaces)`);
  }
  const table: Record<string, string | undefined> = {
    '{qemu}': values.qemu,
    '{accel}': values.accel,
    '{kernel}': values.kernel,
    '{initrd}': values.initrd,
    '{image}': values.image,
    '{args}': values.args.join(' '),
    '{pidfile}': values.pidfile,
  };
  const argv = template.map((arg) =>
    arg.replace(/\{[^}]*\}/g, (name) => {
      const value = table[name];
      if (value === undefined) fail(`${name} has no value for this boot`);
      return value;
    }),
  );
  if (!template.some((a) => a.includes('{pidfile}'))) argv.push('-pidfile', values.pidfile);
  return argv;
}

/** Turns a console match of the user's pattern into our RESULT line, so the workload's own parser reads it. */
export function normalizeResult(console: string, resultPattern?: string): string {
  if (!resultPattern) return console;
  const match = new RegExp(resultPattern, 'm').exec(console);
  if (!match?.groups) return console;
  const { value, unit, seconds } = match.groups;
  return `${console}\nRESULT value=${value} unit=${unit} seconds=${seconds}\n`;
}
