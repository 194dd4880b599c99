//! Who holds a lock or runs a deployment: this process (its host, pid and start time), and
//! whether a holder that ran on this host is gone (no process with its pid and start time),
//! so that a command killed with `kill -9` is taken over at once by the next one on the same
//! host instead of after its whole lease.

use crate::bucket::{DeploymentRecord, Owner};

/// This machine's name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// When process `pid` started (clock ticks since boot), if it exists and /proc says.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields follow the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process `owner` names is known to be gone: it ran on this host, and no process
/// with its pid and start time exists. `false` for another host, or where /proc cannot say.
pub fn owner_gone(owner: &Owner) -> bool {
    if owner.host != host() || owner.pid == 0 || !std::path::Path::new("/proc/self/stat").exists() {
        return false;
    }
    match (process_start(owner.pid), owner.process_start) {
        (None, _) => true,
        (Some(now), Some(then)) => now != then,
        (Some(_), None) => false,
    }
}

/// This process, as a lock or a deployment names its owner.
pub fn this_process(token: String) -> Owner {
    let pid = std::process::id();
    Owner {
        token,
        host: host(),
        pid,
        process_start: process_start(pid),
    }
}

/// Whether a deployment's record belongs to one still at work: renewed less than a lease
/// ago, by a process that (if it ran on this host) still exists.
pub fn deployment_running(record: &DeploymentRecord, now: u64) -> bool {
    record.fresh(now) && !owner_gone(&record.owner)
}
