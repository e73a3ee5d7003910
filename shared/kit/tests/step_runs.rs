//! The step runner's store: leases fence every write, a lapsed lease is taken over by exactly one
//! runner, and a live one by none. On SQLite and on PostgreSQL.

use spot_db::Database;
use spot_kit::steps::{Run, RunState, RunStore, StepKind};

fn run(id: &str) -> Run {
    Run::new(
        "plan",
        id,
        "tenant",
        "cluster",
        vec![
            StepKind::Cordon { node: "n1".into() },
            StepKind::Drain { node: "n1".into() },
        ],
    )
}

async fn a_lease_held_by_a_dead_holder_is_taken_over(db: Database) {
    let store = RunStore::new(db);
    let now = 1_000_000;
    // The holder died: its lease ran out at `now - 1` and nobody renewed it.
    store
        .insert(&run("dead"), "a", now - 1, now - 30_000)
        .await
        .unwrap();
    store
        .insert(&run("alive"), "a", now + 30_000, now)
        .await
        .unwrap();

    let claimed = store
        .claim_lapsed("plan", "b", now + 30_000, now)
        .await
        .unwrap();
    let ids: Vec<&str> = claimed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["dead"], "only the lapsed lease is taken over");
    assert_eq!(
        store.lease("dead").await.unwrap(),
        Some((Some("b".to_owned()), now + 30_000))
    );
    // A second sweeper, at the same moment, finds nothing left to take.
    assert!(
        store
            .claim_lapsed("plan", "c", now + 30_000, now)
            .await
            .unwrap()
            .is_empty()
    );
    // Other workflows' sweepers never take a plan's run.
    store
        .insert(&run("other"), "a", now - 1, now)
        .await
        .unwrap();
    assert!(
        store
            .claim_lapsed("hibernation", "c", now + 30_000, now)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_runner_that_lost_its_lease_can_no_longer_write(db: Database) {
    let store = RunStore::new(db);
    let now = 1_000_000;
    let mut taken = run("r");
    store
        .insert(&taken, "a", now - 1, now - 30_000)
        .await
        .unwrap();
    store
        .claim_lapsed("plan", "b", now + 30_000, now)
        .await
        .unwrap();

    // The old holder wakes up from a long pause: neither its renewal nor its progress lands.
    assert!(!store.renew("r", "a", now + 60_000).await.unwrap());
    taken.steps[0].message = "from the old holder".into();
    assert!(
        !store
            .save(&taken, RunState::Running, "a", now + 60_000, now)
            .await
            .unwrap()
    );
    assert_eq!(store.get("r").await.unwrap().unwrap().steps[0].message, "");

    // The new holder's progress does; a final run gives its lease up and is never swept again.
    assert!(store.renew("r", "b", now + 60_000).await.unwrap());
    taken.steps[0].message = "from the new holder".into();
    taken.state = RunState::Succeeded;
    assert!(
        store
            .save(&taken, RunState::Succeeded, "b", now, now)
            .await
            .unwrap()
    );
    let stored = store.get("r").await.unwrap().unwrap();
    assert_eq!(stored.steps[0].message, "from the new holder");
    assert_eq!(store.lease("r").await.unwrap(), Some((None, now)));
    assert!(
        store
            .claim_lapsed("plan", "c", now + 30_000, now + 1_000_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .unfinished("plan", "cluster")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_run_final_for_its_workflow_stays_open_until_its_hooks_ran(db: Database) {
    let store = RunStore::new(db);
    let now = 1_000_000;
    let mut finished = run("r");
    store
        .insert(&finished, "a", now + 30_000, now)
        .await
        .unwrap();
    finished.state = RunState::Failed;
    // Stored as failed, but the row stays running: a crash now leaves it to a sweeper, which
    // sees it final and only calls the workflow's hooks again.
    assert!(
        store
            .save(&finished, RunState::Running, "a", now - 1, now)
            .await
            .unwrap()
    );
    assert_eq!(store.unfinished("plan", "cluster").await.unwrap().len(), 1);
    let claimed = store
        .claim_lapsed("plan", "b", now + 30_000, now)
        .await
        .unwrap();
    assert_eq!(claimed[0].state, RunState::Failed);
}

spot_db::storage_contract_suite!(
    a_lease_held_by_a_dead_holder_is_taken_over,
    a_runner_that_lost_its_lease_can_no_longer_write,
    a_run_final_for_its_workflow_stays_open_until_its_hooks_ran,
);
