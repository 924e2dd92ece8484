// @ts-check
import { readFileSync, readdirSync } from 'node:fs';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/*
 * Lint, and the boundaries of the design (CONTRIBUTING.md, "Architecture"). The layers, from the bottom:
 *   src/host/       helpers every layer may use (commands, locks, owners, paths); they know no other layer
 *   src/statistics/ verdicts, decided here only; src/results/ the results files, baselines and history
 *   src/workloads/  each benchmark in a folder of its own: its description, its C source, its bench file
 *   src/platforms/  one folder a platform; nothing imports a file of src/platforms/<name>/ but its index.ts
 *   src/turnstile/  the protocol between a run's processes, reached through its index.ts; knows no platform
 *   src/runtime/    the plugin at run time (global setup, session, runner, turns)
 *   src/reporters/  presentation only: it reads and stores no file and computes no summary of its own
 *   src/cli/, src/ab/  the commands; they read results and start vitest, never a platform
 * Bench files (the shipped suite's, the fixtures', the examples') use the public entries only. No import cycles.
 * Tests may import internals: unit tests check the pure cores where they live.
 */

const PLATFORMS = './src/platforms';
const folders = (/** @type {string} */ dir) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
const platformFolders = folders(PLATFORMS);
const LAYERS = folders('./src');

/** Every layer but `but`, as import targets or sources. */
const layersBut = (/** @type {string[]} */ ...but) => LAYERS.filter((layer) => !but.includes(layer)).map((layer) => `./src/${layer}`);

const NO_PLATFORM = 'reporters, the CLI and the results side read results files and records; they never start or know a platform';

/** The error classes of src/errors.ts, one a code (and VirtbenchError, CommandFailedError). */
const ERROR_CLASSES = [...readFileSync('./src/errors.ts', 'utf8').matchAll(/^export class (\w+)/gm)].map((m) => m[1]);

const zones = [
  ...platformFolders.map((name) => ({
    target: ['./src/*.ts', ...layersBut('platforms').map((layer) => `${layer}/**`), `${PLATFORMS}/*.ts`].concat(
      platformFolders.filter((other) => other !== name).map((other) => `${PLATFORMS}/${other}/**`),
    ),
    from: `${PLATFORMS}/${name}`,
    except: ['./index.ts'],
    message: `only src/platforms/${name}/ knows how ${name} works: import its index.ts (or move the shared piece to src/host/)`,
  })),
  {
    target: './src/host/**',
    from: './src',
    // Every error virtbench raises is a VirtbenchError, host helpers' too.
    except: ['./host', './errors.ts'],
    message: 'src/host/ serves every layer and knows none: move what it needs down into src/host/',
  },
  {
    target: ['./src/reporters/**', './src/statistics/**', './src/results/**'],
    from: ['./src/runtime', './src/platforms', './src/workloads', './src/turnstile'],
    message: NO_PLATFORM,
  },
  {
    target: './src/cli/**',
    from: ['./src/platforms', './src/workloads', './src/turnstile'],
    message: NO_PLATFORM,
  },
  {
    target: './src/cli/**',
    from: './src/runtime',
    // `virtbench setup` reads the platforms' requirements and availability(); it never provisions one.
    except: ['./setup.ts'],
    message: NO_PLATFORM,
  },
  {
    target: './src/ab/**',
    from: ['./src/runtime', './src/platforms', './src/workloads'],
    message: 'the A/B runner starts vitest and hosts a turnstile; it never starts or knows a platform',
  },
  {
    target: ['./src/*.ts', ...layersBut('turnstile').map((layer) => `${layer}/**`)],
    from: './src/turnstile',
    except: ['./index.ts'],
    message: 'only src/turnstile/ knows how the turnstile works: import its index.ts',
  },
  {
    // A protocol between a run's processes (and the two runs of virtbench ab, which hosts one): no platform in it.
    target: './src/turnstile/**',
    from: ['./src/runtime', './src/platforms', './src/workloads'],
    message: 'the turnstile knows no platform: it uses src/host/ only',
  },
  {
    // A platform runs any workload by its description: it never knows one by name.
    target: './src/platforms/**',
    from: './src/workloads',
    except: ['./index.ts', './workload.ts', './build.ts', './figure.ts', './profiles.ts', './nginx/http-download.ts'],
    message: "a platform runs every workload the same way, from its description: it never imports one workload's folder",
  },
  {
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
    // The shipped suite is what a user's bench file would be: the public "virtbench/bench" entry only
    // (as '../../bench.js', which resolves inside the package from src/ and from dist/ alike).
    target: './src/workloads/*/*.bench.ts',
    from: './src',
    except: ['./bench.ts'],
    message: 'the shipped suite uses the public entry "virtbench/bench" (../../bench.js) as a user\'s bench file does',
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
  { ignores: ['dist/', 'node_modules/', 'virtbench-report/', '.virtbench/'] },
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
    // Every error is the class of its code, in src/errors.ts: no call site picks a code of its own, and none
    // recognizes an error by instanceof, which misses one made by another copy of the module (Vitest loads a
    // module once per project and worker; the package may be loaded from src/ and dist/ in one process).
    files: ['src/**/*.ts'],
    ignores: ['src/errors.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='VirtbenchError']",
          message:
            'throw the class of the code from src/errors.ts (new BadOptionError(message, { platform, cause })), not new VirtbenchError(code, ...); a new code gets its class there',
        },
        {
          selector: `BinaryExpression[operator='instanceof'][right.name=/^(${ERROR_CLASSES.join('|')})$/]`,
          message:
            'recognize a virtbench error with isVirtbenchError(value, code) from src/errors.ts: instanceof misses one made by another copy of the module',
        },
      ],
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
