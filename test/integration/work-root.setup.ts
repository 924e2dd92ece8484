import { chmodSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { afterAll, expect } from 'vitest';

/*
 * Each integration test file gets its own work root (VIRTBENCH_WORK_DIR, inherited by the runs it
 * starts), so that its assertions about what is left cover its own runs only: another virtbench run on
 * the same machine (a second CI job) neither fails them nor is touched by them. On disk, not tmpfs:
 * fio needs O_DIRECT. The root must be empty at the end: whatever a run left there is a leak.
 */
const root = mkdtempSync('/var/tmp/virtbench-test-');
// Others may pass through, not list: native nginx's workers run as nobody and read the served file below.
chmodSync(root, 0o711);
process.env.VIRTBENCH_WORK_DIR = root;

afterAll(() => {
  expect(readdirSync(root), `left in this test file's work root ${root}`).toEqual([]);
  rmdirSync(root);
});
