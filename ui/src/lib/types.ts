// The shapes the window receives and sends: generated from the app's Rust
// types (src-tauri/src/dto.rs) into bindings.ts; only what exists in the
// window alone is written here.

export type {
  AddOptions,
  AppInfo,
  Cause,
  Created,
  Diagnosis,
  CreateProgress,
  CreateRequest,
  DhtBucketRow,
  DhtNodeRow,
  DhtPanel,
  FileRow,
  GlobalStats,
  Overview,
  PeerRow,
  PeerSource,
  PieceMap,
  Priority,
  SessionUpdate,
  Settings,
  Startup,
  TorrentDetail,
  TorrentPreview,
  TorrentRow,
  TorrentState,
  TrackerRow,
  TrackerStatus,
  WebSeedRow,
} from './bindings';

/** What a failed command returns (src-tauri/src/error.rs serialises it by hand). */
export interface CommandErrorPayload {
  kind: string;
  message: string;
}

/** The detail pane's tabs. */
export type DetailTab = 'overview' | 'peers' | 'files' | 'trackers';
