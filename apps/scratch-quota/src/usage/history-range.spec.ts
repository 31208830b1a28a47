import { InvalidError } from '@climcat/core';
import { historyRange } from './history-range';

const NOW = new Date('2026-06-15T13:00:00Z');

describe('historyRange', () => {
  it('defaults to the year up to today (UTC)', () => {
    expect(historyRange({}, NOW, 365)).toEqual({ from: '2025-06-15', to: '2026-06-15' });
    expect(historyRange({ to: '2026-01-10' }, NOW, 30)).toEqual({ from: '2025-12-11', to: '2026-01-10' });
  });

  it('takes a date-time for its UTC day', () => {
    expect(historyRange({ from: '2026-06-01T23:30:00-02:00', to: '2026-06-03' }, NOW, 365)).toEqual({
      from: '2026-06-02',
      to: '2026-06-03',
    });
  });

  it.each([
    [{ from: '2026-02-30' }, 'query.from'],
    [{ to: '2026-6-1' }, 'query.to'],
    [{ from: ['2026-06-01', '2026-06-02'] }, 'query.from'],
    [{ from: '2026-06-10', to: '2026-06-01' }, 'query.from'],
  ])('refuses %j naming %s', (query, field) => {
    let error: unknown;
    try {
      historyRange(query, NOW, 365);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidError);
    expect((error as InvalidError).message).toContain(field);
  });
});
