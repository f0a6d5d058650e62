import { describe, expect, it } from 'vitest';

import { findMagnet, keyAction, type KeyPress } from './keys';

const press = (key: string, p: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrl: false,
  shift: false,
  alt: false,
  typing: false,
  ...p,
});

describe('shortcuts', () => {
  it('maps the list keys', () => {
    expect(keyAction(press('Delete'))).toBe('remove');
    expect(keyAction(press('Delete', { shift: true }))).toBe('removeWithData');
    expect(keyAction(press('a', { ctrl: true }))).toBe('selectAll');
    expect(keyAction(press('A', { ctrl: true }))).toBe('selectAll');
    expect(keyAction(press(' '))).toBe('togglePause');
    expect(keyAction(press('Enter'))).toBe('openDetails');
    expect(keyAction(press('o', { ctrl: true }))).toBe('addFile');
    expect(keyAction(press('ArrowDown'))).toBe('selectNext');
  });
  it('leaves typing alone, but Ctrl+O still opens a file', () => {
    expect(keyAction(press('Delete', { typing: true }))).toBeNull();
    expect(keyAction(press(' ', { typing: true }))).toBeNull();
    expect(keyAction(press('a', { ctrl: true, typing: true }))).toBeNull();
    expect(keyAction(press('o', { ctrl: true, typing: true }))).toBe('addFile');
  });
  it('leaves Enter and Space to a focused button', () => {
    expect(keyAction(press('Enter', { onButton: true }))).toBeNull();
    expect(keyAction(press(' ', { onButton: true }))).toBeNull();
    expect(keyAction(press('Delete', { onButton: true }))).toBe('remove');
  });
  it('ignores other keys and chords', () => {
    expect(keyAction(press('x'))).toBeNull();
    expect(keyAction(press('Delete', { alt: true }))).toBeNull();
    expect(keyAction(press('Delete', { ctrl: true }))).toBeNull();
  });
});

describe('pasted magnets', () => {
  it('finds a magnet link in text', () => {
    const m = 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x';
    expect(findMagnet(`look: ${m}\n`)).toBe(m);
    expect(findMagnet('no link here')).toBeNull();
  });
});
