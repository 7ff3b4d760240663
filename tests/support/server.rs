//! A real server binary (Prometheus, Alertmanager) on a free loopback port, in its own temp dir,
//! ready once `GET /-/ready` answers 2xx; killed on drop.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    program: &'static str,
}

impl Server {
    /// Runs `program` with the arguments `args(dir, addr)` returns (it may write config files into
    /// `dir` first). Panics (fails the test) when the program is missing: `package` names the
    /// Debian package that has it. A port probed free can be taken before the server binds it, so
    /// start-up is retried with a fresh port and directory.
    pub fn start(
        program: &'static str,
        package: &str,
        args: impl Fn(&Path, SocketAddr) -> Result<Vec<String>, String>,
    ) -> Server {
        let mut last_err = String::new();
        for _ in 0..3 {
            match Self::try_start(program, package, &args) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("{program} did not start: {last_err}");
    }

    fn try_start(
        program: &'static str,
        package: &str,
        args: &impl Fn(&Path, SocketAddr) -> Result<Vec<String>, String>,
    ) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let args = args(dir.path(), addr)?;
        let log = std::fs::File::create(dir.path().join(format!("{program}.log")))
            .map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run `{program}` (install the Debian package `{package}`; \
                     scripts/test.sh does): {e}"
                )
            })?;
        let mut server = Server {
            child,
            addr,
            dir,
            program,
        };
        let client = reqwest::blocking::Client::new();
        for _ in 0..150 {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("{program} exited with {status}: {}", server.log()));
            }
            let ready = client
                .get(format!("http://{addr}/-/ready"))
                .timeout(Duration::from_secs(1))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("{program} not ready after 15s: {}", server.log()))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.program)))
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
