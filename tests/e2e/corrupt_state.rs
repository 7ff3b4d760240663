//! A damaged state file with the real binary: a budgets.redb cut short (a copy interrupted, a disk
//! that lost its tail) or overwritten must stop start-up with an error naming the file and a kept
//! copy. Starting from zero instead would silently reset every budget.

use crate::support::agent::EPHEMERAL_LISTENERS;
use crate::support::binary::{self, Meterd};
use crate::support::wait_until;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("meterd.yaml");
    std::fs::write(
        &config,
        format!(
            "{EPHEMERAL_LISTENERS}state:\n  data_dir: {}\n  flush_interval: 100ms\npricing:\n  models:\n    - {{provider: openai, model: gpt-4o, prices: {{input: 2.50, output: 10.00}}}}\nbudgets:\n  - {{name: everything, period: total, limit_usd: 1000}}\n",
            dir.join("data").display()
        ),
    )
    .expect("write config");
    config
}

/// Runs meterd on `config`, which must refuse to start: its exit status and stderr.
fn refused_start(config: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(binary::exe())
        .args(binary::args(config))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn meterd");
    let status = wait_until(
        "meterd to refuse the state file and exit",
        Duration::from_secs(30),
        || child.try_wait().expect("try_wait"),
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    (status, stderr)
}

/// A state file holding real spend, written by meterd itself (StatsD spend, flushed).
fn state_with_spend(dir: &Path, config: &Path) -> Vec<u8> {
    let m = Meterd::spawn({
        let mut c = Command::new(binary::exe());
        c.args(binary::args(config));
        c
    });
    m.send_udp("llm.tokens:1000000|c|#provider:openai,model:gpt-4o,token_type:input");
    wait_until("spend to be committed", Duration::from_secs(20), || {
        (m.spend_nanos("everything") > 0
            && m.metric(r#"meterd_state_flushes_total{result="success"}"#)
                .is_some_and(|n| n >= 1.0))
        .then_some(())
    });
    drop(m);
    std::fs::read(dir.join("data").join("budgets.redb")).expect("state file")
}

#[test]
fn truncated_or_overwritten_state_stops_start_and_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let good = state_with_spend(dir.path(), &config);
    let data = dir.path().join("data");
    let state = data.join("budgets.redb");

    let damaged: [(&str, Vec<u8>); 3] = [
        ("cut in half", good[..good.len() / 2].to_vec()),
        (
            "cut after the header",
            good[..4096.min(good.len())].to_vec(),
        ),
        ("header overwritten", {
            let mut b = good.clone();
            b.iter_mut().take(512).for_each(|x| *x = 0xA5);
            b
        }),
    ];
    for (what, bytes) in damaged {
        for e in std::fs::read_dir(&data).expect("data dir").flatten() {
            std::fs::remove_file(e.path()).expect("clean data dir");
        }
        std::fs::write(&state, &bytes).expect("write damaged file");
        let (status, stderr) = refused_start(&config);
        assert_eq!(
            status.code(),
            Some(78),
            "{what}: a damaged state file is a data error (exit 78): {stderr}"
        );
        // A supervisor restarting meterd in a loop must not fill the disk with copies.
        let (again, _) = refused_start(&config);
        assert_eq!(again.code(), Some(78), "{what}: second start");
        assert!(
            stderr.contains(&state.display().to_string()) && stderr.contains("corrupt"),
            "{what}: the error must name the file and say it is corrupt:\n{stderr}"
        );
        assert!(
            stderr.contains("never silently reset"),
            "{what}: the error must say what to do:\n{stderr}"
        );
        let copies: Vec<_> = std::fs::read_dir(&data)
            .expect("data dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(
            copies.len(),
            1,
            "{what}: one kept copy however often start is retried:\n{stderr}"
        );
        assert!(
            stderr.contains(&copies[0].path().display().to_string()),
            "{what}: the error must name the copy:\n{stderr}"
        );
        // The storage engine may write to a damaged file while opening it (redb 4.6 does to a
        // truncated one); meterd remembers the bytes first, so both are exactly what was found.
        assert_eq!(
            std::fs::read(copies[0].path()).expect("read copy"),
            bytes,
            "{what}: the kept copy holds the file as found"
        );
        assert_eq!(
            std::fs::read(&state).expect("read state"),
            bytes,
            "{what}: the damaged file is left in place as found"
        );
    }
}
