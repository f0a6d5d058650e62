use super::*;

/// A download with one unchoking peer at 100 KiB/s and nothing wrong.
fn healthy() -> Facts {
    Facts {
        phase: Phase::Downloading,
        download_rate: 100 * 1024,
        left: 10 << 20,
        known_peers: 1,
        peers: vec![PeerFact {
            choking: false,
            has_needed: true,
            rate: 100 * 1024,
        }],
        dialling: 0,
        dial_failures: 0,
        dial_successes: 1,
        commonest_dial_error: None,
        incoming: 0,
        running_secs: 10,
        trackers: vec![],
        dht: DhtFact::Off,
        lsd: false,
        missing_pieces: 0,
        missing_ranges: vec![],
        missing_files: vec![],
        download_limit: None,
        upload_limit: None,
        disk_queue: 0.0,
        port: PortFact::Off,
    }
}

fn no_connections(mut f: Facts) -> Facts {
    f.peers.clear();
    f.download_rate = 0;
    f
}

#[test]
fn nothing_wrong_says_how_fast_the_peers_are() {
    let d = diagnose(&healthy());
    assert_eq!(d.cause, Cause::Fine);
    assert!(d.evidence.contains("1 of 1 connected peer"), "{d}");
    assert!(d.evidence.contains("100.0 KiB/s"), "{d}");
    assert!(d.fix.is_empty());
}

#[test]
fn no_peers_names_each_failing_tracker_and_the_dht() {
    let mut f = no_connections(healthy());
    f.known_peers = 0;
    f.trackers = vec![
        TrackerFact {
            url: "http://a/announce".into(),
            working: false,
            contacted: true,
            error: Some("connection refused".into()),
            peers: 0,
        },
        TrackerFact {
            url: "udp://b:1".into(),
            working: true,
            contacted: true,
            error: None,
            peers: 0,
        },
    ];
    f.dht = DhtFact::Off;
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::NoPeers);
    assert!(
        d.evidence
            .contains("1 of 2 trackers failing (http://a/announce: connection refused)"),
        "{d}"
    );
    assert!(
        d.evidence
            .contains("1 of 2 trackers answered with no peers"),
        "{d}"
    );
    assert!(d.evidence.contains("The DHT is off."), "{d}");
    assert!(d.fix.contains("Turn on the DHT"), "{d}");
}

#[test]
fn no_peers_with_a_dht_that_failed_or_found_nothing() {
    let mut f = no_connections(healthy());
    f.known_peers = 0;
    f.dht = DhtFact::Failed("address in use".into());
    let d = diagnose(&f);
    assert!(d.evidence.contains("The torrent has no tracker."), "{d}");
    assert!(
        d.evidence.contains("could not start: address in use"),
        "{d}"
    );
    f.dht = DhtFact::Running { peers: 0 };
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::NoPeers);
    assert!(d.evidence.contains("no peers for it yet"), "{d}");
}

#[test]
fn known_peers_that_fail_every_dial_are_unreachable() {
    let mut f = no_connections(healthy());
    f.known_peers = 3;
    f.dial_failures = 7;
    f.dial_successes = 0;
    f.commonest_dial_error = Some(("connection refused".into(), 5));
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::PeersUnreachable);
    assert!(d.evidence.contains("3 peers known; 7 dials failed"), "{d}");
    assert!(
        d.evidence.contains("(5) with \"connection refused\""),
        "{d}"
    );
    assert!(d.evidence.contains("No peer has dialled us"), "{d}");
}

#[test]
fn dials_under_way_without_failures_are_connecting() {
    let mut f = no_connections(healthy());
    f.known_peers = 2;
    f.dialling = 2;
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::Connecting);
    assert!(
        d.evidence.contains("2 peers known, 2 dials under way."),
        "{d}"
    );
    f.dialling = 0;
    let d = diagnose(&f);
    assert!(d.evidence.contains("waiting to dial them again"), "{d}");
}

#[test]
fn every_useful_peer_choking_is_choked() {
    let mut f = healthy();
    f.download_rate = 0;
    f.peers = vec![
        PeerFact {
            choking: true,
            has_needed: true,
            rate: 0,
        },
        // A peer with nothing for us does not count.
        PeerFact {
            choking: false,
            has_needed: false,
            rate: 0,
        },
    ];
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::Choked);
    assert!(
        d.evidence.contains("All 1 connected peer with pieces"),
        "{d}"
    );
}

#[test]
fn choked_with_a_low_upload_limit_blames_the_limit() {
    let mut f = healthy();
    f.peers[0].choking = true;
    f.upload_limit = Some(2048);
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::UploadLimit);
    assert!(d.evidence.contains("2.0 KiB/s"), "{d}");
    // A generous limit is not to blame.
    f.upload_limit = Some(LOW_UPLOAD_LIMIT);
    assert_eq!(diagnose(&f).cause, Cause::Choked);
}

#[test]
fn no_connected_peer_with_needed_pieces_names_ranges_and_files() {
    let mut f = healthy();
    f.peers[0].has_needed = false;
    f.missing_pieces = 12;
    f.missing_ranges = vec![(0, 3), (7, 7), (9, 10), (20, 23)];
    f.missing_files = vec!["a.bin".into(), "b.bin".into()];
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::PiecesMissing);
    assert!(d.evidence.contains("12 pieces"), "{d}");
    assert!(d.evidence.contains("(pieces 0-3, 7, 9-10, …)"), "{d}");
    assert!(d.evidence.contains("missing from a.bin, b.bin."), "{d}");
}

#[test]
fn reaching_the_download_limit_blames_it() {
    let mut f = healthy();
    f.download_limit = Some(110 * 1024);
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::DownloadLimit);
    assert!(d.evidence.contains("110.0 KiB/s"), "{d}");
    // Far below the limit, the limit is not the cause.
    f.download_limit = Some(1 << 20);
    assert_eq!(diagnose(&f).cause, Cause::Fine);
}

#[test]
fn a_full_write_queue_blames_the_disk_first() {
    let mut f = healthy();
    f.download_limit = Some(100 * 1024);
    f.disk_queue = 0.95;
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::Disk);
    assert!(d.evidence.contains("95% full"), "{d}");
    assert!(d.evidence.contains("(receiving 100.0 KiB/s)"), "{d}");
    f.disk_queue = 0.5;
    assert_eq!(diagnose(&f).cause, Cause::DownloadLimit);
}

#[test]
fn never_dialled_with_failed_dials_is_not_connectable() {
    let mut f = healthy();
    f.known_peers = 4;
    f.dial_failures = 3;
    f.running_secs = CONNECTABLE_AFTER_SECS;
    f.port = PortFact::Failed("no gateway found".into());
    let d = diagnose(&f);
    assert_eq!(d.cause, Cause::NotConnectable);
    assert!(d.evidence.contains("3 of our dials failed"), "{d}");
    assert!(
        d.evidence.contains("Port mapping failed: no gateway found"),
        "{d}"
    );
    // One peer that dialled us proves we are connectable.
    f.incoming = 1;
    assert_eq!(diagnose(&f).cause, Cause::Fine);
    // Too early to tell.
    f.incoming = 0;
    f.running_secs = CONNECTABLE_AFTER_SECS - 1;
    assert_eq!(diagnose(&f).cause, Cause::Fine);
}

#[test]
fn states_other_than_downloading_say_so() {
    let mut f = healthy();
    for (phase, cause) in [
        (Phase::Paused, Cause::Paused),
        (Phase::Checking, Cause::Checking),
        (Phase::Complete, Cause::Complete),
        (Phase::Error("disk full".into()), Cause::Error),
        (Phase::FetchingMetadata, Cause::FetchingMetadata),
    ] {
        f.phase = phase;
        assert_eq!(diagnose(&f).cause, cause);
    }
    f.phase = Phase::Error("disk full.".into());
    assert_eq!(diagnose(&f).evidence, "disk full.");
    // A magnet with no connection is diagnosed like a download.
    let mut f = no_connections(healthy());
    f.phase = Phase::FetchingMetadata;
    f.known_peers = 0;
    assert_eq!(diagnose(&f).cause, Cause::NoPeers);
}

#[test]
fn ranges_join_neighbours() {
    let missing = [1, 2, 3, 5, 8, 9];
    assert_eq!(
        ranges(10, |i| missing.contains(&i)),
        vec![(1, 3), (5, 5), (8, 9)]
    );
    assert!(ranges(0, |_| true).is_empty());
}

#[test]
fn bytes_reads_well() {
    assert_eq!(bytes(0), "0 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(3 << 20), "3.0 MiB");
}
