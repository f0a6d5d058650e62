import { describe, expect, it } from 'vitest';

import { niceMax, polyline, SpeedHistory } from './speed';

describe('SpeedHistory', () => {
  it('keeps samples in order until full, then drops the oldest', () => {
    const h = new SpeedHistory(3);
    h.push({ t: 1, down: 10, up: 1 });
    h.push({ t: 2, down: 20, up: 2 });
    expect(h.samples().map((s) => s.t)).toEqual([1, 2]);
    h.push({ t: 3, down: 30, up: 3 });
    h.push({ t: 4, down: 40, up: 4 });
    h.push({ t: 5, down: 50, up: 5 });
    expect(h.length).toBe(3);
    expect(h.samples().map((s) => s.t)).toEqual([3, 4, 5]);
  });

  it('returns the recent window and clears', () => {
    const h = new SpeedHistory(10);
    for (let t = 0; t < 10; t++) h.push({ t: t * 1000, down: t, up: 0 });
    expect(h.recent(3000).map((s) => s.t)).toEqual([6000, 7000, 8000, 9000]);
    h.clear();
    expect(h.samples()).toEqual([]);
    expect(h.recent(1000)).toEqual([]);
  });

  it('refuses a zero capacity', () => {
    expect(() => new SpeedHistory(0)).toThrow();
  });
});

describe('graph scale and points', () => {
  it('rounds the peak up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax([])).toBe(1024);
    expect(niceMax([{ t: 0, down: 130, up: 0 }])).toBe(200);
    expect(niceMax([{ t: 0, down: 0, up: 4100 }])).toBe(5000);
    expect(niceMax([{ t: 0, down: 1000, up: 0 }])).toBe(1000);
  });

  it('places the newest sample at the right edge and scales y', () => {
    const s = [
      { t: 0, down: 0, up: 0 },
      { t: 5000, down: 50, up: 100 },
      { t: 10000, down: 100, up: 0 },
    ];
    const pts = polyline(s, 'down', 100, 50, 10000, 100);
    expect(pts).toEqual([
      [0, 50],
      [50, 25],
      [100, 0],
    ]);
  });
});
