//! The search tree: masked messages are routed by token count and first token to a short list
//! of templates, and join the most similar one they are compatible with.

use std::collections::hash_map::Entry;

use super::compare::{self, Diff};
use super::mask::{Masked, VAR};
use super::rules::NameCues;
use super::{Rules, TemplateId};
use crate::hash::FastMap;

/// Tunables. One set of defaults serves every input; they are fields so that tests can
/// reach the limits with small inputs.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// The switchable rules.
    pub rules: Rules,
    /// Tokens beyond this count are folded into one trailing variable. Default 128.
    pub max_tokens: usize,
    /// Distinct first tokens kept apart per token count; further ones share one branch.
    /// Default 256.
    pub max_children: usize,
    /// Templates per leaf. When a leaf is full, the template closest to the first message
    /// that fits none becomes the leaf's overflow: it takes that message and every later one
    /// that fits none, and widens. Default 64.
    pub max_leaf: usize,
    /// Templates in all; past this, a message that fits no template joins one catch-all
    /// template (`<*>`). Default 50,000.
    pub max_templates: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            rules: Rules::default(),
            max_tokens: 128,
            max_children: 256,
            max_leaf: 64,
            max_templates: 50_000,
        }
    }
}

/// Words after which a differing lowercase word is a name (`Invalid user admin`,
/// `Failed password for root`, `user=ftp`) rather than a different event.
const NAME_CUES: [&str; 2] = ["user", "for"];

/// One template's tokens, [`VAR`] marking the masked parts.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub tokens: Vec<Box<str>>,
}

/// Where a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub id: TemplateId,
    /// The template is new or its tokens changed.
    pub changed: bool,
}

/// All templates and the index over them.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Token count -> first token (or [`VAR`]) -> templates.
    leaves: FastMap<u32, FastMap<Box<str>, Leaf>>,
    /// Indexed by template id.
    pub clusters: Vec<Cluster>,
    /// The template that takes what fits nowhere once `max_templates` is reached.
    catch_all: Option<TemplateId>,
    /// Counts the changes to all of the above: while it stays the same, a message is filed
    /// where the same message was filed before.
    pub generation: u64,
}

const VAR_KEY: &str = "\u{1}";

/// The templates of one branch.
#[derive(Debug, Default)]
struct Leaf {
    /// Oldest first.
    ids: Vec<TemplateId>,
    /// Once the branch is full: the template that takes what fits none of the others.
    overflow: Option<TemplateId>,
    /// With [`Rules::position_variety`]: per position, the different tokens seen there (up to
    /// that many).
    variety: Vec<Vec<Box<str>>>,
}

impl Leaf {
    /// Notes the tokens of `msg` in [`Leaf::variety`], up to `cap` per position.
    fn note_variety(&mut self, msg: &Masked, cap: usize) {
        self.variety.resize_with(msg.len(), Vec::new);
        for (seen, token) in self.variety.iter_mut().zip(msg.tokens()) {
            if seen.len() < cap && !compare::is_var(token) && !seen.iter().any(|t| **t == *token) {
                seen.push(token.into());
            }
        }
    }

    /// Whether position `i` has shown at least `cap` different tokens.
    fn varied(&self, i: usize, cap: Option<u32>) -> bool {
        cap.is_some_and(|cap| self.variety.get(i).is_some_and(|v| v.len() >= cap as usize))
    }
}

/// How well a message fits a template it is compatible with.
#[derive(Debug, Clone, Copy)]
struct Fit {
    /// Fixed tokens that are equal.
    same: usize,
    /// Tokens the template must widen to take the message.
    widened: usize,
}

impl Fit {
    fn better_than(&self, other: &Fit) -> bool {
        self.same > other.same || (self.same == other.same && self.widened < other.widened)
    }
}

impl Tree {
    /// Files a masked message; returns its template.
    pub(crate) fn add(&mut self, msg: &Masked, params: &Params) -> Placed {
        let n = msg.len();
        let first = if n == 0 { VAR_KEY } else { msg.token(0) };
        let first = if first.contains(VAR) || !params.rules.route_by_first_token {
            VAR_KEY
        } else {
            first
        };
        let children = match self.leaves.entry(n as u32) {
            Entry::Occupied(children) => children.into_mut(),
            Entry::Vacant(place) => {
                self.generation += 1;
                place.insert(FastMap::default())
            }
        };
        let key = if children.contains_key(first) || children.len() < params.max_children {
            first
        } else {
            VAR_KEY
        };
        let leaf = match children.get_mut(key) {
            Some(leaf) => leaf,
            None => {
                self.generation += 1;
                children.entry(key.into()).or_default()
            }
        };

        if let Some(cap) = params.rules.position_variety {
            leaf.note_variety(msg, cap as usize);
            self.generation += 1;
        }
        let mut best: Option<(TemplateId, Fit)> = None;
        for &id in &leaf.ids {
            if let Some(fit) = fit(&self.clusters[id as usize], msg, params, leaf) {
                if best.as_ref().is_none_or(|(_, b)| fit.better_than(b)) {
                    best = Some((id, fit));
                }
            }
        }
        let full = leaf.ids.len() >= params.max_leaf || self.clusters.len() >= params.max_templates;
        if best.is_none() && full && !leaf.ids.is_empty() {
            // No room for another template here: the closest one becomes the branch's
            // overflow and takes this message and every later one that fits nothing else.
            let clusters = &self.clusters;
            if leaf.overflow.is_none() {
                self.generation += 1;
            }
            let id = *leaf.overflow.get_or_insert_with(|| {
                let closest = leaf
                    .ids
                    .iter()
                    .map(|&id| (id, equal_tokens(&clusters[id as usize], msg)));
                closest
                    .max_by_key(|&(id, same)| (same, std::cmp::Reverse(id)))
                    .map_or(leaf.ids[0], |(id, _)| id)
            });
            best = Some((
                id,
                Fit {
                    same: 0,
                    widened: 1,
                },
            ));
        }
        if let Some((id, fit)) = best {
            let changed = fit.widened > 0 && widen(&mut self.clusters[id as usize], msg);
            self.generation += u64::from(changed);
            return Placed { id, changed };
        }
        self.generation += 1;
        if self.clusters.len() >= params.max_templates {
            if let Some(id) = self.catch_all {
                return Placed { id, changed: false };
            }
            let id = self.clusters.len() as TemplateId;
            self.clusters.push(Cluster {
                tokens: vec![VAR_KEY.into()],
            });
            self.catch_all = Some(id);
            return Placed { id, changed: true };
        }
        let id = self.clusters.len() as TemplateId;
        self.clusters.push(Cluster {
            tokens: msg.tokens().map(Box::from).collect(),
        });
        leaf.ids.push(id);
        Placed { id, changed: true }
    }
}

/// Whether `msg` may join `cl` (same token count), and how well it fits.
///
/// Two different words at one position name different events, as a rule (`"GET`/`"POST`,
/// `Paused`/`Resumed`, `startup`/`shutdown`). They are values of one variable when the rules
/// say so: when words never split events, or for words without capitals (names are written
/// so) right after a word that introduces a name ([`NAME_CUES`]) or at a position where the
/// branch has seen many different tokens ([`Rules::position_variety`]).
fn fit(cl: &Cluster, msg: &Masked, params: &Params, leaf: &Leaf) -> Option<Fit> {
    let rules = &params.rules;
    let (mut same, mut widened, mut both_var) = (0, 0, 0);
    for (i, t) in cl.tokens.iter().enumerate() {
        let m = msg.token(i);
        if compare::is_var(t) {
            both_var += usize::from(compare::is_var(m));
            continue;
        }
        match compare::diff(t, m) {
            Diff::Same => same += 1,
            Diff::Var => widened += 1,
            Diff::Word {
                template,
                message,
                key,
            } => {
                let before = || {
                    if i > 0 {
                        compare::last_word(msg.token(i - 1))
                    } else {
                        None
                    }
                };
                let lower = is_lower(template) && is_lower(message);
                let value = !rules.words_split_events
                    || (lower && leaf.varied(i, rules.position_variety))
                    || (lower && after_cue(cue_word(rules.name_cues, key, before)));
                if !value {
                    return None;
                }
                widened += 1;
            }
        }
    }
    let counted = cl.tokens.len() - both_var;
    if (same as f64) < rules.similarity * counted as f64 {
        return None;
    }
    Some(Fit { same, widened })
}

/// A word without capitals, as names are written.
fn is_lower(word: &str) -> bool {
    !word.bytes().any(|b| b.is_ascii_uppercase())
}

/// The word that may introduce a name, as [`Rules::name_cues`] says: the key of `key=value`
/// (`key`) or the word before the token (`before`).
fn cue_word<'a>(
    cues: NameCues,
    key: Option<&'a str>,
    before: impl FnOnce() -> Option<&'a str>,
) -> Option<&'a str> {
    match (cues, key) {
        (NameCues::Off, _) | (NameCues::Words, Some(_)) => None,
        (NameCues::Words, None) => before(),
        (NameCues::WordsAndKeys, _) => key.or_else(before),
    }
}

/// Whether the word before is one of [`NAME_CUES`].
fn after_cue(before: Option<&str>) -> bool {
    before.is_some_and(|b| NAME_CUES.iter().any(|cue| b.eq_ignore_ascii_case(cue)))
}

/// Equal tokens, to choose among templates none of which fits.
fn equal_tokens(cl: &Cluster, msg: &Masked) -> usize {
    cl.tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| ***t == *msg.token(*i))
        .count()
}

/// Widens the template to cover `msg`; returns whether anything changed.
fn widen(cl: &mut Cluster, msg: &Masked) -> bool {
    let mut changed = false;
    for (i, t) in cl.tokens.iter_mut().enumerate() {
        let m = msg.token(i);
        if compare::is_var(t) || **t == *m {
            continue;
        }
        *t = compare::widen(t, m).into_boxed_str();
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(tree: &mut Tree, params: &Params, message: &str) -> TemplateId {
        let mut m = Masked::default();
        m.mask(message, params.max_tokens, &params.rules);
        tree.add(&m, params).id
    }

    fn is_name(template: &str, message: &str, before: Option<&str>) -> bool {
        is_lower(template) && is_lower(message) && after_cue(before)
    }

    #[test]
    fn names_after_cues_vary_other_words_do_not() {
        assert!(is_name("root", "admin", Some("user")));
        assert!(is_name("root", "ftp", Some("for")));
        assert!(!is_name("root", "Admin", Some("user")));
        assert!(!is_name("spawned", "destroyed", Some("Instance")));
        assert!(!is_name("root", "admin", None));
    }

    #[test]
    fn name_cues_as_words_or_as_keys() {
        let before = || Some("user");
        assert_eq!(cue_word(NameCues::Off, None, before), None);
        assert_eq!(cue_word(NameCues::Words, None, before), Some("user"));
        assert_eq!(cue_word(NameCues::Words, Some("user"), before), None);
        assert_eq!(
            cue_word(NameCues::WordsAndKeys, Some("user"), || None),
            Some("user")
        );
        assert_eq!(cue_word(NameCues::WordsAndKeys, None, before), Some("user"));
    }

    #[test]
    fn full_leaf_widens_the_closest_template() {
        let params = Params {
            max_leaf: 2,
            ..Params::default()
        };
        let mut tree = Tree::default();
        let a = add(&mut tree, &params, "pool alpha is down");
        let b = add(&mut tree, &params, "pool beta is down");
        assert_ne!(a, b);
        // The leaf holds two templates: gamma joins the first, which widens.
        assert_eq!(add(&mut tree, &params, "pool gamma is down"), a);
        assert_eq!(add(&mut tree, &params, "pool delta is down"), a);
        assert_eq!(tree.clusters.len(), 2);
        assert_eq!(
            tree.clusters[a as usize].tokens.join(" "),
            "pool \u{1} is down"
        );
        // What fits neither goes to that overflow template too.
        assert_eq!(add(&mut tree, &params, "pool epsilon was up"), a);
        assert_eq!(
            tree.clusters[a as usize].tokens.join(" "),
            "pool \u{1} \u{1} \u{1}"
        );
        assert_eq!(add(&mut tree, &params, "pool beta is down"), b);
    }

    #[test]
    fn template_cap_sends_the_rest_to_a_catch_all() {
        let params = Params {
            max_templates: 2,
            ..Params::default()
        };
        let mut tree = Tree::default();
        let a = add(&mut tree, &params, "disk full");
        let b = add(&mut tree, &params, "queue empty now");
        let c = add(&mut tree, &params, "cache cold");
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(add(&mut tree, &params, "something else entirely"), c);
        assert_eq!(&*tree.clusters[c as usize].tokens[0], VAR_KEY);
        // Known shapes still find their templates.
        assert_eq!(add(&mut tree, &params, "disk full"), a);
    }

    #[test]
    fn first_tokens_beyond_the_cap_share_a_branch() {
        let params = Params {
            max_children: 1,
            ..Params::default()
        };
        let mut tree = Tree::default();
        let a = add(&mut tree, &params, "alpha started 1");
        let b = add(&mut tree, &params, "beta started 2");
        let c = add(&mut tree, &params, "gamma started 3");
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(tree.leaves[&3].len(), 2);
        assert_eq!(tree.leaves[&3][VAR_KEY].ids, [b, c]);
    }
}
