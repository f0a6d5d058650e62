import { describe, expect, it } from 'vitest';

import { filterCounts, matchesSearch, nextSort, sortRows, viewRows } from './listview';
import type { TorrentRow } from './types';

function row(p: Partial<TorrentRow> & { id: string }): TorrentRow {
  return {
    order: 0,
    addedAt: 0,
    name: p.id,
    state: 'downloading',
    error: null,
    totalBytes: 0,
    wantedBytes: 0,
    haveBytes: 0,
    progress: 0,
    downloadRate: 0,
    uploadRate: 0,
    etaSecs: null,
    peers: 0,
    seeds: 0,
    knownPeers: 0,
    swarmSeeds: null,
    swarmLeechers: null,
    downloaded: 0,
    uploaded: 0,
    ratio: 0,
    complete: false,
    piecesHave: 0,
    numPieces: 0,
    diagnosis: { cause: 'fine', title: 'Nothing wrong: the peers are this fast', evidence: '', fix: '' },
    ...p,
  };
}

const rows = [
  row({ id: 'a', order: 1, name: 'Debian ISO', totalBytes: 300, downloadRate: 10, etaSecs: 50 }),
  row({ id: 'b', order: 2, name: 'alpha notes', totalBytes: 100, state: 'seeding', complete: true, uploadRate: 5 }),
  row({ id: 'c', order: 3, name: 'Music', totalBytes: 200, state: 'paused' }),
  row({ id: 'd', order: 4, name: 'broken', state: 'error' }),
  row({ id: 'e', order: 5, name: 'magnet', state: 'metadata' }),
  row({ id: 'f', order: 6, name: 'check me', state: 'checking' }),
  row({ id: 'g', order: 7, name: 'done and paused', state: 'paused', complete: true }),
];

describe('sorting', () => {
  it('sorts by a column either way, ties by the order added', () => {
    const bySize = sortRows(rows, { column: 'size', descending: true }).map((r) => r.id);
    expect(bySize).toEqual(['a', 'c', 'b', 'd', 'e', 'f', 'g']);
    const up = sortRows(rows, { column: 'size', descending: false }).map((r) => r.id);
    expect(up).toEqual(['d', 'e', 'f', 'g', 'b', 'c', 'a']);
  });
  it('sorts names without regard to case', () => {
    expect(sortRows(rows, { column: 'name', descending: false }).map((r) => r.name)[0]).toBe('alpha notes');
    expect(sortRows(rows, { column: 'name', descending: false }).map((r) => r.name)[1]).toBe('broken');
  });
  it('puts unknown ETAs last', () => {
    expect(sortRows(rows, { column: 'eta', descending: false })[0].id).toBe('a');
  });
  it('a second click reverses, a new column starts in its natural direction', () => {
    expect(nextSort({ column: 'name', descending: false }, 'name')).toEqual({ column: 'name', descending: true });
    expect(nextSort({ column: 'name', descending: false }, 'size')).toEqual({ column: 'size', descending: true });
    expect(nextSort({ column: 'size', descending: true }, 'state')).toEqual({ column: 'state', descending: false });
  });
});

describe('filters and search', () => {
  it('counts every filter', () => {
    expect(filterCounts(rows)).toEqual({
      all: 7,
      downloading: 2,
      seeding: 1,
      completed: 2,
      paused: 2,
      active: 2,
      inactive: 5,
      errored: 1,
      checking: 1,
    });
  });
  it('searches names by every word, any case', () => {
    expect(matchesSearch(rows[0], 'iso DEB')).toBe(true);
    expect(matchesSearch(rows[0], 'iso ubuntu')).toBe(false);
    expect(matchesSearch(rows[0], '  ')).toBe(true);
  });
  it('filters, searches and sorts together', () => {
    const v = viewRows(rows, 'paused', 'paused', { column: 'name', descending: false });
    expect(v.map((r) => r.id)).toEqual(['g']);
    expect(viewRows(rows, 'all', '', { column: 'added', descending: true })[0].id).toBe('g');
  });
});
