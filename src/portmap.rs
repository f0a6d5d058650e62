//! Port mapping: asks the home router to forward our listening port, so
//! that peers outside the NAT can dial us.
//!
//! One task per session. It looks for a UPnP IGD gateway (SSDP, through
//! `igd-next`), and failing that asks the default gateway over PCP and
//! then NAT-PMP (through `crab_nat`). It maps the TCP listening port and,
//! when the DHT uses the same port number, the UDP port too; renews the
//! mappings at half their lease; removes them when the session ends; and
//! keeps a [`PortMapStatus`] (protocol, external address and port, or why
//! there is none) for the stats. A failed attempt is retried after
//! [`RETRY_AFTER`], since routers come and go.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The lease asked for by default. Routers forget a mapping whose owner
/// vanished without removing it once the lease ends.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(3600);
/// How long the SSDP search for a UPnP gateway waits for an answer.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one request to a gateway (UPnP SOAP call, or PCP / NAT-PMP
/// with the crate's own retries) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long to wait before trying again after no gateway mapped the port.
const RETRY_AFTER: Duration = Duration::from_secs(120);
/// How long a mapping under way when the session stops may still take
/// before it is undone (shutdown waits for it).
const CANCEL_GRACE: Duration = Duration::from_secs(3);
/// The name the mapping carries in the router's table.
const DESCRIPTION: &str = "Shoal";

/// How a port was mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapProtocol {
    /// UPnP Internet Gateway Device.
    Upnp,
    /// NAT Port Mapping Protocol (RFC 6886).
    NatPmp,
    /// Port Control Protocol (RFC 6887).
    Pcp,
}

impl std::fmt::Display for MapProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MapProtocol::Upnp => "UPnP",
            MapProtocol::NatPmp => "NAT-PMP",
            MapProtocol::Pcp => "PCP",
        })
    }
}

/// What port mapping has achieved so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortMapStatus {
    /// Port mapping is turned off.
    Off,
    /// Looking for a gateway (at start, and between retries).
    Searching,
    /// The router forwards `external` to our listening port.
    Mapped {
        /// The protocol that made the mapping.
        protocol: MapProtocol,
        /// The router's external address and the port mapped on it: the
        /// address peers outside dial.
        external: SocketAddr,
        /// Whether the UDP port (the DHT's) is mapped too.
        udp: bool,
        /// Times the lease was renewed.
        renewals: u32,
    },
    /// No gateway mapped the port; why. Tried again later.
    Failed(String),
}

/// Settings of the port mapping task.
#[derive(Debug, Clone)]
pub struct PortMapConfig {
    /// Our TCP listening port.
    pub tcp_port: u16,
    /// The UDP port to map as well (the DHT's, when it is the same number
    /// as the TCP port), or `None`.
    pub udp_port: Option<u16>,
    /// The lease asked for; renewed at half of it.
    pub lease: Duration,
}

/// The handle the session keeps: the status, shared with the task.
#[derive(Clone, Debug)]
pub struct PortMap {
    /// Written by the task, read by the stats.
    status: Arc<Mutex<PortMapStatus>>,
}

impl PortMap {
    /// Starts the task; it removes its mappings once `cancel` fires, and
    /// the returned future ends after that.
    pub fn start(
        config: PortMapConfig,
        cancel: CancellationToken,
    ) -> (
        PortMap,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let status = Arc::new(Mutex::new(PortMapStatus::Searching));
        let task = run(config, status.clone(), cancel);
        (PortMap { status }, task)
    }

    /// The current status.
    pub fn status(&self) -> PortMapStatus {
        lock(&self.status).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the status is whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Mappings held on a gateway, by protocol.
enum Held {
    /// UPnP: the gateway, our address on its LAN, the external port.
    Upnp {
        gateway: igd_next::aio::Gateway<igd_next::aio::tokio::Tokio>,
        local: IpAddr,
        external_port: u16,
        udp: bool,
    },
    /// PCP or NAT-PMP: the crate's mappings (TCP, and UDP if any).
    Pmp {
        tcp: crab_nat::PortMapping,
        udp: Option<crab_nat::PortMapping>,
    },
}

async fn run(config: PortMapConfig, status: Arc<Mutex<PortMapStatus>>, cancel: CancellationToken) {
    let set = |s: PortMapStatus| *lock(&status) = s;
    loop {
        let attempt = {
            let mapping = map(&config);
            tokio::pin!(mapping);
            tokio::select! {
                r = &mut mapping => r,
                _ = cancel.cancelled() => {
                    // The router may have granted a mapping already: let
                    // the attempt finish briefly, then undo what it made.
                    if let Ok(Ok((held, _, _))) = tokio::time::timeout(CANCEL_GRACE, mapping).await {
                        remove(held).await;
                    }
                    return;
                }
            }
        };
        let (mut held, external, protocol) = match attempt {
            Ok(x) => x,
            Err(why) => {
                tracing::info!("port mapping failed: {why}");
                set(PortMapStatus::Failed(why));
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_AFTER) => {}
                }
                set(PortMapStatus::Searching);
                continue;
            }
        };
        let udp = match &held {
            Held::Upnp { udp, .. } => *udp,
            Held::Pmp { udp, .. } => udp.is_some(),
        };
        tracing::info!("port mapped with {protocol}: external address {external}");
        let mut renewals = 0;
        set(PortMapStatus::Mapped {
            protocol,
            external,
            udp,
            renewals,
        });
        // Renew at half the lease until cancelled or a renewal fails.
        let lost = loop {
            let half = match &held {
                Held::Pmp { tcp, .. } => Duration::from_secs(u64::from(tcp.lifetime()) / 2),
                Held::Upnp { .. } => config.lease / 2,
            }
            .max(Duration::from_secs(1));
            tokio::select! {
                _ = cancel.cancelled() => break None,
                _ = tokio::time::sleep(half) => {}
            }
            match renew(&mut held, &config).await {
                Ok(()) => {
                    renewals += 1;
                    tracing::info!("port mapping renewed with {protocol}: {external}");
                    set(PortMapStatus::Mapped {
                        protocol,
                        external,
                        udp,
                        renewals,
                    });
                }
                Err(why) => break Some(why),
            }
        };
        match lost {
            None => {
                remove(held).await;
                return;
            }
            Some(why) => {
                tracing::info!("port mapping renewal failed: {why}");
                set(PortMapStatus::Failed(why));
            }
        }
    }
}

/// Maps the ports on the first gateway that answers: UPnP, then PCP /
/// NAT-PMP on the default gateway.
async fn map(config: &PortMapConfig) -> Result<(Held, SocketAddr, MapProtocol), String> {
    let upnp = match upnp_map(config).await {
        Ok(x) => return Ok(x),
        Err(e) => e,
    };
    match pmp_map(config).await {
        Ok(x) => Ok(x),
        Err(pmp) => Err(format!("UPnP: {upnp}; PCP/NAT-PMP: {pmp}")),
    }
}

async fn upnp_map(config: &PortMapConfig) -> Result<(Held, SocketAddr, MapProtocol), String> {
    let mut opts = igd_next::SearchOptions::default();
    opts.timeout = Some(SEARCH_TIMEOUT);
    opts.single_search_timeout = Some(SEARCH_TIMEOUT);
    opts.gateway_ip_version = igd_next::GatewayIpVersion::V4;
    let gateway = igd_next::aio::tokio::search_gateway(opts)
        .await
        .map_err(|e| format!("no gateway found ({e})"))?;
    let local = local_ip_towards(gateway.addr.ip()).map_err(|e| format!("no route: {e}"))?;
    let lease = lease_secs(config.lease);
    let tcp_local = SocketAddr::new(local, config.tcp_port);
    let tcp = igd_next::PortMappingProtocol::TCP;
    // The same external port when free, so that the port we announce is
    // right for both sides of the NAT; any port otherwise.
    let external_port =
        match timed(gateway.add_port(tcp, config.tcp_port, tcp_local, lease, DESCRIPTION)).await {
            Ok(Ok(())) => config.tcp_port,
            _ => timed(gateway.add_any_port(tcp, tcp_local, lease, DESCRIPTION))
                .await?
                .map_err(|e| format!("mapping refused ({e})"))?,
        };
    let udp = match config.udp_port {
        Some(p) => timed(gateway.add_port(
            igd_next::PortMappingProtocol::UDP,
            external_port,
            SocketAddr::new(local, p),
            lease,
            DESCRIPTION,
        ))
        .await
        .is_ok_and(|r| r.is_ok()),
        None => false,
    };
    let ip = timed(gateway.get_external_ip())
        .await?
        .map_err(|e| format!("no external address ({e})"))?;
    Ok((
        Held::Upnp {
            gateway,
            local,
            external_port,
            udp,
        },
        SocketAddr::new(ip, external_port),
        MapProtocol::Upnp,
    ))
}

async fn pmp_map(config: &PortMapConfig) -> Result<(Held, SocketAddr, MapProtocol), String> {
    let gw = default_gateway().ok_or("no default gateway")?;
    let local = local_ip_towards(IpAddr::V4(gw)).map_err(|e| format!("no route: {e}"))?;
    let gateway = crab_nat::GatewayAddress::IpV4(gw);
    let options = |external: Option<NonZeroU16>| crab_nat::PortMappingOptions {
        external_port: external,
        lifetime_seconds: Some(lease_secs(config.lease)),
        timeout_config: None,
    };
    let port = NonZeroU16::new(config.tcp_port).ok_or("listening port 0")?;
    let tcp = timed(crab_nat::PortMapping::new(
        gateway,
        local,
        crab_nat::InternetProtocol::Tcp,
        port,
        options(Some(port)),
    ))
    .await?
    .map_err(|e| e.to_string())?;
    let protocol = match tcp.mapping_type() {
        crab_nat::PortMappingType::NatPmp => MapProtocol::NatPmp,
        crab_nat::PortMappingType::Pcp { .. } => MapProtocol::Pcp,
    };
    let external_ip = match tcp.mapping_type() {
        crab_nat::PortMappingType::Pcp { external_ip, .. } => Some(external_ip),
        crab_nat::PortMappingType::NatPmp => {
            timed(crab_nat::natpmp::external_address(gateway, None))
                .await
                .ok()
                .and_then(|r| r.ok())
                .map(IpAddr::V4)
        }
    }
    .ok_or("no external address")?;
    let external = SocketAddr::new(external_ip, tcp.external_port().get());
    let udp = match config.udp_port.and_then(NonZeroU16::new) {
        Some(p) => timed(crab_nat::PortMapping::new(
            gateway,
            local,
            crab_nat::InternetProtocol::Udp,
            p,
            options(Some(tcp.external_port())),
        ))
        .await
        .ok()
        .and_then(|r| r.ok()),
        None => None,
    };
    Ok((Held::Pmp { tcp, udp }, external, protocol))
}

async fn renew(held: &mut Held, config: &PortMapConfig) -> Result<(), String> {
    match held {
        Held::Upnp {
            gateway,
            local,
            external_port,
            udp,
        } => {
            let lease = lease_secs(config.lease);
            let tcp = SocketAddr::new(*local, config.tcp_port);
            timed(gateway.add_port(
                igd_next::PortMappingProtocol::TCP,
                *external_port,
                tcp,
                lease,
                DESCRIPTION,
            ))
            .await?
            .map_err(|e| e.to_string())?;
            if let (true, Some(p)) = (*udp, config.udp_port) {
                let u = SocketAddr::new(*local, p);
                let r = timed(gateway.add_port(
                    igd_next::PortMappingProtocol::UDP,
                    *external_port,
                    u,
                    lease,
                    DESCRIPTION,
                ))
                .await;
                if !r.is_ok_and(|r| r.is_ok()) {
                    tracing::debug!("UDP port mapping renewal failed");
                }
            }
            Ok(())
        }
        Held::Pmp { tcp, udp } => {
            timed(tcp.renew()).await?.map_err(|e| e.to_string())?;
            if let Some(u) = udp {
                if !timed(u.renew()).await.is_ok_and(|r| r.is_ok()) {
                    tracing::debug!("UDP port mapping renewal failed");
                }
            }
            Ok(())
        }
    }
}

/// Removes the mappings, each request bounded by `REQUEST_TIMEOUT`.
async fn remove(held: Held) {
    match held {
        Held::Upnp {
            gateway,
            external_port,
            udp,
            ..
        } => {
            let r =
                timed(gateway.remove_port(igd_next::PortMappingProtocol::TCP, external_port)).await;
            if udp {
                let _ =
                    timed(gateway.remove_port(igd_next::PortMappingProtocol::UDP, external_port))
                        .await;
            }
            match r {
                Ok(Ok(())) => tracing::info!("port mapping removed (UPnP)"),
                _ => tracing::info!("port mapping could not be removed (UPnP)"),
            }
        }
        Held::Pmp { tcp, udp } => {
            let r = timed(tcp.try_drop()).await;
            if let Some(u) = udp {
                let _ = timed(u.try_drop()).await;
            }
            match r {
                Ok(Ok(())) => tracing::info!("port mapping removed (PCP/NAT-PMP)"),
                _ => tracing::info!("port mapping could not be removed (PCP/NAT-PMP)"),
            }
        }
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .map_err(|_| "the gateway did not answer".to_string())
}

fn lease_secs(lease: Duration) -> u32 {
    u32::try_from(lease.as_secs()).unwrap_or(u32::MAX).max(1)
}

/// Our address on the interface that reaches `to` (a connected UDP
/// socket sends nothing; the kernel only picks the route).
fn local_ip_towards(to: IpAddr) -> std::io::Result<IpAddr> {
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.connect((to, 9))?;
    Ok(s.local_addr()?.ip())
}

/// The IPv4 default gateway, from the kernel's routing table.
fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_default_gateway(&table)
}

/// The gateway of the first default route in `/proc/net/route`'s text:
/// columns `Iface Destination Gateway ...`, addresses in hex, little-endian.
fn parse_default_gateway(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let (_iface, dest, gw) = (cols.next()?, cols.next()?, cols.next()?);
        if dest != "00000000" {
            return None;
        }
        let g = u32::from_str_radix(gw, 16).ok()?;
        (g != 0).then(|| Ipv4Addr::from(g.to_le_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_gateway_is_read_from_the_route_table() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n\
                     eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(
            parse_default_gateway(table),
            Some(Ipv4Addr::new(192, 168, 2, 1))
        );
        assert_eq!(parse_default_gateway("Iface\tDestination\n"), None);
    }
}
