import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadOptionError } from '../../errors.js';
import type { Question } from '../../results/schema.js';

/*
 * The user's own container images as platforms: virtbench({ containerImages: { myapp: { image:
 * 'myapp:1.0', under: ['docker', 'podman'] } } }) runs the benchmarks in a container of that image
 * under each named container platform, each a platform of its own, "<name>-<platform>" (myapp-docker,
 * myapp-podman). The image is one already in the engine, or built offline from a Dockerfile and its
 * context. A JSON file of the same shape named by VIRTBENCH_CONTAINER_IMAGES adds to them (its entries win).
 */

/** The container platforms a user's image can run under. */
export const IMAGE_PLATFORMS = ['docker', 'docker-gvisor', 'docker-crun', 'podman', 'docker-volume', 'docker-hostnet'] as const;
export type ImagePlatform = (typeof IMAGE_PLATFORMS)[number];

/** The seven built-in benchmarks, which a user's image question compares unless told otherwise. */
const BUILT_IN_BENCHMARKS = ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'disk-copyup', 'nginx'];

/** One image, as a user writes it: `image`, or `dockerfile` (with `context`), and `under`. */
export interface ContainerImageOptions {
  /** An image already in the engine, by tag or id ('myapp:1.0'). */
  image?: string;
  /** A Dockerfile that virtbench builds (offline: its FROM is `scratch` or an image already in the engine). */
  dockerfile?: string;
  /** The build context directory; default: the Dockerfile's directory. */
  context?: string;
  /** The container platforms to run it under. */
  under: readonly ImagePlatform[];
  /** The benchmarks its question compares (the findings); default: the seven built-in ones. */
  benchmarks?: readonly string[];
}

export type ContainerImagesOptions = Readonly<Record<string, ContainerImageOptions>>;

/** One platform of a user's image: the image under one container platform. */
export interface UserImagePlatform {
  /** The platform's name, "<image name>-<under>". */
  platform: string;
  /** The user's name for the image. */
  name: string;
  under: ImagePlatform;
  image?: string;
  /** Absolute paths. */
  dockerfile?: string;
  context?: string;
}

const KEYS = ['image', 'dockerfile', 'context', 'under', 'benchmarks'] as const;
const IMAGE_NAME = /^[a-z][a-z0-9-]{0,29}$/;
/** A Docker image reference or id: what `docker image inspect` takes. */
const IMAGE_REF = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/;

function bad(message: string, fix: string): BadOptionError {
  return new BadOptionError(`${message}\nfix: ${fix}`);
}

/** The closest valid word to a misspelt one (one or two edits), for "did you mean". */
function closest(word: string, valid: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  return valid.find((v) => distance(word, v) <= 2);
}

function unknownWord(where: string, what: string, word: string, valid: readonly string[]): BadOptionError {
  const guess = closest(word, valid);
  return bad(
    `${where}: unknown ${what} "${word}"${guess ? ` (did you mean "${guess}"?)` : ''}; valid: ${valid.join(', ')}`,
    guess ? `write "${guess}"` : `use one of ${valid.join(', ')}`,
  );
}

function imagesFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw bad(`VIRTBENCH_CONTAINER_IMAGES=${path} cannot be read (${(error as Error).message})`, 'name a JSON file of images, or unset it');
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below, with the shape expected
  }
  throw bad(
    `VIRTBENCH_CONTAINER_IMAGES=${path} is not a JSON object of images`,
    'write {"myapp": {"image": "myapp:1.0", "under": ["docker", "podman"]}}',
  );
}

function checkEntry(name: string, entry: unknown, baseDir: string): ContainerImageOptions {
  const where = `container image "${name}"`;
  if (!IMAGE_NAME.test(name)) {
    throw bad(`${where}: a name is lower-case letters, digits and dashes, starting with a letter, at most 30`, 'rename it, e.g. "myapp"');
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw bad(`${where} must be an object`, `write { image: 'myapp:1.0', under: ['docker'] }`);
  }
  const fields = entry as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!(KEYS as readonly string[]).includes(key)) throw unknownWord(where, 'field', key, KEYS);
  const { image, dockerfile, context, under, benchmarks } = fields;
  if ((image === undefined) === (dockerfile === undefined)) {
    throw bad(
      `${where}: give either "image" (one in the engine) or "dockerfile" (built by virtbench), not both or neither`,
      'keep one of them',
    );
  }
  if (image !== undefined && !(typeof image === 'string' && IMAGE_REF.test(image))) {
    throw bad(`${where}: "image" must be an image reference or id, got ${JSON.stringify(image)}`, "write e.g. image: 'myapp:1.0'");
  }
  const paths: Pick<ContainerImageOptions, 'dockerfile' | 'context'> = {};
  if (dockerfile !== undefined) {
    if (typeof dockerfile !== 'string' || dockerfile === '') throw bad(`${where}: "dockerfile" must be a path`, 'name the Dockerfile');
    paths.dockerfile = resolve(baseDir, dockerfile);
    if (!existsSync(paths.dockerfile) || !statSync(paths.dockerfile).isFile()) {
      throw bad(
        `${where}: the Dockerfile ${paths.dockerfile} does not exist`,
        'name an existing Dockerfile (relative paths start at the project root)',
      );
    }
    paths.context = resolve(baseDir, typeof context === 'string' && context !== '' ? context : resolve(paths.dockerfile, '..'));
    if (!existsSync(paths.context) || !statSync(paths.context).isDirectory()) {
      throw bad(`${where}: the build context ${paths.context} is not a directory`, 'name the directory the Dockerfile copies from');
    }
  } else if (context !== undefined) {
    throw bad(`${where}: "context" goes with "dockerfile"`, 'remove "context", or build from a Dockerfile');
  }
  if (!Array.isArray(under) || under.length === 0) {
    throw bad(`${where}: "under" must list container platforms, got ${JSON.stringify(under)}`, `write under: ['docker', 'podman']`);
  }
  for (const platform of under) {
    if (!(IMAGE_PLATFORMS as readonly unknown[]).includes(platform))
      throw unknownWord(where, 'platform in "under"', String(platform), IMAGE_PLATFORMS);
  }
  if (benchmarks !== undefined && !(Array.isArray(benchmarks) && benchmarks.every((b) => typeof b === 'string' && b !== ''))) {
    throw bad(`${where}: "benchmarks" must list benchmark names`, `write benchmarks: ['cpu', 'app']`);
  }
  return {
    ...(image !== undefined ? { image: image as string } : paths),
    under: [...new Set(under as ImagePlatform[])],
    ...(benchmarks ? { benchmarks: benchmarks as string[] } : {}),
  };
}

/** Checks the images of the option and of VIRTBENCH_CONTAINER_IMAGES; names the field and the fix for anything wrong. */
export function validateContainerImages(
  value: unknown,
  reserved: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): ContainerImagesOptions {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw bad(
      `option "containerImages" must map names to images, got ${JSON.stringify(value)}`,
      `write { myapp: { image: 'myapp:1.0', under: ['docker'] } }`,
    );
  }
  const fromFile = env.VIRTBENCH_CONTAINER_IMAGES ? imagesFile(resolve(baseDir, env.VIRTBENCH_CONTAINER_IMAGES)) : {};
  const merged: Record<string, unknown> = { ...(value as Record<string, unknown> | undefined), ...fromFile };
  const images: Record<string, ContainerImageOptions> = {};
  for (const [name, entry] of Object.entries(merged)) {
    const checked = checkEntry(name, entry, baseDir);
    const taken = checked.under.map((under) => `${name}-${under}`).find((platform) => reserved.includes(platform));
    if (taken) throw bad(`container image "${name}": its platform "${taken}" is already a platform's name`, 'name the image otherwise');
    images[name] = checked;
  }
  return images;
}

/** Every platform the images add, one per image and platform it runs under. */
export function userImagePlatforms(options: ContainerImagesOptions | undefined): UserImagePlatform[] {
  return Object.entries(options ?? {}).flatMap(([name, entry]) =>
    entry.under.map((under) => ({
      platform: `${name}-${under}`,
      name,
      under,
      ...(entry.image !== undefined ? { image: entry.image } : { dockerfile: entry.dockerfile, context: entry.context }),
    })),
  );
}

/**
 * Each image's question: its platforms against each other (the first named against the others), and
 * each against virtbench's own image on the same platform (what the image itself costs).
 */
export function userImageQuestions(options: ContainerImagesOptions | undefined): Question[] {
  return Object.entries(options ?? {}).map(([name, entry]) => {
    const benchmarks = [...(entry.benchmarks ?? BUILT_IN_BENCHMARKS)];
    const [first, ...others] = entry.under;
    return {
      question: `What does ${name} cost under each engine/runtime?`,
      comparisons: [
        ...others.map((under) => ({ platform: `${name}-${under}`, against: `${name}-${first}`, benchmarks })),
        ...entry.under.map((under) => ({ platform: `${name}-${under}`, against: under, benchmarks })),
      ],
    };
  });
}
