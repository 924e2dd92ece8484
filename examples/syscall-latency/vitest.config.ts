// `npx vitest bench --root examples/syscall-latency`: the example's own project, as a user's would be.
import { defineConfig } from 'vitest/config';
import { virtbench } from '../../src/index.js'; // in your project: from 'virtbench'

export default defineConfig({
  plugins: [virtbench({ platforms: ['native', 'docker', 'qemu-tcg', 'qemu-kvm'] })],
});
