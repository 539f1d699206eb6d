use std::io;
use std::path::PathBuf;

/// Why an input path could not be found or read. Each names the path and what to do.
///
/// Garbage inside a file (binary, invalid UTF-8, unparsable lines) is never an error: it is
/// counted in [`super::Skipped`].
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A PATH that is neither a file, a directory nor a glob that matches something.
    #[error("{path}: no such file or directory; check the path")]
    NotFound { path: PathBuf },

    /// A glob that matched nothing.
    #[error("no file matches {pattern}; check the pattern (quote it so the shell passes it on as it is)")]
    NoMatch { pattern: String },

    /// A PATH that looks like a glob but is not a valid one.
    #[error("{pattern} is not a valid glob: {source}; escape `[`, `*` and `?` in literal names with brackets (`[[]`)")]
    BadGlob {
        pattern: String,
        #[source]
        source: glob::PatternError,
    },

    /// A directory named as a PATH that could not be listed.
    #[error("could not list directory {path}: {source}; check that it is readable")]
    Walk {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file that could not be opened.
    #[error("could not open {path}: {source}; check that it exists and is readable")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A read that failed part way; the records before `offset` were handed on.
    #[error("could not read {path} past byte {offset}: {source}; the file may be truncated or corrupt (an unfinished .gz?), the records before that point were read")]
    Read {
        path: PathBuf,
        /// Offset in the (decompressed) data where reading stopped.
        offset: u64,
        #[source]
        source: io::Error,
    },

    /// A byte range other than the whole file asked of a compressed file.
    #[error("{path} is compressed and can only be read whole; scan it with scan_file (chunks() gives one range for it)")]
    CompressedRange { path: PathBuf },
}

impl InputError {
    /// Whether the error is about one file that could not be opened or read to the end: a
    /// run counts it in [`super::Skipped::unreadable_files`], says so, and goes on. The other
    /// errors are about the PATH arguments or a wrong call and should stop the run.
    pub fn is_unreadable_file(&self) -> bool {
        matches!(self, InputError::Open { .. } | InputError::Read { .. })
    }
}
