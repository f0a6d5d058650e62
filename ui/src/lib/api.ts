// The only module that talks to the desktop app (Tauri). Views and components
// call these functions and never import @tauri-apps/* themselves, so the
// transport can change (or be faked in tests) in one place.

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { open, save } from '@tauri-apps/plugin-dialog';

import type {
  AddOptions,
  AppInfo,
  CommandErrorPayload,
  CreateProgress,
  CreateRequest,
  Created,
  DetailTab,
  Priority,
  SessionUpdate,
  Settings,
  Startup,
  TorrentPreview,
} from './types';

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

/** Start-up facts: version, messages to show at once, the download folder. */
export function startup(): Promise<Startup> {
  return call<Startup>('startup');
}

/** Receives every session update from now on (the first one is full). */
export async function subscribe(handler: (u: SessionUpdate) => void): Promise<void> {
  if (!inDesktopApp()) return;
  const channel = new Channel<SessionUpdate>();
  channel.onmessage = handler;
  await call<void>('subscribe', { onUpdate: channel });
}

/** Chooses the torrent and tab the detail pane shows (null: none). */
export function selectTorrent(id: string | null, tab: DetailTab): Promise<void> {
  return call<void>('select_torrent', { id, tab });
}

/** Opens or closes the DHT panel, whose data is sent only while open. */
export function setDhtPanel(open: boolean): Promise<void> {
  return call<void>('set_dht_panel', { open });
}

/** Adds a .torrent file; returns the torrent's id. */
export function addTorrentFile(path: string, saveDir?: string, options?: AddOptions): Promise<string> {
  return call<string>('add_torrent_file', { path, saveDir: saveDir || null, options: options ?? null });
}

/** Adds a magnet link; returns the torrent's id. */
export function addMagnet(uri: string, saveDir?: string, options?: AddOptions): Promise<string> {
  return call<string>('add_magnet', { uri, saveDir: saveDir || null, options: options ?? null });
}

/** What a magnet link or .torrent path holds (name, size, files), for the Add dialog; nothing is added. */
export function inspectTorrent(source: string): Promise<TorrentPreview> {
  return call<TorrentPreview>('inspect_torrent', { source });
}

/** The magnet links and .torrent paths opened from outside that wait for the Add dialog (each handed out once). */
export function takeOpens(): Promise<string[]> {
  return call<string[]>('take_opens');
}

/** Creates a torrent, reporting hashing progress, and starts seeding it. */
export function createTorrent(request: CreateRequest, onProgress: (p: CreateProgress) => void): Promise<Created> {
  if (!inDesktopApp()) return call<Created>('create_torrent');
  const channel = new Channel<CreateProgress>();
  channel.onmessage = onProgress;
  return call<Created>('create_torrent', { request, onProgress: channel });
}

export function pauseTorrents(ids: string[]): Promise<void> {
  return call<void>('pause_torrents', { ids });
}

export function resumeTorrents(ids: string[]): Promise<void> {
  return call<void>('resume_torrents', { ids });
}

/** Checks the torrents' data on disk again. */
export function recheckTorrents(ids: string[]): Promise<void> {
  return call<void>('recheck_torrents', { ids });
}

/** Fetches pieces in order (for previewing) or by rarity. */
export function setSequential(id: string, on: boolean): Promise<void> {
  return call<void>('set_sequential', { id, on });
}

/** Adds a web seed (http:// or https:// URL) to a torrent. */
export function addWebSeed(id: string, url: string): Promise<void> {
  return call<void>('add_web_seed', { id, url });
}

/** A torrent's own limits in KiB/s, 0 for none. */
export function setTorrentLimits(id: string, downloadKib: number, uploadKib: number): Promise<void> {
  return call<void>('set_torrent_limits', { id, downloadKib, uploadKib });
}

export function removeTorrents(ids: string[], deleteData: boolean): Promise<void> {
  return call<void>('remove_torrents', { ids, deleteData });
}

export function setFilePriority(id: string, indices: number[], priority: Priority): Promise<void> {
  return call<void>('set_file_priority', { id, indices, priority });
}

export function getSettings(): Promise<Settings> {
  return call<Settings>('get_settings');
}

/** Saves the settings; returns a sentence saying what takes effect when. */
export function saveSettings(settings: Settings): Promise<string> {
  return call<string>('save_settings', { settings });
}

/** Shows the native folder picker; null if cancelled. */
export async function pickFolder(title: string): Promise<string | null> {
  if (!inDesktopApp()) return null;
  const picked = await open({ title, multiple: false, directory: true });
  return typeof picked === 'string' ? picked : null;
}

/** Calls `handler` with the paths of files dropped on the window. */
export async function onFilesDropped(handler: (paths: string[]) => void, onHover?: (over: boolean) => void): Promise<UnlistenFn> {
  if (!inDesktopApp()) return () => {};
  return getCurrentWebview().onDragDropEvent((event) => {
    const p = event.payload;
    if (p.type === 'drop') {
      onHover?.(false);
      handler(p.paths);
    } else if (p.type === 'enter' || p.type === 'over') {
      onHover?.(true);
    } else {
      onHover?.(false);
    }
  });
}

/** Calls `handler` with each notice the app sends (a torrent another launch handed over was added, or not). */
export async function onNotice(handler: (n: { error: boolean; text: string }) => void): Promise<UnlistenFn> {
  if (!inDesktopApp()) return () => {};
  return listen<{ error: boolean; text: string }>('shoal://notice', (event) => handler(event.payload));
}

/** Calls `handler` when torrents opened from outside wait for the Add dialog (fetch them with takeOpens). */
export async function onOpens(handler: () => void): Promise<UnlistenFn> {
  if (!inDesktopApp()) return () => {};
  return listen('shoal://opens', () => handler());
}

/** Opens a torrent's folder, one of its files (`file`), or the folder holding that file (`folder`). */
export function openPath(id: string, file: number | null, folder: boolean): Promise<void> {
  return call<void>('open_path', { id, file, folder });
}

/** A torrent's magnet link, to copy. */
export function torrentMagnet(id: string): Promise<string> {
  return call<string>('torrent_magnet', { id });
}

/** Writes a torrent's .torrent file to `path`. */
export function exportTorrent(id: string, path: string): Promise<void> {
  return call<void>('export_torrent', { id, path });
}

/** Shows the native "save file" dialog for a .torrent; null if cancelled. */
export async function pickTorrentSavePath(name: string): Promise<string | null> {
  if (!inDesktopApp()) return null;
  const picked = await save({
    title: 'Export the .torrent file',
    defaultPath: `${name}.torrent`,
    filters: [{ name: 'Torrent files', extensions: ['torrent'] }],
  });
  return typeof picked === 'string' ? picked : null;
}

/** Puts text on the clipboard (the webview's own clipboard access, with the older copy command as a fallback). */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Not allowed here: copy through a hidden field.
  }
  const field = document.createElement('textarea');
  field.value = text;
  field.style.position = 'fixed';
  field.style.opacity = '0';
  document.body.appendChild(field);
  field.select();
  const ok = document.execCommand('copy');
  field.remove();
  if (!ok) throw new ApiError('clipboard', 'The clipboard is not available.');
}
