/**
 * How a finished command went, wherever it ran (the host, a container, a
 * guest): the same shape for success and failure, as execa's result has.
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
