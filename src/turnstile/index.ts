/*
 * The turnstile: the platforms of a run (and the two runs of virtbench ab) take their samples in
 * turns at one server in a main process. Nothing outside this folder imports anything of it but
 * this file (a lint rule):
 *   - protocol.ts: the messages, the address and its secret, TurnstileError;
 *   - server.ts: the server (startTurnstile), and rooms.ts: its rooms and locks;
 *   - client.ts: a benchmark worker's connection (workerTurnstile), and the handshake every client makes;
 *   - shared.ts: a run's one turnstile in its main process (useSharedTurnstile), or another process's
 *     (externalTurnstile, for virtbench ab), and the names platforms and bench files go by there.
 *   - round-order.ts: the order the platforms take their turns in each round, from a seed.
 * It knows no platform.
 */
export { TURNSTILE_ENV, TURNSTILE_TAG_ENV, TurnstileError, addressToEnv, turnstileAddress } from './protocol.js';
export { startTurnstile, type TurnstileOptions, type TurnstileServer } from './server.js';
export type { Grant, UntilDecided } from './rooms.js';
export { workerTurnstile, type TurnGrant, type TurnRoom, type TurnstileClient } from './client.js';
export { externalTurnstile, sharedTurnstile, turnstileFile, turnstileName, useSharedTurnstile, type TurnstilePlace } from './shared.js';
export { randomRoundSeed, roundOrder, roundOrderFacts, roundSeedFromEnv, type RoundOrder } from './round-order.js';
