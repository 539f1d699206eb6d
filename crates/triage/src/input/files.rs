//! Turning PATH arguments into files, and files into a host and a service.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::{Format, InputError, SourceInfo};

/// Extensions a directory walk leaves out: files that are surely not logs (images, archives
/// that are not plain gzip, databases). Files named as PATHs are always read.
const NOT_LOGS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "ico", "pdf", "zip", "tar", "tgz", "bz2", "xz", "zst",
    "7z", "db", "sqlite", "sqlite3", "wal", "shm", "pid", "lock", "sock",
];

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') && n != "." && n != "..")
}

/// A change history found in a walked directory (`changes.jsonl`, as `lab gen-logs` and
/// operators write it): read as changes, not as a log.
pub(crate) fn is_change_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("changes.jsonl"))
}

/// Change files inside the directories (and globbed directories) of `paths`.
pub(crate) fn walked_change_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths.iter().filter(|p| p.is_dir()) {
        for e in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !hidden(e.file_name()))
            .flatten()
        {
            if e.file_type().is_file() && is_change_file(e.path()) {
                out.push(e.into_path());
            }
        }
    }
    out
}

fn walkable(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default();
    if hidden(name) {
        return false;
    }
    let name = name.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    !name.ends_with(".tar")
        && !NOT_LOGS
            .iter()
            .any(|ext| name.rsplit_once('.').is_some_and(|(_, e)| e == *ext))
}

/// Files of a directory, walked in name order. An entry that cannot be read is listed anyway,
/// so that scanning it reports why (and counts it) instead of losing it without a word.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let mut walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    let mut first = true;
    while let Some(entry) = walker.next() {
        match entry {
            Ok(e) => {
                if e.depth() > 0 && hidden(e.file_name()) {
                    if e.file_type().is_dir() {
                        walker.skip_current_dir();
                    }
                    continue;
                }
                if e.file_type().is_file() && walkable(e.path()) && !is_change_file(e.path()) {
                    out.push(e.into_path());
                }
            }
            Err(e) if first => {
                let source = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                return Err(InputError::Walk {
                    path: dir.to_path_buf(),
                    source,
                });
            }
            Err(e) => {
                if let Some(p) = e.path() {
                    out.push(p.to_path_buf());
                }
            }
        }
        first = false;
    }
    Ok(())
}

pub(crate) fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out)?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            let pattern = path.to_string_lossy();
            if !is_glob(&pattern) {
                return Err(InputError::NotFound { path: path.clone() });
            }
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..glob::MatchOptions::new()
            };
            let matches =
                glob::glob_with(&pattern, options).map_err(|source| InputError::BadGlob {
                    pattern: pattern.to_string(),
                    source,
                })?;
            let before = out.len();
            for m in matches {
                match m {
                    Ok(p) if p.is_dir() => walk(&p, &mut out)?,
                    Ok(p) => out.push(p),
                    // Listed anyway: scanning it says why it cannot be read.
                    Err(e) => out.push(e.path().to_path_buf()),
                }
            }
            if out.len() == before {
                return Err(InputError::NoMatch {
                    pattern: pattern.to_string(),
                });
            }
        }
    }
    let mut seen = HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

/// `path` without `.` components, so that `./logs/a.log` and `logs/a.log` compare equal.
fn normal(path: &Path) -> Vec<Component<'_>> {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// The directory a PATH argument names files under: the directory itself, a file's parent,
/// or a glob's literal leading directories.
fn base(root: &Path) -> PathBuf {
    if root.to_string_lossy().contains(['*', '?', '[']) && !root.exists() {
        let mut b = PathBuf::new();
        for c in root.components() {
            if is_glob(&c.as_os_str().to_string_lossy()) {
                break;
            }
            b.push(c);
        }
        return b;
    }
    if root.is_file() {
        root.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        root.to_path_buf()
    }
}

/// A file's service name: its name without `.gz`, rotation numbers or dates, and `.log`-like
/// extensions: `inventory.log.2.gz` and `inventory-2025-11-13.log` are both `inventory`.
pub(crate) fn service_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = name.as_str();
    s = s.strip_suffix(".gz").unwrap_or(s);
    loop {
        let before = s;
        if let Some((head, tail)) = s.rsplit_once('.') {
            let lower = tail.to_ascii_lowercase();
            if !head.is_empty()
                && (tail.bytes().all(|c| c.is_ascii_digit())
                    || matches!(
                        lower.as_str(),
                        "log" | "txt" | "json" | "jsonl" | "ndjson" | "out" | "err"
                    ))
            {
                s = head;
            }
        }
        // A trailing date: `-20251113`, `_2025-11-13`, `.2025-11-13`.
        for len in [8, 10] {
            if s.len() > len + 1 && s.is_char_boundary(s.len() - len - 1) {
                let (head, date) = s.split_at(s.len() - len);
                let sep = head.as_bytes()[head.len() - 1];
                let digits = date.bytes().filter(u8::is_ascii_digit).count();
                let shape = if len == 8 {
                    digits == 8
                } else {
                    digits == 8 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-'
                };
                if matches!(sep, b'-' | b'_' | b'.') && shape {
                    s = &head[..head.len() - 1];
                }
            }
        }
        if s == before {
            break;
        }
    }
    if s.is_empty() {
        name
    } else {
        s.to_string()
    }
}

pub(crate) fn source_info(path: &Path, roots: &[PathBuf], format: Format) -> SourceInfo {
    let service = service_name(path);
    let full = normal(path);
    let host = roots
        .iter()
        .map(|r| base(r))
        .filter_map(|b| {
            let b = normal(&b);
            (full.len() > b.len() && full[..b.len()] == b[..])
                .then(|| (b.len(), full.len() - b.len()))
        })
        .max_by_key(|&(len, _)| len)
        .and_then(|(len, rel)| {
            (rel >= 2).then(|| full[len].as_os_str().to_string_lossy().into_owned())
        });
    SourceInfo {
        path: path.to_path_buf(),
        host: host.unwrap_or_else(|| service.clone()),
        service,
        format,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        for (file, want) in [
            ("inventory.log", "inventory"),
            ("inventory.log.2.gz", "inventory"),
            ("inventory.log.gz", "inventory"),
            ("app-2025-11-13.log", "app"),
            ("app_20251113.log", "app"),
            ("syslog", "syslog"),
            ("messages.1", "messages"),
            ("access.json", "access"),
            (".log", ".log"),
            ("frontend-02.log", "frontend-02"),
        ] {
            assert_eq!(service_name(Path::new(file)), want, "{file}");
        }
    }

    #[test]
    fn layout() {
        let roots = [
            PathBuf::from("./incident"),
            PathBuf::from("other/*/app.log"),
            PathBuf::from("single/lb.log"),
        ];
        let info = |p: &str| {
            let s = source_info(Path::new(p), &roots, Format::Plain);
            (s.host, s.service)
        };
        assert_eq!(
            info("incident/frontend-02/app.log"),
            ("frontend-02".into(), "app".into())
        );
        assert_eq!(
            info("incident/frontend-02/nginx/access.log"),
            ("frontend-02".into(), "access".into())
        );
        assert_eq!(info("incident/lb.log"), ("lb".into(), "lb".into()));
        assert_eq!(info("other/web-1/app.log"), ("web-1".into(), "app".into()));
        assert_eq!(info("single/lb.log"), ("lb".into(), "lb".into()));
        assert_eq!(info("elsewhere/x/y.log"), ("y".into(), "y".into()));
    }
}
