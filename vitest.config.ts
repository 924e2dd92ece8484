import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
// From src/, not "virtbench": Vite bundles a config file and leaves a package import to Node, which
// resolves it to the build in dist/ (and cannot load src/ itself), so this one import stays relative.
import { virtbench } from './src/index.js';

export default defineConfig({
  // No bench files of its own: the suite that ships in the package runs (src/suite/, dist/suite/ once
  // built). Imports of "virtbench" and "virtbench/bench" resolve to src/ here (package.json's
  // "virtbench-source" condition), so nothing waits for a build.
  ssr: { resolve: { conditions: ['virtbench-source', ...defaultServerConditions] } },
  plugins: [
    virtbench({
      // Every platform and variant; those this machine cannot run are skipped with the reason.
      platforms: [
        'native',
        'docker',
        'docker-volume',
        'docker-hostnet',
        'podman',
        'docker-gvisor',
        'docker-crun',
        'docker-arm64',
        'qemu-kvm',
        'qemu-kvm-qcow2',
        'qemu-kvm-ide',
        'qemu-kvm-tap',
        'qemu-tcg',
        'qemu-tcg-qcow2',
        'qemu-tcg-ide',
        'qemu-tcg-tap',
        'unikernel',
        'qemu-user-arm64',
      ],
    }),
  ],
  test: {
    projects: [
      // No bench files in the test projects: the plugin gives projects other than the platforms' none.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        // One file at a time: they start real daemons, containers and guests on a 2-core machine.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/integration/work-root.setup.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
      {
        extends: true,
        // The fault-injection suite (npm run test:faults): breaks real runs from outside, one at a time.
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/faults/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
