//! The Store contract: the Postgres store and the embedded store pass the
//! same checks. Each check is written once, over `Arc<dyn Store>`, and run
//! against both.

use std::sync::Arc;

use orderhook::cipher::SecretCipher;
use orderhook::store::embedded::EmbeddedStore;
use orderhook::store::postgres::PostgresStore;
use orderhook_actors::domain::{EventId, EventStatus, NewEvent, RegistrationUpsert, TenantKey};
use orderhook_actors::store::{Store, StoreError};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::TestDb;

/// Keeps whatever backs a store alive for the test.
enum Backing {
    Postgres(#[allow(dead_code)] TestDb),
    Embedded(tempfile::TempDir),
}

async fn postgres() -> (Arc<dyn Store>, Backing) {
    let db = TestDb::create().await;
    let store = open_postgres(&db).await;
    (store, Backing::Postgres(db))
}

async fn open_postgres(db: &TestDb) -> Arc<dyn Store> {
    let timeout = std::time::Duration::from_secs(5);
    Arc::new(
        PostgresStore::connect(
            &db.url,
            4,
            timeout,
            timeout,
            test_cipher(),
            &orderhook::config::Settings::load(None, Vec::new())
                .expect("default settings")
                .retention(),
        )
        .await
        .expect("postgres store"),
    )
}

fn test_cipher() -> Arc<SecretCipher> {
    Arc::new(SecretCipher::from_key(&[7; 32]))
}

async fn embedded() -> (Arc<dyn Store>, Backing) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), test_cipher())
        .await
        .expect("embedded store");
    (Arc::new(store), Backing::Embedded(dir))
}

/// Runs one contract check against both stores.
macro_rules! contract {
    ($check:ident) => {
        mod $check {
            #[tokio::test]
            async fn postgres() {
                let (store, backing) = super::postgres().await;
                super::$check(store, &backing).await;
            }

            #[tokio::test]
            async fn embedded() {
                let (store, backing) = super::embedded().await;
                super::$check(store, &backing).await;
            }
        }
    };
}

contract!(registrations_are_created_then_updated_in_place);
contract!(appends_number_each_tenant_gap_free_in_order);
contract!(a_refused_batch_stores_nothing_and_uses_no_numbers);
contract!(events_read_back_as_written);
contract!(migrations_apply_once_and_reopen_cleanly);
contract!(a_repeated_body_is_answered_with_the_original_and_not_stored);

async fn register(store: &dyn Store, client: &str, provider: &str) -> Uuid {
    store
        .upsert_registration(RegistrationUpsert {
            new_webhook_id: Uuid::now_v7(),
            tenant: TenantKey::new(client, provider),
            url: "https://pos.example.com/a".into(),
            events: vec!["order.created".into()],
            secret: None,
            generated_secret: SecretString::from("generated-secret-aaaaaaaaaaaa"),
        })
        .await
        .unwrap()
        .registration
        .webhook_id
}

fn event(webhook_id: Option<Uuid>, client: &str, provider: &str, status: EventStatus) -> NewEvent {
    NewEvent {
        id: EventId::generate(),
        webhook_id,
        tenant: TenantKey::new(client, provider),
        event_type: "order.created".into(),
        status,
        payload: Some(r#"{"event_type":"order.created", "data": {"x": "\u0000 ü"}}"#.into()),
        error_message: None,
        received_at: OffsetDateTime::now_utc(),
        body_sha256: None,
    }
}

async fn registrations_are_created_then_updated_in_place(store: Arc<dyn Store>, _: &Backing) {
    let tenant = TenantKey::new("c1", "careem");
    assert!(store.find_registration(&tenant).await.unwrap().is_none());
    let first_id = Uuid::now_v7();
    let created = store
        .upsert_registration(RegistrationUpsert {
            new_webhook_id: first_id,
            tenant: tenant.clone(),
            url: "https://pos.example.com/a".into(),
            events: vec!["order.created".into()],
            secret: None,
            generated_secret: SecretString::from("generated-secret-aaaaaaaaaaaa"),
        })
        .await
        .unwrap();
    assert!(created.created);
    assert_eq!(created.registration.webhook_id, first_id);
    assert_eq!(
        created.registration.secret.expose_secret(),
        "generated-secret-aaaaaaaaaaaa"
    );

    let kept = store
        .upsert_registration(RegistrationUpsert {
            new_webhook_id: Uuid::now_v7(),
            tenant: tenant.clone(),
            url: "https://pos.example.com/b".into(),
            events: vec!["order.updated".into(), "order.cancelled".into()],
            secret: None,
            generated_secret: SecretString::from("another-generated-secret-bbbb"),
        })
        .await
        .unwrap();
    assert!(!kept.created);
    assert_eq!(
        kept.registration.webhook_id, first_id,
        "the webhookId is kept"
    );
    assert_eq!(kept.registration.url, "https://pos.example.com/b");
    assert_eq!(
        kept.registration.events,
        ["order.updated", "order.cancelled"]
    );
    assert_eq!(
        kept.registration.secret.expose_secret(),
        "generated-secret-aaaaaaaaaaaa",
        "no secret given: kept"
    );

    let rotated = store
        .upsert_registration(RegistrationUpsert {
            new_webhook_id: Uuid::now_v7(),
            tenant: tenant.clone(),
            url: "https://pos.example.com/b".into(),
            events: vec!["order.updated".into()],
            secret: Some(SecretString::from("chosen-secret-cccccccccccc")),
            generated_secret: SecretString::from("unused-generated-secret-dddd"),
        })
        .await
        .unwrap();
    assert_eq!(
        rotated.registration.secret.expose_secret(),
        "chosen-secret-cccccccccccc"
    );
    let found = store.find_registration(&tenant).await.unwrap().unwrap();
    assert_eq!(found.webhook_id, first_id);
    assert_eq!(found.secret.expose_secret(), "chosen-secret-cccccccccccc");
    assert!(found.is_active);
    assert!(
        store
            .find_registration(&TenantKey::new("c1", "talabat"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn appends_number_each_tenant_gap_free_in_order(store: Arc<dyn Store>, _: &Backing) {
    let a = register(&*store, "a", "careem").await;
    let b = register(&*store, "b", "careem").await;
    let batch = vec![
        event(Some(a), "a", "careem", EventStatus::Pending),
        event(Some(b), "b", "careem", EventStatus::Pending),
        event(Some(a), "a", "careem", EventStatus::Rejected),
        event(Some(a), "a", "careem", EventStatus::Ignored),
        event(Some(a), "a", "careem", EventStatus::Pending),
        event(None, "nobody", "careem", EventStatus::Rejected),
    ];
    let appended = store.append_events(&batch).await.unwrap();
    let seqs: Vec<Option<i64>> = appended.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, [Some(1), Some(1), None, Some(2), Some(3), None]);
    for (row, outcome) in batch.iter().zip(&appended) {
        assert_eq!(row.id, outcome.id, "outcomes come back in input order");
    }
    let next = store
        .append_events(&[event(Some(a), "a", "careem", EventStatus::Pending)])
        .await
        .unwrap();
    assert_eq!(next[0].seq, Some(4), "numbering continues across batches");

    let in_order = store
        .tenant_events(&TenantKey::new("a", "careem"), 0, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = in_order.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "rejected rows stand outside the order");
    let page = store
        .tenant_events(&TenantKey::new("a", "careem"), 2, 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, Some(3));
}

async fn a_refused_batch_stores_nothing_and_uses_no_numbers(store: Arc<dyn Store>, _: &Backing) {
    let a = register(&*store, "a", "talabat").await;
    let good = event(Some(a), "a", "talabat", EventStatus::Pending);
    let orphan = event(
        Some(Uuid::now_v7()),
        "ghost",
        "talabat",
        EventStatus::Pending,
    );
    let err = store
        .append_events(&[good.clone(), orphan])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert!(err.may_be_row_specific());
    assert!(
        store.find_event(good.id).await.unwrap().is_none(),
        "the batch is all or nothing"
    );

    let retried = store
        .append_events(std::slice::from_ref(&good))
        .await
        .unwrap();
    assert_eq!(
        retried[0].seq,
        Some(1),
        "the failed batch consumed no number"
    );

    let duplicate = store.append_events(&[good]).await.unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Rejected(_)),
        "an id is stored once: {duplicate:?}"
    );
}

async fn events_read_back_as_written(store: Arc<dyn Store>, _: &Backing) {
    let a = register(&*store, "a", "jahez").await;
    let mut written = event(Some(a), "a", "jahez", EventStatus::Rejected);
    written.error_message = Some("authentication failed: credentials do not match".into());
    store
        .append_events(std::slice::from_ref(&written))
        .await
        .unwrap();
    let read = store.find_event(written.id).await.unwrap().unwrap();
    assert_eq!(read.id, written.id);
    assert_eq!(read.webhook_id, Some(a));
    assert_eq!(read.tenant, written.tenant);
    assert_eq!(read.status, EventStatus::Rejected);
    assert_eq!(read.seq, None);
    assert_eq!(
        read.payload, written.payload,
        "payload kept byte for byte, escapes included"
    );
    assert_eq!(read.error_message, written.error_message);
    let drift = (read.created_at - written.received_at).abs();
    assert!(
        drift < time::Duration::milliseconds(1),
        "timestamps keep microseconds"
    );
    assert!(
        store
            .find_event(EventId::generate())
            .await
            .unwrap()
            .is_none()
    );
    store.ping().await.unwrap();
}

async fn migrations_apply_once_and_reopen_cleanly(store: Arc<dyn Store>, backing: &Backing) {
    let a = register(&*store, "a", "deliveroo").await;
    store
        .append_events(&[event(Some(a), "a", "deliveroo", EventStatus::Pending)])
        .await
        .unwrap();
    let reopened: Arc<dyn Store> = match backing {
        Backing::Postgres(db) => open_postgres(db).await,
        Backing::Embedded(dir) => Arc::new(
            EmbeddedStore::open(dir.path(), test_cipher())
                .await
                .unwrap(),
        ),
    };
    let events = reopened
        .tenant_events(&TenantKey::new("a", "deliveroo"), 0, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "reopening keeps the data");
    let next = reopened
        .append_events(&[event(Some(a), "a", "deliveroo", EventStatus::Pending)])
        .await
        .unwrap();
    assert_eq!(next[0].seq, Some(2));
}

async fn a_repeated_body_is_answered_with_the_original_and_not_stored(
    store: Arc<dyn Store>,
    _: &Backing,
) {
    let a = register(&*store, "a", "careem").await;
    let b = register(&*store, "b", "careem").await;
    let hashed = |webhook: Uuid, client: &str, hash: u8| NewEvent {
        body_sha256: Some([hash; 32]),
        ..event(Some(webhook), client, "careem", EventStatus::Pending)
    };
    let first = hashed(a, "a", 1);
    let stored = store
        .append_events(std::slice::from_ref(&first))
        .await
        .unwrap();
    assert_eq!(
        stored[0],
        orderhook_actors::domain::AppendedEvent {
            id: first.id,
            seq: Some(1),
            duplicate: false
        }
    );

    let batch = [
        hashed(a, "a", 1), // a repeat of `first`
        hashed(b, "b", 1), // same body, other tenant: not a repeat
        hashed(a, "a", 2),
        hashed(a, "a", 2), // a repeat inside the batch
        event(Some(a), "a", "careem", EventStatus::Pending), // no hash: never a repeat
    ];
    let outcomes = store.append_events(&batch).await.unwrap();
    assert_eq!(
        (outcomes[0].id, outcomes[0].seq, outcomes[0].duplicate),
        (first.id, None, true)
    );
    assert_eq!((outcomes[1].seq, outcomes[1].duplicate), (Some(1), false));
    assert_eq!((outcomes[2].seq, outcomes[2].duplicate), (Some(2), false));
    assert_eq!((outcomes[3].id, outcomes[3].duplicate), (batch[2].id, true));
    assert_eq!(
        (outcomes[4].seq, outcomes[4].duplicate),
        (Some(3), false),
        "repeats take no number"
    );
    assert!(store.find_event(batch[0].id).await.unwrap().is_none());
    assert!(store.find_event(batch[3].id).await.unwrap().is_none());
    let a_events = store
        .tenant_events(&TenantKey::new("a", "careem"), 0, 10)
        .await
        .unwrap();
    assert_eq!(a_events.len(), 3);
}

mod leases {
    use std::time::Duration;

    use orderhook_actors::domain::{AttemptRecord, EventStatus, TenantKey};
    use uuid::Uuid;

    use super::*;

    fn attempt(event_id: EventId, lease_token: Option<i64>) -> AttemptRecord {
        AttemptRecord {
            event_id,
            attempt: 1,
            round_attempts: 1,
            status_code: Some(200),
            response_time_ms: 3,
            response_body: None,
            error: None,
            attempted_at: OffsetDateTime::now_utc(),
            outcome: EventStatus::Delivered,
            next_retry_at: None,
            lease_token,
        }
    }

    async fn status(store: &dyn Store, id: EventId) -> EventStatus {
        store.find_event(id).await.unwrap().unwrap().status
    }

    #[tokio::test]
    async fn one_owner_at_a_time_and_a_superseded_token_records_nothing() {
        let (store, _backing) = postgres().await;
        assert!(store.is_shared());
        let webhook = register(&*store, "c1", "careem").await;
        let stored = store
            .append_events(&[event(Some(webhook), "c1", "careem", EventStatus::Pending)])
            .await
            .unwrap();
        let id = stored[0].id;
        let tenant = [TenantKey::new("c1", "careem")];
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());

        let held = store
            .claim_leases(first, Duration::from_millis(300), &tenant)
            .await
            .unwrap();
        assert_eq!(held.len(), 1);
        let old_token = held[0].1;
        let taken = store
            .claim_leases(second, Duration::from_secs(30), &tenant)
            .await
            .unwrap();
        assert!(taken.is_empty(), "a live lease is not taken over");
        let renewed = store
            .claim_leases(first, Duration::from_millis(300), &tenant)
            .await
            .unwrap();
        assert_eq!(renewed, held, "renewal keeps the token");

        tokio::time::sleep(Duration::from_millis(400)).await;
        let taken = store
            .claim_leases(second, Duration::from_secs(30), &tenant)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "an expired lease is taken over");
        let new_token = taken[0].1;
        assert!(new_token > old_token);
        assert!(
            store
                .claim_leases(first, Duration::from_secs(30), &tenant)
                .await
                .unwrap()
                .is_empty(),
            "the old owner has nothing left to renew"
        );

        store
            .record_attempts(&[attempt(id, Some(old_token))])
            .await
            .unwrap();
        assert_eq!(
            status(&*store, id).await,
            EventStatus::Pending,
            "fenced off"
        );
        store
            .record_attempts(&[attempt(id, Some(new_token))])
            .await
            .unwrap();
        assert_eq!(status(&*store, id).await, EventStatus::Delivered);
    }

    #[tokio::test]
    async fn released_leases_are_free_at_once_and_tokens_never_repeat() {
        let (store, _backing) = postgres().await;
        let tenant = [
            TenantKey::new("c1", "careem"),
            TenantKey::new("c2", "jahez"),
        ];
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        let held = store
            .claim_leases(first, Duration::from_secs(30), &tenant)
            .await
            .unwrap();
        assert_eq!(held.len(), 2);
        store.release_leases(first).await.unwrap();
        let taken = store
            .claim_leases(second, Duration::from_secs(30), &tenant)
            .await
            .unwrap();
        assert_eq!(taken.len(), 2, "no waiting for the TTL after a release");
        let old: Vec<i64> = held.iter().map(|(_, t)| *t).collect();
        assert!(taken.iter().all(|(_, t)| !old.contains(t)));
    }

    #[tokio::test]
    async fn an_owner_taking_back_its_own_lapsed_lease_keeps_the_token() {
        let (store, _backing) = postgres().await;
        let tenant = [TenantKey::new("c1", "careem")];
        let owner = Uuid::now_v7();
        let held = store
            .claim_leases(owner, Duration::from_millis(200), &tenant)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = store
            .claim_leases(owner, Duration::from_secs(30), &tenant)
            .await
            .unwrap();
        assert_eq!(
            again, held,
            "nobody else delivered meanwhile: its attempts in flight stay valid"
        );
    }

    #[tokio::test]
    async fn the_embedded_store_is_one_instance_and_needs_no_leases() {
        let (store, _backing) = embedded().await;
        assert!(!store.is_shared());
    }
}
