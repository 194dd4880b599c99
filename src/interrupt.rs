//! A request to stop at the next safe point (the user pressed Ctrl-C). Raised by the CLI's
//! signal handler, read by the walker (no new step starts) and by long operations (a swap rolls
//! back). Plain shared state: it does no I/O and knows no signals.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<State>);

#[derive(Debug, Default)]
struct State {
    raised: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks everything holding this to stop at its next safe point.
    pub fn raise(&self) {
        self.0.raised.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::SeqCst)
    }

    /// Resolves once the interrupt is raised (at once if it already is).
    pub async fn raised(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_waiter_wakes_when_raised_and_a_late_one_at_once() {
        let interrupt = Interrupt::new();
        let waiter = {
            let i = interrupt.clone();
            tokio::spawn(async move { i.raised().await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        interrupt.raise();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        tokio::time::timeout(Duration::from_secs(5), interrupt.raised())
            .await
            .expect("already raised");
    }
}
