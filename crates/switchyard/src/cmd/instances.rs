//! `switchyard instances`: every instance sharing this one's store, the version each runs and
//! when the store last heard from it.

use serde_json::Value;

use super::client::Client;
use super::output::{self, Output};
use crate::Global;

pub fn run(g: &Global) -> anyhow::Result<()> {
    let list = Client::new(g)?.get("/instances")?;
    match g.output {
        Output::Json => output::json(&list),
        Output::Text => println!("{}", table(list.as_array().map_or(&[][..], |v| v))),
    }
    Ok(())
}

fn table(instances: &[Value]) -> String {
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                output::s(&i["name"]),
                output::s(&i["admin_url"]),
                output::v(&i["version"]),
                output::time(&i["started_at"]),
                output::time(&i["last_seen"]),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "ADMIN",
            "VERSION",
            "STARTED (UTC)",
            "LAST SEEN (UTC)",
        ],
        &rows,
    )
}
