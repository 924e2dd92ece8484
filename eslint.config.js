// @ts-check
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/*
 * Lint, and the boundaries of the design (README, "Architecture"):
 *   - only a platform's own folder knows how it works: nothing imports a file of
 *     src/harness/platforms/<name>/ but that folder's index.ts;
 *   - the reporters, the CLI, the results side and the statistics read results: they import nothing of the harness;
 *   - verdicts are decided in src/statistics/ only: the reporters render them and decide nothing;
 *     nor does the A/B runner (src/ab), which runs git and vitest and hosts a turnstile, never a platform;
 *   - the turnstile (src/turnstile/) is reached through its index.ts only, and knows no platform;
 *   - src/reporters/ is presentation only: it reads and stores no file and computes no summary of its own,
 *     and the results side and the statistics, below it, never import it;
 *   - bench files and fixtures use the public entries (src/index.ts, src/bench.ts) only;
 *   - no import cycles.
 * Tests may import internals: unit tests check the pure cores where they live.
 */

const PLATFORMS = './src/harness/platforms';
const folders = (/** @type {string} */ dir) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
const platformFolders = folders(PLATFORMS);

/** Every place in src/ and the public-entry users, but the one platform folder. */
const outside = (/** @type {string} */ name) => [
  './src/*.ts',
  './src/cli/**',
  './src/ab/**',
  './src/reporters/**',
  './src/results/**',
  './src/statistics/**',
  './src/harness/*.ts',
  './src/harness/host/**',
  './src/turnstile/**',
  `${PLATFORMS}/*.ts`,
  ...platformFolders.filter((other) => other !== name).map((other) => `${PLATFORMS}/${other}/**`),
];

const zones = [
  ...platformFolders.map((name) => ({
    target: outside(name),
    from: `${PLATFORMS}/${name}`,
    except: ['./index.ts'],
    message: `only src/harness/platforms/${name}/ knows how ${name} works: import its index.ts (or move the shared piece to src/harness/host/)`,
  })),
  {
    target: ['./src/reporters/**', './src/statistics/**'],
    from: './src/harness',
    message: 'reporters, the CLI and the results side read results files and records; they never start or know a platform',
  },
  {
    target: './src/results/**',
    from: './src/harness',
    // The history store's writers take the one lock between processes (a dead writer's is taken over at once).
    except: ['./host/file-lock.ts'],
    message: 'reporters, the CLI and the results side read results files and records; they never start or know a platform',
  },
  {
    target: './src/cli/**',
    from: './src/harness',
    // `virtbench setup` reads the platforms' requirements and availability(); it never provisions one.
    except: ['./setup.ts'],
    message: 'reporters, the CLI and the results side read results files and records; they never start or know a platform',
  },
  {
    target: './src/ab/**',
    from: './src/harness',
    message: 'the A/B runner starts vitest and hosts a turnstile; it never starts or knows a platform',
  },
  {
    target: [
      './src/*.ts',
      ...folders('./src')
        .filter((folder) => folder !== 'turnstile')
        .map((folder) => `./src/${folder}/**`),
    ],
    from: './src/turnstile',
    except: ['./index.ts'],
    message: 'only src/turnstile/ knows how the turnstile works: import its index.ts',
  },
  {
    // A protocol between a run's processes (and the two runs of virtbench ab, which hosts one): no platform in it.
    target: './src/turnstile/**',
    from: './src/harness',
    except: ['./host/shared.ts', './round-order.ts'],
    message: 'the turnstile knows no platform: of the harness it uses host/shared.ts and round-order.ts only',
  },
  {
    target: ['./src/reporters/**', './src/results/**', './src/statistics/**', './src/cli/**'],
    from: './src/turnstile',
    message: 'reporters, the CLI and the results side read results files and records; they never start or know a platform',
  },
  {
    // One place decides: a report that computed its own interval or test could disagree with the gate.
    target: ['./src/reporters/**', './src/cli/**'],
    from: ['./node_modules/@stdlib'],
    message: 'statistics live in src/statistics/: call its functions, never a distribution or test of your own',
  },
  {
    // Nor a median or an estimate of their own: they render the verdicts of compare.ts, ratio.ts, drift.ts, history.ts.
    target: ['./src/reporters/**', './src/cli/**'],
    from: [
      './src/statistics/descriptive.ts',
      './src/statistics/distributions.ts',
      './src/statistics/estimate.ts',
      './src/statistics/verdicts.ts',
    ],
    message: 'statistics live in src/statistics/: render what its verdicts say (compare, ratio, drift), never a summary of your own',
  },
  {
    // Presentation is on top: what the results side and the statistics need of a report belongs in them.
    target: ['./src/results/**', './src/statistics/**'],
    from: './src/reporters',
    message: 'src/reporters/ is presentation only: the results side and the statistics never import it',
  },
  {
    target: './src/harness/host/**',
    from: PLATFORMS,
    message: 'host helpers serve every platform and know none',
  },
  {
    // The shipped suite is what a user's bench file would be: the public "virtbench/bench" entry only
    // (as '../bench.js', which resolves inside the package from src/ and from dist/ alike).
    target: './src/suite/**',
    from: './src',
    except: ['./bench.ts', './suite'],
    message: 'the shipped suite uses the public entry "virtbench/bench" (../bench.js) as a user\'s bench file does',
  },
  {
    target: ['./fixtures/**', './examples/**'],
    from: './src',
    except: ['./index.ts', './bench.ts'],
    message:
      'bench files and fixtures use the public entries, as a user does: src/index.ts ("virtbench") and src/bench.ts ("virtbench/bench")',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'virtbench-report/', '.virtbench/', 'fixtures/workloads/bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX },
    settings: {
      // How import-x reads the files it follows (for no-cycle) and resolves `./x.js` to `./x.ts`.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-cycle': 'error',
      // Underscore-prefixed names are deliberately unused (destructuring a field away).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // A file a reader can hold in mind, a function that fits a screen or two: past these, split by what the
    // parts do (issue 27). Counted with comments and blank lines, as a reader meets them.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 500 }],
      'max-lines-per-function': ['error', { max: 120 }],
    },
  },
  {
    // Presentation only: files are read and stored by the results side (src/results/), reports written by the CLI.
    files: ['src/reporters/**/*.ts'],
    // The HTML report inlines chart.js, read from node_modules.
    ignores: ['src/reporters/html.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['fs', 'node:fs', 'fs/promises', 'node:fs/promises'].map((name) => ({
            name,
            message: 'src/reporters/ is presentation only: read and store files in src/results/, write reports from src/cli/',
          })),
        },
      ],
    },
  },
  {
    // Scripts run by Node itself (scripts/harness-bench.mjs): Node's globals.
    files: ['scripts/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly', URL: 'readonly' },
    },
  },
);
