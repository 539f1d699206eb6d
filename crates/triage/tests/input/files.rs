//! Files and layouts: `.gz` read transparently, directories and globs.

use super::*;

#[test]
fn gz_files_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(
        dir.path(),
        "logs/frontend-02/app.log",
        SEED_FRONTEND.as_bytes(),
    );
    let gz = write(
        dir.path(),
        "logs/frontend-02/app.log.1.gz",
        &gzip(SEED_FRONTEND.as_bytes()),
    );
    // Two gzip members back to back, as `cat a.gz b.gz` makes.
    let mut two = gzip(b"2025-11-13 10:23:15 INFO: first member\n");
    two.extend(gzip(b"2025-11-13 10:23:16 ERROR: second member\n"));
    let multi = write(dir.path(), "logs/frontend-02/multi.log.gz", &two);
    let roots = vec![dir.path().join("logs")];
    let options = InputOptions { roots, ..opts() };
    let (a, _) = scan(&plain, &options);
    let (b, _) = scan(&gz, &options);
    assert_eq!(a, b);
    assert_eq!(
        (b[0].host.as_str(), b[0].service.as_str()),
        ("frontend-02", "app")
    );
    let (m, _) = scan(&multi, &options);
    assert_eq!(
        m.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
        ["first member", "second member"]
    );
    let gz_len = std::fs::metadata(&gz).unwrap().len();
    assert_eq!(
        chunks(&gz, 4).unwrap(),
        std::iter::once(0..gz_len).collect::<Vec<_>>()
    );
    assert!(matches!(
        scan_range(
            &gz,
            10..20,
            &options,
            &mut |_: &SourceInfo, _: &Record<'_>| {}
        ),
        Err(InputError::CompressedRange { .. })
    ));

    // A truncated .gz: the records before the cut are read, then the error names the file.
    let whole = gzip(&generated_log(5_000));
    let cut = write(dir.path(), "cut.log.gz", &whole[..whole.len() / 2]);
    let mut n = 0;
    let err = scan_file(&cut, &options, &mut |_: &SourceInfo, _: &Record<'_>| n += 1).unwrap_err();
    assert!(n > 0);
    assert!(matches!(err, InputError::Read { .. }), "{err}");
    assert!(err.is_unreadable_file());
    assert!(err.to_string().contains("cut.log.gz"), "{err}");
}

#[test]
fn directories_and_globs_follow_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in [
        "incident/frontend-01/app.log",
        "incident/frontend-02/app.log",
        "incident/frontend-02/app.log.1.gz",
        "incident/lb.log",
    ] {
        write(d, f, b"2025-11-13 10:23:15 INFO: x\n");
    }
    write(d, "incident/.hidden.log", b"x\n");
    write(d, "incident/.git/config", b"x\n");
    write(d, "incident/frontend-01/screenshot.png", b"\x89PNG");
    let root = d.join("incident");
    let files = expand(std::slice::from_ref(&root)).unwrap();
    let rel: Vec<_> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        rel,
        [
            "frontend-01/app.log",
            "frontend-02/app.log",
            "frontend-02/app.log.1.gz",
            "lb.log"
        ]
    );
    let named: Vec<_> = files
        .iter()
        .map(|p| {
            let s = source_info(p, std::slice::from_ref(&root), Format::Plain);
            (s.host, s.service)
        })
        .collect();
    let pair = |h: &str, s: &str| (h.to_string(), s.to_string());
    assert_eq!(
        named,
        [
            pair("frontend-01", "app"),
            pair("frontend-02", "app"),
            pair("frontend-02", "app"),
            pair("lb", "lb")
        ]
    );

    // A glob, with the layout read below its literal part; a file given twice is read once.
    let pattern = d.join("incident/*/app.log");
    let files = expand(&[pattern.clone(), d.join("incident/frontend-01/app.log")]).unwrap();
    assert_eq!(
        files,
        [
            d.join("incident/frontend-01/app.log"),
            d.join("incident/frontend-02/app.log")
        ]
    );
    let options = InputOptions {
        roots: vec![pattern.clone()],
        ..opts()
    };
    let (recs, _) = scan(&files[1], &options);
    assert_eq!(
        (recs[0].host.as_str(), recs[0].service.as_str()),
        ("frontend-02", "app")
    );

    // Errors name the path and say what to do.
    let missing = expand(&[d.join("nope.log")]).unwrap_err();
    assert!(
        matches!(missing, InputError::NotFound { .. }) && missing.to_string().contains("nope.log"),
        "{missing}"
    );
    let nothing = expand(&[d.join("incident/*.json")]).unwrap_err();
    assert!(
        matches!(nothing, InputError::NoMatch { .. }) && nothing.to_string().contains("*.json"),
        "{nothing}"
    );
    assert!(!missing.is_unreadable_file());
    let open = scan_file(
        &d.join("gone.log"),
        &opts(),
        &mut |_: &SourceInfo, _: &Record<'_>| {},
    )
    .unwrap_err();
    assert!(
        open.to_string()
            .starts_with(&format!("could not open {}", d.join("gone.log").display())),
        "{open}"
    );
}
