import { createReadStream } from 'node:fs';
import { posix } from 'node:path';
import { WorkloadFailedError } from '../../errors.js';
import { shellQuote, type SshSession } from '../../host/ssh.js';
import { toolOf, type Tool } from '../../workloads/index.js';
import type { StartedPlatform } from '../platform.js';

/*
 * A machine's commands over ssh, as a StartedPlatform runs them: each in the run's work directory
 * there, killed there by the machine's own `timeout` a little after the host gives up on it; files as
 * the stdin of `cat`. Shared by every platform that is a whole machine reached with ssh2 (a remote
 * host, a user's VM image), whatever its shell and tools.
 */

/** argv as the machine's shell runs it: in the work directory, killed there a little after the host gives up on it. */
export function remoteCommandLine(argv: readonly string[], options: { cwd: string; timeoutMs?: number; guard: boolean }): string {
  const guard = options.timeoutMs && options.guard ? ['timeout', '-s', 'KILL', `${Math.ceil(options.timeoutMs / 1000) + 5}`] : [];
  return `cd ${shellQuote(options.cwd)} && exec ${[...guard, ...argv].map(shellQuote).join(' ')}`;
}

/**
 * A private work directory under root there (0711: others may traverse, not list, as native's), made
 * over ssh; its path, or why it could not be made.
 */
export async function makeWorkDir(ssh: SshSession, root: string): Promise<{ workDir: string } | { error: string }> {
  const made = await ssh.run(
    `umask 077 && dir=$(mktemp -d ${shellQuote(posix.join(root, 'virtbench-remote-XXXXXXXX'))}) && chmod 0711 "$dir" && echo "$dir"`,
    { timeoutMs: 30_000 },
  );
  const workDir = made.stdout.trim();
  if (made.exitCode !== 0 || !workDir.startsWith('/')) return { error: made.stderr.trim() || `exit ${made.exitCode}` };
  return { workDir };
}

export interface SshMachine {
  /** The platform's name, for errors. */
  name: string;
  workDir: string;
  /** This worker's session (kept between benchmarks by the caller). */
  session(): Promise<SshSession>;
  /** Tools not installed there (fio, nginx, timeout). */
  missing: readonly string[];
  /** Logged in as root: the page cache can be dropped. */
  root: boolean;
  /** How errors name a path there: "lab1.example:/var/tmp/x". */
  where(path: string): string;
  /** Why a workload is n/a: its tool is not installed there. */
  notInstalled(tool: Tool): string;
}

/** exec, copyIn, flushCaches and unsupported of a machine reached with ssh. */
export function sshCommands(machine: SshMachine): Pick<StartedPlatform, 'exec' | 'copyIn' | 'flushCaches' | 'unsupported'> {
  const { workDir, missing } = machine;
  const guard = !missing.includes('timeout');
  return {
    async exec(argv, options = {}) {
      const ssh = await machine.session();
      return ssh.run(remoteCommandLine(argv, { cwd: options.cwd ?? workDir, timeoutMs: options.timeoutMs, guard }), {
        argv,
        timeoutMs: options.timeoutMs,
      });
    },
    async copyIn(hostPath, name, options = {}) {
      const target = posix.join(workDir, name);
      const ssh = await machine.session();
      const command = [
        `mkdir -p ${shellQuote(posix.dirname(target))}`,
        `cat > ${shellQuote(target)}`,
        ...(options.executable ? [`chmod 755 ${shellQuote(target)}`] : []),
      ].join(' && ');
      const result = await ssh.run(command, { stdin: createReadStream(hostPath), timeoutMs: 300_000 });
      if (result.exitCode !== 0) {
        throw new WorkloadFailedError(`copying ${hostPath} to ${machine.where(target)} failed: ${result.stderr.trim()}`, {
          platform: machine.name,
        });
      }
      return target;
    },
    async flushCaches() {
      if (!machine.root) return false;
      const ssh = await machine.session();
      const result = await ssh.run('sync && echo 3 > /proc/sys/vm/drop_caches', { timeoutMs: 60_000 });
      return result.exitCode === 0;
    },
    unsupported(workload) {
      const tool = toolOf(workload);
      return tool && missing.includes(tool.command) ? machine.notInstalled(tool) : undefined;
    },
  };
}
