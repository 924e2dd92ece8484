import type { FactsOf } from '../platform.js';
import type { NetworkMode, WorkDirStorage } from './session-container.js';
import type { UserImagePlatform } from './user-images.js';

/** A served workload's port inside the container's own network namespace. */
export const CONTAINER_PORT = 8080;

export interface Variant {
  name: string;
  storage: WorkDirStorage;
  network: NetworkMode;
  /** The engine's OCI runtime by its registered name; the engine's default (runc) when absent. */
  runtime?: string;
  /** Which engine: a Docker engine (found or started, engine.ts), or the private podman service. */
  engine?: 'docker' | 'podman';
  /** The user's own image instead of virtbench's (user-images.ts). */
  userImage?: UserImagePlatform;
  /** Another architecture's container, run through the kernel's binfmt handler (arm64.ts). */
  arch?: 'arm64';
}

/**
 * What a worker needs to reach the container. storage and network are the
 * variant's; on the host network hostPort is 0 and the bridge addresses are empty.
 */
export const FACT_FIELDS = {
  dockerHost: 'string',
  engineSource: 'string',
  containerId: 'string',
  image: 'string',
  imageId: 'string',
  storage: 'string',
  network: 'string',
  hostPort: 'number',
  /** The container's own address on the bridge: the served workload listens there only. */
  containerAddress: 'string',
  /** The host's end of the bridge, where docker-proxy (or the engine's NAT) connects from: the only peer let in. */
  bridgeGateway: 'string',
  /** The OCI runtime, '' for the engine's default. */
  runtime: 'string',
  /** The engine runs on this kernel (engine-location.ts): its page cache and PIDs are this machine's. */
  engineLocal: 'boolean',
  /** Where the engine publishes the port and this machine connects: 127.0.0.1, a remote engine's address, or '' (unreachable). */
  publishAddress: 'string',
  /** Where the engine runs, for the report. */
  engineWhere: 'string',
  /** The user's own image (user-images.ts): its tools are looked for, not assumed; '' for virtbench's. */
  userImage: 'string',
  /** 'arm64': virtbench's arm64 image, its programs emulated through binfmt (arm64.ts); '' for the engine's own architecture. */
  arch: 'string',
} as const;

export type DockerFacts = FactsOf<typeof FACT_FIELDS>;
