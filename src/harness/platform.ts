import type { BuiltProgram } from './build.js';

/**
 * The one interface every platform implements. Only files under
 * src/harness/platforms/ know how a platform works; everything else talks to
 * a StartedPlatform.
 *
 * Lifecycle (one owner per resource):
 *   Platform.provision()  main process, once per run (globalSetup): build images,
 *                         boot guests, start containers. Returns plain
 *                         connection facts that Vitest can hand to workers.
 *   Platform.connect()    worker: turns those facts into a StartedPlatform.
 *   Provisioned.stop()    main process: stops everything provision() started.
 */

export interface ExecResult {
  /** The argv that ran, for error messages. */
  command: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Wall time of the whole exec as the harness saw it (includes transport). */
  wallMs: number;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /** Working directory inside the platform; defaults to the platform's work directory. */
  cwd?: string;
}

/** Where the host reaches a TCP port that a workload listens on inside the platform. */
export interface ServiceAddress {
  /** What the server inside the platform binds to, e.g. "127.0.0.1:18080" or "0.0.0.0:8080". */
  listen: string;
  /** Host and port the host connects to; always a loopback address. */
  host: string;
  port: number;
}

/** Facts about a platform for the report: engine versions, kernel, accelerator, storage... */
export type PlatformInfo = Record<string, string | number | boolean>;

export interface StartedPlatform extends AsyncDisposable {
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
  unsupported?(workload: { name: string; kind: string }): string | undefined;
  /** How this platform builds a C workload, when the shared static binary is not enough. */
  buildProgram?(source: string, cacheDir: string): Promise<BuiltProgram>;
}

/** Plain, structured-clone-safe facts a worker needs to reach a provisioned platform. */
export type ConnectionFacts = Record<string, string | number | boolean>;

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

export interface Platform {
  readonly name: string;
  /** Cheap check whether this machine can run the platform; the reason says what is missing and how to fix it. */
  availability(): Promise<Availability>;
  provision(context: ProvisionContext): Promise<Provisioned>;
  connect(facts: ConnectionFacts): Promise<StartedPlatform>;
}

export interface ProvisionContext {
  /** Where built artefacts (binaries, images) are cached between runs. */
  cacheDir: string;
  /** Progress lines for long steps (image builds, boots). */
  log: (line: string) => void;
}
