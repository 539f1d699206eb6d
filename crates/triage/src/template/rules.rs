//! The miner's rules, each one a switch, so that every rule can be shown to earn its place.
//!
//! [`Rules::bare`] is plain Drain with masking of numbers: every switch off. [`Rules::default`]
//! holds the rules chosen by leave-one-dataset-out over the twelve labelled LogHub 2k samples:
//! starting from the bare miner, a rule was kept only if it raised the average grouping
//! accuracy of the datasets it was not chosen on (`tests/loghub_loo.rs` runs the selection).

/// Switchable rules of a [`TemplateMiner`](super::TemplateMiner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Least share of a template's fixed tokens a message must share to join it (positions
    /// where both hold a masked value do not count).
    pub similarity: f64,
    /// Route messages by their first token as well as their token count (Drain's tree of
    /// depth one); off, only the token count routes.
    pub route_by_first_token: bool,
    /// Two tokens that differ in exactly one word (`"GET` and `"POST`, `Paused` and
    /// `Resumed`) name different events and keep their messages apart; off, any difference
    /// widens the template, as in Drain.
    pub words_split_events: bool,
    /// With `words_split_events`: where a lower-case word after `user` or `for` is a name, a
    /// value (`Invalid user admin`, `Failed password for root`, `user=ftp`).
    pub name_cues: NameCues,
    /// With `words_split_events`, a token-position frequency rule in the manner of Brain
    /// (Yu et al., 2023): once messages of one token count and first token have shown this
    /// many different tokens at a position, a different word without capitals there is a
    /// value, not an event.
    pub position_variety: Option<u32>,
    /// Weekday and month names (`Sat`, `Jul`) are masked as parts of dates.
    pub mask_date_words: bool,
    /// A unit after a number is part of the value (`5.2 KB`, `384 B`).
    pub units_join_values: bool,
    /// A word followed by digits keeps its word (`eth0` becomes `eth<*>`, not `<*>`).
    pub keep_word_before_number: bool,
    /// A masked token repeated in a row (a list of ids) is kept once, and `<*>.<*>` or
    /// `<*>,<*>` inside a token becomes one `<*>`.
    pub collapse_repeats: bool,
    /// Paths, URLs, e-mail addresses and UUIDs are masked as whole tokens.
    pub whole_token_variables: bool,
}

/// Where a word that introduces a name (`user`, `for`) makes the lower-case word after it a
/// value ([`Rules::name_cues`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCues {
    /// Nowhere: a different word is a different event.
    Off,
    /// After the cue as a word of its own (`Invalid user admin`, `for root`), not after the
    /// key of `key=value` (`user=ftp` and `user=root` stay apart).
    Words,
    /// After the cue as a word of its own or as a key (`user=ftp`).
    WordsAndKeys,
}

impl Default for Rules {
    /// The rules chosen by leave-one-dataset-out (see the module docs).
    fn default() -> Self {
        Rules {
            similarity: 0.5,
            route_by_first_token: true,
            words_split_events: true,
            name_cues: NameCues::WordsAndKeys,
            position_variety: None,
            mask_date_words: true,
            units_join_values: true,
            keep_word_before_number: true,
            collapse_repeats: true,
            whole_token_variables: true,
        }
    }
}

impl Rules {
    /// Every switch off: Drain with numbers masked, routed by token count only.
    pub fn bare() -> Self {
        Rules {
            similarity: 0.5,
            route_by_first_token: false,
            words_split_events: false,
            name_cues: NameCues::Off,
            position_variety: None,
            mask_date_words: false,
            units_join_values: false,
            keep_word_before_number: false,
            collapse_repeats: false,
            whole_token_variables: false,
        }
    }
}
