//! A web seed (BEP 19) as the Peers tab lists it.

use serde::Serialize;
use ts_rs::TS;

/// One web seed (BEP 19) in the Peers tab.
#[derive(Debug, Clone, Serialize, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebSeedRow {
    /// The URL: the row's key.
    pub url: String,
    /// "active", "idle" or "failed".
    pub state: String,
    /// Why it was dropped, when it failed.
    pub error: Option<String>,
    /// Bytes per second from it.
    pub download_rate: u64,
    /// Bytes from it.
    pub downloaded: u64,
    /// It answered a ranged request with the whole file.
    pub ignores_ranges: bool,
}

impl From<shoal::webseed::WebSeedSnapshot> for WebSeedRow {
    fn from(w: shoal::webseed::WebSeedSnapshot) -> Self {
        let error = match &w.state {
            shoal::webseed::WebSeedState::Failed(why) => Some(why.clone()),
            _ => None,
        };
        WebSeedRow {
            url: w.url,
            state: w.state.label().to_owned(),
            error,
            download_rate: w.download_rate,
            downloaded: w.downloaded,
            ignores_ranges: w.ignores_ranges,
        }
    }
}
