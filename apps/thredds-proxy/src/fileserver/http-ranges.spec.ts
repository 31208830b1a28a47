import { decideRange, entityTag, evaluatePreconditions, MAX_RANGES, rangeStillValid } from './http-ranges';

describe('decideRange', () => {
  it('reads single, open-ended, suffix and several ranges', () => {
    expect(decideRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=0-9', 100)).toEqual({ kind: 'partial', ranges: [{ start: 0, end: 9 }] });
    expect(decideRange('bytes=90-', 100)).toEqual({ kind: 'partial', ranges: [{ start: 90, end: 99 }] });
    expect(decideRange('bytes=-10', 100)).toEqual({ kind: 'partial', ranges: [{ start: 90, end: 99 }] });
    expect(decideRange('bytes=-1000', 100)).toEqual({ kind: 'partial', ranges: [{ start: 0, end: 99 }] });
    expect(decideRange('bytes=95-1000', 100)).toEqual({ kind: 'partial', ranges: [{ start: 95, end: 99 }] });
    expect(decideRange(' Bytes = 0-0 , 5-6', 100)).toEqual({
      kind: 'partial',
      ranges: [
        { start: 0, end: 0 },
        { start: 5, end: 6 },
      ],
    });
  });

  it('ignores other units and drops ranges past the end when another one is satisfiable', () => {
    expect(decideRange('items=0-1', 100)).toEqual({ kind: 'full' });
    expect(decideRange('bytes=0-1,200-300', 100)).toEqual({
      kind: 'partial',
      ranges: [{ start: 0, end: 1 }],
    });
  });

  it.each([
    ['bytes=100-', 'starts before the end'],
    ['bytes=-0', 'starts before the end'],
    ['bytes=99999999999999999999-', 'starts before the end'],
    ['bytes=5-4', 'ends before it starts'],
    ['bytes=a-b', 'not first-last'],
    ['bytes=-', 'not first-last'],
    ['bytes=0-1-2', 'not first-last'],
    ['bytes=,', 'names no byte range'],
    ['bytes=0-10,10-20', 'overlap'],
    ['bytes=50-60,0-', 'overlap'],
    ['=0-1', 'not unit=ranges'],
  ])('refuses %s (%s)', (header, reason) => {
    const decision = decideRange(header, 100);
    expect(decision.kind).toBe('unsatisfiable');
    expect(decision.kind === 'unsatisfiable' && decision.reason).toContain(reason);
  });

  it(`serves at most ${MAX_RANGES} ranges`, () => {
    const ranges = (n: number) =>
      `bytes=${Array.from({ length: n }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`;
    expect(decideRange(ranges(MAX_RANGES), 1000).kind).toBe('partial');
    expect(decideRange(ranges(MAX_RANGES + 1), 1000).kind).toBe('unsatisfiable');
  });

  it('finds nothing satisfiable in an empty file', () => {
    expect(decideRange('bytes=0-', 0).kind).toBe('unsatisfiable');
    expect(decideRange('bytes=-5', 0).kind).toBe('unsatisfiable');
  });
});

describe('validators', () => {
  const mtime = new Date('2026-11-30T10:00:00.750Z');
  const v = { etag: entityTag(100, mtime), lastModified: mtime };

  it('makes a strong ETag from size and whole seconds, or takes the store one', () => {
    expect(v.etag).toBe(`"64-${Math.floor(mtime.getTime() / 1000).toString(16)}"`);
    expect(entityTag(1, mtime, '"abc"')).toBe('"abc"');
  });

  it('evaluates preconditions in RFC 9110 order', () => {
    const date = mtime.toUTCString();
    expect(evaluatePreconditions({ 'if-none-match': v.etag }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '*' }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"x"', 'if-modified-since': date }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-modified-since': date }, v)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': 'not a date' }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': `W/${v.etag}` }, v)).toBe('failed');
    expect(evaluatePreconditions({ 'if-match': v.etag }, v)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-unmodified-since': new Date(0).toUTCString() }, v)).toBe('failed');
  });

  it('keeps a Range only while If-Range matches strongly', () => {
    expect(rangeStillValid(undefined, v)).toBe(true);
    expect(rangeStillValid(v.etag, v)).toBe(true);
    expect(rangeStillValid(`W/${v.etag}`, v)).toBe(false);
    expect(rangeStillValid(mtime.toUTCString(), v)).toBe(true);
    expect(rangeStillValid(new Date(mtime.getTime() + 2000).toUTCString(), v)).toBe(false);
  });
});
