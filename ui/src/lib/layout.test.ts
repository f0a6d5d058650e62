import { describe, expect, it } from 'vitest';

import { defaultLayout, parseLayout, toggleColumn } from './layout';

describe('stored layout', () => {
  it('falls back to the default for nothing or junk', () => {
    expect(parseLayout(null)).toEqual(defaultLayout());
    expect(parseLayout('not json')).toEqual(defaultLayout());
    expect(parseLayout('[1,2]').columns).toEqual(defaultLayout().columns);
  });
  it('keeps what is valid and drops the rest', () => {
    const l = parseLayout(
      JSON.stringify({
        columns: ['size', 'bogus', 'size', 'ratio'],
        widths: { name: 400, size: 5, nope: 100 },
        sort: { column: 'ratio', descending: true },
        filter: 'seeding',
        detailHeight: 99999,
        theme: 'dark',
      }),
    );
    expect(l.columns).toEqual(['name', 'size', 'ratio']);
    expect(l.widths).toEqual({ name: 400, size: 40 });
    expect(l.sort).toEqual({ column: 'ratio', descending: true });
    expect(l.filter).toBe('seeding');
    expect(l.detailHeight).toBe(2000);
    expect(l.theme).toBe('dark');
  });
  it('a bad sort or filter is the default', () => {
    const l = parseLayout(JSON.stringify({ sort: { column: 'x' }, filter: 'x', theme: 'pink' }));
    expect(l.sort).toEqual(defaultLayout().sort);
    expect(l.filter).toBe('all');
    expect(l.theme).toBe('system');
  });
  it('toggles columns, keeping their usual order and the name', () => {
    expect(toggleColumn(['name', 'ratio'], 'size')).toEqual(['name', 'size', 'ratio']);
    expect(toggleColumn(['name', 'size', 'ratio'], 'size')).toEqual(['name', 'ratio']);
    expect(toggleColumn(['name'], 'name')).toEqual(['name']);
  });
});
