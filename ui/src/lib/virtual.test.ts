import { describe, expect, it } from 'vitest';

import { visibleRange } from './virtual';

describe('visibleRange', () => {
  it('renders the rows in view plus a margin', () => {
    const r = visibleRange(1000, 280, 28, 500, 5);
    // rows 35.. in view; 11 rows visible; margin 5 each side
    expect(r.start).toBe(30);
    expect(r.end).toBe(35 + 11 + 5);
    expect(r.padTop).toBe(30 * 28);
    expect(r.padBottom).toBe((500 - r.end) * 28);
  });
  it('clamps at both ends', () => {
    expect(visibleRange(0, 280, 28, 3)).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
    expect(visibleRange(-50, 280, 28, 0)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
  });
});
