import { describe, expect, it } from 'vitest';

import { summarise, syntheticUpdate } from './bench';

describe('synthetic updates', () => {
  it('have the asked numbers of rows and peers, all distinct', () => {
    const u = syntheticUpdate(3, 200, 500);
    expect(u.torrents.length).toBe(200);
    expect(new Set(u.torrents.map((r) => r.id)).size).toBe(200);
    expect(u.detail?.peers?.length).toBe(500);
    expect(new Set(u.detail?.peers?.map((p) => p.addr)).size).toBe(500);
  });
  it('summarise gives median, p95 and max', () => {
    expect(summarise([5, 1, 3, 2, 4])).toEqual({ median: 3, p95: 5, max: 5 });
  });
});
