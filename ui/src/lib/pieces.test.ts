import { describe, expect, it } from 'vitest';

import { Cell, countHave, gridFor, hasPiece, pieceCells } from './pieces';

describe('hasPiece', () => {
  it('reads bit 7 of byte 0 as piece 0', () => {
    const have = [0b1000_0001, 0b0100_0000];
    expect(hasPiece(have, 0)).toBe(true);
    expect(hasPiece(have, 1)).toBe(false);
    expect(hasPiece(have, 7)).toBe(true);
    expect(hasPiece(have, 9)).toBe(true);
    expect(hasPiece(have, 100)).toBe(false);
  });
});

describe('pieceCells', () => {
  it('gives one cell per piece when there is room', () => {
    const map = { numPieces: 5, have: [0b1010_0000], downloading: [1], availability: [] };
    expect(Array.from(pieceCells(map, 100))).toEqual([
      Cell.Have,
      Cell.Downloading,
      Cell.Have,
      Cell.Missing,
      Cell.Missing,
    ]);
  });

  it('merges runs of pieces into a cell when there are more pieces than cells', () => {
    // 8 pieces into 4 cells: [11][10][00][0 downloading]
    const map = { numPieces: 8, have: [0b1110_0000], downloading: [7], availability: [] };
    expect(Array.from(pieceCells(map, 4))).toEqual([Cell.Have, Cell.Partial, Cell.Missing, Cell.Downloading]);
  });

  it('handles no pieces and no room', () => {
    expect(pieceCells({ numPieces: 0, have: [], downloading: [], availability: [] }, 10).length).toBe(0);
    expect(pieceCells({ numPieces: 10, have: [0xff, 0xc0], downloading: [], availability: [] }, 0).length).toBe(0);
  });

  it('covers every piece exactly once for uneven splits', () => {
    const n = 1001;
    const have = new Array(Math.ceil(n / 8)).fill(0xff);
    const cells = pieceCells({ numPieces: n, have, downloading: [], availability: [] }, 333);
    expect(cells.length).toBe(333);
    expect(Array.from(cells).every((c) => c === Cell.Have)).toBe(true);
    expect(countHave({ numPieces: n, have, downloading: [], availability: [] })).toBe(n);
  });
});

describe('gridFor', () => {
  it('fits the cells in the box with square cells', () => {
    const g = gridFor(1000, 400, 100);
    expect(g.cols * g.rows).toBeGreaterThanOrEqual(1000);
    expect(g.cols * g.size).toBeLessThanOrEqual(400);
    expect(g.rows * g.size).toBeLessThanOrEqual(100);
    expect(g.size).toBeGreaterThanOrEqual(6);
  });
  it('is empty for nothing', () => {
    expect(gridFor(0, 100, 100)).toEqual({ cols: 0, rows: 0, size: 0 });
  });
});

describe('gridFor with few pieces', () => {
  it('caps the cell size', () => {
    expect(gridFor(4, 400, 84)).toEqual({ cols: 25, rows: 1, size: 16 });
  });
});
