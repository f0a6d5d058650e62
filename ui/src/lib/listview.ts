// The torrent list's view: which rows (filter by state, search by name), in
// which order (any column, either way), with which columns. Pure functions,
// unit-tested in listview.test.ts.

import type { TorrentRow } from './types';

/** The list's columns. */
export type ColumnId =
  | 'name'
  | 'size'
  | 'progress'
  | 'state'
  | 'down'
  | 'up'
  | 'eta'
  | 'peers'
  | 'ratio'
  | 'downloaded'
  | 'uploaded'
  | 'added';

export interface Column {
  id: ColumnId;
  label: string;
  /** Width in pixels when nothing is stored. */
  width: number;
  /** Right-aligned figures. */
  num: boolean;
  /** The value rows are sorted by. */
  key: (r: TorrentRow) => number | string;
}

/** Sorts after every finite number: unknown ETAs, "∞". */
const LAST = Number.MAX_SAFE_INTEGER;

/** Where each state sorts: working torrents first. */
const STATE_RANK: Record<TorrentRow['state'], number> = {
  downloading: 0,
  metadata: 1,
  checking: 2,
  seeding: 3,
  paused: 4,
  error: 5,
};

export const COLUMNS: Column[] = [
  { id: 'name', label: 'Name', width: 280, num: false, key: (r) => r.name.toLowerCase() },
  { id: 'size', label: 'Size', width: 90, num: true, key: (r) => r.totalBytes },
  { id: 'progress', label: 'Progress', width: 150, num: false, key: (r) => r.progress },
  { id: 'state', label: 'State', width: 118, num: false, key: (r) => STATE_RANK[r.state] },
  { id: 'down', label: 'Down', width: 92, num: true, key: (r) => r.downloadRate },
  { id: 'up', label: 'Up', width: 92, num: true, key: (r) => r.uploadRate },
  {
    id: 'eta',
    label: 'ETA',
    width: 80,
    num: true,
    key: (r) => (r.state === 'downloading' && r.etaSecs !== null ? r.etaSecs : LAST),
  },
  { id: 'peers', label: 'Peers', width: 80, num: true, key: (r) => r.peers },
  { id: 'ratio', label: 'Ratio', width: 70, num: true, key: (r) => r.ratio },
  { id: 'downloaded', label: 'Downloaded', width: 100, num: true, key: (r) => r.downloaded },
  { id: 'uploaded', label: 'Uploaded', width: 100, num: true, key: (r) => r.uploaded },
  { id: 'added', label: 'Added', width: 140, num: false, key: (r) => r.addedAt * 1e6 + r.order },
];

/** Columns shown when nothing is stored. */
export const DEFAULT_COLUMNS: ColumnId[] = ['name', 'size', 'progress', 'state', 'down', 'up', 'eta', 'peers', 'ratio'];

export function column(id: ColumnId): Column {
  return COLUMNS.find((c) => c.id === id) ?? COLUMNS[0];
}

export interface Sort {
  column: ColumnId;
  descending: boolean;
}

/** The order when nothing is stored: the order torrents were added in. */
export const DEFAULT_SORT: Sort = { column: 'added', descending: false };

/** The sort after a click on `id`'s header: that column, or the same one reversed. */
export function nextSort(current: Sort, id: ColumnId): Sort {
  if (current.column === id) return { column: id, descending: !current.descending };
  // Figures read best largest first; names and states A to Z.
  const c = column(id);
  return { column: id, descending: c.num && id !== 'eta' && id !== 'added' };
}

/** `rows` sorted by `sort`, ties broken by the order added (stable across updates). */
export function sortRows(rows: TorrentRow[], sort: Sort): TorrentRow[] {
  const key = column(sort.column).key;
  const dir = sort.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka < kb) return -dir;
    if (ka > kb) return dir;
    return a.order - b.order;
  });
}

/** The side bar's filters. */
export type FilterId =
  | 'all'
  | 'downloading'
  | 'seeding'
  | 'completed'
  | 'paused'
  | 'active'
  | 'inactive'
  | 'errored'
  | 'checking';

export const FILTERS: { id: FilterId; label: string }[] = [
  { id: 'all', label: 'All' },
  { id: 'downloading', label: 'Downloading' },
  { id: 'seeding', label: 'Seeding' },
  { id: 'completed', label: 'Completed' },
  { id: 'paused', label: 'Paused' },
  { id: 'active', label: 'Active' },
  { id: 'inactive', label: 'Inactive' },
  { id: 'errored', label: 'Errored' },
  { id: 'checking', label: 'Checking' },
];

/** Whether data moves either way. */
function moving(r: TorrentRow): boolean {
  return r.downloadRate > 0 || r.uploadRate > 0;
}

/** Whether `r` belongs under `filter`. */
export function matchesFilter(r: TorrentRow, filter: FilterId): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'downloading':
      // A magnet fetching its metadata is on its way down too.
      return r.state === 'downloading' || r.state === 'metadata';
    case 'seeding':
      return r.state === 'seeding';
    case 'completed':
      return r.complete;
    case 'paused':
      return r.state === 'paused';
    case 'active':
      return moving(r);
    case 'inactive':
      return !moving(r);
    case 'errored':
      return r.state === 'error';
    case 'checking':
      return r.state === 'checking';
  }
}

/** How many rows each filter holds. */
export function filterCounts(rows: TorrentRow[]): Record<FilterId, number> {
  const counts = Object.fromEntries(FILTERS.map((f) => [f.id, 0])) as Record<FilterId, number>;
  for (const r of rows) for (const f of FILTERS) if (matchesFilter(r, f.id)) counts[f.id]++;
  return counts;
}

/** Whether the name holds every word of the search, in any case and order. */
export function matchesSearch(r: TorrentRow, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const name = r.name.toLowerCase();
  return words.every((w) => name.includes(w));
}

/** The rows the list shows: filtered, searched, sorted. */
export function viewRows(rows: TorrentRow[], filter: FilterId, search: string, sort: Sort): TorrentRow[] {
  return sortRows(
    rows.filter((r) => matchesFilter(r, filter) && matchesSearch(r, search)),
    sort,
  );
}
