// The window's layout kept across restarts: the list's columns, their widths
// and order of rows, the filter, the pane sizes and the theme. Stored as JSON
// in the webview's localStorage, which WebKit keeps under the app's data
// folder. `parseLayout` accepts anything (an old or damaged value) and keeps
// only what is valid (unit-tested in layout.test.ts).

import { COLUMNS, DEFAULT_COLUMNS, DEFAULT_SORT, FILTERS, type ColumnId, type FilterId, type Sort } from './listview';

export type Theme = 'system' | 'light' | 'dark';

export interface Layout {
  /** Columns shown, in order (the name always). */
  columns: ColumnId[];
  /** Widths in pixels set by dragging a header's edge. */
  widths: Partial<Record<ColumnId, number>>;
  sort: Sort;
  filter: FilterId;
  /** The filter side bar's width. */
  sidebarWidth: number;
  /** The detail pane's height. */
  detailHeight: number;
  /** Whether the detail pane is shown. */
  detailOpen: boolean;
  theme: Theme;
}

export const STORAGE_KEY = 'shoal.layout';
export const MIN_COLUMN_WIDTH = 40;

export function defaultLayout(): Layout {
  return {
    columns: [...DEFAULT_COLUMNS],
    widths: {},
    sort: { ...DEFAULT_SORT },
    filter: 'all',
    sidebarWidth: 170,
    detailHeight: 320,
    detailOpen: true,
    theme: 'system',
  };
}

const COLUMN_IDS = new Set<string>(COLUMNS.map((c) => c.id));
const FILTER_IDS = new Set<string>(FILTERS.map((f) => f.id));

function clamp(v: unknown, lo: number, hi: number, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : fallback;
}

/** A layout from stored JSON; every missing or invalid part is the default. */
export function parseLayout(json: string | null): Layout {
  const d = defaultLayout();
  let raw: Record<string, unknown>;
  try {
    const v = json ? JSON.parse(json) : null;
    if (!v || typeof v !== 'object') return d;
    raw = v as Record<string, unknown>;
  } catch {
    return d;
  }
  if (Array.isArray(raw.columns)) {
    const cols = raw.columns.filter((c): c is ColumnId => typeof c === 'string' && COLUMN_IDS.has(c));
    const unique = [...new Set(cols)];
    if (!unique.includes('name')) unique.unshift('name');
    d.columns = unique;
  }
  if (raw.widths && typeof raw.widths === 'object') {
    for (const [k, v] of Object.entries(raw.widths as Record<string, unknown>)) {
      if (COLUMN_IDS.has(k) && typeof v === 'number' && Number.isFinite(v)) {
        d.widths[k as ColumnId] = clamp(v, MIN_COLUMN_WIDTH, 2000, MIN_COLUMN_WIDTH);
      }
    }
  }
  const s = raw.sort as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && typeof s.column === 'string' && COLUMN_IDS.has(s.column)) {
    d.sort = { column: s.column as ColumnId, descending: s.descending === true };
  }
  if (typeof raw.filter === 'string' && FILTER_IDS.has(raw.filter)) d.filter = raw.filter as FilterId;
  d.sidebarWidth = clamp(raw.sidebarWidth, 0, 600, d.sidebarWidth);
  d.detailHeight = clamp(raw.detailHeight, 120, 2000, d.detailHeight);
  if (typeof raw.detailOpen === 'boolean') d.detailOpen = raw.detailOpen;
  if (raw.theme === 'light' || raw.theme === 'dark' || raw.theme === 'system') d.theme = raw.theme;
  return d;
}

/** The stored layout (the default in a plain browser without storage). */
export function loadLayout(): Layout {
  try {
    return parseLayout(localStorage.getItem(STORAGE_KEY));
  } catch {
    return defaultLayout();
  }
}

export function saveLayout(l: Layout): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(l));
  } catch {
    // No storage (private mode): the layout lasts until the window closes.
  }
}

/** Shows or hides a column; the name column stays. */
export function toggleColumn(columns: ColumnId[], id: ColumnId): ColumnId[] {
  if (id === 'name') return columns;
  if (columns.includes(id)) return columns.filter((c) => c !== id);
  // Back in its usual place among the shown ones.
  const order = COLUMNS.map((c) => c.id);
  return [...columns, id].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}
