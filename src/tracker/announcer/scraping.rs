//! The announce task's scrapes: launching each tier's scrape when it is
//! due, and recording what it found.

use std::time::SystemTime;

use tokio::time::Instant;

use super::{later, Announcer, ScrapeFuture, ScrapeOutcome, SCRAPE_INTERVAL};
use crate::tracker::scrape;

impl Announcer {
    /// Starts a scrape of every tier whose scrape is due, to its first
    /// tracker (the one that answered last, or the first to be tried).
    pub(super) fn launch_scrapes_due(&mut self) -> Vec<ScrapeFuture> {
        let now = Instant::now();
        let mut futures = Vec::new();
        for (t, tier) in self.tiers.iter_mut().enumerate() {
            if tier.scrape_in_flight || tier.scrape_next.is_none_or(|at| at > now) {
                continue;
            }
            let url = tier.trackers[0].status.url.clone();
            if scrape::scrape_url(&url).is_none() {
                tracing::debug!(tracker = %url, "tracker cannot be scraped");
                tier.scrape_next = None;
                continue;
            }
            tier.scrape_in_flight = true;
            let info_hash = self.info_hash;
            tracing::debug!(tracker = %url, "scraping");
            futures.push(Box::pin(async move {
                let result = scrape::scrape(&url, &info_hash).await;
                ScrapeOutcome {
                    tier: t,
                    url,
                    result,
                }
            }) as ScrapeFuture);
        }
        futures
    }

    /// Records a finished scrape and schedules the tier's next one.
    pub(super) fn on_scrape(&mut self, outcome: ScrapeOutcome) {
        let ScrapeOutcome {
            tier: t,
            url,
            result,
        } = outcome;
        let now = Instant::now();
        let tier = &mut self.tiers[t];
        tier.scrape_in_flight = false;
        let Some(tracker) = tier.trackers.iter_mut().find(|tr| tr.status.url == url) else {
            return;
        };
        // Never more often than the tracker wants announces.
        let wait = SCRAPE_INTERVAL
            .max(tracker.interval.unwrap_or_default())
            .max(tracker.min_interval.unwrap_or_default());
        tier.scrape_next = Some(later(now, wait));
        let status = &mut tracker.status;
        match result {
            Ok(counts) => {
                tracing::debug!(tracker = %url, ?counts, "scrape worked");
                status.seeders = Some(counts.seeders);
                status.leechers = Some(counts.leechers);
                status.completed = counts.completed;
                status.last_scrape = Some(SystemTime::now());
                status.scrape_error = None;
            }
            Err(error) => {
                tracing::debug!(tracker = %url, %error, "scrape failed");
                status.scrape_error = Some(error.to_string());
            }
        }
    }
}
