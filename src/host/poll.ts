import pWaitFor from 'p-wait-for';

/**
 * Polls until condition() is true (resolves true) or timeoutMs passes
 * (resolves false: the caller says what it was waiting for). A condition that
 * throws ends the wait with that error: how a waiter gives up early (the
 * process it waits for exited).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  return pWaitFor(async () => (await condition()) && pWaitFor.resolveWith(true), {
    interval: options.intervalMs ?? 100,
    timeout: { milliseconds: options.timeoutMs, fallback: () => false },
    before: true,
  });
}
