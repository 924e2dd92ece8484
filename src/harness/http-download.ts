import { get } from 'node:http';
import { VirtbenchError } from '../errors.js';
import type { Figure } from './figure.js';

export interface DownloadPlan {
  url: string;
  expectedBytes: number;
  /** Downloads in flight at once (the assignment: at least 2). */
  parallel: number;
  /** Keep starting downloads until this many seconds have passed; each lane finishes at least one. */
  seconds: number;
  /** Hard bounds so a broken server can never make this loop forever. */
  maxDownloads?: number;
  downloadTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Downloads the URL once, discarding the body; resolves with the seconds it took. */
export function downloadOnce(url: string, expectedBytes: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = get(url, { signal, timeout: timeoutMs, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new VirtbenchError('VIRTBENCH_WORKLOAD_FAILED', `GET ${url} answered HTTP ${response.statusCode}`));
        return;
      }
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      response.on('end', () => {
        if (received !== expectedBytes) {
          reject(new VirtbenchError('VIRTBENCH_WORKLOAD_FAILED', `GET ${url} returned ${received} bytes, expected ${expectedBytes}`));
        } else {
          resolve((performance.now() - started) / 1000);
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () =>
      request.destroy(new VirtbenchError('VIRTBENCH_WORKLOAD_FAILED', `GET ${url} timed out after ${timeoutMs} ms`)),
    );
    request.on('error', reject);
  });
}

/**
 * The nginx benchmark's client: `parallel` lanes download the file back to
 * back for about `seconds`. Reports the mean seconds per download, with the
 * aggregate MB/s and the download count as extras.
 */
export async function downloadInParallel(plan: DownloadPlan): Promise<Figure> {
  const maxDownloads = plan.maxDownloads ?? 10_000;
  const timeoutMs = plan.downloadTimeoutMs ?? 600_000;
  const durations: number[] = [];
  const started = performance.now();
  const deadline = started + plan.seconds * 1000;

  const lane = async (): Promise<void> => {
    do {
      durations.push(await downloadOnce(plan.url, plan.expectedBytes, timeoutMs, plan.signal));
    } while (performance.now() < deadline && durations.length < maxDownloads);
  };
  await Promise.all(Array.from({ length: plan.parallel }, lane));

  const elapsed = (performance.now() - started) / 1000;
  const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
  const megabytesPerSecond = (durations.length * plan.expectedBytes) / elapsed / 1e6;
  return {
    value: mean,
    unit: 's',
    seconds: elapsed,
    extra: { downloads: durations.length, parallel: plan.parallel, MBps: Number(megabytesPerSecond.toFixed(1)) },
  };
}
