import { describe, expect, it } from 'vitest';
import { BadOutputError } from '../../src/errors.js';
import { parseFioJson, parseResultLine, unusableFigureError } from '../../src/workloads/figure.js';

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
    ['a value that is not a number', 'RESULT value=fast unit=s seconds=1', /no valid value: value=fast is not a number/],
    ['a value with garbage after the number', 'RESULT value=12abc unit=s seconds=1', /value=12abc is not a number/],
    ['an empty value', 'RESULT value= unit=s seconds=1', /no valid value: value= is not a number/],
    ['a missing value', 'RESULT unit=s seconds=1', /no valid value: there is no value=/],
    ['a NaN value', 'RESULT value=nan unit=s seconds=1', /value=nan is not a number/],
    ['an infinite value', 'RESULT value=Infinity unit=s seconds=1', /value=Infinity is not finite/],
    ['a value beyond a double', 'RESULT value=1e999 unit=s seconds=1', /value=1e999 is not finite/],
    ['a negative value', 'RESULT value=-1 unit=s seconds=1', /no valid value: value=-1 is negative/],
    ['a value of 0', 'RESULT value=0 unit=s seconds=1', /no valid value: value=0 is 0, and the report divides by every figure/],
    ['a value of 0 printed with %f', 'RESULT value=0.000000 unit=s seconds=0.5', /value=0\.000000 is 0/],
    ['missing seconds', 'RESULT value=1 unit=s', /no valid seconds: there is no seconds=/],
    ['seconds that are not a number', 'RESULT value=1 unit=s seconds=NaN', /seconds=NaN is not a number/],
    ['negative seconds', 'RESULT value=1 unit=s seconds=-2', /seconds=-2 is negative/],
    // The silent zero of a guest whose clock stood still: the seconds say why the figure is 0 too.
    [
      '0 seconds',
      'RESULT value=0.000000 unit=s seconds=0.000000',
      /no valid seconds: seconds=0\.000000: .*the clock it read did not advance/,
    ],
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
    // A number the report cannot divide by says what to print instead.
    if (/valid (value|seconds)/.test(error.message)) expect(error.message).toMatch(/\nfix: print /);
  });

  it('refuses a LINPACK figure of 0 kFLOPS, whatever else the line says', () => {
    const line = 'RESULT value=0.0 unit=kFLOPS seconds=2.003656 n=500 solves=135 residual=0.018';
    expect(() => parseResultLine('cpu', line, 'kFLOPS')).toThrow(/cpu: RESULT line has no valid value: value=0\.0 is 0/);
  });
});

describe("unusableFigureError (figures no parser of ours read: a workload's own parse, a served workload)", () => {
  const figure = (value: number, seconds = 1) => ({ value, unit: 'ops', seconds, extra: {} });

  it.each([
    [figure(0), /no usable figure: value=0 is 0/],
    [figure(-3), /value=-3 is negative/],
    [figure(Number.NaN), /value=NaN is not a number/],
    [figure(Number.POSITIVE_INFINITY), /value=Infinity is not finite/],
    [figure(5, 0), /seconds=0: the workload measured no time/],
    [figure(5, Number.NaN), /seconds=NaN is not a number/],
  ])('refuses %o, naming the cause and the fix', (bad, problem) => {
    const error = unusableFigureError('mine', bad, 'RESULT ...', 'docker');
    expect(error).toBeInstanceOf(BadOutputError);
    expect(error!.code).toBe('VIRTBENCH_BAD_OUTPUT');
    expect(error!.message).toMatch(/^\[docker\] mine: /);
    expect(error!.message).toMatch(problem);
    expect(error!.message).toMatch(/\nfix: /);
  });

  it('passes any finite figure above 0, however small', () => {
    expect(unusableFigureError('mine', figure(1e-300, 1e-9), '')).toBeUndefined();
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
    ['negative IOPS', fioJson({ iops: -5, runtime: 1000 }), /wrote nothing \(iops=-5/],
    ['a runtime of 0', fioJson({ iops: 100, runtime: 0 }), /wrote nothing \(iops=100, runtime=0 ms\)/],
    ['IOPS that are not a number', fioJson({ iops: 'many', runtime: 1000 }), /no jobs\[0\]\.write\.iops/],
    ['IOPS beyond a double', '{"jobs": [{"error": 0, "write": {"iops": 1e999, "runtime": 1000}}]}', /iops=Infinity .*not finite/],
  ])('rejects %s', (_, output, problem) => {
    expect(() => parseFioJson(output)).toThrow(problem);
    if (/wrote nothing|finite/.test(String(problem))) expect(() => parseFioJson(output)).toThrow(/\nfix: /);
  });
});
