// The Files tab's tree: file rows grouped into folders, flattened into the
// rows to show (folders first at each level, collapsed folders' contents
// left out). Pure, unit-tested in filetree.test.ts.

import type { FileRow, Priority } from './types';

export interface TreeRow {
  /** Path of the folder or file: the row's key. */
  key: string;
  /** Last component. */
  name: string;
  depth: number;
  folder: boolean;
  length: number;
  /** Bytes had, null when unknown for some file below. */
  haveBytes: number | null;
  /** The file indices below (or this file's). */
  indices: number[];
  /** `mixed` for a folder whose files differ. */
  priority: Priority | 'mixed';
}

interface Node {
  name: string;
  path: string;
  children: Map<string, Node>;
  file: FileRow | null;
}

/** Flattens `files` (pad files left out) into tree rows; folders whose path is in `collapsed` hide their contents. */
export function fileTree(files: FileRow[], collapsed: Set<string> = new Set()): TreeRow[] {
  const root: Node = { name: '', path: '', children: new Map(), file: null };
  for (const f of files) {
    if (f.pad) continue;
    const parts = f.path.split('/');
    let node = root;
    parts.forEach((part, i) => {
      const path = parts.slice(0, i + 1).join('/');
      let child = node.children.get(part);
      if (!child) {
        child = { name: part, path, children: new Map(), file: null };
        node.children.set(part, child);
      }
      if (i === parts.length - 1) child.file = f;
      node = child;
    });
  }
  const out: TreeRow[] = [];
  const visit = (node: Node, depth: number): TreeRow => {
    if (node.file && node.children.size === 0) {
      const f = node.file;
      const row: TreeRow = {
        key: node.path,
        name: node.name,
        depth,
        folder: false,
        length: f.length,
        haveBytes: f.haveBytes,
        indices: [f.index],
        priority: f.priority,
      };
      out.push(row);
      return row;
    }
    const row: TreeRow = {
      key: node.path,
      name: node.name,
      depth,
      folder: true,
      length: 0,
      haveBytes: 0,
      indices: [],
      priority: 'normal',
    };
    out.push(row);
    const start = out.length;
    const kids = [...node.children.values()].sort((a, b) => {
      const af = a.children.size > 0 ? 0 : 1;
      const bf = b.children.size > 0 ? 0 : 1;
      return af - bf || a.name.localeCompare(b.name);
    });
    const prios = new Set<string>();
    for (const k of kids) {
      const r = visit(k, depth + 1);
      row.length += r.length;
      row.haveBytes = row.haveBytes === null || r.haveBytes === null ? null : row.haveBytes + r.haveBytes;
      row.indices.push(...r.indices);
      prios.add(r.priority);
    }
    row.priority = prios.size === 1 ? ([...prios][0] as Priority | 'mixed') : 'mixed';
    if (collapsed.has(node.path)) out.splice(start);
    return row;
  };
  for (const child of [...root.children.values()].sort((a, b) => a.name.localeCompare(b.name))) visit(child, 0);
  return out;
}

/** The Files tab's priorities, most wanted first, with their names. */
export const PRIORITIES: { id: Priority; label: string; key: string }[] = [
  { id: 'high', label: 'High', key: 'H' },
  { id: 'normal', label: 'Normal', key: 'N' },
  { id: 'low', label: 'Low', key: 'L' },
  { id: 'skip', label: 'Don\u2019t download', key: 'S' },
];

/** The label of a row's priority. */
export function priorityLabel(p: Priority | 'mixed'): string {
  return p === 'mixed' ? 'Mixed' : (PRIORITIES.find((x) => x.id === p)?.label ?? p);
}

/** The priority a key sets in the Files tab (H, N, L; S or Delete for don't download); null for other keys. */
export function priorityForKey(key: string, ctrl: boolean): Priority | null {
  if (ctrl) return null;
  if (key === 'Delete') return 'skip';
  const found = PRIORITIES.find((p) => p.key === key.toUpperCase());
  return found ? found.id : null;
}

/** Most files the Add dialog lists; the rest are downloaded and can be chosen in the Files tab after adding. */
export const MAX_LISTED_FILES = 1000;

/** The files the Add dialog lists (pad files left out, at most `max`) and how many more there are. */
export function addDialogFiles(files: FileRow[], max = MAX_LISTED_FILES): { listed: FileRow[]; more: number; total: number } {
  const real = files.filter((file) => !file.pad);
  const listed = real.slice(0, max);
  return { listed, more: real.length - listed.length, total: real.length };
}
