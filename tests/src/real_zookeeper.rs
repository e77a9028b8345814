//! Real ZooKeeper 3.8 servers (Debian's `zookeeper` package, run with the system JRE) started on
//! loopback by the tests: the reference the ZooKeeper front is compared with. `scripts/test.sh`
//! installs the package.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use metaquorum_controller::config::free_loopback_ports;

/// Where Debian's package puts the server's classes.
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// Its logging configuration (log4j, read from the class path).
const ZOOKEEPER_CONF_DIR: &str = "/etc/zookeeper/conf";
/// The digest of `super:test`, the super user every ZooKeeper client library's tests configure.
pub const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

/// A standalone ZooKeeper server, killed when dropped.
pub struct RealZooKeeper {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RealZooKeeper {
    /// Starts a standalone server with every four-letter word allowed, extended types (TTL
    /// nodes) on, the container and TTL reaper idle, and `super:test` as the super user, and waits (30 s at most) until it serves
    /// sessions. `tickTime` is 2000 ms, so session timeouts are clamped to 4–40 s.
    pub fn start() -> RealZooKeeper {
        assert!(
            Path::new(ZOOKEEPER_JAR).exists(),
            "{ZOOKEEPER_JAR} is missing: scripts/test.sh installs Debian's zookeeper package"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_loopback_ports(1).expect("a free loopback port")[0];
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\n",
                data.display()
            ),
        )
        .expect("zoo.cfg");
        let log = std::fs::File::create(dir.path().join("zookeeper.out")).expect("log file");
        let child = Command::new("java")
            .arg("-Xmx512m")
            .arg(format!("-Dzookeeper.log.dir={}", dir.path().display()))
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            // Containers and TTL nodes are reaped only when a test asks for it (never, so far):
            // a reaper running at its own pace would make runs differ.
            .arg("-Dznode.container.checkIntervalMs=86400000")
            .arg(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}"
            ))
            .arg("-cp")
            .arg(format!("{ZOOKEEPER_CONF_DIR}:{ZOOKEEPER_JAR}"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java for ZooKeeper ({e})"));
        let mut zk = RealZooKeeper {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // `ruok` answers before the database is loaded; `srvr` says "Mode:" once sessions are
        // served.
        while !four_letter_word(&zk.addr(), "srvr").is_some_and(|s| s.contains("Mode: ")) {
            if let Ok(Some(status)) = zk.child.try_wait() {
                panic!("ZooKeeper exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "ZooKeeper did not start in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        zk
    }

    /// The client address, `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RealZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a four-letter word and reads the answer until the server closes (2 s at most); `None`
/// if nothing could be read.
pub fn four_letter_word(addr: &str, word: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}
