//! The server's resident memory, sampled from /proc while the run lasts
//! (Linux only; elsewhere, and without a pid, it stays unknown).

use std::sync::{Arc, Mutex};
use std::time::Duration;

const SAMPLE_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Default, Clone, Copy)]
pub struct Rss {
    pub start_kb: Option<u64>,
    pub peak_kb: Option<u64>,
    pub last_kb: Option<u64>,
}

pub struct RssWatch {
    seen: Arc<Mutex<Rss>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pid: Option<u32>) -> Self {
        let seen = Arc::new(Mutex::new(Rss::default()));
        let task = pid.map(|pid| {
            let seen = seen.clone();
            tokio::spawn(async move {
                loop {
                    if let Some(kb) = resident_kb(pid) {
                        let mut rss = seen.lock().expect("lock");
                        rss.start_kb.get_or_insert(kb);
                        rss.peak_kb = Some(rss.peak_kb.unwrap_or(0).max(kb));
                        rss.last_kb = Some(kb);
                    }
                    tokio::time::sleep(SAMPLE_EVERY).await;
                }
            })
        });
        Self { seen, task }
    }

    pub fn now(&self) -> Rss {
        *self.seen.lock().expect("lock")
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// VmRSS of `pid`, in KiB.
fn resident_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_on_linux() {
        if cfg!(target_os = "linux") {
            let kb = resident_kb(std::process::id()).expect("VmRSS of self");
            assert!(kb > 100, "{kb} KiB");
        }
        assert_eq!(resident_kb(u32::MAX), None);
    }
}
