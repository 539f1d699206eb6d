//! `switchyard check` and config errors as the command line reports them.

use std::net::TcpListener;

use crate::util::{check, run_fails, run_ok, serve_config, stderr, stdout, Dir};

/// A good config: one listener, one route, one pool of two servers.
fn good() -> String {
    let servers = [
        ("inventory-1", "127.0.0.1:9101".parse().unwrap()),
        ("inventory-2", "127.0.0.1:9102".parse().unwrap()),
    ];
    serve_config("off", "", &servers)
}

/// Four problems, one per line, in the order the binary sorts them (by line, then column).
/// Line numbers are 1-based; each comment gives the column where the offending value starts.
const BAD: &str = r#"[[listeners]]
name = "web"
bind = "127.0.0.1:0"

[[routes]]
pool = "inventroy"

[pools.inventory]
timeouts = { connect = "soon", request = "10s" }

[[pools.inventory.servers]]
name = "inventory-1"
address = "127.0.0.1:9101"

[[pools.inventory.servers]]
name = "inventory-1"
address = "localhost:9102"
"#;

/// `(line:col, what the message must say)` for every problem in [`BAD`].
const BAD_PROBLEMS: &[(&str, &str)] = &[
    // pool = "inventroy": the value starts at column 8.
    (
        "6:8",
        "routes[0] sends traffic to pool \"inventroy\", which is not defined; pools are: \"inventory\"",
    ),
    // timeouts = { connect = "soon", ...: the value starts at column 24.
    ("9:24", "pool \"inventory\" timeouts.connect: \"soon\" is not a duration"),
    // name = "inventory-1" (the second one): the value starts at column 8.
    (
        "16:8",
        "pool \"inventory\" has two servers named \"inventory-1\" (servers[0] and servers[1])",
    ),
    // address = "localhost:9102": the value starts at column 11.
    (
        "17:11",
        "pool \"inventory\" server \"inventory-1\" address \"localhost:9102\" is not an IP:PORT address",
    ),
];

#[test]
fn check_accepts_a_good_config_and_summarizes_it() {
    let dir = Dir::new();
    dir.write("good.toml", &good());
    let mut cmd = dir.command(["check", "--config", "good.toml"]);
    let o = run_ok(&mut cmd);
    check(
        stdout(&o) == "good.toml: ok (1 listener, 1 route, 1 pool, 2 servers)\n",
        "stdout should be exactly the one-line summary",
        &cmd,
        &o,
    );
    check(stderr(&o).is_empty(), "stderr should be empty", &cmd, &o);
}

#[test]
fn check_pluralizes_the_summary() {
    let dir = Dir::new();
    let config = good().replace(
        "[[routes]]\npath_prefix = \"/\"",
        "[[routes]]\npath_prefix = \"/api\"\npool = \"inventory\"\n\n[[routes]]\npath_prefix = \"/\"",
    );
    dir.write("two-routes.toml", &config);
    let mut cmd = dir.command(["check", "--config", "two-routes.toml"]);
    let o = run_ok(&mut cmd);
    check(
        stdout(&o) == "two-routes.toml: ok (1 listener, 2 routes, 1 pool, 2 servers)\n",
        "stdout should count two routes",
        &cmd,
        &o,
    );
}

/// Asserts that `err` reports exactly the problems of [`BAD`] in `file`, each on its own line
/// and at its own position, under a header that counts them.
fn assert_bad_config_report(
    err: &str,
    file: &str,
    cmd: &std::process::Command,
    o: &std::process::Output,
) {
    let lines: Vec<&str> = err.lines().collect();
    check(
        lines.first() == Some(&format!("switchyard: 4 problems in {file}:").as_str()),
        "the first stderr line should count the problems and name the file",
        cmd,
        o,
    );
    check(
        lines.len() == 1 + BAD_PROBLEMS.len(),
        "stderr should hold the header and exactly one line per problem",
        cmd,
        o,
    );
    for (line, (pos, message)) in lines[1..].iter().zip(BAD_PROBLEMS) {
        let prefix = format!("{file}:{pos}: ");
        check(
            line.starts_with(&prefix),
            &format!("expected a problem located at {prefix:?}, found {line:?}"),
            cmd,
            o,
        );
        check(
            line[prefix.len()..].starts_with(message),
            &format!("the problem at {pos} should say {message:?}, found {line:?}"),
            cmd,
            o,
        );
    }
}

#[test]
fn check_reports_every_problem_with_file_line_and_column() {
    let dir = Dir::new();
    dir.write("bad.toml", BAD);
    let mut cmd = dir.command(["check", "--config", "bad.toml"]);
    let o = run_fails(&mut cmd);
    check(stdout(&o).is_empty(), "stdout should be empty", &cmd, &o);
    assert_bad_config_report(&stderr(&o), "bad.toml", &cmd, &o);
}

#[test]
fn check_names_the_file_as_given() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    dir.write("conf/bad.toml", BAD);
    let mut cmd = dir.command(["check", "--config", "conf/bad.toml"]);
    let o = run_fails(&mut cmd);
    assert_bad_config_report(&stderr(&o), "conf/bad.toml", &cmd, &o);
}

#[test]
fn check_locates_toml_syntax_errors() {
    let dir = Dir::new();
    // An unterminated string on line 3.
    dir.write(
        "syntax.toml",
        "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:0\n",
    );
    let mut cmd = dir.command(["check", "--config", "syntax.toml"]);
    let o = run_fails(&mut cmd);
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    check(
        lines.len() == 2 && lines[0] == "switchyard: 1 problem in syntax.toml:",
        "stderr should be a one-problem header and one located problem",
        &cmd,
        &o,
    );
    check(
        lines[1].starts_with("syntax.toml:3:"),
        "the syntax error should be located on line 3",
        &cmd,
        &o,
    );
}

#[test]
fn check_with_a_missing_file_says_what_to_do_in_one_line() {
    let dir = Dir::new();
    let mut cmd = dir.command(["check", "--config", "missing.toml"]);
    let o = run_fails(&mut cmd);
    check(stdout(&o).is_empty(), "stdout should be empty", &cmd, &o);
    let err = stderr(&o);
    check(
        err.lines().count() == 1,
        "the error should be one line",
        &cmd,
        &o,
    );
    check(
        err.starts_with(
            "switchyard: could not read config missing.toml: pass --config FILE with a readable TOML file",
        ),
        "the error should name the file and say what to do",
        &cmd,
        &o,
    );
}

#[test]
fn serve_without_a_config_says_what_to_do() {
    let dir = Dir::new();
    let mut cmd = dir.command(["serve"]);
    let o = run_fails(&mut cmd);
    check(
        stderr(&o)
            == "switchyard: no config: pass --config FILE or set SWITCHYARD_CONFIG (the state directory ./switchyard-state has no versions yet)\n",
        "serve without --config should explain both ways to give one",
        &cmd,
        &o,
    );
}

#[test]
fn serve_refuses_a_bad_config_before_binding_anything() {
    let dir = Dir::new();
    // Hold two free ports and point the bad config's listener and admin API at them: if serve
    // tried to bind before validating, it would fail with a bind error instead of the located
    // problems (and it would never exit if it bound and served).
    let held_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let held_admin = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = BAD.replacen(
        "bind = \"127.0.0.1:0\"",
        &format!("bind = \"{}\"", held_listener.local_addr().unwrap()),
        1,
    );
    // An [admin] table appended at the end keeps every problem on the line BAD_PROBLEMS names.
    let config = format!(
        "{config}\n[admin]\nbind = \"{}\"\naccess_log = \"off\"\n",
        held_admin.local_addr().unwrap()
    );
    dir.write("bad.toml", &config);
    let mut cmd = dir.command(["serve", "--config", "bad.toml"]);
    let o = run_fails(&mut cmd);
    let err = stderr(&o);
    check(
        !err.contains("listening on") && !err.contains("could not bind"),
        "serve should not log or attempt any bind",
        &cmd,
        &o,
    );
    check(stdout(&o).is_empty(), "stdout should be empty", &cmd, &o);
    assert_bad_config_report(&err, "bad.toml", &cmd, &o);
}
