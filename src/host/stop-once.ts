/** What provisioned a platform or started a service stops with: async normally, synchronously from an exit handler. */
export interface Teardown {
  stop(): Promise<void>;
  stopSync(): void;
}

/**
 * A teardown that runs once, by stop() or by stopSync() from an exit handler, whichever comes first.
 * Concurrent stop() calls share one. stopSync() after a finished stop() does nothing; during one (the
 * process exits while it awaits) it runs as well: a kill or removal done twice costs nothing, a half-done
 * one would leak.
 */
export function stopOnce(teardown: Teardown): Teardown {
  let state: 'running' | 'stopping' | 'stopped' = 'running';
  let stopping: Promise<void> = Promise.resolve();
  return {
    stop() {
      if (state === 'running') {
        state = 'stopping';
        stopping = teardown.stop().finally(() => {
          state = 'stopped';
        });
      }
      return stopping;
    },
    stopSync() {
      if (state === 'stopped') return;
      state = 'stopped';
      teardown.stopSync();
    },
  };
}
