//! Reads shared between kinds during one refresh: the load-balancer
//! listing that the load-balancer, listener and rule kinds all start from,
//! ELB tags by ARN, listeners by load balancer, ECS's cluster list. Each is
//! made once however many kinds ask, concurrently or not. Sharing is on
//! only while a plan refreshes ([`ReadCache::scope`]): apply's reads after
//! writes must see what the writes did.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::provider::Result;

type Cell = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

/// What a shared read is known by: its name (`s3:ListBuckets`) and the
/// type of its answer, so two reads of one name with different answers
/// never meet, and an answer is always of the type its asker expects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    name: String,
    answer: TypeId,
}

#[derive(Debug, Default)]
pub struct ReadCache {
    on: Mutex<bool>,
    cells: Mutex<HashMap<Key, Cell>>,
}

/// Sharing is on until this is dropped.
pub struct Scope<'a>(&'a ReadCache);

impl Drop for Scope<'_> {
    fn drop(&mut self) {
        *self.0.on.lock().unwrap() = false;
        self.0.cells.lock().unwrap().clear();
    }
}

impl ReadCache {
    /// Shares reads until the scope is dropped, then forgets them.
    pub fn scope(&self) -> Scope<'_> {
        *self.on.lock().unwrap() = true;
        Scope(self)
    }

    /// Whether reads are shared now (a plan's refresh).
    pub fn sharing(&self) -> bool {
        *self.on.lock().unwrap()
    }

    /// The answer of `read` for `key`: made once while sharing is on (the
    /// first asker reads, the others wait for its answer; an error is not
    /// kept), every time otherwise.
    pub async fn shared<T, F, Fut>(&self, key: &str, read: F) -> Result<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let cell = {
            if !*self.on.lock().unwrap() {
                return read().await.map(Arc::new);
            }
            let key = Key { name: key.to_string(), answer: TypeId::of::<T>() };
            self.cells.lock().unwrap().entry(key).or_default().clone()
        };
        let any = cell
            .get_or_try_init(|| async {
                read().await.map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
            .await?
            .clone();
        Ok(any.downcast::<T>().expect("the key holds the answer's type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_read_is_made_once_in_a_scope_and_every_time_outside() {
        let cache = ReadCache::default();
        let calls = AtomicUsize::new(0);
        let read = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, crate::provider::ProviderError>(vec![1, 2])
        };
        {
            let _s = cache.scope();
            let (a, b) = tokio::join!(cache.shared("k", read), cache.shared("k", read));
            assert_eq!((a.unwrap().as_slice(), b.unwrap().as_slice()), (&[1, 2][..], &[1, 2][..]));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        }
        cache.shared("k", read).await.unwrap();
        cache.shared("k", read).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_error_is_not_kept() {
        let cache = ReadCache::default();
        let _s = cache.scope();
        let failed: Result<Arc<u8>> = cache
            .shared("k", || async { Err(crate::provider::ProviderError::new("throttled")) })
            .await;
        assert!(failed.is_err());
        let ok = cache.shared("k", || async { Ok(7u8) }).await.unwrap();
        assert_eq!(*ok, 7);
    }

    /// One name read for two types of answer: two reads, neither taken
    /// for the other (before the key held the type, this panicked).
    #[tokio::test]
    async fn one_name_with_two_types_is_two_reads() {
        let cache = ReadCache::default();
        let _s = cache.scope();
        let n = cache.shared("k", || async { Ok(7u8) }).await.unwrap();
        let s = cache.shared("k", || async { Ok("seven".to_string()) }).await.unwrap();
        assert_eq!((*n, s.as_str()), (7, "seven"));
    }
}
