import { BadOptionError } from '../../errors.js';
import { TOOLCHAINS } from '../../workloads/build.js';
import { factsCodec, type HostRequirements, type Platform, type PlatformFamily } from '../platform.js';
import { enableAarch64Binfmt } from './binfmt.js';
import { BRIDGE, PODMAN_BRIDGE } from './bridge.js';
import { connectDocker } from './connect.js';
import { CRUN_RUNTIME } from './crun.js';
import { FACT_FIELDS, type Variant } from './facts.js';
import {
  userImagePlatforms,
  userImageQuestions,
  validateContainerImages,
  type ContainerImagesOptions,
  type UserImagePlatform,
} from './user-images.js';
import { GVISOR_RUNTIME } from './gvisor.js';
import { provisionDocker } from './provision.js';
import { runtimeAvailability } from './runtimes.js';

/*
 * A container from a locally built image, one per project run. The main
 * process builds the image and starts the container (testcontainers); the
 * workers reach it with plain facts (engine URL, container id) and run
 * workloads through `docker exec` over the API.
 *
 * Variants answer the report's questions about Docker's costs:
 *   docker          work directory in the container's overlay2 layer, a served workload behind a published port
 *   docker-volume   work directory on a docker volume (no copy-on-write layer)
 *   docker-hostnet  host network: no veth, bridge or docker-proxy between the host and a served workload
 *   docker-gvisor   the same container under gVisor's runsc
 *   docker-crun     the same container under crun instead of runc (crun.ts)
 *   docker-arm64    an arm64 container (virtbench's own arm64 image), each process emulated by QEMU through
 *                   the kernel's binfmt handler (arm64.ts)
 *   podman          the same image and container through Podman's Docker-compatible API (crun, no daemon
 *                   owning the container); on a bridge of ours, reached at its own address (see private-podman.ts)
 */

export type DockerVariant = 'layer' | 'volume' | 'hostnet' | 'gvisor' | 'crun' | 'podman' | 'arm64';

const VARIANTS: Record<DockerVariant, Variant> = {
  layer: { name: 'docker', storage: 'layer', network: 'bridge' },
  volume: { name: 'docker-volume', storage: 'volume', network: 'bridge' },
  hostnet: { name: 'docker-hostnet', storage: 'layer', network: 'host' },
  // Every system call goes through gVisor's user-space kernel: not a variant of docker in the
  // variants.ts sense (it changes every resource), so it measures every benchmark.
  gvisor: { name: 'docker-gvisor', storage: 'layer', network: 'bridge', runtime: GVISOR_RUNTIME },
  // Another OCI runtime (C, not Go) for the same container: it sets up and execs every process, so it
  // measures every benchmark too.
  crun: { name: 'docker-crun', storage: 'layer', network: 'bridge', runtime: CRUN_RUNTIME },
  // Another architecture: every instruction is translated, so it measures every benchmark it can run.
  arm64: { name: 'docker-arm64', storage: 'layer', network: 'bridge', arch: 'arm64' },
  // Not a variant either: another engine, runtime (crun) and network path; it measures every benchmark.
  podman: { name: 'podman', storage: 'layer', network: 'private-bridge', engine: 'podman' },
};

/** env: where DOCKER_HOST is read (tests pass their own); userImage: the user's own image instead of virtbench's. */
export function createDockerPlatform(
  variant: DockerVariant = 'layer',
  options: { env?: NodeJS.ProcessEnv; userImage?: UserImagePlatform } = {},
): Platform {
  const chosen: Variant = options.userImage
    ? { ...VARIANTS[variant], name: options.userImage.platform, userImage: options.userImage }
    : VARIANTS[variant];
  const env = options.env ?? process.env;
  const facts = factsCodec(chosen.name, FACT_FIELDS);
  return {
    name: chosen.name,
    // The engine modules bring dockerode (a quarter of a second to import): loaded where used, so a
    // worker of another platform, which loads this family with the registry, does not pay for it.
    availability: async () => {
      if (chosen.engine === 'podman') return (await import('./engine.js')).podmanAvailability();
      const engine = await (await import('./engine.js')).engineAvailability(env);
      if (chosen.arch && engine.available) return (await import('./arm64.js')).arm64Availability(env);
      return chosen.runtime ? runtimeAvailability(chosen.runtime, engine, env) : engine;
    },
    provision: (context) => provisionDocker(chosen, facts, context, env),
    connect: async (encoded) => connectDocker(chosen.name, facts.decode(encoded)),
  };
}

/*
 * What the host needs (virtbench setup). No registry is reachable, so the image's root file system comes
 * from debootstrap; iproute2 makes our own bridge (the private dockerd's, the podman platform's). A machine
 * with Docker already (docker-ce, whose containerd.io conflicts with docker.io) keeps its own.
 */
const DOCKER: HostRequirements = {
  packages: ['debootstrap', 'debian-archive-keyring', 'iproute2', 'docker.io | docker-ce'],
  bridge: BRIDGE,
};

const REQUIREMENTS: Record<DockerVariant, HostRequirements> = {
  layer: DOCKER,
  volume: DOCKER,
  hostnet: DOCKER,
  // gVisor's runsc, which the private dockerd registers as a runtime.
  gvisor: { ...DOCKER, packages: [...DOCKER.packages, 'runsc'] },
  // crun, which the private dockerd registers as a runtime (through a wrapper on hybrid cgroups: crun.ts).
  crun: { ...DOCKER, packages: [...DOCKER.packages, 'crun'] },
  // QEMU's static user-mode emulators, registered with the kernel's binfmt_misc (with the F flag) by
  // binfmt-support; the aarch64 cross compiler for the workloads.
  // binfmt-support's service, which enables them at boot, does not run without systemd: setup does it.
  arm64: {
    ...DOCKER,
    packages: [...DOCKER.packages, 'qemu-user-static', 'binfmt-support', ...TOOLCHAINS.aarch64.packages],
    afterInstall: enableAarch64Binfmt,
  },
  // Rootful Podman 4.3 (crun, conmon) serving the Docker API; CNI's bridge plugin puts the container on a
  // bridge of ours; catatonit reaps its servers, as docker-init does for docker.
  podman: {
    packages: ['debootstrap', 'debian-archive-keyring', 'iproute2', 'podman', 'crun', 'containernetworking-plugins', 'catatonit'],
    root: 'rootful Podman',
    bridge: PODMAN_BRIDGE,
  },
};

const variantNamed = (name: string) => (Object.keys(VARIANTS) as DockerVariant[]).find((v) => VARIANTS[v].name === name);

export const dockerPlatforms: PlatformFamily<ContainerImagesOptions> = {
  names: Object.values(VARIANTS).map((v) => v.name),
  requirements: Object.fromEntries((Object.keys(VARIANTS) as DockerVariant[]).map((v) => [VARIANTS[v].name, REQUIREMENTS[v]])),
  create(name, options) {
    const userImage = userImagePlatforms(options).find((p) => p.platform === name);
    const variant = variantNamed(userImage?.under ?? name);
    if (!variant) throw new BadOptionError(`unknown docker platform "${name}"`);
    return createDockerPlatform(variant, { userImage });
  },
  // The user's own images, each under the container platforms named (user-images.ts).
  optionsKey: 'containerImages',
  namesFor: (options) => userImagePlatforms(options).map((p) => p.platform),
  validateOptions: (value, env) =>
    validateContainerImages(
      value,
      Object.values(VARIANTS).map((v) => v.name),
      env,
    ),
  questionsFor: userImageQuestions,
  variants: {
    'docker-volume': {
      base: 'docker',
      varies: ['disk'],
      changes: 'where the work directory lives (a docker volume instead of the copy-on-write layer)',
    },
    'docker-hostnet': { base: 'docker', varies: ['network'], changes: "the network (the host's, no bridge or proxy)" },
  },
  questions: [
    {
      // Same engine, runtime, storage and network; the image is arm64 and each of its processes runs under
      // qemu-aarch64-static through binfmt. Against qemu-user-arm64: the same emulator, without the container.
      question: 'What does emulating another architecture cost in a container?',
      comparisons: [
        { platform: 'docker-arm64', against: 'docker', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads'] },
        { platform: 'docker-arm64', against: 'qemu-user-arm64', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads'] },
      ],
    },
    {
      question: "What does gVisor's system call interception (runsc, ptrace) cost?",
      comparisons: [
        { platform: 'docker-gvisor', against: 'docker', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'nginx'] },
      ],
    },
    {
      // Same image, engine, kernel, storage and network; only the runtime that creates the container and
      // execs each process differs (crun in C, runc in Go).
      question: 'Does the OCI runtime matter outside the sandboxing ones?',
      comparisons: [
        {
          platform: 'docker-crun',
          against: 'docker',
          benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'disk-copyup', 'nginx'],
        },
      ],
    },
    {
      // Same image, kernel and overlay storage; the runtime is runc for both here (see private-podman.ts). For
      // nginx Podman's container is reached at its own bridge address, Docker's through docker-proxy.
      question: 'Does Podman (no daemon owning the container) cost differently from Docker?',
      comparisons: [
        {
          platform: 'podman',
          against: 'docker',
          benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'disk-copyup', 'nginx'],
        },
      ],
    },
    { question: 'Does Docker cost CPU or memory?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] }] },
    {
      question: 'Where does copy-on-write cost?',
      comparisons: [
        { platform: 'docker', against: 'native', benchmarks: ['disk-copyup'] },
        { platform: 'docker', against: 'docker-volume', benchmarks: ['disk-copyup', 'disk-random'] },
      ],
    },
    {
      question: "What does Docker's network path cost?",
      comparisons: [
        { platform: 'docker', against: 'docker-hostnet', benchmarks: ['nginx'] },
        { platform: 'docker-hostnet', against: 'native', benchmarks: ['nginx'] },
      ],
    },
  ],
};

export type { ContainerImagesOptions };
