import { timedProgram, tooFast } from '../workload.js';

/**
 * The copy-up benchmark's files: one file of `mib` MiB under `links` names
 * (hard links, so an image stores the bytes once), more names than the 48
 * runs of the assignment profile. copyup.c gets all three as arguments.
 */
const COPYUP = { mib: 64, links: 64, imageDir: '/opt/virtbench-copyup' };

/** A write of 4 KiB and an fsync: at least a microsecond. */
const MIN_WRITE_SECONDS = 1e-6;

export const diskCopyup = timedProgram('disk-copyup/copyup', {
  name: 'disk-copyup',
  exercises: ['disk'],
  title: `first 4 KiB write to an existing ${COPYUP.mib} MiB file (in a container: copy-up from the image layer)`,
  args: (_p, workDir) => [workDir, String(COPYUP.mib), COPYUP.imageDir, String(COPYUP.links)],
  timeoutMs: () => 120_000,
  implausible: (f) => tooFast(f, MIN_WRITE_SECONDS, 'a 4 KiB write and an fsync'),
  image: {
    why: `disk-copyup: one file in the image layer under ${COPYUP.links} names (hard links); overlay (index=off) copies each name up on its first write, so every run gets an untouched file`,
    shell:
      `mkdir -m 0755 ${COPYUP.imageDir}` +
      ` && dd if=/dev/urandom of=${COPYUP.imageDir}/0 bs=1M count=${COPYUP.mib} status=none` +
      ` && for i in $(seq 1 ${COPYUP.links - 1}); do ln ${COPYUP.imageDir}/0 ${COPYUP.imageDir}/$i; done`,
  },
});
