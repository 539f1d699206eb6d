//! Message templates: log messages grouped by the text they share, with their variable parts
//! shown as `<*>`.
//!
//! `Accepted password for root from 10.0.0.7 port 52144` and
//! `Accepted password for git from 10.0.0.9 port 41022` are one template,
//! `Accepted password for <*> from <*> port <*>`; `switchyard triage` counts errors per
//! template to say which kinds of error are new or growing, and `switchyard logs templates`
//! lists them.
//!
//! The miner works online, one message at a time, in the manner of Drain (He et al., ICWS 2017)
//! with more care about what counts as a variable:
//! 1. **Masking** (`mask.rs`): numbers, IPs, host:port, hex and block ids, UUIDs, durations and
//!    sizes with their units (`12ms`, `5.2 KB`), paths, URLs, e-mail addresses and dates
//!    become `<*>` before anything is compared, while keys and punctuation stay (`uid=<*>`,
//!    `[<*>]`). A word with a number keeps its word (`eth<*>`).
//! 2. **Routing** (`tree.rs`): messages go by token count and first token to a short list of
//!    templates.
//! 3. **Joining**: a message joins the template that shares the most fixed tokens with it, if
//!    it shares at least half of them and every difference looks like a variable
//!    (`compare.rs`): tokens that differ in shape (`(<*>)` and `(gw.example.org)`), in a masked
//!    part, or in more than one word (`ns.example.com` and `mail.other.net`) do. Two tokens
//!    that differ in exactly one word (`"GET` and `"POST`, `Paused` and `Resumed`,
//!    `action.SCREEN_ON` and `action.SCREEN_OFF`) name different events and keep their
//!    messages apart, unless both words are lower case and follow `user` or `for` (user names:
//!    `Invalid user admin`, `Failed password for root`, `user=ftp`). A token-position
//!    variety rule in the manner of Brain is available and off ([`Rules::position_variety`]).
//! 4. **Widening**: the template's differing tokens become `<*>`.
//!
//! Ids are dense (0, 1, 2, ...) in order of first appearance and a message's id never changes:
//! templates only widen, they are never split, merged or renumbered. Memory is bounded:
//! messages are cut at 128 tokens, each token count keeps up to 256 first-token branches,
//! each branch up to 64 templates (once full, what fits none of them joins one overflow
//! template of the branch, which widens), and past 50,000 templates what fits nowhere joins
//! one catch-all `<*>`.
//! One set of defaults serves every input. Each rule is a switch in [`Rules`]; the defaults
//! are the rules a leave-one-dataset-out selection keeps (`tests/loghub_loo.rs`).
//!
//! ```
//! use switchyard_triage::template::TemplateMiner;
//!
//! let mut miner = TemplateMiner::new();
//! let a = miner.add("Connection from 10.0.0.7 port 52144 closed after 12ms");
//! let b = miner.add("Connection from 10.0.0.9 port 41022 closed after 340ms");
//! let c = miner.add("Disk /dev/sda1 is 91% full");
//! assert_eq!(a, b);
//! assert_ne!(a, c);
//! assert_eq!(miner.template(a).text, "Connection from <*> port <*> closed after <*>");
//! assert_eq!(miner.template(a).count, 2);
//! ```
//!
//! Grouping accuracy on the twelve labelled LogHub 2k samples is checked by
//! `tests/loghub_ga.rs` (average at least 0.90); `bench/loghub/score` measures the same through
//! `switchyard logs templates`.

mod accuracy;
mod compare;
mod mask;
mod rules;
mod tree;

pub use accuracy::grouping_accuracy;
pub use rules::{NameCues, Rules};

/// A template's number: dense (0, 1, 2, ...) in order of first appearance, stable once assigned.
pub type TemplateId = u32;

/// A group of messages that share their fixed text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Template {
    /// Index in [`TemplateMiner::templates`].
    pub id: TemplateId,
    /// The shared text, tokens separated by single spaces, variable parts shown as `<*>`.
    pub text: String,
    /// Messages that joined this template so far.
    pub count: u64,
}

/// Groups messages into templates as they arrive. See the [module docs](self).
pub struct TemplateMiner {
    params: tree::Params,
    tree: tree::Tree,
    templates: Vec<Template>,
    masks: mask::MaskCache,
}

impl Default for TemplateMiner {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TemplateMiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateMiner")
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

impl TemplateMiner {
    /// An empty miner with the defaults every input shares: a message must share at least
    /// half of its fixed tokens with a template to join it; messages longer than 128 tokens are
    /// cut there (the rest is one variable); up to 256 first tokens per token count, 64
    /// templates per branch and 50,000 templates in all.
    pub fn new() -> Self {
        Self::with_rules(Rules::default())
    }

    /// An empty miner with these rules instead of the defaults, to measure what each rule
    /// is worth (the limits stay as in [`new`](Self::new)).
    pub fn with_rules(rules: Rules) -> Self {
        TemplateMiner {
            params: tree::Params {
                rules,
                ..tree::Params::default()
            },
            tree: tree::Tree::default(),
            templates: Vec::new(),
            masks: mask::MaskCache::default(),
        }
    }

    /// Files `message` under the template it joins (or starts) and returns that template's
    /// id. The message's id never changes later; the template's text may widen as more
    /// messages join it.
    pub fn add(&mut self, message: &str) -> TemplateId {
        let generation = self.tree.generation;
        let (at, masked, filed) = self.masks.mask(
            message,
            self.params.max_tokens,
            &self.params.rules,
            generation,
        );
        let placed = match filed {
            Some(id) => tree::Placed { id, changed: false },
            None => {
                let placed = self.tree.add(masked, &self.params);
                if self.tree.generation == generation {
                    self.masks.filed(at, placed.id, generation);
                }
                placed
            }
        };
        let i = placed.id as usize;
        if i == self.templates.len() {
            self.templates.push(Template {
                id: placed.id,
                text: String::new(),
                count: 0,
            });
        }
        let template = &mut self.templates[i];
        template.count += 1;
        if placed.changed {
            template.text.clear();
            for (n, token) in self.tree.clusters[i].tokens.iter().enumerate() {
                if n > 0 {
                    template.text.push(' ');
                }
                mask::render(token, &mut template.text);
            }
        }
        placed.id
    }

    /// The template with this id.
    ///
    /// # Panics
    /// If no template has this id (ids come from [`add`](Self::add)).
    pub fn template(&self, id: TemplateId) -> &Template {
        &self.templates[id as usize]
    }

    /// All templates, indexed by id.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// No message added yet.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(miner: &mut TemplateMiner, messages: &[&str]) -> Vec<TemplateId> {
        messages.iter().map(|m| miner.add(m)).collect()
    }

    #[test]
    fn messages_seen_again_are_filed_as_filing_would_file_them() {
        // The same messages filed by the bare tree, each masked afresh, one by one: the
        // miner's remembered answers must be the ones filing gives.
        let mut messages = Vec::new();
        for round in 0..40 {
            messages.push(format!(
                "Connection from 10.0.0.{round} port {round}000 closed"
            ));
            messages.push("database connection timeout".to_string());
            messages.push(format!(
                "user {} logged in",
                ["root", "admin", "ftp"][round % 3]
            ));
            messages.push(format!("GET /search?q={} failed", ["a", "b"][round % 2]));
            if round % 7 == 0 {
                messages.push(format!("Connection from host-{round} port 1 reset"));
                messages.push("database connection timeout after retry".to_string());
            }
        }
        let mut miner = TemplateMiner::new();
        let params = tree::Params::default();
        let mut bare = tree::Tree::default();
        let mut generations = Vec::new();
        for m in &messages {
            let mut masked = mask::Masked::default();
            masked.mask(m, params.max_tokens, &params.rules);
            assert_eq!(miner.add(m), bare.add(&masked, &params).id, "{m}");
            generations.push(miner.tree.generation);
        }
        assert_eq!(miner.tree.generation, bare.generation);
        // The tree settles: the last rounds change nothing, so they are answered from memory.
        assert_eq!(generations[generations.len() - 20], bare.generation);
    }

    #[test]
    fn a_family_shares_one_template() {
        let mut miner = TemplateMiner::new();
        let got = ids(
            &mut miner,
            &[
                "Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
                "Received block blk_7503483334202473044 of size 233217 from /10.251.215.16",
                "Received block blk_3587508140051953248 of size 67108864 from /10.251.71.16",
            ],
        );
        assert_eq!(got, [0, 0, 0]);
        assert_eq!(
            miner.template(0).text,
            "Received block <*> of size <*> from /<*>"
        );
        assert_eq!(miner.template(0).count, 3);
    }

    #[test]
    fn states_and_verbs_stay_apart() {
        let mut miner = TemplateMiner::new();
        let got = ids(
            &mut miner,
            &[
                "[instance: 0c9b8a3e-5d0f-4f54-9e2c-3f1c2b7b9a11] VM Paused (Lifecycle Event)",
                "[instance: 7f3d3c55-1d2e-4c4b-8c3b-91a0e6ad2f10] VM Resumed (Lifecycle Event)",
                "[instance: 11e2a0b4-6a55-4bd6-a9f5-0b0d1f2e3c4d] VM Paused (Lifecycle Event)",
                "10.11.10.1 \"GET /v2/servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.2477829",
                "10.11.10.1 \"POST /v2/servers HTTP/1.1\" status: 202 len: 733 time: 0.51",
                "10.11.10.2 \"GET /v2/flavors/detail HTTP/1.1\" status: 200 len: 311 time: 0.0912",
            ],
        );
        assert_eq!(got, [0, 1, 0, 2, 3, 2]);
        assert_eq!(
            miner.template(0).text,
            "[instance: <*>] VM Paused (Lifecycle Event)"
        );
        assert_eq!(
            miner.template(2).text,
            "<*> \"GET <*> HTTP/<*>\" status: <*> len: <*> time: <*>"
        );
    }

    #[test]
    fn user_names_are_variables() {
        let mut miner = TemplateMiner::new();
        let got = ids(
            &mut miner,
            &[
                "Invalid user webmaster from 173.234.31.186",
                "Invalid user test9 from 52.80.34.196",
                "Invalid user oracle from 5.36.59.76",
                "Failed password for root from 5.36.59.76 port 42393 ssh2",
                "Failed password for git from 112.95.230.3 port 38752 ssh2",
            ],
        );
        assert_eq!(got, [0, 0, 0, 1, 1]);
        assert_eq!(miner.template(0).text, "Invalid user <*> from <*>");
        assert_eq!(
            miner.template(1).text,
            "Failed password for <*> from <*> port <*> ssh<*>"
        );
    }

    #[test]
    fn sizes_with_units_and_dates_are_values() {
        let mut miner = TemplateMiner::new();
        let got = ids(
            &mut miner,
            &[
                "Block broadcast_9 stored as bytes in memory (estimated size 5.2 KB, free 5.2 KB)",
                "Block broadcast_1 stored as bytes in memory (estimated size 384.0 B, free 317.5 MB)",
                "connection from 82.252.162.81 () at Sat Jul  9 22:53:19 2005",
                "connection from 24.54.76.216 () at Sun Jul 10 03:55:15 2005",
            ],
        );
        assert_eq!(got, [0, 0, 1, 1]);
        assert_eq!(
            miner.template(0).text,
            "Block <*> stored as bytes in memory (estimated size <*>, free <*>)"
        );
    }

    #[test]
    fn ids_are_dense_stable_and_counted() {
        let mut miner = TemplateMiner::new();
        assert!(miner.is_empty());
        let messages = [
            "worker 3 started",
            "cache miss for key a1b2c3d4e5f6",
            "worker 7 started",
            "upstream 10.0.3.14:8080 answered 502",
            "cache miss for key 99ffeeddccbb",
            "upstream 10.0.3.15:8080 answered 404",
            "worker 1 started",
        ];
        let first = ids(&mut miner, &messages);
        assert_eq!(first, [0, 1, 0, 2, 1, 2, 0]);
        // The same messages again land where they did, however the templates widened.
        assert_eq!(ids(&mut miner, &messages), first);
        assert_eq!(miner.len(), 3);
        for (i, t) in miner.templates().iter().enumerate() {
            assert_eq!(t.id as usize, i);
            assert_eq!(miner.template(t.id).text, t.text);
        }
        let total: u64 = miner.templates().iter().map(|t| t.count).sum();
        assert_eq!(total, 2 * messages.len() as u64);
        assert_eq!(miner.template(2).text, "upstream <*>:<*> answered <*>");
    }

    #[test]
    fn empty_blank_and_long_messages() {
        let mut miner = TemplateMiner::new();
        let empty = miner.add("");
        assert_eq!(miner.add("   \t "), empty);
        assert_eq!(miner.template(empty).text, "");
        // Past 128 tokens the rest is one variable: these differ only after token 300.
        let words = ["alpha", "beta", "gamma"];
        let long_a: Vec<&str> = (0..500).map(|i| words[i % 3]).collect();
        let mut long_b = long_a.clone();
        long_b[300..].fill("zeta");
        let a = miner.add(&long_a.join(" "));
        assert_eq!(miner.add(&long_b.join(" ")), a);
        let text = &miner.template(a).text;
        assert_eq!(text.split(' ').count(), 128);
        assert!(text.starts_with("alpha beta gamma alpha") && text.ends_with(" <*>"));
    }

    #[test]
    fn template_serializes_as_plain_fields() {
        let mut miner = TemplateMiner::new();
        miner.add("disk 3 full");
        let json = serde_json::to_string(miner.template(0)).unwrap();
        assert_eq!(json, r#"{"id":0,"text":"disk <*> full","count":1}"#);
    }
}
