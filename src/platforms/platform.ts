import { PlatformUnavailableError, isVirtbenchError } from '../errors.js';
import type { EnvironmentFacts, Question } from '../results/schema.js';
import type { BuiltProgram } from '../workloads/build.js';
import type { CpuSource } from '../host/cpu-time.js';
import type { ExecResult } from '../host/exec-result.js';
import type { ServiceAddress } from '../host/net.js';
import { SETUP_COMMAND, SETUP_HINT, installFix } from '../host/setup-command.js';
import type { Log } from '../host/log.js';
import type { Profile } from '../workloads/profiles.js';
import type { Variant } from './variants.js';
import type { Workload } from '../workloads/index.js';

export type { CpuSource, ExecResult, ServiceAddress };
export { SETUP_COMMAND, SETUP_HINT, installFix };

/**
 * The one interface every platform implements. Only the platform's own folder
 * under src/platforms/ knows how it works; everything else talks to a
 * StartedPlatform.
 *
 * Lifecycle (one owner per resource):
 *   Platform.availability() main process: a cheap check (tools, permissions), no builds, no boots.
 *   Platform.provision()    main process, once per run (globalSetup): build images, boot guests,
 *                           start containers, and any expensive check (a probe boot). Returns
 *                           plain connection facts that Vitest hands to the workers.
 *   Platform.connect()      worker: turns those facts into a StartedPlatform.
 *   Provisioned.stop()      main process: stops everything provision() started.
 */

export interface ExecOptions {
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /** Working directory inside the platform; defaults to the platform's work directory. */
  cwd?: string;
}

/** Facts about a platform for the report: engine versions, kernel, accelerator, storage... */
export type PlatformInfo = EnvironmentFacts;

export interface StartedPlatform {
  readonly name: string;
  /** A writable directory inside the platform on its own disk (fio and nginx files go here). */
  readonly workDir: string;
  /** Runs argv (never a shell string) inside the platform. Never throws for a non-zero exit. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Copies a host file into the platform, marks it executable when asked, returns its path there. */
  copyIn(hostPath: string, name: string, options?: { executable?: boolean }): Promise<string>;
  /** The TCP port a served workload should use, and where the host reaches it. */
  serviceAddress(): Promise<ServiceAddress>;
  /** Best-effort page cache flush between runs; false when the platform does not allow it. */
  flushCaches(): Promise<boolean>;
  /** Environment facts for results.json. */
  describe(): Promise<PlatformInfo>;
  /** Releases what connect() opened (sessions, not the platform itself). Idempotent. */
  close(): Promise<void>;
  /**
   * Why this platform cannot run a workload at all (a single-application
   * guest has no fork()); the benchmark is then reported n/a with the reason.
   */
  unsupported?(workload: Workload, profile?: Profile): string | undefined;
  /**
   * Where a program is inside the platform (an absolute path is looked at as is), or undefined when it is
   * not there, found without running anything in it: a user's container image may have no shell. Absent:
   * the runner asks the platform's shell (`command -v`).
   */
  findCommand?(command: string): Promise<string | undefined>;
  /** How this platform builds a C workload, when the shared static binary is not enough. */
  buildProgram?(source: string, cacheDir: string): Promise<BuiltProgram>;
  /** Stops whatever of this platform could run between its turns (a QEMU guest's vCPUs, a container's processes); idempotent. Absent: nothing of it runs between turns. */
  freeze?(): Promise<void>;
  /** Undoes freeze(); idempotent, and harmless when not frozen. */
  thaw?(): Promise<void>;
  /** Where the CPU time of this platform's processes on this host can be read (its guest's QEMU, its container's cgroup, its engine's daemons): what it costs while another platform takes a sample. */
  cpuSources?(): Promise<CpuSource[]>;
}

/** What the main process hands a worker: plain data that survives structured cloning. */
export type ConnectionFacts = Readonly<Record<string, unknown>>;

export interface Provisioned {
  readonly facts: ConnectionFacts;
  /** Stops and removes everything provision() started. Idempotent. */
  stop(): Promise<void>;
  /**
   * The same as a last resort from exit and signal handlers, where nothing
   * asynchronous gets to finish: kill processes, remove files, synchronously.
   */
  stopSync(): void;
}

export type Availability = { available: true } | { available: false; reason: string };

export interface ProvisionContext {
  /** Where built artefacts (binaries, images) are cached between runs. */
  cacheDir: string;
  /** Progress lines for long steps (image builds, boots). */
  log: Log;
}

export interface Platform {
  readonly name: string;
  /** Cheap check whether this machine can run the platform; the reason says what is missing and how to fix it. */
  availability(): Promise<Availability>;
  /** May throw PlatformUnavailableError: the platform is then skipped like an unavailable one. */
  provision(context: ProvisionContext): Promise<Provisioned>;
  /**
   * Provisioning costs seconds of CPU (a guest boot): the run's first globalSetup starts it, in the
   * background, along with the other platforms' provisioning instead of after it. Nothing is measured
   * before every platform has provisioned. Platforms provisioned this way run at the same time: a step
   * they share (the guest image, the KVM probe) must let concurrent callers share one run of it
   * (host/shared.ts: shareWhileRunning, processSingleton).
   */
  readonly provisionEarly?: boolean;
  connect(facts: ConnectionFacts): Promise<StartedPlatform>;
}

export { PlatformUnavailableError };

/** A PlatformUnavailableError of the (platform, reason) form: this machine cannot run the platform, which is skipped with the reason. */
export type UnavailableHere = PlatformUnavailableError & { readonly reason: string };

/** Whether provision() threw to be skipped (UnavailableHere); the (message, options) form fails the run instead. */
export function isPlatformUnavailable(error: unknown): error is UnavailableHere {
  return isVirtbenchError(error, 'VIRTBENCH_PLATFORM_UNAVAILABLE') && typeof (error as PlatformUnavailableError).reason === 'string';
}

/*
 * Connection facts, typed per platform: a platform declares the fields it
 * hands its workers once, and the codec checks them on the way in, so a worker
 * never reads a field that is missing or of another type.
 */

type FieldKind = 'string' | 'number' | 'boolean' | 'info';
type FieldValue<K extends FieldKind> = K extends 'string'
  ? string
  : K extends 'number'
    ? number
    : K extends 'boolean'
      ? boolean
      : PlatformInfo;
export type FactsOf<S extends Record<string, FieldKind>> = { -readonly [K in keyof S]: FieldValue<S[K]> };

export interface FactsCodec<F> {
  encode(facts: F): ConnectionFacts;
  decode(facts: ConnectionFacts): F;
}

function isInfo(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => ['string', 'number', 'boolean'].includes(typeof v))
  );
}

function matches(value: unknown, kind: FieldKind): boolean {
  return kind === 'info' ? isInfo(value) : typeof value === kind;
}

export function factsCodec<const S extends Record<string, FieldKind>>(platform: string, spec: S): FactsCodec<FactsOf<S>> {
  return {
    encode: (facts) => ({ ...facts }),
    decode(facts) {
      const wrong = Object.entries(spec).filter(([key, kind]) => !matches(facts[key], kind));
      if (wrong.length > 0) {
        throw new PlatformUnavailableError(
          `the connection facts from the main process lack or mistype ${wrong.map(([key, kind]) => `${key} (${kind})`).join(', ')}; ` +
            'fix: run bench files through `vitest bench` with the virtbench() plugin, so that its globalSetup provisions the platform',
          { platform },
        );
      }
      // Every field was checked against the spec above.
      return facts as FactsOf<S>;
    },
  };
}

/**
 * What a platform needs of this host, as data: `virtbench setup` reports it (and installs the packages),
 * availability() decides. Declared in the platform's own folder, next to the code that needs it.
 */
export interface HostRequirements {
  /** Debian packages, by name; "a | b": either will do (the first is installed when neither is). */
  readonly packages: readonly string[];
  /** Why it needs root, when it always does (rootful Podman, tap devices). */
  readonly root?: string;
  /** It runs only with a usable /dev/kvm (never falling back to emulation). */
  readonly kvm?: boolean;
  /** The network bridge it creates on the host (reused when a killed run left it). */
  readonly bridge?: string;
  /**
   * What `virtbench setup --install` does after apt-get (as root) for what installing a package does not
   * do here (no init system runs its service): says what it did; throws, with the reason, when it cannot.
   */
  readonly afterInstall?: () => Promise<string>;
}

/**
 * What one folder under src/platforms/ offers the registry: the
 * project names it provides (a platform and its variants), how to make each,
 * and, when it takes options in virtbench({...}), their key and validator.
 */
export interface PlatformFamily<Options = unknown> {
  readonly names: readonly string[];
  /** Names the user's options add (remote hosts, named in option "remotes"): each a platform of this family. */
  namesFor?(options: Options | undefined): string[];
  /** options: this family's validated options, when the user gave any. */
  create(name: string, options: Options | undefined): Platform;
  readonly optionsKey?: string;
  /**
   * Checks the user's options once, where they come in; throws a BadOptionError. A family with
   * namesFor is asked also without options: its environment (VIRTBENCH_REMOTES) may name some.
   */
  validateOptions?(value: unknown, env?: NodeJS.ProcessEnv): Options;
  /** What comparing these platforms (with each other or with native) answers; the report answers it from the figures. */
  readonly questions?: readonly Question[];
  /** Questions about the platforms the user's options add (namesFor): asked with this family's validated options. */
  questionsFor?(options: Options | undefined): readonly Question[];
  /** What each of `names` needs of the host (`virtbench setup`); the C compiler every platform needs is added by the registry. */
  readonly requirements: Readonly<Record<string, HostRequirements>>;
  /** Names among `names` that are another platform with one thing changed: they measure only what that changes (variants.ts). */
  readonly variants?: Readonly<Record<string, Variant>>;
}
