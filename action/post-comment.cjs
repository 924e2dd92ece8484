// The comment mode's last step (action.yml), run by actions/github-script with a token that may write
// pull-request comments: creates or updates the one virtbench comment of a pull request. Everything it
// reads of the check's artifact is data from the pull request's own run (a fork's too): the PR number
// must be digits and name an open pull request of this repository whose head is the checked commit,
// and the body is the comment the previous step rebuilt from the validated comparison.json and head.json
// with this repository's virtbench (`virtbench report --comment`), never comment.md of the artifact.
//   await require(`${process.env.VIRTBENCH_ACTION_PATH}/action/post-comment.cjs`)({ github, context, core }, options)
/* global require, module -- CommonJS: what actions/github-script's require() loads */
/* eslint-disable @typescript-eslint/no-require-imports */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MARKER = '<!-- virtbench-pr-comment -->';
/** GitHub refuses a comment body of 65,536 characters or more. */
const LIMIT = 65_000;
const BOT = 'github-actions[bot]';

/**
 * @param {{ github: any, context: any, core: any }} toolkit what actions/github-script passes its script
 * @param {{ reportDir: string, comment: string }} options the downloaded artifact, the rebuilt comment
 * @returns {Promise<{ posted: 'created' | 'updated' | 'none', number?: number, url?: string }>}
 */
module.exports = async function postComment({ github, context, core }, { reportDir, comment }) {
  const run = context.payload.workflow_run;
  if (!run || run.event !== 'pull_request') {
    core.setFailed('mode comment runs on workflow_run of the pull-request check (on: workflow_run, types: [completed])');
    return { posted: 'none' };
  }
  const numberFile = path.join(reportDir, 'pr-number');
  if (!fs.existsSync(numberFile)) {
    core.setFailed("the check's artifact has no pr-number: was it made by the virtbench action in mode pull-request?");
    return { posted: 'none' };
  }
  const text = fs.readFileSync(numberFile, 'utf8').slice(0, 100).trim();
  if (!/^[1-9][0-9]{0,9}$/.test(text)) {
    core.setFailed('pr-number of the artifact is not a pull request number');
    return { posted: 'none' };
  }
  const number = Number(text);

  // Only the pull request that the checked run was for, of this repository, and only while the run's commit is its head.
  let pr;
  try {
    ({ data: pr } = await github.rest.pulls.get({ ...context.repo, pull_number: number }));
  } catch (error) {
    core.setFailed(`pull request #${number} of ${context.repo.owner}/${context.repo.repo}: ${error.message}`);
    return { posted: 'none' };
  }
  if (pr.head.sha !== run.head_sha) {
    core.notice(`pull request #${number} is at ${pr.head.sha}, the run was for ${run.head_sha}: no comment`);
    return { posted: 'none', number };
  }
  if (pr.state !== 'open') {
    core.notice(`pull request #${number} is ${pr.state}: no comment`);
    return { posted: 'none', number };
  }

  // The run's address comes from the event (GitHub's), never from the artifact.
  let body = fs.existsSync(comment) ? fs.readFileSync(comment, 'utf8') : '';
  if (!body.startsWith(MARKER)) {
    body = `${MARKER}\n## virtbench\n\nThe check's report could not be read (a run that failed before it compared, or an artifact that is no report); see [the run](${run.html_url}).\n`;
  }
  if (body.length > LIMIT) body = `${body.slice(0, LIMIT)}\n\n(cut here; the whole report is in [the run](${run.html_url})'s artifact)\n`;

  const comments = await github.paginate(github.rest.issues.listComments, { ...context.repo, issue_number: number, per_page: 100 });
  const ours = comments.find((c) => c.user && c.user.login === BOT && typeof c.body === 'string' && c.body.startsWith(MARKER));
  if (ours) {
    await github.rest.issues.updateComment({ ...context.repo, comment_id: ours.id, body });
    core.info(`updated comment ${ours.html_url}`);
    return { posted: 'updated', number, url: ours.html_url };
  }
  const { data: created } = await github.rest.issues.createComment({ ...context.repo, issue_number: number, body });
  core.info(`created comment ${created.html_url}`);
  return { posted: 'created', number, url: created.html_url };
};
