import { BadOptionError } from '../errors.js';

/**
 * How big and how often. quick is for tests (seconds per benchmark), standard
 * is the default, assignment is the original protocol (48 runs each).
 */
export interface Profile {
  name: ProfileName;
  /** Runs per benchmark and platform (tinybench iterations, no warmup). */
  runs: number;
  cpu: { n: number; lda: number; minSeconds: number };
  mem: { bytes: number; passes: number };
  fork: { start: number; end: number };
  disk: { fileMiB: number; seconds: number };
  nginx: { fileMiB: number; seconds: number; parallel: number };
}

export const PROFILE_NAMES = ['quick', 'standard', 'assignment'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const classicSizes = {
  cpu: { n: 500, lda: 1000, minSeconds: 2 },
  mem: { bytes: 8096 * 4096, passes: 10 },
  fork: { start: 100, end: 1000 },
  disk: { fileMiB: 256, seconds: 10 },
  nginx: { fileMiB: 512, seconds: 10, parallel: 2 },
};

export const PROFILES: Record<ProfileName, Profile> = {
  quick: {
    name: 'quick',
    runs: 2,
    cpu: { n: 100, lda: 100, minSeconds: 0.05 },
    mem: { bytes: 4 * 1024 * 1024, passes: 1 },
    fork: { start: 1, end: 64 },
    disk: { fileMiB: 16, seconds: 1 },
    nginx: { fileMiB: 16, seconds: 1, parallel: 2 },
  },
  standard: { name: 'standard', runs: 5, ...classicSizes },
  assignment: { name: 'assignment', runs: 48, ...classicSizes },
};

export function resolveProfile(name: string | undefined): Profile {
  const chosen = name === undefined || name === '' ? 'standard' : name;
  if (!(PROFILE_NAMES as readonly string[]).includes(chosen)) {
    throw new BadOptionError(
      `unknown profile "${chosen}" (from VIRTBENCH_PROFILE or the profile option); valid profiles: ${PROFILE_NAMES.join(', ')}`,
    );
  }
  return PROFILES[chosen as ProfileName];
}

/** The profile with another run count (its sizes unchanged); the profile itself when runs is undefined. */
export function withRuns(profile: Profile, runs: number | undefined): Profile {
  return runs === undefined || runs === profile.runs ? profile : { ...profile, runs };
}
