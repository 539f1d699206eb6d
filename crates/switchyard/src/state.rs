//! The state directory: the version store, the admin token and where the admin API listens.
//!
//! `DIR/switchyard.db` holds versions and events, `DIR/admin.token` (mode 0600) the bearer
//! token made at first start, and `DIR/admin.url` the admin API's address, written by `serve`
//! so that CLI verbs run in the same directory find it without flags. With `--store etcd://...`
//! the versions live in etcd and `DIR/snapshot.json` keeps the last version this instance ran,
//! to start from while etcd cannot be reached. The directory is kept at mode 0700: it holds every
//! config, webhook URLs included.
//!
//! The token is written atomically (an unnamed temporary file, fsync, then a link to the final
//! name), so a crash or a full disk never leaves a partial token behind; `serve` refuses a token shorter
//! than [`MIN_TOKEN_LEN`] and a token file that group or others can read.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Default state directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "./switchyard-state";
/// The shortest admin token `serve` accepts.
pub const MIN_TOKEN_LEN: usize = 32;
const TOKEN_FILE: &str = "admin.token";
/// Where a new token is written before it is linked into place.
const TOKEN_TEMP: &str = ".admin.token.tmp";
const URL_FILE: &str = "admin.url";

pub struct StateDir {
    pub path: PathBuf,
}

impl StateDir {
    /// Opens `path`, creating it if needed, with mode 0700.
    pub fn create(path: &Path) -> anyhow::Result<StateDir> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| {
                format!(
                    "could not create the state directory {}: pass --state DIR with a writable directory",
                    path.display()
                )
            })?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).with_context(
            || {
                format!(
                    "could not make the state directory {} private (mode 0700): check that you own it",
                    path.display()
                )
            },
        )?;
        Ok(StateDir {
            path: path.to_path_buf(),
        })
    }

    /// An existing directory, for clients.
    pub fn existing(path: &Path) -> StateDir {
        StateDir {
            path: path.to_path_buf(),
        }
    }

    /// The admin token for `serve`: made (random, 256 bits, mode 0600) if there is none yet.
    ///
    /// Refuses a token file that group or others may read, and a token shorter than
    /// [`MIN_TOKEN_LEN`] characters (an empty one included), each with how to fix it.
    pub fn token_or_create(&self) -> anyhow::Result<String> {
        let path = self.path.join(TOKEN_FILE);
        let _ = std::fs::remove_file(self.path.join(TOKEN_TEMP));
        if !path.exists() {
            let token = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            self.write_token(&path, &token)?;
        }
        let mode = std::fs::metadata(&path)
            .with_context(|| format!("could not read {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the admin token file {} has mode {:o}, so other users can read it: run `chmod 600 {}` (and change the token if others may have read it)",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
        let token = self.token()?.unwrap_or_default();
        if token.chars().count() < MIN_TOKEN_LEN {
            anyhow::bail!(
                "the admin token in {} has {} characters, fewer than the {MIN_TOKEN_LEN} required: delete the file and serve makes a new one, or write a token of at least {MIN_TOKEN_LEN} characters into it",
                path.display(),
                token.chars().count()
            );
        }
        Ok(token)
    }

    /// Writes `token` to an unnamed temporary file, syncs it, and links it to `path` (failing
    /// if `path` appeared meanwhile), so `path` is either absent or whole, and a crash at any
    /// point leaves no partial file behind. Where the file system has no unnamed files
    /// (`O_TMPFILE`), a named temporary file stands in and is removed at the next start.
    fn write_token(&self, path: &Path, token: &str) -> anyhow::Result<()> {
        let failed = || {
            format!(
                "could not write the admin token {}: check that the state directory has free space and is writable",
                path.display()
            )
        };
        let write = |file: &mut std::fs::File| -> std::io::Result<()> {
            writeln!(file, "{token}")?;
            file.sync_all()
        };
        let linked = match std::fs::OpenOptions::new()
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(&self.path)
        {
            Ok(mut file) => write(&mut file).and_then(|()| link_unnamed(&file, path)),
            Err(_) => {
                let temp = self.path.join(TOKEN_TEMP);
                let result = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&temp)
                    .and_then(|mut file| write(&mut file))
                    .and_then(|()| std::fs::hard_link(&temp, path));
                let _ = std::fs::remove_file(&temp);
                result
            }
        };
        match linked {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => std::fs::File::open(&self.path)?.sync_all(),
        }
        .with_context(failed)
    }

    /// The admin token, if the directory has one.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        read_trimmed(&self.path.join(TOKEN_FILE))
    }

    pub fn write_admin_url(&self, url: &str) -> anyhow::Result<()> {
        let path = self.path.join(URL_FILE);
        std::fs::write(&path, format!("{url}\n"))
            .with_context(|| format!("could not write {}", path.display()))
    }

    pub fn admin_url(&self) -> anyhow::Result<Option<String>> {
        read_trimmed(&self.path.join(URL_FILE))
    }
}

/// Gives the unnamed (`O_TMPFILE`) `file` the name `path`.
fn link_unnamed(file: &std::fs::File, path: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn read_trimmed(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Who is making a change: `--author`, else `SWITCHYARD_AUTHOR`, else the OS user.
pub fn author(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("SWITCHYARD_AUTHOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}
