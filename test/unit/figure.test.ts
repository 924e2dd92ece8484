import { describe, expect, it } from 'vitest';
import { BadOutputError } from '../../src/errors.js';
import { parseFioJson, parseResultLine } from '../../src/harness/figure.js';

describe('parseResultLine', () => {
  it('reads value, unit, seconds and numeric extras', () => {
    const figure = parseResultLine(
      'cpu',
      'warming up\nRESULT value=5648425.5 unit=kFLOPS seconds=2.003656 n=500 solves=135 residual=0.018\n',
      'kFLOPS',
    );
    expect(figure).toEqual({
      value: 5648425.5,
      unit: 'kFLOPS',
      seconds: 2.003656,
      extra: { n: 500, solves: 135, residual: 0.018 },
    });
  });

  it('keeps non-numeric extras as text and takes the last RESULT line', () => {
    const out = 'RESULT value=1 unit=s seconds=1 mode=processes\nRESULT value=2 unit=s seconds=2 mode=threads\n';
    expect(parseResultLine('fork', out, 's')).toMatchObject({ value: 2, extra: { mode: 'threads' } });
    // A number too large for a double would become Infinity, which results.json cannot hold (null).
    expect(parseResultLine('fork', 'RESULT value=2 unit=s seconds=2 huge=1e999\n', 's').extra).toEqual({ huge: '1e999' });
  });

  it.each([
    ['empty output', '', /no "RESULT \.\.\." line/],
    ['garbage', 'Segmentation fault\n', /no "RESULT \.\.\." line/],
    ['a value that is not a number', 'RESULT value=fast unit=s seconds=1', /no valid value/],
    ['a negative value', 'RESULT value=-1 unit=s seconds=1', /no valid value/],
    ['missing seconds', 'RESULT value=1 unit=s', /no valid seconds/],
    ['a wrong unit', 'RESULT value=1 unit=ms seconds=1', /unit "ms", expected "s"/],
    ['a malformed field', 'RESULT value=1 unit=s seconds=1 oops', /malformed field "oops"/],
  ])('rejects %s with a message that shows the output', (_, output, problem) => {
    const error = (() => {
      try {
        parseResultLine('mem', output, 's');
      } catch (e) {
        return e as BadOutputError;
      }
      throw new Error('parseResultLine accepted bad output');
    })();
    expect(error).toBeInstanceOf(BadOutputError);
    expect(error.code).toBe('VIRTBENCH_BAD_OUTPUT');
    expect(error.message).toMatch(problem);
    expect(error.message).toContain(output.trim() || '(empty output)');
  });
});

const fioJson = (write: object, error = 0) =>
  JSON.stringify({ 'fio version': 'fio-3.33', jobs: [{ jobname: 'randwrite', error, write }] }, null, 2);

describe('parseFioJson', () => {
  it('reads write IOPS and runtime, skipping warnings printed before the JSON', () => {
    const out = `fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n${fioJson({ iops: 62498.75, runtime: 2001, total_ios: 125060, bw: 249995 })}`;
    expect(parseFioJson(out)).toEqual({
      value: 62498.75,
      unit: 'IOPS',
      seconds: 2.001,
      extra: { ios: 125060, bandwidthKiBps: 249995, fio: 'fio-3.33' },
    });
  });

  it.each([
    ['no JSON', 'fio: failed to open file\n', /no JSON document/],
    ['truncated JSON', '{\n  "jobs": [', /not valid JSON/],
    ['no write section', JSON.stringify({ jobs: [{}] }), /no jobs\[0\]\.write/],
    ['a job error', fioJson({ iops: 1, runtime: 1 }, 5), /error 5/],
    ['zero IOPS', fioJson({ iops: 0, runtime: 1000 }), /wrote nothing/],
  ])('rejects %s', (_, output, problem) => {
    expect(() => parseFioJson(output)).toThrow(problem);
  });
});
