import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { osFromRelease, pathOf } from '../../src/platforms/docker/container-files.js';
import { buildTag, imageArchitecture, wrongArchitecture } from '../../src/platforms/docker/user-image-build.js';
import { userImagePlatforms, userImageQuestions, validateContainerImages } from '../../src/platforms/docker/user-images.js';
import { createPlatform, platformNames, questionsFor, validatePlatformOptions } from '../../src/platforms/index.js';

const dir = mkdtempSync(join(tmpdir(), 'virtbench-user-images-'));
mkdirSync(join(dir, 'ctx'));
writeFileSync(join(dir, 'ctx', 'Dockerfile'), 'FROM scratch\n');
const reserved = ['docker', 'podman'];
const validate = (value: unknown, env: NodeJS.ProcessEnv = {}) => validateContainerImages(value, reserved, env, dir);

describe('the containerImages option', () => {
  it('takes an image in the engine or a Dockerfile (its context its directory by default), under container platforms', () => {
    expect(validate({ myapp: { image: 'myapp:1.0', under: ['docker', 'podman', 'docker'] } })).toEqual({
      myapp: { image: 'myapp:1.0', under: ['docker', 'podman'] },
    });
    expect(validate({ built: { dockerfile: 'ctx/Dockerfile', under: ['docker-crun'] } })).toEqual({
      built: { dockerfile: join(dir, 'ctx', 'Dockerfile'), context: join(dir, 'ctx'), under: ['docker-crun'] },
    });
  });

  it("names a platform per image and platform, and asks what the image costs under each against each other and virtbench's image", () => {
    const options = validate({ myapp: { image: 'myapp:1.0', under: ['docker', 'podman'], benchmarks: ['cpu', 'app'] } });
    expect(userImagePlatforms(options).map((p) => p.platform)).toEqual(['myapp-docker', 'myapp-podman']);
    expect(userImageQuestions(options)).toEqual([
      {
        question: 'What does myapp cost under each engine/runtime?',
        comparisons: [
          { platform: 'myapp-podman', against: 'myapp-docker', benchmarks: ['cpu', 'app'] },
          { platform: 'myapp-docker', against: 'docker', benchmarks: ['cpu', 'app'] },
          { platform: 'myapp-podman', against: 'podman', benchmarks: ['cpu', 'app'] },
        ],
      },
    ]);
  });

  it('reaches the registry: names, platforms and questions of the settings, the built-in questions unchanged without them', () => {
    const settings = validatePlatformOptions({ containerImages: { myapp: { image: 'myapp:1.0', under: ['docker', 'podman'] } } }, {});
    expect(platformNames(settings)).toEqual(expect.arrayContaining(['myapp-docker', 'myapp-podman']));
    expect(createPlatform('myapp-podman', settings).name).toBe('myapp-podman');
    const asked = questionsFor(['docker', 'podman', 'myapp-docker', 'myapp-podman'], settings).map((q) => q.question);
    expect(asked).toContain('What does myapp cost under each engine/runtime?');
    expect(questionsFor(['docker', 'podman', 'myapp-docker', 'myapp-podman']).map((q) => q.question)).not.toContain(
      'What does myapp cost under each engine/runtime?',
    );
  });

  it('adds the images of the JSON file VIRTBENCH_CONTAINER_IMAGES names, its entries winning', () => {
    writeFileSync(join(dir, 'images.json'), JSON.stringify({ myapp: { image: 'myapp:2.0', under: ['docker'] } }));
    expect(validate({ myapp: { image: 'myapp:1.0', under: ['podman'] } }, { VIRTBENCH_CONTAINER_IMAGES: 'images.json' })).toEqual({
      myapp: { image: 'myapp:2.0', under: ['docker'] },
    });
  });

  it.each([
    [{ myapp: { imag: 'x', under: ['docker'] } }, /unknown field "imag" \(did you mean "image"\?\).*\nfix: write "image"/],
    [{ myapp: { image: 'x', under: ['dokcer'] } }, /unknown platform in "under" "dokcer" \(did you mean "docker"\?\)/],
    [{ myapp: { image: 'x', dockerfile: 'ctx/Dockerfile', under: ['docker'] } }, /either "image".*not both or neither\nfix: /],
    [{ myapp: { dockerfile: 'nope/Dockerfile', under: ['docker'] } }, /the Dockerfile .*nope\/Dockerfile does not exist\nfix: /],
    [{ myapp: { image: 'x', under: [] } }, /"under" must list container platforms.*\nfix: /],
    [{ MyApp: { image: 'x', under: ['docker'] } }, /a name is lower-case.*\nfix: /],
    [['myapp'], /must map names to images.*\nfix: /],
  ])('refuses %j with the cause and a fix line', (value, message) => {
    expect(() => validate(value)).toThrow(
      expect.objectContaining({ code: 'VIRTBENCH_BAD_OPTION', message: expect.stringMatching(message) }),
    );
  });
});

describe("a user image's facts", () => {
  it('names its OS from os-release, and says when there is none', () => {
    expect(osFromRelease('NAME="Alpine Linux"\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n')).toBe('Alpine Linux v3.19');
    expect(osFromRelease('NAME=Distroless\nVERSION_ID=12\n')).toBe('Distroless 12');
    expect(osFromRelease(undefined)).toBe('unknown (no /etc/os-release)');
  });

  it("looks for programs on the image's PATH, else the engine's default", () => {
    expect(pathOf(['HOME=/', 'PATH=/opt/app/bin:/bin'])).toBe('/opt/app/bin:/bin');
    expect(pathOf(undefined)).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('tags a build by a hash of its Dockerfile and context, so a change builds anew', () => {
    const context = [{ name: 'app', data: Buffer.from('1'), mode: 0o755 }];
    const tag = buildTag('myapp', Buffer.from('FROM scratch'), context);
    expect(tag).toMatch(/^virtbench-user-myapp:[0-9a-f]{12}$/);
    expect(buildTag('myapp', Buffer.from('FROM scratch'), [{ ...context[0]!, data: Buffer.from('2') }])).not.toBe(tag);
    expect(buildTag('myapp', Buffer.from('FROM scratch'), context)).toBe(tag);
  });

  it('refuses an image of another architecture that the engine cannot run, naming it and the fix', () => {
    expect(imageArchitecture('x86_64')).toBe('amd64');
    const image = { tag: 't', id: 'sha256:1', architecture: 'amd64' };
    expect(wrongArchitecture(image, 'x86_64', true, 'myapp:1.0')).toBeUndefined();
    // An architecture no binfmt handler here runs (the engine elsewhere: none looked for).
    const reason = wrongArchitecture({ ...image, architecture: 's390x' }, 'x86_64', false, 'myapp:1.0');
    expect(reason).toMatch(
      /^wrong architecture: the image myapp:1\.0 is linux\/s390x, and the engine runs linux\/amd64 .*exec format error.*; fix: /,
    );
  });
});
