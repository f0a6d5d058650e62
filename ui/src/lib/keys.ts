// The main window's keyboard shortcuts, as a pure mapping from a key press to
// an action (unit-tested in keys.test.ts). Keys typed into a text field or
// a dialog are left alone.

export type KeyAction =
  | 'remove'
  | 'removeWithData'
  | 'selectAll'
  | 'togglePause'
  | 'addFile'
  | 'openDetails'
  | 'selectNext'
  | 'selectPrevious'
  | 'find';

export interface KeyPress {
  key: string;
  ctrl: boolean;
  shift: boolean;
  alt: boolean;
  /** Focus is in a text field, or a dialog is open. */
  typing: boolean;
  /** Focus is on a button or link, which Enter and Space press. */
  onButton?: boolean;
}

/** The action for a key press, or null to let it through. */
export function keyAction(k: KeyPress): KeyAction | null {
  if (k.alt) return null;
  // Ctrl+O works even from a text field (it types nothing).
  if (k.ctrl && !k.shift && k.key.toLowerCase() === 'o') return 'addFile';
  if (k.typing) return null;
  if (k.ctrl && !k.shift && k.key.toLowerCase() === 'a') return 'selectAll';
  if (k.ctrl && !k.shift && k.key.toLowerCase() === 'f') return 'find';
  if (k.ctrl) return null;
  if (k.onButton && (k.key === 'Enter' || k.key === ' ')) return null;
  switch (k.key) {
    case 'Delete':
      return k.shift ? 'removeWithData' : 'remove';
    case ' ':
      return k.shift ? null : 'togglePause';
    case 'Enter':
      return 'openDetails';
    case 'ArrowDown':
      return 'selectNext';
    case 'ArrowUp':
      return 'selectPrevious';
  }
  return null;
}

/** The first magnet link in pasted text, trimmed; null if none. */
export function findMagnet(text: string): string | null {
  const m = /magnet:\?[^\s"'<>]+/i.exec(text);
  return m ? m[0] : null;
}
