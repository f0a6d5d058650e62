import { describe, expect, it } from 'vitest';

import { SessionStore } from './session.svelte';
import type { SessionUpdate, TorrentRow } from './types';

function row(id: string, order: number, downloadRate = 0): TorrentRow {
  return {
    id,
    order,
    addedAt: 0,
    name: id,
    state: 'downloading',
    error: null,
    totalBytes: 100,
    wantedBytes: 100,
    haveBytes: 0,
    progress: 0,
    downloadRate,
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
    numPieces: 1,
    diagnosis: { cause: 'fine', title: 'Nothing wrong: the peers are this fast', evidence: '', fix: '' },
  };
}

function update(p: Partial<SessionUpdate>): SessionUpdate {
  return {
    full: false,
    torrents: [],
    removed: [],
    global: { downloadRate: 0, uploadRate: 0, peers: 0, dhtNodes: null, dhtError: null, dhtRetryInSecs: null, dhtProblem: null, listenPort: 1, connectable: null, portMapping: null, freeSpace: null },
    detail: null,
    dht: null,
    completed: [],
    ...p,
  };
}

describe('SessionStore', () => {
  it('applies full updates, diffs and removals, keeping unchanged rows', () => {
    const s = new SessionStore();
    s.apply(update({ full: true, torrents: [row('b', 2), row('a', 1)] }), 1000);
    expect(s.list.map((r) => r.id)).toEqual(['a', 'b']);
    const a = s.rows.get('a');
    s.apply(update({ torrents: [row('b', 2, 50)] }), 2000);
    expect(s.rows.get('a')).toBe(a);
    expect(s.rows.get('b')?.downloadRate).toBe(50);
    s.apply(update({ removed: ['a'] }), 3000);
    expect(s.list.map((r) => r.id)).toEqual(['b']);
    expect(s.histories.has('a')).toBe(false);
    expect(s.histories.get('b')?.samples().map((x) => x.down)).toEqual([0, 50, 50]);
    // A full update drops what it does not list.
    s.apply(update({ full: true, torrents: [row('c', 3)] }), 4000);
    expect(s.list.map((r) => r.id)).toEqual(['c']);
    expect(s.histories.has('b')).toBe(false);
  });

  it('passes on completed downloads', () => {
    const s = new SessionStore();
    expect(s.apply(update({ completed: ['x'] }))).toEqual(['x']);
  });
});
