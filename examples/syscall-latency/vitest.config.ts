import { defineConfig } from 'vitest/config';
import { virtbench } from 'virtbench';

export default defineConfig({
  // Only this project's bench file runs (it has one, so the seven shipped benchmarks do not: suite: 'standard' adds them).
  plugins: [virtbench({ platforms: ['native', 'docker', 'qemu-tcg', 'qemu-kvm'] })],
});
