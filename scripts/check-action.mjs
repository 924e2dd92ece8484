// Checks what actionlint does not: the GitHub Action of this repository (action.yml, which actionlint
// does not lint) and how the workflows use it. Run by scripts/check-workflows.sh.
//   node scripts/check-action.mjs <repo> <workflow.yml>...
// - action.yml parses as YAML; a composite action whose every input has a description, whose
//   ${{ inputs.x }} and ${{ steps.x }} name inputs and steps that exist, and whose scripts exist;
// - every step that uses the action (uses: ./ or <owner>/virtbench@...) passes only inputs that
//   action.yml has, and a mode that it knows;
// - every other action (action.yml's and the workflows') is pinned by a full commit SHA, with the tag
//   in a comment; every actions/checkout keeps no credentials (persist-credentials: false);
// - action.yml's run: scripts pass shellcheck (where it is installed), as actionlint checks the workflows'.
// Exit 0 clean, 1 a problem found, 2 cannot check (no YAML parser).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const [repo, ...workflows] = process.argv.slice(2);
let YAML;
try {
  YAML = createRequire(join(repo, 'package.json'))('yaml');
} catch (error) {
  console.error(`check-action: no YAML parser: the npm package yaml (npm ci installs it) is missing (${error.message.split('\n')[0]})`);
  process.exit(2);
}

const MODES = ['pull-request', 'history', 'machine', 'merge', 'comment'];
const problems = [];
const problem = (file, message) => problems.push(`${relative(repo, file) || file}: ${message}`);

/** Parses a YAML file; a problem (and undefined) where it does not parse. */
function parse(file) {
  const text = readFileSync(file, 'utf8');
  try {
    return { text, data: YAML.parse(text, { uniqueKeys: true, prettyErrors: true }) };
  } catch (error) {
    problem(file, `not YAML: ${error.message.split('\n')[0]}`);
    return { text, data: undefined };
  }
}

/** The steps of a workflow's jobs, or of a composite action. */
function stepsOf(data) {
  if (Array.isArray(data?.runs?.steps)) return data.runs.steps;
  return Object.values(data?.jobs ?? {}).flatMap((job) => (Array.isArray(job?.steps) ? job.steps : []));
}

const isOurAction = (uses) => uses === './' || uses === '.' || /^[^/\s]+\/virtbench@\S+$/.test(uses);

/** uses: owner/repo@<40 hex> # vX.Y.Z, on the line as written. */
function checkPinned(file, text, steps) {
  for (const step of steps) {
    const uses = typeof step?.uses === 'string' ? step.uses : undefined;
    if (!uses || uses.startsWith('./') || uses === '.' || uses.startsWith('docker://') || isOurAction(uses)) continue;
    if (!/^[^@\s]+@[0-9a-f]{40}$/.test(uses)) {
      problem(file, `${uses} is not pinned by a full commit SHA (uses: owner/repo@<40 hex digits> # <tag>)`);
      continue;
    }
    const line = text.split('\n').find((l) => l.includes(uses));
    if (!/#\s*v\d/.test(line ?? '')) problem(file, `${uses} has no tag in a comment (# v4.4.0) after its SHA`);
  }
  for (const step of steps) {
    if (typeof step?.uses === 'string' && /^actions\/checkout@/.test(step.uses) && step.with?.['persist-credentials'] !== false) {
      problem(file, `${step.uses}: persist-credentials: false (a token left in .git/config is one every later step can read)`);
    }
  }
}

// --- action.yml ---------------------------------------------------------------------------------------
const actionFile = join(repo, 'action.yml');
const { text: actionText, data: action } = parse(actionFile);
const inputs = new Set(Object.keys(action?.inputs ?? {}));
if (action) {
  if (action.runs?.using !== 'composite') problem(actionFile, 'runs.using must be composite');
  if (!action.name || !action.description) problem(actionFile, 'name and description are required');
  for (const [name, input] of Object.entries(action.inputs ?? {})) {
    if (!input?.description) problem(actionFile, `input ${name} has no description`);
  }
  const steps = stepsOf(action);
  const ids = new Set(steps.map((s) => s?.id).filter(Boolean));
  for (const [, name] of actionText.matchAll(/\binputs\.([A-Za-z0-9_-]+)/g)) {
    if (!inputs.has(name)) problem(actionFile, `inputs.${name} is no input of the action`);
  }
  for (const [, id] of actionText.matchAll(/\bsteps\.([A-Za-z0-9_-]+)\./g)) {
    if (!ids.has(id)) problem(actionFile, `steps.${id} is no step of the action`);
  }
  for (const [, script] of actionText.matchAll(/\$GITHUB_ACTION_PATH\/(action\/[\w.-]+)/g)) {
    if (!existsSync(join(repo, script))) problem(actionFile, `${script} does not exist`);
  }
  for (const [, script] of actionText.matchAll(/\$\{process\.env\.VIRTBENCH_ACTION_PATH\}\/(action\/[\w.-]+)/g)) {
    if (!existsSync(join(repo, script))) problem(actionFile, `${script} does not exist`);
  }
  for (const step of steps) {
    if (step?.run !== undefined && !step.shell)
      problem(actionFile, `step "${step.name ?? step.id}": a composite action's run: needs shell:`);
  }
  checkPinned(actionFile, actionText, steps);

  // The run: scripts, with each ${{ }} as a plain word, through shellcheck as actionlint does for workflows.
  const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  if (shellcheck.status === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'virtbench-check-action-'));
    try {
      steps.forEach((step, i) => {
        if (typeof step?.run !== 'string') return;
        const file = join(dir, `step-${i + 1}.sh`);
        writeFileSync(file, `#!/usr/bin/env bash\nset -e\n${step.run.replace(/\$\{\{[^}]*\}\}/g, 'expression')}\n`);
        const result = spawnSync('shellcheck', ['-s', 'bash', '-f', 'gcc', file], { encoding: 'utf8' });
        if (result.status !== 0) {
          for (const line of (result.stdout || result.stderr).trim().split('\n'))
            problem(actionFile, `step "${step.name ?? step.id}": ${line.replace(`${file}:`, 'line ')}`);
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    console.log('check-action: shellcheck is not installed: the run: scripts of action.yml were not checked');
  }
}

// --- the workflows that use it ------------------------------------------------------------------------
let uses = 0;
for (const file of workflows) {
  const { text, data } = parse(file);
  if (!data) continue;
  checkPinned(file, text, stepsOf(data));
  for (const job of Object.values(data.jobs ?? {})) {
    const steps = Array.isArray(job?.steps) ? job.steps : [];
    for (const step of steps.filter((s) => typeof s?.uses === 'string' && isOurAction(s.uses))) {
      uses += 1;
      for (const name of Object.keys(step.with ?? {})) {
        if (!inputs.has(name)) problem(file, `${step.uses} has no input "${name}" (action.yml's: ${[...inputs].join(', ')})`);
      }
      const mode = step.with?.mode;
      if (mode !== undefined && !String(mode).includes('${{') && !MODES.includes(mode)) {
        problem(file, `mode "${mode}" is none of ${MODES.join(', ')}`);
      }
      if ((mode ?? 'pull-request') === 'pull-request') {
        const checkout = steps.find((s) => typeof s?.uses === 'string' && s.uses.startsWith('actions/checkout@'));
        if (checkout && checkout.with?.['fetch-depth'] !== 0)
          problem(file, 'mode pull-request needs the checkout with fetch-depth: 0 (the base branch)');
      }
    }
  }
}

console.log(`check-action: action.yml (${inputs.size} inputs), ${workflows.length} workflow(s), ${uses} use(s) of the action`);
for (const line of problems) console.log(line);
if (problems.length) console.log(`check-action: ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
