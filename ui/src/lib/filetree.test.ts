import { describe, expect, it } from 'vitest';

import { addDialogFiles, fileTree, MAX_LISTED_FILES } from './filetree';
import type { FileRow } from './types';

const f = (index: number, path: string, length: number, haveBytes: number | null, priority: FileRow['priority'] = 'normal', pad = false): FileRow => ({
  index,
  path,
  length,
  haveBytes,
  priority,
  pad,
});

describe('fileTree', () => {
  const files = [
    f(0, 'album/b.flac', 100, 100),
    f(1, 'album/art/cover.jpg', 10, 0, 'skip'),
    f(2, 'album/.pad/0', 5, null, 'normal', true),
    f(3, 'album/a.flac', 50, 25),
  ];

  it('groups files into folders, folders first, sums sizes and progress', () => {
    const rows = fileTree(files);
    expect(rows.map((r) => `${'  '.repeat(r.depth)}${r.name}`)).toEqual([
      'album',
      '  art',
      '    cover.jpg',
      '  a.flac',
      '  b.flac',
    ]);
    expect(rows[0]).toMatchObject({ folder: true, length: 160, haveBytes: 125, priority: 'mixed' });
    expect(rows[0].indices.sort()).toEqual([0, 1, 3]);
    expect(rows[1]).toMatchObject({ folder: true, priority: 'skip', indices: [1] });
  });

  it('hides the contents of collapsed folders', () => {
    const rows = fileTree(files, new Set(['album/art']));
    expect(rows.map((r) => r.name)).toEqual(['album', 'art', 'a.flac', 'b.flac']);
  });

  it('shows a single-file torrent as one row; unknown progress stays unknown', () => {
    expect(fileTree([f(0, 'a.iso', 7, null)])).toEqual([
      { key: 'a.iso', name: 'a.iso', depth: 0, folder: false, length: 7, haveBytes: null, indices: [0], priority: 'normal' },
    ]);
    expect(fileTree([f(0, 'd/x', 1, null), f(1, 'd/y', 1, 1)])[0].haveBytes).toBeNull();
  });
});

describe('priority keys', () => {
  it('maps H, N, L, S and Delete', async () => {
    const { priorityForKey, priorityLabel } = await import('./filetree');
    expect(priorityForKey('h', false)).toBe('high');
    expect(priorityForKey('N', false)).toBe('normal');
    expect(priorityForKey('l', false)).toBe('low');
    expect(priorityForKey('s', false)).toBe('skip');
    expect(priorityForKey('Delete', false)).toBe('skip');
    expect(priorityForKey('x', false)).toBeNull();
    expect(priorityForKey('l', true)).toBeNull();
    expect(priorityLabel('skip')).toBe('Don\u2019t download');
    expect(priorityLabel('mixed')).toBe('Mixed');
  });
});

describe('addDialogFiles', () => {
  it('lists real files only, at most MAX_LISTED_FILES', () => {
    const many = Array.from({ length: MAX_LISTED_FILES + 5 }, (_, i) => f(i, `t/${i}.bin`, 1, null, 'normal', i === 0));
    const { listed, more, total } = addDialogFiles(many);
    expect(listed).toHaveLength(MAX_LISTED_FILES);
    expect(listed[0].index).toBe(1);
    expect(more).toBe(4);
    expect(total).toBe(MAX_LISTED_FILES + 4);
    expect(addDialogFiles([f(0, 'a', 1, null)])).toEqual({ listed: [f(0, 'a', 1, null)], more: 0, total: 1 });
  });
});
