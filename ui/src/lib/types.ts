// The shapes the desktop app sends, mirrored from src-tauri/src/dto.rs and
// src-tauri/src/error.rs. Change both sides together.

/** About the app itself. */
export interface AppInfo {
  version: string;
}

/** What a failed command returns. */
export interface CommandErrorPayload {
  kind: string;
  message: string;
}

/** Everything that changes by itself, pushed by the app about once a second. */
export interface SessionUpdate {
  /** `torrents` is the whole list: drop rows not in it. */
  full: boolean;
  /** Rows new or changed since the previous update. */
  torrents: TorrentRow[];
  /** Ids of torrents gone since the previous update. */
  removed: string[];
  global: GlobalStats;
  detail: TorrentDetail | null;
  dht: DhtPanel | null;
  /** Names of torrents that just finished downloading. */
  completed: string[];
}

export type TorrentStateLabel = 'metadata' | 'checking' | 'downloading' | 'seeding' | 'paused' | 'error';

export interface TorrentRow {
  /** Info hash, 40 hex digits. */
  id: string;
  /** List position: the order torrents were added in. */
  order: number;
  name: string;
  state: TorrentStateLabel;
  error: string | null;
  totalBytes: number;
  wantedBytes: number;
  haveBytes: number;
  /** 0 to 1. */
  progress: number;
  downloadRate: number;
  uploadRate: number;
  etaSecs: number | null;
  peers: number;
  seeds: number;
  knownPeers: number;
  downloaded: number;
  uploaded: number;
  ratio: number;
  complete: boolean;
  piecesHave: number;
  numPieces: number;
}

export interface GlobalStats {
  downloadRate: number;
  uploadRate: number;
  peers: number;
  /** null when the DHT is off. */
  dhtNodes: number | null;
  dhtError: string | null;
  listenPort: number | null;
}

export type DetailTab = 'overview' | 'peers' | 'files' | 'trackers';

export interface TorrentDetail {
  id: string;
  overview: Overview;
  pieces: PieceMapData | null;
  peers: PeerRow[] | null;
  peerCount: number;
  files: FileRow[] | null;
  trackers: TrackerRow[] | null;
}

export interface Overview {
  infoHash: string;
  saveDir: string;
  pieceLength: number;
  comment: string | null;
  private: boolean;
  hashFailures: number;
  banned: number;
  magnet: string;
  sequential: boolean;
  /** This torrent's own limits, KiB/s, 0 for none. */
  downloadLimitKib: number;
  uploadLimitKib: number;
}

export interface PieceMapData {
  numPieces: number;
  /** Our bitfield, bit 7 of byte 0 is piece 0. */
  have: number[];
  /** Pieces being downloaded now. */
  downloading: number[];
  /** Connected peers having each piece (may be empty). */
  availability: number[];
}

export interface PeerRow {
  addr: string;
  client: string;
  source: string;
  incoming: boolean;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  progress: number;
}

export type Priority = 'skip' | 'normal' | 'high';

export interface FileRow {
  index: number;
  path: string;
  length: number;
  haveBytes: number | null;
  priority: Priority;
  pad: boolean;
}

export interface TrackerRow {
  url: string;
  tier: number;
  status: string;
  lastAnnounce: number | null;
  nextAnnounce: number | null;
  peers: number;
  seeders: number | null;
  leechers: number | null;
  message: string | null;
}

export interface DhtPanel {
  enabled: boolean;
  error: string | null;
  nodeId: string | null;
  localAddr: string | null;
  nodes: number;
  buckets: { sharedPrefixBits: number; nodes: [string, string][] }[];
  lookupsInFlight: number;
  announcesInFlight: number;
  bootstrapped: boolean;
  serverMode: boolean;
  sizeEstimate: number;
}

export interface CreateProgress {
  hashed: number;
  total: number;
}

export interface Created {
  id: string;
  name: string;
  torrentPath: string;
  magnet: string;
}

export interface CreateRequest {
  path: string;
  /** Bytes; 0 picks one. */
  pieceLength: number;
  trackers: string[];
  private: boolean;
  comment: string;
  /** Where to save the .torrent; empty for the app's folder. */
  output: string;
}

export interface Settings {
  downloadDir: string;
  listenPort: number;
  dhtEnabled: boolean;
  downloadLimitKib: number;
  uploadLimitKib: number;
}

export interface Startup {
  version: string;
  messages: string[];
  downloadDir: string;
  engineRunning: boolean;
  /** The window offers a hook for timing synthetic updates (make bench-ui). */
  benchHooks: boolean;
}
