import { isAbsolute, join } from 'node:path';
import { WorkloadFailedError } from '../../errors.js';
import { runChecked, runCommand } from '../../host/command.js';
import { findExecutable } from '../../host/process.js';
import { provisionWorkDir } from '../../host/work-dir.js';
import { TOOLCHAINS, buildProgram, missingToolchain, readElfFacts, toolchainFix, workloadSource } from '../../workloads/build.js';
import {
  factsCodec,
  installFix,
  type FactsOf,
  type Platform,
  type PlatformFamily,
  type ProvisionContext,
  type Provisioned,
  type StartedPlatform,
} from '../platform.js';
import { hostFacts, hostProcessParts } from '../native/index.js';
import { EMULATED_CPU, EMULATOR, REBUILD_FIX, emulatedArgv, parseEmulatorVersion, unsupportedWorkload, wrongProgram } from './emulator.js';

/** QEMU's own word for its version, for other platforms that run it (docker-arm64, through binfmt). */
export { parseEmulatorVersion };

/*
 * arm64 under emulation, as users pay for it when they build multi-arch images on an x86 host: our C
 * workloads cross-built for aarch64 (static, Debian's aarch64-linux-gnu-gcc) run under QEMU's user-mode
 * emulator, qemu-aarch64, called by name (no binfmt handler needed). Each instruction is translated
 * (TCG, as in the qemu-tcg guest), but system calls go straight to the host kernel: no guest kernel, no
 * emulated devices. Otherwise like native: plain child processes in a private work directory.
 */

const NAME = 'qemu-user-arm64';
const ARCH = 'aarch64';
const EMULATOR_PACKAGE = 'qemu-user';
const BENCHMARKS = ['cpu', 'mem', 'fork', 'fork-threads'];

const FACTS = { workDir: 'string', qemu: 'string' } as const;
type QemuUserFacts = FactsOf<typeof FACTS>;
const facts = factsCodec(NAME, FACTS);

export const qemuUserPlatforms: PlatformFamily = {
  names: [NAME],
  create: () => createQemuUserPlatform(),
  requirements: { [NAME]: { packages: [EMULATOR_PACKAGE, ...TOOLCHAINS[ARCH].packages] } },
  questions: [
    {
      question: 'What does emulating another architecture cost, beside full-system TCG?',
      comparisons: [
        { platform: NAME, against: 'native', benchmarks: BENCHMARKS },
        { platform: NAME, against: 'qemu-tcg', benchmarks: BENCHMARKS },
      ],
    },
  ],
};

/** Why this host cannot run the platform (one line, with the fix), or undefined. */
export function qemuUserMissing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!findExecutable(EMULATOR, env)) {
    return `${EMULATOR} (QEMU user-mode emulation) is not installed; fix: ${installFix(EMULATOR_PACKAGE)}`;
  }
  const compiler = missingToolchain(ARCH, env);
  return compiler ? `${compiler}, which builds the workloads for aarch64; fix: ${toolchainFix(ARCH)}` : undefined;
}

export function createQemuUserPlatform(): Platform {
  return {
    name: NAME,
    async availability() {
      const reason = qemuUserMissing();
      return reason ? { available: false, reason } : { available: true };
    },
    provision: provisionQemuUser,
    async connect(encoded) {
      return connectQemuUser(facts.decode(encoded));
    },
  };
}

async function emulatorVersion(): Promise<string> {
  const { stdout } = await runChecked(
    [EMULATOR, '--version'],
    { what: `reading the ${EMULATOR} version`, code: 'VIRTBENCH_PLATFORM_UNAVAILABLE', platform: NAME, fix: installFix(EMULATOR_PACKAGE) },
    { timeoutMs: 30_000 },
  );
  return parseEmulatorVersion(stdout) ?? 'unknown';
}

function provisionQemuUser(context: ProvisionContext): Promise<Provisioned> {
  return provisionWorkDir(NAME, async (workDir) => {
    const connection: QemuUserFacts = { workDir, qemu: await emulatorVersion() };
    // One probe run: the cross compiler, the emulator and the sum check work before any benchmark.
    const started = connectQemuUser(connection);
    const probe = await started.buildProgram!(workloadSource('fork/forksum'), context.cacheDir);
    const program = await started.copyIn(probe.path, `probe-${probe.hash}`, { executable: true });
    const run = await started.exec([program, '2', '10'], { timeoutMs: 60_000 });
    if (run.exitCode !== 0 || run.timedOut || !/ sum=54 /.test(run.stdout)) {
      throw new WorkloadFailedError(NAME, 'the probe run (forksum 2 10 built for aarch64)', run);
    }
    context.log(`probe run under ${EMULATOR} ${connection.qemu}: ${Math.round(run.wallMs)} ms`);
    return facts.encode(connection);
  });
}

/** Why the program of argv cannot run under the emulator (another architecture, not a binary), or undefined. */
async function programProblem(program: string, cwd: string): Promise<string | undefined> {
  const path = isAbsolute(program) ? program : join(cwd, program);
  const problem = wrongProgram(await readElfFacts(path));
  return problem && `${NAME}: ${program} ${problem}; fix: ${REBUILD_FIX}`;
}

function connectQemuUser(connection: QemuUserFacts): StartedPlatform {
  const { workDir } = connection;
  // Files, sockets and the page cache are the host's, as on native.
  const host = hostProcessParts(workDir);
  return {
    name: NAME,
    workDir,
    unsupported: unsupportedWorkload,
    buildProgram: (source, cacheDir) => buildProgram(source, cacheDir, { arch: ARCH }),
    async exec(argv, options = {}) {
      const cwd = options.cwd ?? workDir;
      const result = await runCommand(emulatedArgv(argv), { cwd, timeoutMs: options.timeoutMs });
      if (result.exitCode === 0 || result.timedOut) return result;
      // qemu-aarch64 exits 1 without a word for a file it cannot open, 255 for another architecture's binary: say which, and the fix.
      const problem = await programProblem(argv[0]!, cwd);
      return problem ? { ...result, stderr: `${result.stderr.trimEnd()}\n${problem}`.trimStart() } : result;
    },
    ...host,
    async copyIn(hostPath, name, options = {}) {
      if (options.executable) {
        const problem = wrongProgram(await readElfFacts(hostPath));
        if (problem) throw new WorkloadFailedError(`${hostPath} ${problem}\nfix: ${REBUILD_FIX}`, { platform: NAME });
      }
      return host.copyIn(hostPath, name, options);
    },
    async describe() {
      return {
        mode: `user-mode emulation (${EMULATOR}): static aarch64 binaries, system calls to the host kernel`,
        arch: ARCH,
        emulator: EMULATOR,
        qemu: connection.qemu,
        emulatedCpu: EMULATED_CPU,
        // The kernel is the host's: the emulator passes system calls through.
        ...hostFacts(),
      };
    },
    async close() {},
  };
}
