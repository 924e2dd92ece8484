import { existsSync, readFileSync } from 'node:fs';
import { MissingToolError } from '../../errors.js';
import { runChecked } from '../../host/command.js';

/*
 * The kernel's binfmt_misc handler that runs aarch64 programs, which docker-arm64 needs (arm64.ts):
 * whether it can run them in a container, and `virtbench setup --install`'s step that enables it. Kept
 * apart from arm64.ts so that the registry (and setup) load it without the engine's modules.
 */

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
/** The binfmt_misc entry qemu-user-static registers for aarch64 programs. */
export const BINFMT_ENTRY = `${BINFMT_DIR}/qemu-aarch64`;
export const BINFMT_FIX =
  'apt-get install qemu-user-static binfmt-support, then update-binfmts --enable qemu-aarch64 (as root; binfmt_misc mounted at /proc/sys/fs/binfmt_misc)';

export interface BinfmtHandler {
  enabled: boolean;
  interpreter: string;
  flags: string;
}

/** The handler an entry of /proc/sys/fs/binfmt_misc describes ("enabled\ninterpreter ...\nflags: PF\n..."), or undefined for no text. */
export function parseBinfmtHandler(text: string | undefined): BinfmtHandler | undefined {
  if (text === undefined) return undefined;
  const lines = text.split('\n').map((line) => line.trim());
  return {
    enabled: lines[0] === 'enabled',
    interpreter: lines.find((line) => line.startsWith('interpreter '))?.slice('interpreter '.length) ?? '',
    flags:
      lines
        .find((line) => line.startsWith('flags:'))
        ?.slice('flags:'.length)
        .trim() ?? '',
  };
}

/**
 * Why the kernel cannot run aarch64 programs in a container (one line, with the fix), or undefined:
 * an enabled handler, with the F flag (its interpreter opened at registration, so found in any mount
 * namespace), whose interpreter exists. binfmtMounted: whether /proc/sys/fs/binfmt_misc is mounted.
 */
export function binfmtProblem(
  text: string | undefined,
  binfmtMounted: boolean,
  interpreterExists: (path: string) => boolean,
): string | undefined {
  const handler = parseBinfmtHandler(text);
  const why = !binfmtMounted
    ? 'binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc'
    : !handler
      ? `${BINFMT_ENTRY} does not exist`
      : !handler.enabled
        ? `${BINFMT_ENTRY} is disabled`
        : !handler.flags.includes('F')
          ? `${BINFMT_ENTRY} has flags "${handler.flags}" without F: its interpreter ${handler.interpreter} is looked for in the container, which has none`
          : !interpreterExists(handler.interpreter)
            ? `its interpreter ${handler.interpreter} does not exist`
            : undefined;
  return why && `no binfmt handler runs aarch64 programs in containers (${why}); fix: ${BINFMT_FIX}`;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** This kernel's aarch64 handler, as /proc shows it. */
export function readBinfmtHandler(): BinfmtHandler | undefined {
  return parseBinfmtHandler(readText(BINFMT_ENTRY));
}

/** binfmtProblem for this kernel. */
export function aarch64BinfmtProblem(): string | undefined {
  return binfmtProblem(readText(BINFMT_ENTRY), existsSync(`${BINFMT_DIR}/status`), existsSync);
}

/**
 * `virtbench setup --install`'s step after apt-get (as root): binfmt_misc mounted where it is not (no
 * systemd mounts it in a container or a chroot), then the handler qemu-user-static declared enabled.
 * Says what it did; throws, with the reason, when the kernel still cannot run aarch64 programs in a container.
 */
export async function enableAarch64Binfmt(): Promise<string> {
  if (!aarch64BinfmtProblem()) return 'binfmt handler qemu-aarch64 already enabled';
  const fix = `${BINFMT_FIX}; in a container, binfmt_misc is the host's: enable it there`;
  if (!existsSync(`${BINFMT_DIR}/status`)) {
    await runChecked(
      ['mount', '-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR],
      { what: `mounting binfmt_misc at ${BINFMT_DIR}`, code: 'VIRTBENCH_MISSING_TOOL', fix },
      { timeoutMs: 30_000 },
    );
  }
  await runChecked(
    ['update-binfmts', '--enable', 'qemu-aarch64'],
    { what: 'enabling the binfmt handler qemu-aarch64', code: 'VIRTBENCH_MISSING_TOOL', fix },
    { timeoutMs: 60_000 },
  );
  const problem = aarch64BinfmtProblem();
  if (problem) throw new MissingToolError(problem);
  return `binfmt handler qemu-aarch64 enabled (${readBinfmtHandler()?.interpreter}, flags ${readBinfmtHandler()?.flags})`;
}
