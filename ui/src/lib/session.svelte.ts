// The window's copy of the session, fed by the updates the app pushes
// (api.subscribe). Rows are kept as plain objects in a raw map: an update
// replaces only the rows that changed, so keyed each-blocks re-render only
// those.

import { SpeedHistory } from './speed';
import type { DhtPanel, GlobalStats, SessionUpdate, TorrentDetail, TorrentRow } from './types';

/** Samples kept per graph: five minutes at one per second. */
export const HISTORY_SAMPLES = 300;

export class SessionStore {
  /** Rows by id. Replaced (not mutated) on each change. */
  rows = $state.raw<Map<string, TorrentRow>>(new Map());
  /** Rows in list order. */
  list = $derived([...this.rows.values()].sort((a, b) => a.order - b.order));
  global = $state.raw<GlobalStats>({
    downloadRate: 0,
    uploadRate: 0,
    peers: 0,
    dhtNodes: null,
    dhtError: null,
    dhtRetryInSecs: null,
    dhtProblem: null,
    listenPort: null,
    connectable: null,
    portMapping: null,
    freeSpace: null,
  });
  detail = $state.raw<TorrentDetail | null>(null);
  dht = $state.raw<DhtPanel | null>(null);
  /** Bumped after every update, for graphs drawn from the histories. */
  tick = $state(0);
  /** Whether any update has arrived. */
  connected = $state(false);

  /** Speed of the whole session. */
  readonly globalHistory = new SpeedHistory(HISTORY_SAMPLES);
  /** Speed of each torrent. */
  readonly histories = new Map<string, SpeedHistory>();

  /** Applies an update; returns the names of torrents that just completed. */
  apply(u: SessionUpdate, now = Date.now()): string[] {
    if (u.full || u.torrents.length > 0 || u.removed.length > 0) {
      const next = u.full ? new Map<string, TorrentRow>() : new Map(this.rows);
      for (const id of u.removed) {
        next.delete(id);
        this.histories.delete(id);
      }
      for (const r of u.torrents) next.set(r.id, r);
      if (u.full) {
        for (const id of [...this.histories.keys()]) if (!next.has(id)) this.histories.delete(id);
      }
      this.rows = next;
    }
    for (const r of this.rows.values()) {
      let h = this.histories.get(r.id);
      if (!h) {
        h = new SpeedHistory(HISTORY_SAMPLES);
        this.histories.set(r.id, h);
      }
      h.push({ t: now, down: r.downloadRate, up: r.uploadRate });
    }
    this.globalHistory.push({ t: now, down: u.global.downloadRate, up: u.global.uploadRate });
    this.global = u.global;
    this.detail = u.detail;
    this.dht = u.dht;
    this.connected = true;
    this.tick++;
    return u.completed;
  }
}
