import type Dockerode from 'dockerode';
import type { PlatformInfo } from '../platform.js';
import { toolOf, workloads, type Workload } from '../../workloads/index.js';
import { findInContainer, osFromRelease, pathOf, readContainerFile } from './container-files.js';
import type { DockerFacts } from './facts.js';

/*
 * What a user's image has and is, found without running anything in it (it may have no shell): the
 * built-in workloads' tools on its PATH, its OS and architecture for the report.
 */

export interface UserImageTools {
  /** The image's PATH. */
  path: string;
  /** Each built-in workload's tool, by command: where it is, or undefined when the image lacks it. */
  found: ReadonlyMap<string, string | undefined>;
}

/** Looks for every built-in workload's tool in the container. */
export async function userImageTools(docker: Dockerode, containerId: string): Promise<UserImageTools> {
  const inspect = await docker.getContainer(containerId).inspect();
  const path = pathOf(inspect.Config.Env);
  const commands = [...new Set(Object.values(workloads as Record<string, Workload>).flatMap((w) => toolOf(w)?.command ?? []))];
  const found = new Map<string, string | undefined>();
  for (const command of commands) found.set(command, await findInContainer(docker, containerId, command, path));
  return { path, found };
}

/** Why a workload cannot run in the user's image (n/a), or undefined when it can. */
export function userImageLacks(tools: UserImageTools, workload: Workload, image: string): string | undefined {
  // Files baked into virtbench's image (disk-copyup's hard-linked file in the image layer) are not in the user's.
  if (workload.image) {
    return `the image ${image} is not virtbench's: it lacks the files ${workload.name} times (${workload.image.why.split('\n')[0]})`;
  }
  const tool = toolOf(workload);
  if (!tool || !tools.found.has(tool.command) || tools.found.get(tool.command)) return undefined;
  return (
    `the image ${image} has no \`${tool.command}\` on its PATH (${tools.path}), which ${workload.name} needs; ` +
    `fix: install it in the image${tool.debianPackage ? ` (Debian package ${tool.debianPackage})` : ''}, or run your own workload instead`
  );
}

/** The user's image for the report: its id, OS (its /etc/os-release) and architecture. */
export async function describeUserImage(docker: Dockerode, facts: DockerFacts): Promise<PlatformInfo> {
  const image = await docker.getImage(facts.imageId).inspect();
  const release = await readContainerFile(docker, facts.containerId, '/etc/os-release');
  return {
    userImage: facts.userImage,
    imageId: facts.imageId.replace(/^sha256:/, '').slice(0, 12),
    imageOs: osFromRelease(release?.toString('utf8')),
    imageArchitecture: `${image.Os}/${image.Architecture}${image.Variant ? `/${image.Variant}` : ''}`,
  };
}
