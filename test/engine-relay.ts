import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * A TCP relay at address to a Docker engine's unix socket, in a process of its own: a run's exit
 * handlers stop synchronously (the test's own process would block its relay), as with a remote engine.
 */
const RELAY = `
const net = require('node:net');
const [socketPath, address] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(socketPath);
  for (const s of [client, upstream]) s.on('error', () => s.destroy());
  client.pipe(upstream).pipe(client);
});
server.listen(0, address, () => console.log(server.address().port));
`;

export async function startEngineRelay(dockerHost: string, address: string): Promise<{ port: number; stop(): void }> {
  const relay = spawn(process.execPath, ['-e', RELAY, new URL(dockerHost).pathname, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(relay.stdout!, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), stop: () => void relay.kill() };
}
