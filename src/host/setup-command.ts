/** The command that reports what this host lacks for each platform, and installs the Debian packages. */
export const SETUP_COMMAND = 'npx virtbench setup';
/** Ends a skip reason that setup explains further (and that setup itself leaves out). */
export const SETUP_HINT = `(${SETUP_COMMAND} lists what each platform needs)`;

/** The fix for a missing Debian package: the setup command, or apt-get itself. */
export function installFix(...packages: string[]): string {
  return `${SETUP_COMMAND} --install (as root), or apt-get install ${packages.join(' ')}`;
}
