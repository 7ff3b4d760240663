use super::*;

fn rec(k: &str, v: &str) -> (String, Vec<u8>) {
    (k.to_string(), v.as_bytes().to_vec())
}

#[test]
fn records_survive_reopen_and_deletes_apply() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    {
        let (f, recs) = StateFile::open(&data).unwrap();
        assert!(recs.is_empty());
        f.commit(&[rec("a", "1"), rec("b", "2")], &[]).unwrap();
        f.commit(&[rec("a", "3")], &["b".to_string()]).unwrap();
    }
    let (_f, recs) = StateFile::open(&data).unwrap();
    assert_eq!(recs, vec![rec("a", "3")]);
}

#[test]
fn second_opener_is_told_the_file_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = StateFile::open(dir.path()).unwrap();
    let err = StateFile::open(dir.path()).err().unwrap();
    assert!(matches!(err, StateError::InUse { .. }), "{err}");
}

#[test]
fn corrupt_file_fails_with_its_name_and_a_preserved_copy() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (f, _) = StateFile::open(dir.path()).unwrap();
        f.commit(&[rec("a", "1")], &[]).unwrap();
    }
    let file = dir.path().join(FILE_NAME);
    let mut bytes = std::fs::read(&file).unwrap();
    // Overwrite the header: the file is no longer a redb database.
    for b in bytes.iter_mut().take(64) {
        *b = 0xA5;
    }
    std::fs::write(&file, &bytes).unwrap();
    let err = StateFile::open(dir.path()).err().unwrap();
    let StateError::Corrupt { file: f, copy, .. } = &err else {
        panic!("expected Corrupt, got {err}");
    };
    assert_eq!(f, &file);
    let msg = err.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(msg.contains(".corrupt-"), "{msg}");
    // The copy is byte-identical, and the original is left in place (no silent reset).
    assert_eq!(std::fs::read(copy).unwrap(), bytes);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert!(StateFile::open(dir.path()).is_err());
}

/// Regression: the copy was named by the time, so a supervisor restarting meterd on a damaged
/// file kept one more copy per second. One copy per distinct content now.
#[test]
fn repeated_starts_on_one_damaged_file_keep_one_copy_per_content() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(FILE_NAME);
    let copies = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .count()
    };
    std::fs::write(&file, b"damaged one way").unwrap();
    for _ in 0..3 {
        assert!(StateFile::open(dir.path()).is_err());
    }
    assert_eq!(copies(), 1);
    std::fs::write(&file, b"damaged another way").unwrap();
    assert!(StateFile::open(dir.path()).is_err());
    assert_eq!(copies(), 2, "a different content gets its own copy");
}

#[test]
fn garbage_and_truncated_files_are_errors_not_panics() {
    for content in [&b"not a database at all"[..], &[0u8; 4096][..], &[][..]] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), content).unwrap();
        match StateFile::open(dir.path()) {
            // An empty file is a fresh database to redb; anything else must be refused.
            Ok(_) => assert!(content.is_empty()),
            Err(e) => assert!(matches!(e, StateError::Corrupt { .. }), "{e}"),
        }
    }
}

#[test]
fn unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = StateFile::open(&blocker.join("data")).err().unwrap();
    assert!(
        err.to_string().contains("cannot create state directory"),
        "{err}"
    );
}

/// Everything start-up reads from a state file: spend at open, then API budgets, dedup keys,
/// notification marks and usage rows. `Err(reason)` for a read that failed without calling the
/// file corrupt.
fn read_at_start(dir: &Path) -> Result<Option<Vec<String>>, String> {
    let (f, spend) = match StateFile::open(dir) {
        Ok(v) => v,
        Err(StateError::Corrupt { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let as_start = |e: ReadError| if e.corrupt { None } else { Some(e.reason) };
    let mut seen: Vec<String> = spend.iter().map(|(k, _)| k.clone()).collect();
    let reads = [
        f.api_budgets().map(|l| l.records.len()),
        f.dedup_records().map(|r| r.len()),
        f.notified_marks().map(|m| m.len()),
        f.usage_range(&[], &[0xff; 8], usage::MAX_READ_ROWS)
            .map(|r| r.len()),
    ];
    for (i, r) in reads.into_iter().enumerate() {
        match r {
            Ok(n) => seen.push(format!("table {i}: {n} records")),
            Err(e) => match as_start(e) {
                None => return Ok(None),
                Some(reason) => return Err(reason),
            },
        }
    }
    Ok(Some(seen))
}

/// Whatever point a file is cut at (a copy interrupted, a volume that lost its tail), start-up
/// either reads every table as it was or refuses the file as corrupt (exit 78, a copy kept):
/// never an I/O error that a supervisor retries forever, never a silent loss of spend.
#[test]
fn a_file_cut_or_overwritten_anywhere_is_read_whole_or_refused_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (f, _) = StateFile::open(dir.path()).unwrap();
        let keys: Vec<(Vec<u8>, Vec<u8>)> = (0..200u32)
            .map(|i| (i.to_be_bytes().to_vec(), vec![7u8; 200]))
            .collect();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (0..200u32)
            .map(|i| ((1000 + i).to_be_bytes().to_vec(), vec![9u8; 200]))
            .collect();
        for i in 0..40 {
            let keys = KeyChanges {
                clear: false,
                puts: &keys[i * 5..i * 5 + 5],
                deletes: &[],
            };
            let rows = usage::UsageChanges {
                puts: &rows[i * 5..i * 5 + 5],
                prune: &[],
            };
            f.commit_all(
                &[rec(&format!("budget/{i}"), &"x".repeat(300))],
                &[],
                keys,
                rows,
            )
            .unwrap();
            f.commit_marks(&[vec![i as u8; 100]], &[]).unwrap();
            f.commit_api_budget(&format!("api-{i}"), Some(&[1u8; 300][..]), i as u64 + 2)
                .unwrap();
        }
    }
    let want = read_at_start(dir.path())
        .unwrap()
        .expect("the whole file reads");
    let good = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
    assert!(good.len() > 65536, "a file of many pages: {}", good.len());
    let mut refused = 0;
    // Finely through the header and the first pages, then a cut every few pages.
    let cuts = (1..8192)
        .step_by(61)
        .chain((8192..good.len()).step_by(1021));
    for cut in cuts {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), &good[..cut]).unwrap();
        match read_at_start(d.path()) {
            Ok(Some(seen)) => assert_eq!(seen, want, "cut at {cut}: read other records"),
            Ok(None) => refused += 1,
            Err(e) => panic!(
                "cut at {cut} of {}: not refused as corrupt: {e}",
                good.len()
            ),
        }
    }
    assert!(refused > 0, "no cut was refused");
    // Bytes overwritten inside a page (a bad sector, a stray write): the same rule.
    for at in (0..good.len() - 64).step_by(2039) {
        let d = tempfile::tempdir().unwrap();
        let mut bad = good.clone();
        bad[at..at + 64].fill(0xA5);
        std::fs::write(d.path().join(FILE_NAME), &bad).unwrap();
        if let Err(e) = read_at_start(d.path()) {
            panic!("64 bytes overwritten at {at}: not refused as corrupt: {e}");
        }
    }
}
