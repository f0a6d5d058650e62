//! Which URL serves which file of a torrent (BEP 19), and which web seed
//! URLs we refuse.
//!
//! BEP 19: for a single-file torrent the URL is the file itself, unless it
//! ends in `/`, when the torrent's name is appended; for a multi-file
//! torrent the URL is a folder, to which the torrent's name and the file's
//! path are appended, each component percent-encoded.
//!
//! **Requests on this machine's behalf.** A web seed URL comes from the
//! .torrent (or a user), and we send it `GET`s from inside the user's
//! machine, as we do to trackers (`crate::tracker::ssrf`). A web seed's
//! path is a file's, so the tracker rule (a local URL must end in
//! `/announce`) cannot apply. What does:
//! - only `http` and `https`;
//! - a URL that names this machine (a loopback address, `localhost`) may
//!   not carry a query string: a file server needs none, while the
//!   endpoints of local web APIs that act on a `GET` take their arguments
//!   there;
//! - a DNS name never resolves to a loopback address (the trackers'
//!   resolver, `NoLoopbackNames`);
//! - a redirect is followed at most [`MAX_REDIRECTS`] times, to `http` or
//!   `https` only, and a seed elsewhere may not redirect to this machine.
//!
//! What a seed sends back only reaches the disk through the piece hash
//! check, so a request cannot read a local service's answer into the
//! download; the rules keep it from acting on one.

use std::path::Component;

use ::url::Url;

use super::MAX_REDIRECTS;
use crate::metainfo::Info;

/// Longest web seed URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Why a web seed URL is refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WebSeedUrlError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Invalid(String),
    /// Neither `http` nor `https`.
    #[error("scheme {0} is not http or https")]
    Scheme(String),
    /// Over [`MAX_URL_LEN`].
    #[error("longer than {MAX_URL_LEN} bytes")]
    TooLong,
    /// On this machine with a query string.
    #[error("it points at this machine and carries a query string")]
    LocalQuery,
}

/// Parses and checks a web seed URL (see the module docs).
pub fn check(url: &str) -> Result<Url, WebSeedUrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(WebSeedUrlError::TooLong);
    }
    let u = Url::parse(url).map_err(|e| WebSeedUrlError::Invalid(e.to_string()))?;
    check_parsed(&u)?;
    Ok(u)
}

fn check_parsed(u: &Url) -> Result<(), WebSeedUrlError> {
    if !matches!(u.scheme(), "http" | "https") {
        return Err(WebSeedUrlError::Scheme(u.scheme().to_owned()));
    }
    if crate::tracker::ssrf::names_this_machine(u) && u.query().is_some() {
        return Err(WebSeedUrlError::LocalQuery);
    }
    Ok(())
}

/// The redirect policy of web seed requests (see the module docs).
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let local = crate::tracker::ssrf::names_this_machine;
        let from_elsewhere = attempt.previous().first().is_some_and(|u| !local(u));
        if from_elsewhere && local(attempt.url()) {
            return attempt.error("a redirect from elsewhere to this machine");
        }
        match check_parsed(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(format!("redirect refused: {e}")),
        }
    })
}

/// The URL path segments of each file of a torrent, to append to a web
/// seed's URL.
#[derive(Debug, Clone)]
pub struct FileUrls {
    /// A multi-file torrent: the URL is a folder.
    multi_file: bool,
    /// The torrent's name (a single-file torrent's file name).
    name: String,
    /// Per file, its path components, the torrent's name first.
    paths: Vec<Vec<String>>,
}

impl FileUrls {
    /// The paths of `info`'s files.
    pub fn new(info: &Info) -> Self {
        let paths = info
            .files
            .iter()
            .map(|f| {
                f.path
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        FileUrls {
            multi_file: info.multi_file,
            name: info.name.clone(),
            paths,
        }
    }

    /// The URL of file `file` on the seed at `base` (BEP 19).
    pub fn url(&self, base: &Url, file: usize) -> Url {
        let mut u = base.clone();
        let folder = base.path().ends_with('/');
        if !self.multi_file && !folder {
            return u;
        }
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty();
            if self.multi_file {
                for c in self.paths.get(file).into_iter().flatten() {
                    segs.push(c);
                }
            } else {
                segs.push(&self.name);
            }
        }
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::FileEntry;
    use std::path::PathBuf;

    fn info(multi: bool, paths: &[&str]) -> Info {
        let mut offset = 0;
        Info {
            name: paths[0].split('/').next().unwrap().to_owned(),
            piece_length: 16384,
            pieces: vec![[0; 20]],
            files: paths
                .iter()
                .map(|p| {
                    let f = FileEntry {
                        path: PathBuf::from(p),
                        length: 10,
                        offset,
                        pad: false,
                        attr: String::new(),
                    };
                    offset += 10;
                    f
                })
                .collect(),
            multi_file: multi,
            private: false,
            source: None,
        }
    }

    #[test]
    fn single_file_url_is_the_file_unless_a_folder() {
        let f = FileUrls::new(&info(false, &["my file.iso"]));
        let u = |s: &str| f.url(&Url::parse(s).unwrap(), 0).to_string();
        assert_eq!(u("http://h/dl/x.iso"), "http://h/dl/x.iso");
        assert_eq!(u("http://h/dl/"), "http://h/dl/my%20file.iso");
    }

    #[test]
    fn multi_file_urls_append_name_and_path_encoded() {
        let f = FileUrls::new(&info(true, &["Top Dir/a b/c#1?.txt", "Top Dir/ü%.bin"]));
        for base in ["http://h/pub", "http://h/pub/"] {
            let b = Url::parse(base).unwrap();
            assert_eq!(
                f.url(&b, 0).as_str(),
                "http://h/pub/Top%20Dir/a%20b/c%231%3F.txt"
            );
            assert_eq!(
                f.url(&b, 1).as_str(),
                "http://h/pub/Top%20Dir/%C3%BC%25.bin"
            );
        }
    }

    #[test]
    fn urls_refused() {
        assert!(check("http://127.0.0.1:8080/files/").is_ok());
        assert!(check("https://mirror.example/pub/x.iso?token=1").is_ok());
        for (bad, why) in [
            ("ftp://h/x", WebSeedUrlError::Scheme("ftp".into())),
            ("file:///etc/passwd", WebSeedUrlError::Scheme("file".into())),
            ("http://127.0.0.1/api?delete=1", WebSeedUrlError::LocalQuery),
            ("http://localhost:9/x?a", WebSeedUrlError::LocalQuery),
            ("http://[::1]/x?a", WebSeedUrlError::LocalQuery),
        ] {
            assert_eq!(check(bad).unwrap_err(), why, "{bad}");
        }
        assert!(matches!(
            check("not a url"),
            Err(WebSeedUrlError::Invalid(_))
        ));
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(check(&long).unwrap_err(), WebSeedUrlError::TooLong);
    }
}
