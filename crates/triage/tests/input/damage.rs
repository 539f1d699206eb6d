//! Damaged input: garbage lines are counted and never stop a run, and a record longer than a
//! read block is handed on whole.

use super::*;

#[test]
fn garbage_is_counted_and_never_stops_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = Vec::new();
    content.extend_from_slice(b"starting the service (no timestamp yet)\n  still starting\n");
    content.extend_from_slice(b"2025-11-13 10:23:15 ERROR: first\n");
    content.extend_from_slice(b"  detail one\n");
    content.extend_from_slice(b"\x00\x00\x00\x00binary\x00\n\x00\x00\n"); // two binary lines
    content.extend_from_slice(b"  bad \xff\xfe utf-8\n"); // invalid UTF-8
    content.extend_from_slice(b"  detail two\n\n");
    content.extend_from_slice(b"2025-11-13 10:23:16 \xc3\x28 INFO: invalid start line\n"); // invalid UTF-8
    content.extend_from_slice(b"2025-11-13 10:23:17 INFO: caf\xc3\xa9 is fine\r\n");
    content.extend_from_slice(b"2025-11-13 10:23:18 ERROR: truncated last line without newline");
    let path = write(dir.path(), "garbage.log", &content);
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(
        skipped,
        Skipped {
            invalid_utf8: 2,
            binary: 2,
            no_timestamp: 2,
            unparsable: 0,
            unreadable_files: 0
        },
        "{recs:#?}"
    );
    let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "first",
            "café is fine",
            "truncated last line without newline"
        ]
    );
    assert_eq!(recs[0].details, "  detail one\n  detail two");
    assert_eq!(recs[2].level, Some(Level::Error));
    assert_eq!(
        recs.iter().map(|r| r.line_no).collect::<Vec<_>>(),
        [3, 11, 12]
    );

    // A file of nothing but binary.
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write(dir.path(), "noise.bin", &noise);
    let (recs, skipped) = scan(&path, &opts());
    assert!(recs.is_empty());
    assert!(skipped.binary + skipped.invalid_utf8 > 0, "{skipped:?}");
    // A byte order mark does not hide the first record.
    let path = write(
        dir.path(),
        "bom.log",
        b"\xef\xbb\xbf2025-11-13 10:23:15 ERROR: after a BOM\n",
    );
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!((recs.len(), skipped), (1, Skipped::default()));
    // An empty file.
    let path = write(dir.path(), "empty.log", b"");
    assert_eq!(scan(&path, &opts()), (vec![], Skipped::default()));
}

#[test]
fn a_record_longer_than_a_block_is_handed_on_and_the_next_ones_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = String::from("2025-11-13 10:23:15 ERROR: huge stack trace\n");
    for i in 0..40_000 {
        content.push_str(&format!("    at frame {i:06} (SomeClass.java:{i})\n"));
    }
    content.push_str("2025-11-13 10:23:16 INFO: after the trace\n");
    // One line of 2 MiB, longer than a block.
    content.push_str("2025-11-13 10:23:17 WARN: ");
    content.push_str(&"x".repeat(2 << 20));
    content.push('\n');
    content.push_str("2025-11-13 10:23:18 INFO: last\n");
    let path = write(dir.path(), "long.log", content.as_bytes());
    let (recs, skipped) = scan(&path, &opts());
    assert_eq!(skipped, Skipped::default());
    let msgs: Vec<_> = recs
        .iter()
        .map(|r| &r.message[..r.message.len().min(16)])
        .collect();
    assert_eq!(
        msgs,
        [
            "huge stack trace",
            "after the trace",
            "xxxxxxxxxxxxxxxx",
            "last"
        ]
    );
    assert!(recs[0]
        .details
        .starts_with("    at frame 000000 (SomeClass.java:0)\n"));
    assert!(recs[0].details.len() > 100_000, "kept what fits in a block");
    assert_eq!(recs[1].line_no, 40_002);
    assert_eq!(recs[2].message.len(), 2 << 20);
}
