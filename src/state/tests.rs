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
