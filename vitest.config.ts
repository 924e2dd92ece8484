import { defineConfig } from 'vitest/config';
import { virtbench } from './src/index.js';

export default defineConfig({
  plugins: [
    virtbench({
      // Every platform and variant; those this machine cannot run are skipped with the reason.
      platforms: [
        'native',
        'docker',
        'docker-volume',
        'docker-hostnet',
        'qemu-kvm',
        'qemu-kvm-qcow2',
        'qemu-kvm-ide',
        'qemu-tcg',
        'qemu-tcg-qcow2',
        'qemu-tcg-ide',
        'unikernel',
      ],
    }),
  ],
  test: {
    projects: [
      // No benchmarks in the test projects: `vitest bench` would otherwise give them bench variants too.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], benchmark: { include: [] } } },
      {
        extends: true,
        // One file at a time: they start real daemons, containers and guests on a 2-core machine.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          benchmark: { include: [] },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
