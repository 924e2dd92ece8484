import { usageError, type CliCommand } from '../options.js';

const USAGE = `  virtbench setup [--platforms a,b] [--install] [--test]   what this host lacks for each platform: Debian
                               packages, root, KVM; exit 1 when a platform is not ready
      --platforms a,b          only these built-in platforms (default: all)
      --install                as root: apt-get install the missing Debian packages, then check again
      --test                   also the packages the repository's tests need (chromium, shellcheck, openssh-server, and what builds the test VM image)`;

export const setupCommand: CliCommand = {
  name: 'setup',
  usage: USAGE,
  options: { platforms: { type: 'string' }, install: { type: 'boolean' }, test: { type: 'boolean' } },
  async run(values, positionals, io) {
    if (positionals.length) throw usageError(`unexpected "${positionals.join(' ')}"`, USAGE);
    const platforms =
      values.platforms === undefined
        ? undefined
        : String(values.platforms)
            .split(',')
            .map((p) => p.trim())
            .filter(Boolean);
    if (platforms?.length === 0) throw usageError('--platforms names no platform', USAGE);
    // The one command that looks at platforms (never starts one): loaded here, so that the others do not load them.
    const { runSetup } = await import('../../runtime/setup.js');
    return runSetup({ platforms, install: values.install === true, test: values.test === true, log: io.log });
  },
};
