// The only module that talks to the desktop app (Tauri). Views and components
// call these functions and never import @tauri-apps/* themselves, so the
// transport can change (or be faked in tests) in one place.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { open } from '@tauri-apps/plugin-dialog';

import type { AppInfo, CommandErrorPayload, TorrentInfo, TorrentOpened } from './types';

/** A command failed; `message` is a sentence fit to show as it is. */
export class ApiError extends Error {
  readonly kind: string;

  constructor(kind: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
  }
}

/** Turns whatever a failed invoke threw into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object' && 'kind' in e && 'message' in e) {
    const p = e as CommandErrorPayload;
    return new ApiError(String(p.kind), String(p.message));
  }
  if (e instanceof Error) return new ApiError('internal', e.message);
  return new ApiError('internal', String(e));
}

/** Whether the page runs inside the desktop app (not a plain browser). */
export function inDesktopApp(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  if (!inDesktopApp()) {
    throw new ApiError('noBackend', 'Shoal\u2019s engine is not available: open this page in the desktop app.');
  }
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** The app's version. */
export function appInfo(): Promise<AppInfo> {
  return call<AppInfo>('app_info');
}

/** Reads the .torrent file at `path` and describes it. */
export function torrentInfo(path: string): Promise<TorrentInfo> {
  return call<TorrentInfo>('torrent_info', { path });
}

/** Shows the native "open file" dialog for .torrent files; null if cancelled. */
export async function pickTorrentFile(): Promise<string | null> {
  if (!inDesktopApp()) return null;
  const picked = await open({
    title: 'Open a torrent',
    multiple: false,
    directory: false,
    filters: [{ name: 'Torrent files', extensions: ['torrent'] }],
  });
  return typeof picked === 'string' ? picked : null;
}

/** Calls `handler` each time the app has opened a torrent. */
export async function onTorrentOpened(handler: (e: TorrentOpened) => void): Promise<UnlistenFn> {
  if (!inDesktopApp()) return () => {};
  return listen<TorrentOpened>('shoal://torrent-opened', (event) => handler(event.payload));
}
