//! A cloneable "stop now" signal, injected into the pool (mini-redis style), so that `main`
//! wires it to SIGINT/SIGTERM and tests wire it to whatever they like.

use tokio::sync::watch;

/// Sender side: fire once.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// Receiver side: cheap to clone, remembers that it fired.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// A linked pair.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// Fire: every [`Shutdown::wait`] returns.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether it fired.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Wait until it fires (forever if the trigger is dropped unfired).
    pub async fn wait(&mut self) {
        if self.0.wait_for(|v| *v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
