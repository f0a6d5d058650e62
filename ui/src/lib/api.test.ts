import { describe, expect, it } from 'vitest';

import { ApiError, appInfo, inDesktopApp, toApiError } from './api';

describe('toApiError', () => {
  it('keeps the kind and message a command returned', () => {
    const e = toApiError({ kind: 'badTorrent', message: 'x.torrent is not a valid .torrent file' });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.kind).toBe('badTorrent');
    expect(e.message).toBe('x.torrent is not a valid .torrent file');
  });
  it('wraps plain errors and strings', () => {
    expect(toApiError(new Error('boom')).message).toBe('boom');
    expect(toApiError('gone').kind).toBe('internal');
  });
});

describe('outside the desktop app', () => {
  it('says the engine is not available', async () => {
    expect(inDesktopApp()).toBe(false);
    await expect(appInfo()).rejects.toMatchObject({ kind: 'noBackend' });
  });
});
