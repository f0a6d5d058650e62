// The shapes the desktop app sends, mirrored from src-tauri/src/dto.rs and
// src-tauri/src/error.rs. Change both sides together.

/** About the app itself. */
export interface AppInfo {
  version: string;
}

/** One file of a torrent. */
export interface FileInfo {
  /** Relative path, components joined with "/", the torrent's name first. */
  path: string;
  length: number;
  /** A BEP 47 pad file: alignment filler, never written to disk. */
  pad: boolean;
}

/** A .torrent file's contents. */
export interface TorrentInfo {
  path: string;
  name: string;
  /** 40 lowercase hex digits. */
  infoHash: string;
  totalSize: number;
  pieceLength: number;
  pieceCount: number;
  multiFile: boolean;
  files: FileInfo[];
  /** Tracker URLs in BEP 12 tiers. */
  trackers: string[][];
  private: boolean;
  comment: string | null;
  createdBy: string | null;
  /** Seconds since the Unix epoch. */
  creationDate: number | null;
}

/** Payload of the "torrent opened" event. */
export interface TorrentOpened {
  name: string;
  infoHash: string;
}

/** What a failed command returns. */
export interface CommandErrorPayload {
  kind: string;
  message: string;
}
