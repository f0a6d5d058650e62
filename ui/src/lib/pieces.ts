// The piece map: which colour each cell of the canvas gets. Pure, unit-tested
// in pieces.test.ts; PieceMap.svelte only paints the cells.

import type { PieceMap } from './types';

/** What a cell shows (a cell may cover a run of pieces). */
export const Cell = {
  /** No piece of the cell is had or in progress. */
  Missing: 0,
  /** Some pieces of the cell are had. */
  Partial: 1,
  /** Every piece of the cell is had. */
  Have: 2,
  /** A piece of the cell is being downloaded (wins over the others). */
  Downloading: 3,
} as const;

/** Colours by Cell value. */
export const CELL_COLOURS = ['#e3e8ee', '#7fb2e0', '#1d6fb8', '#2bb673'];

/** Whether piece `i` is set in a bitfield (bit 7 of byte 0 is piece 0). */
export function hasPiece(have: ArrayLike<number>, i: number): boolean {
  const byte = have[i >> 3];
  return byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0;
}

/**
 * Maps the torrent's pieces onto `cells` cells (at most one per piece; a
 * cell covers a run of pieces when there are more pieces than cells).
 * Returns one Cell value per cell.
 */
export function pieceCells(map: PieceMap, cells: number): Uint8Array {
  const n = map.numPieces;
  const count = Math.max(0, Math.min(Math.floor(cells), n));
  const out = new Uint8Array(count);
  if (count === 0) return out;
  const downloading = new Set(map.downloading);
  for (let c = 0; c < count; c++) {
    const start = Math.floor((c * n) / count);
    const end = Math.floor(((c + 1) * n) / count);
    let had = 0;
    let busy = false;
    for (let i = start; i < end; i++) {
      if (hasPiece(map.have, i)) had++;
      else if (downloading.has(i)) busy = true;
    }
    const len = end - start;
    out[c] = busy ? Cell.Downloading : had === len ? Cell.Have : had > 0 ? Cell.Partial : Cell.Missing;
  }
  return out;
}

/** Counts the pieces set in a bitfield of `numPieces` pieces. */
export function countHave(map: PieceMap): number {
  let n = 0;
  for (let i = 0; i < map.numPieces; i++) if (hasPiece(map.have, i)) n++;
  return n;
}

/** Largest cell side in pixels, so a few pieces do not make giant cells. */
export const MAX_CELL = 16;

/** Grid size for `cells` cells in a `width` x `height` box: square cells. */
export function gridFor(cells: number, width: number, height: number): { cols: number; rows: number; size: number } {
  if (cells <= 0 || width <= 0 || height <= 0) return { cols: 0, rows: 0, size: 0 };
  // The largest square size s with ceil(cells / floor(width / s)) * s <= height.
  let size = Math.floor(Math.sqrt((width * height) / cells));
  while (size > 1) {
    const cols = Math.floor(width / size);
    if (cols > 0 && Math.ceil(cells / cols) * size <= height) break;
    size--;
  }
  size = Math.min(Math.max(size, 1), MAX_CELL);
  const cols = Math.max(1, Math.floor(width / size));
  return { cols, rows: Math.ceil(cells / cols), size };
}
