import { defineConfig } from 'vitest/config';
import { virtbench } from './src/index.js';

export default defineConfig({
  plugins: [virtbench({ platforms: ['native'] })],
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 300_000 } },
    ],
  },
});
