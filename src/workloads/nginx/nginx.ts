import { workloadSource } from '../build.js';
import type { Profile } from '../profiles.js';
import type { ServedWorkload, Tool } from '../workload.js';
import { downloadInParallel } from './http-download.js';

const NGINX: Tool = { command: 'nginx', debianPackage: 'nginx-light', install: 'apt-get install nginx-light' };
const SERVED_FILE = 'payload.bin';

const NGINX_DOWNLOAD_TIMEOUT_SECONDS = 240;
const nginxTimeoutMs = (p: Profile): number => 300_000 + p.nginx.seconds * 2_000;

/** Bytes a second through loopback TCP: memory bandwidth bounds it well below 100 GB/s. */
const MAX_LOOPBACK_BYTES_PER_SECOND = 1e11;

export const nginx: ServedWorkload = {
  kind: 'served',
  name: 'nginx',
  // Counted as the network's: the transfer is what it measures. It also reads its file from the work
  // directory's disk once a run (after the flush), which a disk variant could change a little; measured
  // there with VIRTBENCH_VARIANT_BENCHMARKS=all.
  exercises: ['network'],
  title: 'nginx static file, parallel downloads from the host',
  unit: 's',
  better: 'lower',
  tool: NGINX,
  configName: 'nginx.conf',
  config: ({ dir, listen, allowFrom }) => nginxConfig(dir, listen, allowFrom),
  programs: { payload: { source: workloadSource('nginx/payload') } },
  prepare: ({ dir, profile, programs }) => [
    // The workers run as an unprivileged user: what they serve is readable whatever the umask.
    ['mkdir', '-p', '-m', '0755', dir, `${dir}/html`, `${dir}/logs`, `${dir}/temp`],
    // Random bytes, not a sparse file (reading holes would never touch the disk); from a user-space
    // generator, since /dev/urandom under binary translation took minutes for 512 MiB.
    [programs.payload!, `${dir}/html/${SERVED_FILE}`, String(profile.nginx.fileMiB)],
    ['chmod', '0644', `${dir}/html/${SERVED_FILE}`],
  ],
  start: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`],
  stop: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`, '-s', 'quit'],
  // On the host, one native process per lane (httpget.c), so the client is never the bottleneck.
  measure: (address, p, context) =>
    downloadInParallel(
      {
        host: address.host,
        port: address.port,
        path: `/${SERVED_FILE}`,
        expectedBytes: p.nginx.fileMiB * 1024 * 1024,
        parallel: p.nginx.parallel,
        seconds: p.nginx.seconds,
        maxDownloads: 10_000,
        // Below timeoutMs minus the seconds, so a stalled download fails with the client's own message.
        downloadTimeoutSeconds: NGINX_DOWNLOAD_TIMEOUT_SECONDS,
        timeoutMs: nginxTimeoutMs(p),
        namespace: address.namespace,
      },
      context,
    ),
  sampleMs: (f) => f.value * 1000,
  timeoutMs: nginxTimeoutMs,
  implausible: (f) => {
    // Printed to 0.1 MB/s: below 0.05, the quick profile's 16 MiB take 335 s, past the download timeout (240 s).
    if (!(Number(f.extra.MBps) > 0)) return `the downloads moved ${f.extra.MBps} MB/s`;
    const bytesPerSecond = (Number(f.extra.MBps) * 1e6) / Number(f.extra.parallel);
    return bytesPerSecond > MAX_LOOPBACK_BYTES_PER_SECOND
      ? `${f.extra.MBps} MB/s per ${f.extra.parallel} lanes is beyond what loopback TCP carries (${MAX_LOOPBACK_BYTES_PER_SECOND / 1e9} GB/s a lane)`
      : undefined;
  },
};

/**
 * nginx as its own master on one port; all paths inside dir so it never
 * touches /etc or /var. With allowFrom, every other peer gets 403: a bridge
 * address is reachable by whatever routes to the bridge, not only the host.
 */
function nginxConfig(dir: string, listen: string, allowFrom?: string): string {
  const access = allowFrom ? `\n    allow ${allowFrom};\n    deny all;` : '';
  return `daemon on;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  server {
    listen ${listen};
    root ${dir}/html;${access}
  }
}
`;
}
