import { InvalidError } from './errors';
import {
  assertQuota,
  decideGrant,
  evaluateQuota,
  lastUse,
  purgeDecision,
  unchangedSincePlan,
  type PurgePolicy,
  type QuotaLimits,
} from './quota';

const T0 = new Date('2026-03-01T00:00:00Z');
const hours = (h: number) => new Date(T0.getTime() + h * 3600_000);
const days = (d: number) => hours(d * 24);

const limits: QuotaLimits = {
  softBytes: 100,
  hardBytes: 150,
  softFiles: 10,
  hardFiles: 20,
  graceSeconds: 7 * 86400,
};

describe('evaluateQuota', () => {
  it('is ok under the soft limit, with room up to the hard limit', () => {
    const e = evaluateQuota(limits, { bytes: 100, files: 10 }, {}, T0);
    expect(e.state).toBe('ok');
    expect(e.graceUntil).toBeUndefined();
    expect(e.softSince).toEqual({});
    expect(e.remaining).toEqual({ bytes: 50, files: 10 });
  });

  it('starts the grace clock when the soft limit is first exceeded', () => {
    const e = evaluateQuota(limits, { bytes: 101, files: 1 }, {}, T0);
    expect(e.state).toBe('soft-exceeded');
    expect(e.softSince.bytes).toEqual(T0);
    expect(e.graceUntil).toEqual(days(7));
    expect(e.remaining.bytes).toBe(49);
  });

  it('keeps the original start while over the limit, and expires the grace after it', () => {
    const since = { bytes: T0 };
    expect(evaluateQuota(limits, { bytes: 120, files: 1 }, since, days(6.9)).state).toBe('soft-exceeded');
    const expired = evaluateQuota(limits, { bytes: 120, files: 1 }, since, days(7));
    expect(expired.state).toBe('grace-expired');
    expect(expired.graceUntil).toEqual(days(7));
    expect(expired.remaining.bytes).toBe(0);
  });

  it('resets the clock when usage falls back under the soft limit', () => {
    const e = evaluateQuota(limits, { bytes: 90, files: 1 }, { bytes: T0 }, days(30));
    expect(e.state).toBe('ok');
    expect(e.softSince).toEqual({});
    const again = evaluateQuota(limits, { bytes: 110, files: 1 }, e.softSince, days(31));
    expect(again.graceUntil).toEqual(days(38));
  });

  it('reports the hard limit as worst, whatever the grace', () => {
    const e = evaluateQuota(limits, { bytes: 151, files: 1 }, {}, T0);
    expect(e.state).toBe('hard-exceeded');
    expect(e.remaining.bytes).toBe(0);
    expect(e.softSince.bytes).toEqual(T0);
  });

  it('combines bytes and files: the worst state and the earliest grace end', () => {
    const e = evaluateQuota(limits, { bytes: 120, files: 12 }, { bytes: days(1), files: T0 }, days(2));
    expect(e.state).toBe('soft-exceeded');
    expect(e.graceUntil).toEqual(days(7));
    expect(
      evaluateQuota(limits, { bytes: 120, files: 12 }, { bytes: days(1), files: T0 }, days(7.5)).state,
    ).toBe('grace-expired');
  });

  it('treats absent limits as unlimited', () => {
    const e = evaluateQuota({ graceSeconds: 0 }, { bytes: 1e15, files: 1e9 }, {}, T0);
    expect(e.state).toBe('ok');
    expect(e.remaining).toEqual({ bytes: Infinity, files: Infinity });
  });
});

describe('decideGrant', () => {
  const none = { bytes: 0, files: 0 };

  it('grants what fits under the hard limit, counting reservations', () => {
    expect(decideGrant(limits, { bytes: 100, files: 1 }, none, {}, { bytes: 50, files: 1 }, T0)).toEqual({
      granted: true,
    });
    const refused = decideGrant(
      limits,
      { bytes: 100, files: 1 },
      { bytes: 30, files: 0 },
      {},
      { bytes: 21, files: 1 },
      T0,
    );
    expect(refused.granted).toBe(false);
    if (!refused.granted) {
      expect(refused.reason).toContain('hard limit of 150 bytes');
      expect(refused.remaining.bytes).toBe(20);
    }
  });

  it('refuses everything once the grace has expired', () => {
    const d = decideGrant(
      limits,
      { bytes: 101, files: 1 },
      none,
      { bytes: T0 },
      { bytes: 1, files: 1 },
      days(8),
    );
    expect(d).toMatchObject({ granted: false, state: 'grace-expired' });
  });

  it('refuses a file over the hard file count', () => {
    const d = decideGrant(limits, { bytes: 0, files: 20 }, none, {}, { bytes: 1, files: 1 }, T0);
    expect(d).toMatchObject({ granted: false });
  });

  it('never lets concurrent grants add up past the limit when each sees the others reserved', () => {
    let reserved = 0;
    let granted = 0;
    for (let i = 0; i < 50; i++) {
      const d = decideGrant(
        limits,
        { bytes: 0, files: 0 },
        { bytes: reserved, files: 0 },
        {},
        { bytes: 7, files: 0 },
        T0,
      );
      if (d.granted) {
        reserved += 7;
        granted++;
      }
    }
    expect(reserved).toBeLessThanOrEqual(150);
    expect(granted).toBe(Math.floor(150 / 7));
  });
});

describe('assertQuota', () => {
  it('names each bad member', () => {
    try {
      assertQuota({ softBytes: 200, hardBytes: 100, softFiles: -1, graceSeconds: 1.5 });
      throw new Error('not refused');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidError);
      const fields = (error as InvalidError).errors.map((e) => e.field).sort();
      expect(fields).toEqual(['body.graceSeconds', 'body.softBytes', 'body.softFiles']);
    }
  });

  it('accepts a consistent quota', () => {
    expect(() => assertQuota(limits)).not.toThrow();
  });
});

describe('purgeDecision', () => {
  const policy: PurgePolicy = { maxIdleDays: 56, noticeDays: 7, noatime: false };
  const times = { atime: T0, mtime: T0 };

  it('keeps files used recently', () => {
    expect(purgeDecision(times, policy, undefined, days(48))).toEqual({ action: 'keep' });
  });

  it('plans files within the notice window, due when idle long enough', () => {
    expect(purgeDecision(times, policy, undefined, days(49))).toEqual({
      action: 'plan',
      due: days(56),
      idleSince: T0,
    });
  });

  it('never deletes a file that has not been on the plan for the notice period', () => {
    const first = purgeDecision(times, policy, undefined, days(100));
    expect(first).toEqual({ action: 'plan', due: days(107), idleSince: T0 });
    expect(purgeDecision(times, policy, days(100), days(106.9)).action).toBe('plan');
    expect(purgeDecision(times, policy, days(100), days(107)).action).toBe('purge');
  });

  it('purges on the idle date when the plan gave enough notice', () => {
    expect(purgeDecision(times, policy, days(49), days(56))).toEqual({
      action: 'purge',
      due: days(56),
      idleSince: T0,
    });
  });

  it('forgets a plan entry made before the file was used again', () => {
    const used = { atime: days(60), mtime: T0 };
    expect(purgeDecision(used, policy, days(49), days(70))).toEqual({ action: 'keep' });
  });

  it('judges by mtime on noatime mounts, and never by an atime older than the mtime', () => {
    const t = { atime: days(50), mtime: T0 };
    expect(lastUse(t, true)).toEqual(T0);
    expect(lastUse(t, false)).toEqual(days(50));
    expect(lastUse({ atime: T0, mtime: days(3) }, false)).toEqual(days(3));
    expect(purgeDecision(t, { ...policy, noatime: true }, days(49), days(56)).action).toBe('purge');
  });
});

describe('unchangedSincePlan', () => {
  it('keeps a file whose size or times moved after the plan', () => {
    const planned = { atime: T0, mtime: T0, size: 10 };
    expect(unchangedSincePlan(planned, { ...planned })).toBe(true);
    expect(unchangedSincePlan(planned, { ...planned, size: 11 })).toBe(false);
    expect(unchangedSincePlan(planned, { ...planned, atime: hours(1) })).toBe(false);
    expect(unchangedSincePlan(planned, { ...planned, mtime: hours(1) })).toBe(false);
  });
});
