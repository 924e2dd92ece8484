import { workloadSource } from './build.js';
import { parseResultLine, type Figure } from './figure.js';
import type { DownloadContext } from './nginx/http-download.js';
import type { Profile } from './profiles.js';
import type { ServiceAddress } from '../host/net.js';
import type { Better } from '../results/schema.js';
import type { Resource } from '../platforms/variants.js';

export type { Better };

/** A program that must exist inside the platform, and how a user gets it. */
export interface Tool {
  command: string;
  /**
   * @deprecated Not run any more: the runner looks the command up with `command -v` (a shell builtin),
   * since starting a large tool only for its version is slow under emulation (docs/measurements.md).
   */
  versionArgs?: string[];
  /** The Debian package that provides it: platforms that build an image install it there. */
  debianPackage?: string;
  /** The fix shown when it is missing. */
  install: string;
}

/**
 * Files a workload wants baked into a platform's image, made by a shell
 * step at build time (a container image's RUN). Platforms without such an
 * image ignore it; the workload then makes its files itself.
 */
export interface ImageStep {
  /** Why, for the recipe's comment. */
  why: string;
  shell: string;
}

interface WorkloadBase {
  name: string;
  title: string;
  unit: string;
  better: Better;
  /** Marks a variant in the report (e.g. "threads"). */
  variant?: string;
  /**
   * What the workload uses. A platform variant (qemu-tcg-ide, docker-volume)
   * measures it only when the variant changes one of these, and otherwise shows
   * its base platform's figure; unset: measured on every platform.
   */
  exercises?: readonly Resource[];
  /**
   * The sample handed to tinybench as overriddenDuration, in ms: the in-platform
   * time of one unit of work. For lower-is-better workloads it is the figure
   * itself; for rates it is the time per unit, so Vitest's hz is proportional
   * to the figure.
   */
  sampleMs(figure: Figure): number;
  /** Upper bound for one run, after which the run is killed and fails. */
  timeoutMs(profile: Profile): number;
  image?: ImageStep;
  /**
   * Why a figure cannot be true, judged from the work the run reports doing
   * against what any machine can do, or undefined when it can. Its bounds are
   * an order of magnitude or more past the fastest hardware, so a figure beyond
   * one is a broken clock or broken output, never a fast platform. Such a figure
   * fails its benchmark with the evidence and never enters the results (see
   * implausibility()).
   */
  implausible?(figure: Figure): string | undefined;
}

/** Runs one command inside the platform and parses what it prints. */
export interface CommandWorkload extends WorkloadBase {
  kind: 'command';
  /**
   * A C program built on the host (a path to its source), a script copied in
   * and run by its interpreter line (`#!/bin/sh` runs everywhere but the
   * single-application guest), or a tool from the platform's packages.
   */
  program: { source: string } | { script: string } | { tool: Tool };
  args(profile: Profile, workDir: string): string[];
  parse(stdout: string): Figure;
}

export interface ServedContext {
  /** Directory inside the platform holding the server's files. */
  dir: string;
  listen: string;
  /** The only peer the server may accept (ServiceAddress.allowFrom); unset: any that reaches `listen`. */
  allowFrom?: string;
  profile: Profile;
  /** Where the workload's `programs` are inside the platform, by their key. */
  programs: Readonly<Record<string, string>>;
}

/** What the host side of a served workload gets besides the address: where to build and cache host programs, and the run's abort signal. */
export type MeasureContext = DownloadContext;

/** A server started inside the platform and driven from the host (the only such benchmark is nginx). */
export interface ServedWorkload extends WorkloadBase {
  kind: 'served';
  tool: Tool;
  /** Text of the server's configuration file, written to <dir>/<configName>. */
  configName: string;
  config(context: ServedContext): string;
  /**
   * Helper programs the prepare steps run (C sources, built and copied in like a command workload's
   * program), by the key under which prepare finds their path in context.programs.
   */
  programs?: Readonly<Record<string, { source: string }>>;
  /** Commands that create the served content inside the platform (run once per session). */
  prepare(context: ServedContext): string[][];
  start(context: ServedContext): string[];
  stop(context: ServedContext): string[];
  /** The host side of one run. */
  measure(address: ServiceAddress, profile: Profile, context: MeasureContext): Promise<Figure>;
}

export type Workload = CommandWorkload | ServedWorkload;

/** A command workload's description; what is left out takes the defaults of commandWorkload(). */
export type CommandWorkloadInput = Omit<CommandWorkload, 'kind' | 'parse' | 'sampleMs'> &
  Partial<Pick<CommandWorkload, 'parse' | 'sampleMs'>>;

/**
 * A workload that runs one program and prints our `RESULT` line. Defaults:
 * parsed with parseResultLine in the given unit; the sample handed to
 * tinybench is the figure in ms for a time (unit "s"), else the time the
 * program measured for itself.
 */
export function commandWorkload(input: CommandWorkloadInput): CommandWorkload {
  return {
    kind: 'command',
    parse: (stdout) => parseResultLine(input.name, stdout, input.unit),
    sampleMs: (figure) => (input.unit === 's' ? figure.value : figure.seconds) * 1000,
    ...input,
  };
}

/** "<what> in <seconds> s" when that is faster than `floor` seconds allows. */
export function tooFast(figure: Figure, floor: number, what: string): string | undefined {
  return figure.value < floor ? `${what} cannot take ${figure.value} s (at least ${floor.toPrecision(2)} s on any machine)` : undefined;
}

/** One of our own C programs (<folder>/<program>.c under src/workloads/) that times itself in seconds: lower is better. */
export function timedProgram(program: string, input: Omit<CommandWorkloadInput, 'unit' | 'better' | 'program'>): CommandWorkload {
  return commandWorkload({ ...input, unit: 's', better: 'lower', program: { source: workloadSource(program) } });
}
