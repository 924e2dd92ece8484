import type { PlatformInfo } from '../platform.js';

/*
 * What a remote host is, asked once per run in one command (each costs a
 * round trip): its environment for results.json, the tools the workloads
 * need, and the addresses of the ssh connection, which tell where the host
 * reaches a server there and which peer that server lets in.
 */

/** The tools a remote may lack: the workloads' (fio, nginx) and `timeout`, which guards each command. */
export const PROBED_TOOLS = ['fio', 'nginx', 'timeout'] as const;

export const PROBE_SCRIPT = [
  'echo "kernel=$(uname -r)"',
  'echo "arch=$(uname -m)"',
  'echo "hostname=$(uname -n)"',
  '(. /etc/os-release 2>/dev/null && echo "os=$PRETTY_NAME")',
  'echo "cpus=$(getconf _NPROCESSORS_ONLN)"',
  "sed -n 's/^model name[^:]*: */cpuModel=/p' /proc/cpuinfo | head -n 1",
  'awk \'/^MemTotal:/ {print "memoryKiB=" $2}\' /proc/meminfo',
  // systemd-detect-virt exits 1 when it prints "none".
  'if command -v systemd-detect-virt >/dev/null; then echo "virtualization=$(systemd-detect-virt)"; fi',
  "if grep -qw hypervisor /proc/cpuinfo; then echo 'hypervisorFlag=yes'; fi",
  `for tool in ${PROBED_TOOLS.join(' ')}; do if command -v "$tool" >/dev/null; then echo "has=$tool"; fi; done`,
  'if command -v fio >/dev/null; then echo "fio=$(fio --version)"; fi',
  'if command -v nginx >/dev/null; then echo "nginx=$(nginx -v 2>&1)"; fi',
  'echo "user=$(id -u)"',
  'echo "connection=$SSH_CONNECTION"',
].join('; ');

export interface RemoteProbe {
  arch: string;
  info: PlatformInfo;
  /** Tools found on the PATH. */
  tools: string[];
  /** The address the host's ssh connection came from, as the remote sees it: the one peer its servers accept. */
  clientAddress: string;
  /** The remote's address that connection arrived at: where the host reaches a server there. */
  serverAddress: string;
  root: boolean;
}

/** Reads the probe's key=value lines; throws with the output when they are not the probe's. */
export function parseProbe(stdout: string): RemoteProbe {
  const values = new Map<string, string>();
  const tools: string[] = [];
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === 'has') tools.push(value);
    else values.set(key, value);
  }
  const [clientAddress, , serverAddress] = (values.get('connection') ?? '').split(' ');
  const kernel = values.get('kernel');
  if (!kernel || !clientAddress || !serverAddress) {
    throw new Error(`the remote's answer lacks ${kernel ? 'SSH_CONNECTION' : 'the kernel'}: ${JSON.stringify(stdout.slice(0, 300))}`);
  }
  const flag = values.get('hypervisorFlag') === 'yes';
  const detected = values.get('virtualization');
  const virtualization =
    detected && detected !== 'none'
      ? detected
      : detected === 'none'
        ? flag
          ? 'none detected (the CPU reports a hypervisor)'
          : 'none (bare metal)'
        : flag
          ? 'yes (the CPU reports a hypervisor; systemd-detect-virt is not installed)'
          : 'none reported (no hypervisor flag; systemd-detect-virt is not installed)';
  const memoryKiB = Number(values.get('memoryKiB'));
  const info: PlatformInfo = {
    hostname: values.get('hostname') ?? 'unknown',
    os: values.get('os') ?? 'unknown',
    kernel,
    arch: values.get('arch') ?? 'unknown',
    cpuModel: values.get('cpuModel') || 'unknown',
    cpus: Number(values.get('cpus')) || 0,
    memoryGiB: Number.isFinite(memoryKiB) ? Math.round(memoryKiB / 2 ** 20) : 0,
    virtualization,
    fio: values.get('fio') ?? 'not installed',
    nginx: values.get('nginx')?.replace(/^nginx version: /, '') ?? 'not installed',
  };
  return { arch: values.get('arch') ?? 'unknown', info, tools, clientAddress, serverAddress, root: values.get('user') === '0' };
}
