import { buildProgram, workloadSource } from '../build.js';
import { parseResultLine, type Figure } from '../figure.js';
import { runChecked } from '../../host/command.js';

/*
 * The nginx benchmark's client runs on the host as native processes, one per
 * lane (src/workloads/nginx/httpget.c): a client sharing one JavaScript thread
 * between its lanes measured itself, not the platform (about 5 times slower
 * than curl on loopback).
 */

export interface DownloadPlan {
  /** A numeric address: the client connects to exactly this host and never resolves names. */
  host: string;
  port: number;
  /** Starts with "/". */
  path: string;
  expectedBytes: number;
  /** Downloads in flight at once, each lane its own process (the assignment: at least 2). */
  parallel: number;
  /** Keep starting downloads until this many seconds have passed; each lane finishes at least one. */
  seconds: number;
  /** Hard bounds so a broken server can never make this loop forever. */
  maxDownloads: number;
  /** A download fails after this long without data, or when it takes longer than this in all. */
  downloadTimeoutSeconds: number;
  /** The whole client is killed after this long. */
  timeoutMs: number;
  /** Runs the client in this network namespace (`ip netns exec`); unset: the host's own. */
  namespace?: string;
}

export interface DownloadContext {
  /** Where the client binary is built and cached. */
  cacheDir: string;
  signal?: AbortSignal;
}

/** The argv prefix that runs a command in a network namespace of ours; nothing for the host's own. */
export function inNamespace(namespace: string | undefined): string[] {
  return namespace ? ['ip', 'netns', 'exec', namespace] : [];
}

/** The client's name in the figure's `client` extra. */
export const HTTP_CLIENT = 'httpget';

/** The client's argv after the program: see the usage line in httpget.c. */
export function httpgetArgs(plan: DownloadPlan): string[] {
  return [
    plan.host,
    String(plan.port),
    plan.path,
    String(plan.expectedBytes),
    String(plan.parallel),
    String(plan.seconds),
    String(plan.maxDownloads),
    String(plan.downloadTimeoutSeconds),
  ];
}

/**
 * `parallel` lanes download the file back to back for about `seconds`.
 * Reports the mean seconds per download, with the download count, the lanes,
 * the aggregate MB/s and the client as extras.
 */
export async function downloadInParallel(plan: DownloadPlan, { cacheDir, signal }: DownloadContext): Promise<Figure> {
  signal?.throwIfAborted();
  const client = await buildProgram(workloadSource(`nginx/${HTTP_CLIENT}`), cacheDir);
  signal?.throwIfAborted();
  const result = await runChecked(
    [...inNamespace(plan.namespace), client.path, ...httpgetArgs(plan)],
    { what: `downloading http://${plan.host}:${plan.port}${plan.path} (nginx client ${HTTP_CLIENT})`, code: 'VIRTBENCH_WORKLOAD_FAILED' },
    { timeoutMs: plan.timeoutMs, signal },
  );
  signal?.throwIfAborted();
  return parseResultLine('nginx', result.stdout, 's');
}
