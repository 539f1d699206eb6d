//! `switchyard dashboard`: prints the dashboard's URL with the admin token in its fragment
//! (`#token=...`), which the browser keeps to itself: the page moves it into session storage
//! and sends it only as a bearer header, so it never reaches the server's logs.

use anyhow::Context;

use super::client::Client;
use super::output::{self, Output};
use crate::state::StateDir;
use crate::Global;

#[derive(clap::Args)]
pub struct Args {
    /// Also open the URL in the default browser (with xdg-open).
    #[arg(long)]
    open: bool,
}

pub fn run(args: Args, g: &Global) -> anyhow::Result<()> {
    // Fails with the usual one-line errors when the admin API is down or refuses the token.
    let version = Client::new(g)?.get("/version")?;
    let dir = StateDir::existing(&g.state);
    let base = match &g.admin {
        Some(url) => url.clone(),
        None => dir
            .admin_url()?
            .context("no admin.url in the state directory")?,
    };
    let token = match &g.token {
        Some(t) => t.clone(),
        None => dir
            .token()?
            .context("no admin.token in the state directory")?,
    };
    let url = dashboard_url(&base, &token);
    match g.output {
        Output::Json => output::json(&serde_json::json!({
            "url": url,
            "version": version["version"],
        })),
        Output::Text => {
            println!("{url}");
            eprintln!("the link carries the admin token: share it only with operators");
        }
    }
    if args.open {
        match std::process::Command::new("xdg-open").arg(&url).status() {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("xdg-open exited with {s}: open the URL above by hand"),
            Err(e) => eprintln!("could not run xdg-open ({e}): open the URL above by hand"),
        }
    }
    Ok(())
}

/// `BASE/#token=TOKEN`, the token percent-encoded.
fn dashboard_url(base: &str, token: &str) -> String {
    let mut encoded = String::new();
    for b in token.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}/#token={encoded}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::dashboard_url;

    #[test]
    fn the_token_goes_into_the_fragment() {
        assert_eq!(
            dashboard_url("http://127.0.0.1:9901/", "ab c&d"),
            "http://127.0.0.1:9901/#token=ab%20c%26d"
        );
    }
}
