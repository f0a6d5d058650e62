// Generated from src-tauri/src/dto.rs by ts-rs (src-tauri/src/bindings.rs).
// Do not edit: change the Rust types and run `make bindings`.

/**
 * What the window shows about the app itself (About, status bar).
 */
export type AppInfo = { 
/**
 * The app's version, so a bug report names the build.
 */
version: string, };

/**
 * Everything the window shows that changes by itself, pushed about once a
 * second (and at once after a command). Torrent rows are sent as a diff:
 * only rows that changed since the last update, plus the ids of removed
 * ones; `full` marks an update that carries every row (the first one after
 * the window subscribed).
 */
export type SessionUpdate = { 
/**
 * `torrents` is the whole list: drop rows not in it.
 */
full: boolean, 
/**
 * Rows new or changed since the previous update.
 */
torrents: Array<TorrentRow>, 
/**
 * Ids of torrents gone since the previous update.
 */
removed: Array<string>, 
/**
 * Session-wide figures for the status bar.
 */
global: GlobalStats, 
/**
 * Detail of the selected torrent, for the tab shown; `None` when
 * nothing is selected.
 */
detail: TorrentDetail | null, 
/**
 * The DHT panel's data, only while the panel is open.
 */
dht: DhtPanel | null, 
/**
 * Names of torrents that finished downloading since the last update,
 * for the "download complete" notification.
 */
completed: Array<string>, };

/**
 * What a torrent is doing, as the list shows it.
 */
export type TorrentState = "metadata" | "checking" | "downloading" | "seeding" | "paused" | "error";

/**
 * One row of the torrent list.
 */
export type TorrentRow = { 
/**
 * The info hash in hex: the row's key.
 */
id: string, 
/**
 * Position in the list: the order torrents were added in.
 */
order: number, 
/**
 * When it was first added, seconds since the Unix epoch.
 */
addedAt: number, 
/**
 * The torrent's name.
 */
name: string, 
/**
 * What it is doing.
 */
state: TorrentState, 
/**
 * What went wrong, when `state` is `error`.
 */
error: string | null, 
/**
 * Size of the whole torrent (0 while a magnet's metadata is unknown).
 */
totalBytes: number, 
/**
 * Bytes wanted (files not skipped).
 */
wantedBytes: number, 
/**
 * Verified bytes.
 */
haveBytes: number, 
/**
 * `have_bytes / wanted_bytes`, 0 to 1.
 */
progress: number, 
/**
 * Bytes per second in.
 */
downloadRate: number, 
/**
 * Bytes per second out.
 */
uploadRate: number, 
/**
 * Seconds until complete at the current rate; `None` if it cannot be
 * told (no progress, or complete).
 */
etaSecs: number | null, 
/**
 * Connected peers.
 */
peers: number, 
/**
 * Connected peers that have everything.
 */
seeds: number, 
/**
 * Addresses known.
 */
knownPeers: number, 
/**
 * Seeders in the swarm by the trackers (the largest count any gave),
 * shown before any peer is connected.
 */
swarmSeeds: number | null, 
/**
 * Leechers in the swarm by the trackers, likewise.
 */
swarmLeechers: number | null, 
/**
 * Payload bytes received this session.
 */
downloaded: number, 
/**
 * Payload bytes sent this session.
 */
uploaded: number, 
/**
 * Uploaded over downloaded (over the data we have when we downloaded
 * nothing this session, as for a torrent we created).
 */
ratio: number, 
/**
 * Every wanted piece verified.
 */
complete: boolean, 
/**
 * Verified pieces, and pieces in all (0 before the metadata).
 */
piecesHave: number, 
/**
 * Pieces in the torrent.
 */
numPieces: number, 
/**
 * What limits it now, with the evidence and the fix (the Overview
 * tab and the state column's tooltip).
 */
diagnosis: Diagnosis, };

/**
 * What limits a torrent now (the engine's `diagnosis::Cause`).
 */
export type Cause = "noPeers" | "connecting" | "peersUnreachable" | "disk" | "downloadLimit" | "piecesMissing" | "uploadLimit" | "choked" | "notConnectable" | "fine" | "fetchingMetadata" | "checking" | "paused" | "error" | "complete";

/**
 * "Why is it slow?": the engine's answer for one torrent.
 */
export type Diagnosis = { 
/**
 * The cause, for styling and tests.
 */
cause: Cause, 
/**
 * The cause in a few words.
 */
title: string, 
/**
 * The facts behind it, with numbers.
 */
evidence: string, 
/**
 * What to do; empty when nothing is to be done.
 */
fix: string, };

/**
 * The status bar's figures.
 */
export type GlobalStats = { 
/**
 * Sum of the torrents' download rates.
 */
downloadRate: number, 
/**
 * Sum of the torrents' upload rates.
 */
uploadRate: number, 
/**
 * Connected peers over all torrents.
 */
peers: number, 
/**
 * Nodes in the DHT routing table; `None` when the DHT is off.
 */
dhtNodes: number | null, 
/**
 * Why the DHT is off although the settings ask for it.
 */
dhtError: string | null, 
/**
 * While the DHT runs but has not joined: seconds until it tries
 * again (the status bar says "connecting, retrying in N s").
 */
dhtRetryInSecs: number | null, 
/**
 * While the DHT runs but has not joined: why, when known (names that
 * did not resolve, bootstrap nodes that did not answer).
 */
dhtProblem: string | null, 
/**
 * The TCP port peers reach us on; `None` if the engine did not start.
 */
listenPort: number | null, 
/**
 * The router's address and port that peers outside dial, when a
 * port mapping is in place (`1.2.3.4:6881`).
 */
connectable: string | null, 
/**
 * What port mapping did, in words (the status bar's tooltip);
 * `None` when it is off.
 */
portMapping: string | null, 
/**
 * Bytes free for us on the download folder's file system; `None` if
 * it cannot be told.
 */
freeSpace: number | null, };

/**
 * What the detail pane shows for the selected torrent.
 */
export type TorrentDetail = { 
/**
 * The selected torrent's id.
 */
id: string, 
/**
 * Facts that rarely change (Overview tab).
 */
overview: Overview, 
/**
 * The piece map (Overview tab), when known.
 */
pieces: PieceMap | null, 
/**
 * Connections (Peers tab).
 */
peers: Array<PeerRow> | null, 
/**
 * Connections in all; `peers` may hold fewer (the busiest first).
 */
peerCount: number, 
/**
 * Web seeds (Peers tab, above the connections).
 */
webSeeds: Array<WebSeedRow> | null, 
/**
 * Files (Files tab).
 */
files: Array<FileRow> | null, 
/**
 * Trackers (Trackers tab).
 */
trackers: Array<TrackerRow> | null, };

/**
 * The Overview tab's facts.
 */
export type Overview = { 
/**
 * 40 hex digits.
 */
infoHash: string, 
/**
 * Where the content is saved.
 */
saveDir: string, 
/**
 * Bytes per piece (0 before the metadata).
 */
pieceLength: number, 
/**
 * The creator's comment.
 */
comment: string | null, 
/**
 * BEP 27 private flag.
 */
private: boolean, 
/**
 * Pieces that failed their hash check.
 */
hashFailures: number, 
/**
 * Peers banned for bad data.
 */
banned: number, 
/**
 * A magnet link to the torrent, to share.
 */
magnet: string, 
/**
 * Pieces are fetched in order (set from the window).
 */
sequential: boolean, 
/**
 * This torrent's own download limit in KiB/s (0: none; the global
 * limit applies as well).
 */
downloadLimitKib: number, 
/**
 * This torrent's own upload limit in KiB/s (0: none).
 */
uploadLimitKib: number, };

/**
 * Which pieces we have, as the piece map draws them.
 */
export type PieceMap = { 
/**
 * Pieces in the torrent.
 */
numPieces: number, 
/**
 * Our bitfield: bit 7 of byte 0 is piece 0 (the wire's order).
 */
have: Array<number>, 
/**
 * Pieces being downloaded now.
 */
downloading: Array<number>, 
/**
 * How many connected peers have each piece (may be empty).
 */
availability: Array<number>, };

/**
 * Where we learnt of a peer.
 */
export type PeerSource = "tracker" | "dht" | "lsd" | "pex" | "magnet" | "manual" | "incoming";

/**
 * One connection in the Peers tab.
 */
export type PeerRow = { 
/**
 * `ip:port`, or `[ipv6]:port`: the row's key. An IPv4 peer on a
 * dual-stack socket is written as IPv4.
 */
addr: string, 
/**
 * Client name and version from the peer id.
 */
client: string, 
/**
 * Where we learnt of it.
 */
source: PeerSource, 
/**
 * It dialled us.
 */
incoming: boolean, 
/**
 * The connection is encrypted (an MSE handshake, RC4 or header-only).
 */
encrypted: boolean, 
/**
 * We choke it.
 */
amChoking: boolean, 
/**
 * We want its pieces.
 */
amInterested: boolean, 
/**
 * It chokes us.
 */
peerChoking: boolean, 
/**
 * It wants our pieces.
 */
peerInterested: boolean, 
/**
 * Bytes per second from it.
 */
downloadRate: number, 
/**
 * Bytes per second to it.
 */
uploadRate: number, 
/**
 * Bytes from it.
 */
downloaded: number, 
/**
 * Bytes to it.
 */
uploaded: number, 
/**
 * Fraction of the torrent it has.
 */
progress: number, };

/**
 * One web seed (BEP 19) in the Peers tab.
 */
export type WebSeedRow = { 
/**
 * The URL: the row's key.
 */
url: string, 
/**
 * "active", "idle" or "failed".
 */
state: string, 
/**
 * Why it was dropped, when it failed.
 */
error: string | null, 
/**
 * Bytes per second from it.
 */
downloadRate: number, 
/**
 * Bytes from it.
 */
downloaded: number, 
/**
 * It answered a ranged request with the whole file.
 */
ignoresRanges: boolean, };

/**
 * How much a file is wanted; the window sends it back to set it.
 */
export type Priority = "skip" | "low" | "normal" | "high";

/**
 * One file in the Files tab.
 */
export type FileRow = { 
/**
 * Index in the torrent's file order, which `set_file_priority` takes.
 */
index: number, 
/**
 * Path, components joined with `/`, the torrent's name first.
 */
path: string, 
/**
 * Length in bytes.
 */
length: number, 
/**
 * Bytes verified, when known.
 */
haveBytes: number | null, 
/**
 * How much it is wanted.
 */
priority: Priority, 
/**
 * A BEP 47 pad file (hidden in the tree).
 */
pad: boolean, };

/**
 * How a tracker's announces go.
 */
export type TrackerStatus = "notContacted" | "working" | "updating" | "error";

/**
 * One tracker in the Trackers tab.
 */
export type TrackerRow = { 
/**
 * Announce URL.
 */
url: string, 
/**
 * BEP 12 tier, from 0.
 */
tier: number, 
/**
 * How its announces go.
 */
status: TrackerStatus, 
/**
 * Seconds since the epoch of the last good announce.
 */
lastAnnounce: number | null, 
/**
 * Seconds since the epoch of the next announce.
 */
nextAnnounce: number | null, 
/**
 * Peers in its last answer.
 */
peers: number, 
/**
 * Seeders it reported.
 */
seeders: number | null, 
/**
 * Leechers it reported.
 */
leechers: number | null, 
/**
 * Finished downloads it reported (scrape).
 */
completed: number | null, 
/**
 * Seconds since the epoch of its last good scrape.
 */
lastScrape: number | null, 
/**
 * Why its last scrape failed, if it did.
 */
scrapeError: string | null, 
/**
 * Last error or warning.
 */
message: string | null, };

/**
 * The DHT panel.
 */
export type DhtPanel = { 
/**
 * Whether the DHT runs at all.
 */
enabled: boolean, 
/**
 * Why it is off although asked for.
 */
error: string | null, 
/**
 * Our node id in hex.
 */
nodeId: string | null, 
/**
 * Our UDP address.
 */
localAddr: string | null, 
/**
 * Nodes in the routing table.
 */
nodes: number, 
/**
 * Nodes by bucket, farthest first.
 */
buckets: Array<DhtBucketRow>, 
/**
 * `get_peers` lookups in flight.
 */
lookupsInFlight: number, 
/**
 * Announces in flight.
 */
announcesInFlight: number, 
/**
 * Joined the network.
 */
bootstrapped: boolean, 
/**
 * Answers others' queries.
 */
serverMode: boolean, 
/**
 * Estimated nodes in the whole DHT.
 */
sizeEstimate: number, 
/**
 * Seconds until the next join attempt, while not joined.
 */
retryInSecs: number | null, 
/**
 * Join attempts since the routing table was last seen with nodes.
 */
joinAttempts: number, 
/**
 * Why it has not joined, when known.
 */
joinProblem: string | null, };

/**
 * One bucket of the routing table.
 */
export type DhtBucketRow = { 
/**
 * Leading bits shared with our id.
 */
sharedPrefixBits: number, 
/**
 * Nodes in it.
 */
nodes: Array<DhtNodeRow>, };

/**
 * One node of a DHT bucket.
 */
export type DhtNodeRow = { 
/**
 * Its node id in hex.
 */
id: string, 
/**
 * Its UDP address.
 */
addr: string, };

/**
 * Progress of "create torrent", sent through a channel while hashing.
 */
export type CreateProgress = { 
/**
 * Bytes hashed so far.
 */
hashed: number, 
/**
 * Bytes to hash.
 */
total: number, };

/**
 * What "create torrent" made.
 */
export type Created = { 
/**
 * The new torrent's id (info hash).
 */
id: string, 
/**
 * Its name.
 */
name: string, 
/**
 * Where the .torrent file was saved.
 */
torrentPath: string, 
/**
 * A magnet link to it.
 */
magnet: string, };

/**
 * Options of "create torrent", as the dialog sends them.
 */
export type CreateRequest = { 
/**
 * The file or folder to share.
 */
path: string, 
/**
 * Piece length in bytes; 0 or absent picks one.
 */
pieceLength: number, 
/**
 * Tracker URLs, one tier each (blank lines separate nothing).
 */
trackers: Array<string>, 
/**
 * BEP 27 private flag.
 */
private: boolean, 
/**
 * Free-text comment.
 */
comment: string, 
/**
 * Where to save the .torrent; empty: the app's "created" folder.
 */
output: string, };

/**
 * What the Add dialog shows before anything is added: enough to decide
 * (name, size, files), read from the .torrent file or the magnet link.
 */
export type TorrentPreview = { 
/**
 * The info hash in hex (the id the torrent will have).
 */
id: string, 
/**
 * The torrent's name; a magnet's `dn`, or its hash, until the metadata
 * is fetched.
 */
name: string, 
/**
 * A magnet link: its files are not known before it is added.
 */
magnet: boolean, 
/**
 * Total size in bytes, when known.
 */
totalLength: number | null, 
/**
 * The files, in torrent order (empty for a magnet link), so the user
 * can leave some out.
 */
files: Array<FileRow>, 
/**
 * The torrent's comment, if any.
 */
comment: string | null, };

/**
 * Choices made in the Add dialog.
 */
export type AddOptions = { 
/**
 * Add it paused.
 */
paused: boolean, 
/**
 * Indices (torrent order) of files not to download.
 */
skipFiles: Array<number>, };

/**
 * The settings dialog's contents.
 */
export type Settings = { 
/**
 * Default save folder.
 */
downloadDir: string, 
/**
 * Listening port (0: any).
 */
listenPort: number, 
/**
 * Join the DHT.
 */
dhtEnabled: boolean, 
/**
 * Listen on IPv6 too.
 */
ipv6Enabled: boolean, 
/**
 * Protocol encryption: off, prefer or require.
 */
encryption: 'off' | 'prefer' | 'require', 
/**
 * KiB/s, 0 for none (stored, not yet enforced).
 */
downloadLimitKib: number, 
/**
 * KiB/s, 0 for none (stored, not yet enforced).
 */
uploadLimitKib: number, 
/**
 * Add torrents opened from outside without showing the Add dialog.
 */
addWithoutAsking: boolean, };

/**
 * The app's start-up facts, fetched once by the window.
 */
export type Startup = { 
/**
 * The app's version.
 */
version: string, 
/**
 * Messages to show at once: a port in use, a DHT that did not start,
 * settings that could not be read, an engine that did not start.
 */
messages: Array<string>, 
/**
 * The download folder in force.
 */
downloadDir: string, 
/**
 * Whether the engine runs (if not, every command fails).
 */
engineRunning: boolean, 
/**
 * `SHOAL_UI_BENCH=1`: the window offers a hook that feeds it synthetic
 * updates and times them (`make bench-ui`).
 */
benchHooks: boolean, };
