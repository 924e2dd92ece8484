import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { RESULTS_LIMITS } from '../../src/results/results-file.js';
import { packageRoot } from '../../src/host/paths.js';
import { compareResults, type Comparison } from '../../src/statistics/compare.js';
import { annotations, escapeData, escapeProperty } from '../../src/reporters/github.js';
import { checkComparisons, parseComparisons } from '../../src/results/comparison-file.js';
import { asRuns, resultOf, resultsFileOf, cliLines } from '../builders.js';

const row = (over: Partial<Comparison>): Comparison => ({
  platform: 'native',
  benchmark: 'cpu',
  unit: 'kFLOPS',
  better: 'higher',
  verdict: 'equivalent',
  threshold: 0.05,
  failThreshold: 0.1,
  failsGate: false,
  ...over,
});

const regressed = row({
  verdict: 'regressed',
  failsGate: true,
  baselineMedian: 5e6,
  currentMedian: 4.4e6,
  change: -0.12,
  changeCi95: [-0.15, -0.09],
  pWorse: 0.008,
});

/**
 * The runner's reading of a job's output: a line that starts with `::` is a command, `::name
 * key=value,...::message`, with the escapes undone. What a hostile name could smuggle in would show
 * up here as a second command or a line of its own.
 */
function runnerCommands(lines: readonly string[]) {
  const unescape = (s: string) =>
    s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  return lines
    .flatMap((line) => line.split(/\r\n|\r|\n/))
    .map((line) => {
      const match = /^::(\w+)(?: ([^:]*))?::(.*)$/.exec(line);
      if (!match) return { line };
      const properties = Object.fromEntries(
        (match[2] ?? '')
          .split(',')
          .filter(Boolean)
          .map((p) => [p.slice(0, p.indexOf('=')), unescape(p.slice(p.indexOf('=') + 1))]),
      );
      return { command: match[1], properties, message: unescape(match[3]!) };
    });
}

describe('annotations', () => {
  it('is an ::error for a row that fails the gate, with the change, its interval, the thresholds and the medians', () => {
    expect(annotations([regressed])).toEqual([
      // % is escaped too: the runner shows "-12%".
      '::error title=virtbench%3A native cpu regressed::performance -12%25 [-15%25, -9.0%25] 95%25 CI (+ is better), p=0.0080 (worse, after Holm); ' +
        'fail threshold 10%25, noise threshold 5.0%25; median 5.00M -> 4.40M kFLOPS',
    ]);
  });

  it('is a ::warning for a regression within its fail threshold, and nothing for the other verdicts', () => {
    const within = row({ platform: 'docker', verdict: 'regressed', change: -0.07, changeCi95: [-0.09, -0.05], pWorse: 0.01 });
    const lines = annotations([
      within,
      row({ verdict: 'improved', change: 0.2 }),
      row({ verdict: 'undecided', change: -0.2, detectable: 0.4 }),
      row({ verdict: 'equivalent', change: -0.01 }),
      row({ verdict: 'added' }),
      row({ verdict: 'removed' }),
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^::warning title=virtbench%3A docker cpu regressed \(within the fail threshold\)::performance -7\.0%25 /);
  });

  it('says "fails the gate" for a benchmark that failed in the current run, and "is missing" for a lost figure, with the note', () => {
    const failed = row({ benchmark: 'mem', verdict: 'not comparable', failsGate: true, note: 'failed in the current run' });
    const missing = row({
      platform: 'qemu-kvm',
      verdict: 'removed',
      failsGate: true,
      missing: true,
      baselineMedian: 5e6,
      note: 'platform not in the current run, but the baseline measured it: fails the gate',
    });
    expect(annotations([failed, missing])).toEqual([
      '::error title=virtbench%3A native mem fails the gate::failed in the current run',
      '::error title=virtbench%3A qemu-kvm cpu is missing::platform not in the current run, but the baseline measured it: fails the gate',
    ]);
  });

  it("keeps within GitHub's 10 annotations of a kind per step: the tenth names the rest", () => {
    const many = Array.from({ length: 14 }, (_, i) => row({ ...regressed, platform: `p${i}` }));
    const within = Array.from({ length: 3 }, (_, i) => row({ platform: `w${i}`, verdict: 'regressed', change: -0.06 }));
    const lines = annotations([...many, ...within]);
    expect(lines.filter((l) => l.startsWith('::error '))).toHaveLength(10);
    expect(lines.filter((l) => l.startsWith('::warning '))).toHaveLength(3);
    expect(lines[8]).toMatch(/^::error title=virtbench%3A p8 cpu regressed::/);
    expect(lines[9]).toBe(
      '::error title=virtbench%3A 5 more rows fail the gate::p9 cpu, p10 cpu, p11 cpu, p12 cpu, p13 cpu; the job summary has every row',
    );
  });

  it('escapes data as GitHub does: a message and a property value', () => {
    expect(escapeData('50% a\r\nb: c, d')).toBe('50%25 a%0D%0Ab: c, d');
    expect(escapeProperty('50% a\r\nb: c, d')).toBe('50%25 a%0D%0Ab%3A c%2C d');
    // % first: an escape already in the data is kept as text, not decoded by the runner.
    expect(escapeData('%0A')).toBe('%250A');
  });

  it('cannot be made to print a second command by a hostile benchmark, platform or note', () => {
    const hostile = [
      row({ ...regressed, benchmark: 'x\n::error::pwned', platform: 'p,title=owned::x' }),
      row({ ...regressed, benchmark: 'y%0A::error::pwned', note: 'n\r::warning::pwned\n::set-env name=X::1' }),
      row({ ...regressed, benchmark: 'z\r\n::add-mask::secret', unit: 'u\n::stop-commands::t' }),
    ];
    const lines = annotations(hostile);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).not.toMatch(/[\r\n]/);
    const commands = runnerCommands(lines);
    expect(commands).toHaveLength(3);
    expect(commands.map((c) => c.command)).toEqual(['error', 'error', 'error']);
    // Each decodes to exactly what was given: the title property is one property, the text intact.
    expect(commands[0]!.properties).toEqual({ title: 'virtbench: p,title=owned::x x\n::error::pwned regressed' });
    expect(commands[1]!.properties).toEqual({ title: 'virtbench: native y%0A::error::pwned regressed' });
    expect(commands[1]!.message).toMatch(/; n\r::warning::pwned\n::set-env name=X::1$/);
    expect(commands[2]!.message).toContain('median 5.00M -> 4.40M u\n::stop-commands::t');
  });
});

describe('comparison files', () => {
  it('reads what compareResults writes, and annotates its regressions and lost figures', () => {
    const baseline = resultsFileOf([
      asRuns(resultOf('native', 'cpu', [5.0e6, 5.1e6, 4.9e6, 5.0e6, 5.0e6])),
      asRuns(resultOf('docker', 'cpu', [4.9e6, 5.0e6, 4.8e6, 4.9e6, 4.9e6])),
    ]);
    const current = resultsFileOf([asRuns(resultOf('native', 'cpu', [4.0e6, 4.1e6, 3.9e6, 4.0e6, 4.0e6]))]);
    const rows = parseComparisons(JSON.stringify(compareResults(baseline, current), null, 2), 'comparison.json');
    const lines = annotations(rows);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^::error title=virtbench%3A native cpu regressed::performance -20%25 \[/);
    expect(lines[1]).toMatch(/^::error title=virtbench%3A docker cpu (is missing|fails the gate)::/);
  });

  it('reads rows as `virtbench ab` writes them (JSON: NaN as null, no undefined)', () => {
    const text = JSON.stringify([{ ...regressed, pWorse: Number.NaN }, row({})]);
    const rows = parseComparisons(text, 'comparison.json');
    expect(rows[0]).toMatchObject({ platform: 'native', verdict: 'regressed', failsGate: true, change: -0.12, pWorse: undefined });
    expect(annotations(rows)).toHaveLength(1);
  });

  it('reads a file of a virtbench before the four verdicts: "unchanged" is undecided, never equivalent', () => {
    const rows = parseComparisons(JSON.stringify([{ ...row({}), verdict: 'unchanged' }]), 'old.json');
    expect(rows[0]!.verdict).toBe('undecided');
  });

  it('refuses what is not a comparison, naming the file and the row', () => {
    const bad = (data: unknown) => () => checkComparisons(data, 'c.json');
    expect(bad({ results: [] })).toThrow(/comparison file c\.json: expected a JSON array/);
    expect(bad([regressed, 'x'])).toThrow(/row 1 is not an object/);
    expect(bad([{ ...regressed, platform: 3 }])).toThrow(/row 0: "platform" must be a string, got 3/);
    expect(bad([{ ...regressed, verdict: 'worse\n::error::x' }])).toThrow(/unknown verdict "worse\\n::error::x"/);
    expect(bad([{ ...regressed, failsGate: 'yes' }])).toThrow(/"failsGate" must be true or false/);
    expect(bad([{ ...regressed, change: '-12%' }])).toThrow(/"change" must be a number/);
    expect(bad([{ ...regressed, changeCi95: [-0.1] }])).toThrow(/"changeCi95" must be two numbers/);
    expect(bad([{ ...regressed, threshold: undefined }])).toThrow(/"threshold" must be a number, got nothing/);
    expect(bad([{ ...regressed, better: 'more' }])).toThrow(/"better" must be "higher" or "lower"/);
    expect(bad([{ ...regressed, missing: 'no' }])).toThrow(/"missing" must be true or false/);
    expect(() => parseComparisons('', 'c.json')).toThrow(/c\.json is empty/);
    expect(() => parseComparisons('[{"a":\n1,', 'c.json')).toThrow(/c\.json is not JSON/);
    expect(() => parseComparisons('[{"a":\n1,', 'c.json')).toThrow(expect.objectContaining({ code: 'VIRTBENCH_BAD_RESULTS_FILE' }));
  });
});

describe('virtbench annotate', () => {
  let dir: string;
  const cli = (...argv: string[]) => cliLines(argv);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtbench-annotate-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('prints one command per annotation and exits 0, regressions or not', async () => {
    await writeFile(join(dir, 'comparison.json'), JSON.stringify([regressed, row({ verdict: 'improved', change: 0.1 })]));
    const { code, lines } = await cli('annotate', join(dir, 'comparison.json'));
    expect(code).toBe(0);
    expect(lines).toEqual(annotations([regressed]));
    await writeFile(join(dir, 'calm.json'), '[]');
    expect(await cli('annotate', join(dir, 'calm.json'))).toEqual({ code: 0, lines: [] });
  });

  it('refuses a missing, empty or foreign file with VIRTBENCH_BAD_RESULTS_FILE (the bin exits 2), and bad usage', async () => {
    const refused = (code: string, message: RegExp) =>
      expect.objectContaining({ name: 'VirtbenchError', code, message: expect.stringMatching(message) });
    await writeFile(join(dir, 'empty.json'), '');
    await writeFile(join(dir, 'results.json'), JSON.stringify({ schema: 'virtbench.results/v1', results: [] }));
    await expect(cli('annotate', join(dir, 'missing.json'))).rejects.toEqual(
      refused('VIRTBENCH_BAD_RESULTS_FILE', /cannot read comparison file .*missing\.json/),
    );
    await expect(cli('annotate', join(dir, 'empty.json'))).rejects.toEqual(refused('VIRTBENCH_BAD_RESULTS_FILE', /empty\.json is empty/));
    // An artifact is anyone's data: no larger than a results file may be, read no further (a sparse file here).
    await writeFile(join(dir, 'huge.json'), '[');
    await truncate(join(dir, 'huge.json'), RESULTS_LIMITS.fileBytes + 1);
    await expect(cli('annotate', join(dir, 'huge.json'))).rejects.toEqual(
      refused('VIRTBENCH_BAD_RESULTS_FILE', /MiB\): far more than a comparison takes\nfix: /),
    );
    await expect(cli('annotate', join(dir, 'results.json'))).rejects.toEqual(
      refused('VIRTBENCH_BAD_RESULTS_FILE', /expected a JSON array/),
    );
    await expect(cli('annotate')).rejects.toBeInstanceOf(VirtbenchError);
    await expect(cli('annotate', 'a.json', 'b.json')).rejects.toEqual(refused('VIRTBENCH_BAD_OPTION', /usage: virtbench annotate/));
  });
});

describe('scripts/pr-check.sh', () => {
  // PR_CHECK_DRY_RUN=1: the inputs are checked and the ab command printed; nothing is built or measured,
  // also if a check below were to let a bad input through.
  const prCheck = (env: Record<string, string>) =>
    execa('bash', [join(packageRoot, 'scripts/pr-check.sh')], {
      env: { PATH: process.env.PATH!, PR_CHECK_DRY_RUN: '1', ...env },
      extendEnv: false,
      reject: false,
    });

  it('runs `virtbench ab` with the defaults: native and docker, quick, into virtbench-ab', async () => {
    const { exitCode, stdout } = await prCheck({ BASE_REF: 'origin/main' });
    expect(exitCode).toBe(0);
    expect(stdout).toBe(
      'pr-check: would run: npx --no virtbench ab origin/main --project native --project docker --profile quick --out virtbench-ab',
    );
  });

  it('passes every input on, one argument each', async () => {
    const { exitCode, stdout } = await prCheck({
      BASE_REF: 'origin/main',
      HEAD_REF: 'HEAD',
      VIRTBENCH_PROJECTS: ' native  qemu-kvm docker#2 ',
      VIRTBENCH_PROFILE: 'standard',
      OUT: 'ab out',
      VIRTBENCH_AB_ROUNDS: '4',
      VIRTBENCH_AB_RUNS: '10',
      VIRTBENCH_AB_THRESHOLD: '5% disk-random=10%',
      VIRTBENCH_AB_FAIL_THRESHOLD: '15%',
      PR_NUMBER: '42',
    });
    expect(exitCode).toBe(0);
    expect(stdout).toBe(
      'pr-check: would run: npx --no virtbench ab origin/main HEAD --project native --project qemu-kvm --project docker#2 ' +
        '--profile standard --out ab\\ out --rounds 4 --runs 10 --threshold=5% --threshold=disk-random=10% --fail-threshold=15%',
    );
  });

  it('refuses a bad input with exit 2 before running anything, quoting the value so that it stays on one line', async () => {
    const refusals: [Record<string, string>, RegExp][] = [
      [{}, /BASE_REF is required/],
      [{ BASE_REF: '--upload-pack=touch /tmp/x' }, /bad ref --upload-pack=touch\\ \/tmp\/x/],
      [{ BASE_REF: 'main\n::error::pwned' }, /bad ref \$'main\\n::error::pwned'/],
      [{ BASE_REF: 'main', HEAD_REF: '-x' }, /bad ref -x/],
      [{ BASE_REF: 'main', VIRTBENCH_PROJECTS: 'native --project=evil' }, /bad platform name --project=evil/],
      [{ BASE_REF: 'main', VIRTBENCH_PROJECTS: '   ' }, /VIRTBENCH_PROJECTS names no platform/],
      [{ BASE_REF: 'main', VIRTBENCH_PROFILE: 'quick;rm' }, /bad VIRTBENCH_PROFILE quick\\;rm/],
      [{ BASE_REF: 'main', PR_NUMBER: '12\n::error::x' }, /PR_NUMBER must be a pull request number, got \$'12\\n::error::x'/],
      [{ BASE_REF: 'main', VIRTBENCH_AB_ROUNDS: 'two' }, /VIRTBENCH_AB_ROUNDS must be a number/],
      [{ BASE_REF: 'main', VIRTBENCH_AB_RUNS: '6;x' }, /VIRTBENCH_AB_RUNS must be a number/],
    ];
    for (const [env, message] of refusals) {
      const { exitCode, stdout, stderr } = await prCheck(env);
      expect({ env, exitCode, stdout }).toEqual({ env, exitCode: 2, stdout: '' });
      expect(stderr).toMatch(message);
      expect(stderr.split('\n')).toHaveLength(1);
    }
  });
});

describe('the workflows', { timeout: 120_000 }, () => {
  const workflows = ['pr-bench.yml', 'pr-comment.yml'].map((name) => join(packageRoot, '.github/workflows', name));

  /** The lines of the run: scripts of a workflow (a `run: |` block, or a one-line `run:`). */
  function runScripts(text: string): string[] {
    const lines: string[] = [];
    let indent = -1;
    for (const line of text.split('\n')) {
      const depth = line.length - line.trimStart().length;
      if (indent >= 0 && (line.trim() === '' || depth > indent)) lines.push(line);
      else indent = -1;
      const run = /^(\s*)(?:- )?run: ?(.*)$/.exec(line);
      if (run) {
        if (run[2] === '|') indent = run[1]!.length;
        else lines.push(run[2]!);
      }
    }
    return lines;
  }

  it('pass actionlint (scripts/check-workflows.sh), and a broken copy does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-workflows-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const broken = join(dir, 'broken.yml');
    const text = await readFile(workflows[0]!, 'utf8');
    await writeFile(
      broken,
      text.replace('- run: npm ci --no-audit --no-fund\n', '- run: npm ci --no-audit --no-fund "${{ github.event.pull_request.title }}"\n'),
    );
    // One run (the checker loads for seconds): the problems are the broken copy's only.
    const result = await execa('bash', [join(packageRoot, 'scripts/check-workflows.sh'), ...workflows, broken], { reject: false });
    expect(result.exitCode).toBe(1);
    const problems = result.stdout.split('\n').filter((line) => /^\/.*:\d+:\d+: /.test(line));
    expect(problems).toEqual([expect.stringMatching(/broken\.yml:\d+:\d+: "github\.event\.pull_request\.title" is potentially untrusted/)]);
  });

  it('keep the fork-safe split: the check reads, the comment job writes and never runs the pull request', async () => {
    const [bench, comment] = (await Promise.all(workflows.map((file) => readFile(file, 'utf8')))) as [string, string];
    expect(bench).toMatch(/^permissions:\n {2}contents: read\n\n/m);
    expect(bench).toMatch(/^name: virtbench PR check$/m);
    expect(bench).toMatch(/uses: \.\/\n(.*\n)*? {10}mode: pull-request\n/);
    expect(comment).toMatch(/workflows: \[virtbench PR check\]/);
    // The comment job checks out the default branch (workflow_run's own), never a ref of the pull request.
    expect(comment).not.toMatch(/ref:|head_sha|head_branch/);
    expect(comment).toMatch(/uses: \.\/\n {8}with:\n {10}mode: comment\n/);
    // No expression in a script: what a pull request controls reaches one through env only.
    const action = await readFile(join(packageRoot, 'action.yml'), 'utf8');
    const scripts = [...runScripts(bench), ...runScripts(comment), ...runScripts(action)];
    expect(scripts.join('\n')).toContain('action/pr-check.sh');
    expect(scripts.filter((line) => line.includes('${{'))).toEqual([]);
  });
});
