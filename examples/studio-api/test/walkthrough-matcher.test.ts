import { describe, expect, it } from 'vitest';
import { mismatch, startEnvironment, walkthroughSteps } from './support/walkthrough.js';

// The rules by which test/walkthrough.test.ts compares the README's outputs with real ones.
describe('the walkthrough matcher', () => {
  it('takes a number with decimals for a measurement, a whole number exactly', () => {
    expect(mismatch('{"value":515.969,"samples":50}', '{"value":432.1,"samples":50}')).toBeNull();
    expect(mismatch('{"value":515.969,"samples":50}', '{"value":432,"samples":50}')).toBeNull();
    expect(mismatch('{"value":515.969,"samples":50}', '{"value":432.1,"samples":49}')).not.toBeNull();
    expect(mismatch('{"score":10}', '{"score":9.9}')).not.toBeNull();
  });

  it('takes <words> for any text, and a line ... for any lines', () => {
    expect(mismatch('incident <id> opened', 'incident studio-api-1-ab12 opened')).toBeNull();
    expect(mismatch('incident <id> opened', 'incident studio-api-1-ab12 closed')).not.toBeNull();
    expect(mismatch('a\n...\nd', 'a\nb\nc\nd')).toBeNull();
    expect(mismatch('a\nd', 'a\nb\nd')).not.toBeNull();
    expect(mismatch('a', 'a\nb')).not.toBeNull();
    expect(mismatch('a\n...', 'a\nb')).toBeNull();
  });

  it('finds log lines in order, with other lines between', () => {
    expect(mismatch('one\nthree', 'one\ntwo\nthree', true)).toBeNull();
    expect(mismatch('three\none', 'one\ntwo\nthree', true)).not.toBeNull();
  });

  it('reads the marked blocks and the environment of a start line', () => {
    const steps = walkthroughSteps(
      [
        'text',
        '<!-- walkthrough: start -->',
        '```sh',
        'A=1 B=two \\',
        'C=3 pnpm start',
        '```',
        '<!-- walkthrough: run -->',
        '```sh',
        'curl x',
        '```',
      ].join('\n'),
    );
    expect(steps.map((s) => [s.kind, s.line])).toEqual([
      ['start', 4],
      ['run', 9],
    ]);
    expect(startEnvironment(steps[0]!)).toEqual({ A: '1', B: 'two', C: '3' });
    expect(() => startEnvironment({ kind: 'start', text: 'A=1 npm start', line: 1 })).toThrow(/pnpm start/);
  });
});
