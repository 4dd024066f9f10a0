//! Small single-threaded future helpers: yielding, racing, joining, panics, local notification.
//!
//! monoio ships `select!`/`join!` only behind its proc-macro feature; these few helpers are all
//! the engine needs and keep that dependency (and `syn` compile time) out.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Yields to the back of the run queue, for a task that polls in a loop (the mesh poller).
///
/// monoio puts a task that wakes itself while running at the *front* of its run queue, so a
/// plain "wake self, return Pending" yield would run the same task again and starve every other
/// task of the core. Instead the yielding task hands its waker to a helper task and wakes the
/// helper; the helper is queued at the back and, when its turn comes, wakes the yielder, which
/// is then queued at the back too. Every task that was ready at the yield runs first.
#[derive(Default)]
pub(crate) struct Yielder {
    yielded: RefCell<Option<Waker>>,
    helper: RefCell<Option<Waker>>,
}

impl Yielder {
    /// The helper task's body: spawn it once (`monoio::spawn(yielder.clone().run_helper())`).
    pub(crate) async fn run_helper(self: Rc<Self>) {
        std::future::poll_fn(|cx| {
            if let Some(waker) = self.yielded.borrow_mut().take() {
                waker.wake();
            }
            *self.helper.borrow_mut() = Some(cx.waker().clone());
            Poll::<()>::Pending
        })
        .await
    }

    /// Yields the calling task to the back of the run queue.
    pub(crate) fn yield_now(&self) -> impl Future<Output = ()> + '_ {
        let mut yielded = false;
        std::future::poll_fn(move |cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            *self.yielded.borrow_mut() = Some(cx.waker().clone());
            // Before the helper's first run it is already queued and will find our waker.
            if let Some(helper) = self.helper.borrow_mut().take() {
                helper.wake();
            }
            Poll::Pending
        })
    }
}

/// Lets the runtime park once without blocking: monoio fires timers (and takes in wakers sent
/// from other threads) only when it parks, which it never does while a task keeps its run queue
/// busy. Awaiting an already-expired timer empties the queue for one round: the runtime parks
/// with a zero timeout, fires every due timer, reaps I/O completions and wakes us again.
pub(crate) async fn runtime_turn() {
    let now = monoio::time::Instant::now();
    let expired = now
        .checked_sub(std::time::Duration::from_millis(1))
        .unwrap_or(now);
    monoio::time::sleep_until(expired).await;
}

/// Which of two raced futures finished first.
#[derive(Debug)]
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Polls `left` then `right` until one is ready; the other is dropped (cancelled). `left` wins
/// ties, so put the future whose result must not be lost first.
pub(crate) async fn race<A: Future, B: Future>(left: A, right: B) -> Either<A::Output, B::Output> {
    let mut left = std::pin::pin!(left);
    let mut right = std::pin::pin!(right);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(value) = left.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(value));
        }
        if let Poll::Ready(value) = right.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(value));
        }
        Poll::Pending
    })
    .await
}

/// Runs every future concurrently and returns their outputs in input order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending = futures.len();
    std::future::poll_fn(move |cx| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(cx) {
                    *output = Some(value);
                    pending -= 1;
                }
            }
        }
        if pending == 0 {
            Poll::Ready(
                outputs
                    .iter_mut()
                    .map(|o| o.take().expect("every future finished"))
                    .collect(),
            )
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Polls `future`, turning a panic inside it into `Err(message)` so one buggy request cannot take
/// its core's thread (and every connection on it) down.
pub(crate) async fn catch_panic<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    })
    .await
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Wakers of tasks waiting for one local condition, keyed so a wait that ends some other way
/// (timeout, cancellation) removes its entry: the set holds only live waits.
#[derive(Default)]
pub(crate) struct WaitSet {
    next_key: Cell<u64>,
    wakers: RefCell<HashMap<u64, Waker>>,
}

impl WaitSet {
    /// Registers (or refreshes) the waker of the wait whose key is in `key`.
    pub(crate) fn register(&self, key: &mut Option<u64>, waker: &Waker) {
        let key = *key.get_or_insert_with(|| {
            let key = self.next_key.get();
            self.next_key.set(key + 1);
            key
        });
        self.wakers.borrow_mut().insert(key, waker.clone());
    }

    /// Forgets a wait (call from the waiting future's `Drop`).
    pub(crate) fn remove(&self, key: Option<u64>) {
        if let Some(key) = key {
            self.wakers.borrow_mut().remove(&key);
        }
    }

    /// Wakes and forgets every registered wait.
    pub(crate) fn wake_all(&self) {
        if self.wakers.borrow().is_empty() {
            return;
        }
        let wakers: Vec<Waker> = self
            .wakers
            .borrow_mut()
            .drain()
            .map(|(_, waker)| waker)
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.borrow().len()
    }
}

/// A one-way, one-shot broadcast inside one core: once `notify` is called every current and
/// future `wait` completes.
#[derive(Default)]
pub(crate) struct LocalNotify {
    fired: Cell<bool>,
    waiters: WaitSet,
}

impl LocalNotify {
    pub(crate) fn is_fired(&self) -> bool {
        self.fired.get()
    }

    pub(crate) fn notify(&self) {
        if !self.fired.replace(true) {
            self.waiters.wake_all();
        }
    }

    pub(crate) fn wait(self: &Rc<Self>) -> NotifyWait {
        NotifyWait {
            notify: Rc::clone(self),
            key: None,
        }
    }
}

/// The future of [`LocalNotify::wait`].
pub(crate) struct NotifyWait {
    notify: Rc<LocalNotify>,
    key: Option<u64>,
}

impl Future for NotifyWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.notify.fired.get() {
            return Poll::Ready(());
        }
        this.notify.waiters.register(&mut this.key, cx.waker());
        Poll::Pending
    }
}

impl Drop for NotifyWait {
    fn drop(&mut self) {
        self.notify.waiters.remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(Noop));
        future.poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn notify_wakes_waiters_and_forgets_dropped_ones() {
        let notify = Rc::new(LocalNotify::default());
        let mut first = Box::pin(notify.wait());
        let mut second = Box::pin(notify.wait());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        assert_eq!(notify.waiters.len(), 2);
        drop(second);
        assert_eq!(notify.waiters.len(), 1);
        notify.notify();
        assert!(poll_once(first.as_mut()).is_ready());
        assert!(poll_once(Box::pin(notify.wait()).as_mut()).is_ready());
    }

    #[test]
    fn join_all_keeps_input_order_and_race_prefers_left() {
        let mut joined = Box::pin(join_all(vec![std::future::ready(1), std::future::ready(2)]));
        assert_eq!(poll_once(joined.as_mut()), Poll::Ready(vec![1, 2]));
        let mut raced = Box::pin(race(
            std::future::ready("left"),
            std::future::ready("right"),
        ));
        assert!(matches!(
            poll_once(raced.as_mut()),
            Poll::Ready(Either::Left("left"))
        ));
    }

    #[test]
    fn catch_panic_reports_the_message() {
        let mut caught = Box::pin(catch_panic(async { panic!("boom {}", 7) }));
        match poll_once(caught.as_mut()) {
            Poll::Ready(Err(message)) => assert_eq!(message, "boom 7"),
            _ => panic!("expected a caught panic"),
        }
    }
}
