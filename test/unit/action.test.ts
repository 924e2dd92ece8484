import { createRequire } from 'node:module';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { packageRoot } from '../../src/host/paths.js';
import { PR_COMMENT_MARKER, renderPrComment } from '../../src/reporters/markdown.js';
import { compareResults } from '../../src/statistics/compare.js';
import { asRuns, resultOf, resultsFileOf } from '../builders.js';

/*
 * The GitHub Action (action.yml, action/) and the workflows that use it: what actionlint cannot see
 * (it does not lint action.yml), the action's scripts with hostile inputs, the verdict, and the comment
 * job's rebuilding of the comment from an artifact's data.
 */

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Action {
  inputs: Record<string, { description: string; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, { 'runs-on': unknown; permissions?: unknown; steps: Step[] }>;
}

const read = async <T>(path: string) => parse(await readFile(join(packageRoot, path), 'utf8'), { uniqueKeys: true }) as T;
const workflowFiles = async () => [
  ...(await readdir(join(packageRoot, '.github/workflows'))).map((f) => `.github/workflows/${f}`),
  ...(await readdir(join(packageRoot, 'examples/workflows'))).map((f) => `examples/workflows/${f}`),
];
const isOurs = (uses?: string) => uses === './' || /^[^/]+\/virtbench@/.test(uses ?? '');

describe('action.yml and the workflows that use it', () => {
  let action: Action;
  let workflows: [string, Workflow][];
  beforeAll(async () => {
    action = await read<Action>('action.yml');
    workflows = await Promise.all((await workflowFiles()).map(async (f) => [f, await read<Workflow>(f)] as [string, Workflow]));
  });

  it('is a composite action with the modes, platforms, thresholds and outputs of the brief', () => {
    expect(action.runs.using).toBe('composite');
    expect(action.inputs.mode!.default).toBe('pull-request');
    expect(action.inputs.platforms!.default).toBe('native docker');
    expect(action.inputs.profile!.default).toBe('quick');
    expect(action.inputs.undecided!.default).toBe('pass');
    expect(Object.keys(action.inputs)).toEqual(expect.arrayContaining(['threshold', 'fail-threshold', 'machine', 'history-branch']));
    expect(Object.keys(action.outputs)).toEqual(expect.arrayContaining(['report-dir', 'verdict', 'exit-code']));
    // Nothing outside the action's own files and the project's virtbench: every script is action/...
    const scripts = action.runs.steps.flatMap((s) => (s.run ? [s.run] : []));
    expect(scripts.join('\n')).not.toMatch(/scripts\/|npx (?!--no )/);
    // What an input holds reaches a script through env only, never spliced into its text.
    expect(scripts.filter((s) => s.includes('${{'))).toEqual([]);
  });

  it('gets from every workflow only inputs it has, and a mode it knows', () => {
    const uses = workflows.flatMap(([file, w]) =>
      Object.values(w.jobs).flatMap((job) => job.steps.filter((s) => isOurs(s.uses)).map((s) => ({ file, with: s.with ?? {} }))),
    );
    expect(uses.map((u) => u.file)).toEqual(
      expect.arrayContaining([
        '.github/workflows/pr-bench.yml',
        '.github/workflows/pr-comment.yml',
        '.github/workflows/main-history.yml',
        '.github/workflows/machines.yml',
        'examples/workflows/virtbench-pr.yml',
        'examples/workflows/virtbench-comment.yml',
      ]),
    );
    for (const use of uses) {
      expect({ file: use.file, unknown: Object.keys(use.with).filter((k) => !(k in action.inputs)) }).toEqual({
        file: use.file,
        unknown: [],
      });
      expect(['pull-request', 'history', 'machine', 'merge', 'comment']).toContain(use.with.mode ?? 'pull-request');
    }
  });

  it('pins every other action by a full commit SHA with its tag, and checks out without credentials', async () => {
    for (const file of ['action.yml', ...(await workflowFiles())]) {
      const text = await readFile(join(packageRoot, file), 'utf8');
      for (const [, uses, comment] of text.matchAll(/^\s*(?:- )?uses: (\S+)(.*)$/gm)) {
        if (isOurs(uses)) continue;
        expect({ file, uses, comment }).toEqual({
          file,
          uses: expect.stringMatching(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/),
          comment: expect.stringMatching(/ # v\d+\.\d+\.\d+$/),
        });
      }
    }
    for (const [file, w] of workflows) {
      for (const step of Object.values(w.jobs).flatMap((j) => j.steps)) {
        if (step.uses?.startsWith('actions/checkout@'))
          expect({ file, with: step.with }).toMatchObject({ file, with: { 'persist-credentials': false } });
      }
    }
  });

  it('hands the token to the push of the history branch alone, and never to a pull request a write token', () => {
    const withToken = action.runs.steps.filter((s) => JSON.stringify(s).includes('inputs.github-token'));
    expect(withToken.map((s) => s.name)).toEqual([
      'virtbench; the history of the base branch', // read-only: a pull request's token, for a fetch
      "virtbench; download the check's report", // mode comment
      'virtbench; post or update the comment', // mode comment
      'virtbench history; append to the history branch and push it', // mode history
    ]);
    expect(withToken[0]!.env!.GITHUB_TOKEN).toContain("github.event_name == 'pull_request'");
    expect(withToken[3]!.if).toContain("inputs.mode == 'history'");
    const files = Object.fromEntries(workflows);
    expect(files['.github/workflows/pr-bench.yml']!.permissions).toEqual({ contents: 'read' });
    expect(files['examples/workflows/virtbench-pr.yml']!.permissions).toEqual({ contents: 'read' });
    expect(files['.github/workflows/main-history.yml']!.permissions).toEqual({ contents: 'write' });
  });

  it("runs pull requests and main's history on separate self-hosted runner labels", () => {
    const files = Object.fromEntries(workflows);
    const runsOn = (file: string) => JSON.stringify(Object.values(files[file]!.jobs)[0]!['runs-on']);
    expect(runsOn('.github/workflows/pr-bench.yml')).toContain('virtbench-pr');
    expect(runsOn('.github/workflows/pr-bench.yml')).not.toContain('virtbench-main');
    expect(runsOn('.github/workflows/main-history.yml')).toContain('virtbench-main');
    expect(runsOn('.github/workflows/main-history.yml')).not.toContain('virtbench-pr');
  });

  it('posts the comment from a workflow that never checks out the pull request', () => {
    const [, comment] = workflows.find(([f]) => f === '.github/workflows/pr-comment.yml')!;
    const [, bench] = workflows.find(([f]) => f === '.github/workflows/pr-bench.yml')!;
    expect(JSON.stringify(comment.on)).toContain('virtbench PR check');
    const text = JSON.stringify(comment);
    expect(text).not.toMatch(/head_sha|head_branch|pull_request\.head|"ref"/);
    expect(comment.jobs.comment!.steps.find((s) => isOurs(s.uses))!.with).toEqual({ mode: 'comment' });
    expect(bench.jobs.ab!.steps.find((s) => isOurs(s.uses))!.with!.mode).toBe('pull-request');
  });
});

describe("the action's scripts", () => {
  const action = (script: string) => join(packageRoot, 'action', script);
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtbench-action-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuse a bad input before anything runs, on one line', async () => {
    const resolve = (env: Record<string, string>) =>
      execa('bash', [action('resolve.sh')], {
        cwd: dir,
        env: { PATH: process.env.PATH!, GITHUB_OUTPUT: join(dir, 'output'), ...env },
        extendEnv: false,
        reject: false,
      });
    const refusals: [Record<string, string>, RegExp][] = [
      [{ MODE: 'deploy' }, /mode must be pull-request, history, machine, merge or comment, got deploy/],
      [{ MODE: 'merge', PLATFORMS: 'native --project=evil' }, /bad platform name --project=evil/],
      [{ MODE: 'merge', PROFILE: 'quick;rm' }, /bad profile quick\\;rm/],
      [{ MODE: 'merge', UNDECIDED: 'maybe' }, /undecided must be pass or fail/],
      [{ MODE: 'merge', THRESHOLD: '5%,x=1%;y' }, /bad threshold x=1%\\;y/],
      [{ MODE: 'merge', MAX_ROUNDS: 'six' }, /max_rounds must be a whole number/],
      [
        { MODE: 'pull-request', PR_NUMBER: '12\n::error::x', BASE_REF: 'HEAD' },
        /pr-number must be a pull request number, got \$'12\\n::error::x'/,
      ],
      [{ MODE: 'pull-request' }, /needs a base/],
      [{ MODE: 'machine' }, /mode machine needs machine/],
      [{ MODE: 'merge', AS_ROOT: 'yes' }, /as-root must be auto, true or false/],
      [{ MODE: 'merge', ARTIFACT_NAME: '../x' }, /bad artifact-name/],
    ];
    for (const [env, message] of refusals) {
      const { exitCode, stdout } = await resolve(env);
      expect({ env, exitCode }).toEqual({ env, exitCode: 2 });
      expect(stdout).toMatch(/^::error title=virtbench action::/);
      expect(stdout).toMatch(message);
      expect(stdout.trim().split('\n')).toHaveLength(1);
    }
    const { exitCode } = await resolve({ MODE: 'merge', PLATFORMS: 'native,docker qemu-kvm', REPORT_DIR: join(dir, 'merged') });
    expect(exitCode).toBe(0);
    const output = await readFile(join(dir, 'output'), 'utf8');
    expect(output).toContain(`report-dir=${join(dir, 'merged')}\n`);
    expect(output).toContain('platforms=native docker qemu-kvm\nsetup-platforms=native,docker,qemu-kvm\n');
    expect(output).toContain('artifact-name=virtbench-merged\nas-root=false\n');
  });

  it('check a pull request with the projects and thresholds separated by commas or spaces', async () => {
    const { exitCode, stdout } = await execa('bash', [action('pr-check.sh')], {
      env: {
        PATH: process.env.PATH!,
        PR_CHECK_DRY_RUN: '1',
        BASE_REF: 'origin/main',
        VIRTBENCH_PROJECTS: 'native,docker',
        VIRTBENCH_AB_THRESHOLD: '5%, disk-random=10%',
        VIRTBENCH_AB_MAX_ROUNDS: '4',
      },
      extendEnv: false,
    });
    expect(exitCode).toBe(0);
    expect(stdout).toBe(
      'pr-check: would run: npx --no virtbench ab origin/main --project native --project docker --profile quick --out virtbench-ab ' +
        '--max-rounds 4 --threshold=5% --threshold=disk-random=10%',
    );
    const all = await execa('bash', [action('pr-check.sh')], {
      env: { PATH: process.env.PATH!, PR_CHECK_DRY_RUN: '1', BASE_REF: 'origin/main', VIRTBENCH_PROJECTS: 'all' },
      extendEnv: false,
    });
    expect(all.stdout).toBe('pr-check: would run: npx --no virtbench ab origin/main --profile quick --out virtbench-ab');
  });

  it('give the verdict: pass, fail, undecided (with undecided: fail) or error', async () => {
    const row = (verdict: string, failsGate = false) => ({ platform: 'native', benchmark: 'cpu', verdict, failsGate });
    const verdict = async (code: string, rows: unknown, undecided = 'pass') => {
      const out = await mkdtemp(join(dir, 'verdict-'));
      if (rows !== undefined) await writeFile(join(out, 'comparison.json'), JSON.stringify(rows));
      await execa(process.execPath, [action('verdict.mjs')], {
        env: { MODE: 'pull-request', OUT: out, CODE: code, UNDECIDED: undecided, GITHUB_OUTPUT: join(out, 'output') },
      });
      return Object.fromEntries(
        (await readFile(join(out, 'output'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => l.split('=')),
      );
    };
    expect(await verdict('0', [row('equivalent'), row('undecided')])).toMatchObject({ verdict: 'pass', 'exit-code': '0', undecided: '1' });
    expect(await verdict('0', [row('equivalent'), row('unchanged')], 'fail')).toMatchObject({ verdict: 'undecided', undecided: '1' });
    expect(await verdict('1', [row('regressed', true)])).toMatchObject({ verdict: 'fail', regressed: '1', 'fails-gate': '1' });
    expect(await verdict('2', undefined)).toMatchObject({ verdict: 'error', 'exit-code': '2' });
    expect(await verdict('0', undefined)).toMatchObject({ verdict: 'error' });
    expect(await verdict('', [])).toMatchObject({ verdict: 'error', 'exit-code': '2' });
  });
});

describe('the comment job', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtbench-comment-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const hostile = '@octocat ![x](https://evil.example/x.png) <img src=x> [link](http://evil.example)';
  const base = resultsFileOf([
    asRuns(resultOf('native', 'cpu', [5.0e6, 5.1e6, 4.9e6, 5.0e6, 5.0e6])),
    asRuns(resultOf('native', hostile, [100, 101, 99, 100, 100], { unit: hostile })),
  ]);
  const head = resultsFileOf([
    asRuns(resultOf('native', 'cpu', [4.0e6, 4.1e6, 3.9e6, 4.0e6, 4.0e6])),
    asRuns(resultOf('native', hostile, [100, 101, 99, 100, 100], { unit: hostile })),
  ]);

  it('rebuilds the comment from comparison.json and head.json as virtbench ab wrote it, with their text escaped', async () => {
    const comparisons = compareResults(base, head);
    await writeFile(join(dir, 'head.json'), JSON.stringify(head, null, 2));
    await writeFile(join(dir, 'comparison.json'), JSON.stringify(comparisons, null, 2));
    const lines: string[] = [];
    const code = await runCli(
      ['report', join(dir, 'head.json'), '--comparison', join(dir, 'comparison.json'), '--comment', join(dir, 'rebuilt.md')],
      { log: (l) => lines.push(l), env: {} },
    );
    expect(code).toBe(0);
    const rebuilt = await readFile(join(dir, 'rebuilt.md'), 'utf8');
    // What ab itself writes as comment.md (the rows through JSON: NaN as null, no undefined).
    expect(rebuilt).toBe(renderPrComment(head, JSON.parse(JSON.stringify(comparisons))));
    expect(rebuilt.startsWith(PR_COMMENT_MARKER)).toBe(true);
    expect(rebuilt).toMatch(/regression/i);
    expect(rebuilt).not.toMatch(/@octocat|!\[|\]\(http|<img|https:\/\//);
  });

  it('refuses a comparison file that is no comparison, and --baseline with --comparison', async () => {
    await writeFile(join(dir, 'bad.json'), JSON.stringify([{ platform: 'native', benchmark: 'cpu', verdict: 'pwned', failsGate: false }]));
    const cli = (...argv: string[]) => runCli(argv, { log: () => {}, env: {} });
    await expect(
      cli('report', join(dir, 'head.json'), '--comparison', join(dir, 'bad.json'), '--comment', join(dir, 'x.md')),
    ).rejects.toThrow(/comparison file .*bad\.json: row 0: unknown verdict "pwned"/);
    await expect(cli('report', join(dir, 'head.json'), '--comparison', 'c.json', '--baseline', 'b.json', '--comment')).rejects.toThrow(
      /give one/,
    );
  });

  describe('action/post-comment.cjs', () => {
    const post = createRequire(import.meta.url)(join(packageRoot, 'action/post-comment.cjs')) as (
      toolkit: unknown,
      options: { reportDir: string; comment: string },
    ) => Promise<{ posted: string; number?: number }>;
    const run = { event: 'pull_request', head_sha: 'abc123', html_url: 'https://github.com/o/r/actions/runs/1' };

    function toolkit(pr: { head: { sha: string }; state: string }, comments: { id: number; user: { login: string }; body: string }[] = []) {
      const core = { setFailed: vi.fn(), notice: vi.fn(), info: vi.fn() };
      const github = {
        rest: {
          pulls: { get: vi.fn(async () => ({ data: pr })) },
          issues: {
            listComments: vi.fn(),
            updateComment: vi.fn(async () => ({})),
            createComment: vi.fn(async () => ({ data: { html_url: 'https://github.com/o/r/pull/7#c' } })),
          },
        },
        paginate: vi.fn(async () => comments),
      };
      return { core, github, context: { repo: { owner: 'o', repo: 'r' }, payload: { workflow_run: run } } };
    }

    async function artifact(prNumber: string | undefined, comment?: string) {
      const reportDir = await mkdtemp(join(dir, 'artifact-'));
      if (prNumber !== undefined) await writeFile(join(reportDir, 'pr-number'), prNumber);
      // The artifact's own comment.md is never what gets posted.
      await writeFile(join(reportDir, 'comment.md'), `${PR_COMMENT_MARKER}\n@everyone ![x](https://evil.example)`);
      const file = join(reportDir, 'rebuilt.md');
      if (comment !== undefined) await writeFile(file, comment);
      return { reportDir, comment: file };
    }

    it('refuses a PR number that is not digits, and posts nothing', async () => {
      for (const bad of ['7\n8', '-1', '07', '1e3', '']) {
        const t = toolkit({ head: { sha: 'abc123' }, state: 'open' });
        expect(await post(t, await artifact(bad))).toEqual({ posted: 'none' });
        expect(t.core.setFailed).toHaveBeenCalledWith('pr-number of the artifact is not a pull request number');
        expect(t.github.rest.pulls.get).not.toHaveBeenCalled();
      }
      const t = toolkit({ head: { sha: 'abc123' }, state: 'open' });
      expect(await post(t, await artifact(undefined))).toEqual({ posted: 'none' });
      expect(t.core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/no pr-number/));
    });

    it('comments only on the pull request whose head the run checked, while it is open', async () => {
      const moved = toolkit({ head: { sha: 'def456' }, state: 'open' });
      expect(await post(moved, await artifact('7', `${PR_COMMENT_MARKER}\nok`))).toEqual({ posted: 'none', number: 7 });
      expect(moved.github.rest.issues.createComment).not.toHaveBeenCalled();
      const closed = toolkit({ head: { sha: 'abc123' }, state: 'closed' });
      expect(await post(closed, await artifact('7', `${PR_COMMENT_MARKER}\nok`))).toEqual({ posted: 'none', number: 7 });
    });

    it("creates the one comment, then updates it; without a rebuilt comment it says so, never taking the artifact's", async () => {
      const fresh = toolkit({ head: { sha: 'abc123' }, state: 'open' });
      expect(await post(fresh, await artifact('7', `${PR_COMMENT_MARKER}\nrebuilt`))).toMatchObject({ posted: 'created', number: 7 });
      expect(fresh.github.rest.issues.createComment).toHaveBeenCalledWith({
        owner: 'o',
        repo: 'r',
        issue_number: 7,
        body: `${PR_COMMENT_MARKER}\nrebuilt`,
      });

      const again = toolkit({ head: { sha: 'abc123' }, state: 'open' }, [
        { id: 1, user: { login: 'someone' }, body: `${PR_COMMENT_MARKER}\nnot ours` },
        { id: 2, user: { login: 'github-actions[bot]' }, body: `${PR_COMMENT_MARKER}\nold` },
      ]);
      expect(await post(again, await artifact('7'))).toMatchObject({ posted: 'updated' });
      const { body } = (again.github.rest.issues.updateComment.mock.calls[0] as unknown as [{ comment_id: number; body: string }])[0];
      expect(again.github.rest.issues.updateComment).toHaveBeenCalledWith(expect.objectContaining({ comment_id: 2 }));
      expect(body.startsWith(PR_COMMENT_MARKER)).toBe(true);
      expect(body).toContain('could not be read');
      expect(body).not.toMatch(/@everyone|evil/);
    });
  });
});
