import { parseFioJson } from '../figure.js';
import { commandWorkload, type Tool } from '../workload.js';

const FIO: Tool = { command: 'fio', debianPackage: 'fio', install: 'apt-get install fio' };

/** 4 KiB random writes at queue depth 64 from one job: the fastest NVMe devices do about 2 million a second. */
const MAX_IOPS = 1e7;

export const diskRandom = commandWorkload({
  name: 'disk-random',
  exercises: ['disk'],
  title: 'fio random write 4 KiB, direct, libaio, QD 64',
  unit: 'IOPS',
  better: 'higher',
  program: { tool: FIO },
  args: (p, workDir) => [
    '--name=randwrite',
    '--rw=randwrite',
    '--bs=4k',
    '--direct=1',
    '--ioengine=libaio',
    '--iodepth=64',
    `--size=${p.disk.fileMiB}M`,
    `--runtime=${p.disk.seconds}`,
    '--time_based',
    `--filename=${workDir}/fio-randwrite.dat`,
    '--output-format=json',
  ],
  parse: parseFioJson,
  sampleMs: (f) => 1000 / f.value,
  timeoutMs: (p) => 300_000 + p.disk.seconds * 2_000,
  implausible: (f) => {
    if (f.value > MAX_IOPS) return `${f.value} IOPS is beyond any device (${MAX_IOPS})`;
    // fio's IOPS must be the writes it did over the time it ran.
    const done = Number(f.extra.ios) / f.seconds;
    return Math.abs(done - f.value) > 0.1 * f.value
      ? `fio reported ${f.value} IOPS but did ${f.extra.ios} writes in ${f.seconds} s`
      : undefined;
  },
});
