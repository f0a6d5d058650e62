// Synthetic session updates for measuring how the window copes with many
// torrents and peers (make bench-ui). Every row and peer changes on every
// update, the worst case for the list and the Peers tab.

import type { PeerRow, SessionUpdate, TorrentRow } from './types';

function hex(n: number): string {
  return n.toString(16).padStart(40, '0');
}

/** Update number `round` of a session with `torrents` torrents, the first selected with `peers` peers. */
export function syntheticUpdate(round: number, torrents: number, peers: number): SessionUpdate {
  const rows: TorrentRow[] = [];
  for (let i = 0; i < torrents; i++) {
    const total = 1_000_000_000 + i * 1_000_000;
    const have = Math.min(total, (round * 7_000_000 + i * 3_000_000) % total);
    const rate = 100_000 + ((round * 31 + i * 17) % 1000) * 1000;
    rows.push({
      id: hex(i + 1),
      order: i + 1,
      addedAt: 1_700_000_000 + i,
      name: `Synthetic torrent ${i + 1} with a reasonably long name.mkv`,
      state: i % 5 === 0 ? 'seeding' : 'downloading',
      error: null,
      totalBytes: total,
      wantedBytes: total,
      haveBytes: have,
      progress: have / total,
      downloadRate: rate,
      uploadRate: rate / 3,
      etaSecs: Math.round((total - have) / rate),
      peers: 20 + (i % 30),
      seeds: 5 + (i % 7),
      knownPeers: 200,
      swarmSeeds: 40,
      swarmLeechers: 120,
      downloaded: have,
      uploaded: have / 4,
      ratio: 0.25,
      complete: false,
      piecesHave: Math.floor(have / 1_048_576),
      numPieces: Math.ceil(total / 1_048_576),
      diagnosis: {
        cause: 'fine',
        title: 'Nothing wrong: the peers are this fast',
        evidence: `${20 + (i % 30)} of ${20 + (i % 30)} connected peers send to us.`,
        fix: '',
      },
    });
  }
  const peerRows: PeerRow[] = [];
  for (let p = 0; p < peers; p++) {
    peerRows.push({
      addr: `10.${(p >> 8) & 255}.${p & 255}.${(p * 7) & 255}:${6881 + (p % 100)}`,
      client: p % 3 === 0 ? 'qBittorrent 4.6.2' : p % 3 === 1 ? 'Transmission 3.00' : 'Shoal 0.1.0',
      source: (['tracker', 'dht', 'pex'] as const)[p % 3],
      incoming: p % 4 === 0,
      encrypted: p % 2 === 0,
      amChoking: p % 2 === 0,
      amInterested: true,
      peerChoking: p % 3 === 0,
      peerInterested: p % 2 === 1,
      downloadRate: ((round + p) % 50) * 1000,
      uploadRate: ((round * 3 + p) % 20) * 1000,
      downloaded: round * 100_000 + p,
      uploaded: round * 10_000 + p,
      progress: ((p * 13) % 100) / 100,
    });
  }
  const selected = rows[0];
  return {
    full: round === 0,
    torrents: rows,
    removed: [],
    global: { downloadRate: 1e7, uploadRate: 3e6, peers: torrents * 30, dhtNodes: 300, dhtError: null, dhtRetryInSecs: null, dhtProblem: null, listenPort: 6881, connectable: null, portMapping: null, freeSpace: 5e11 },
    detail: selected
      ? {
          id: selected.id,
          overview: {
            infoHash: selected.id,
            saveDir: '/downloads',
            pieceLength: 1_048_576,
            comment: null,
            private: false,
            hashFailures: 0,
            banned: 0,
            magnet: `magnet:?xt=urn:btih:${selected.id}`,
            sequential: false,
            downloadLimitKib: 0,
            uploadLimitKib: 0,
          },
          pieces: null,
          peers: peerRows,
          peerCount: peers,
          webSeeds: [],
          files: null,
          trackers: null,
        }
      : null,
    dht: null,
    completed: [],
  };
}

/** Median and maximum of some timings. */
export function summarise(ms: number[]): { median: number; p95: number; max: number } {
  if (ms.length === 0) return { median: 0, p95: 0, max: 0 };
  const s = [...ms].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)],
    p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))],
    max: s[s.length - 1],
  };
}
