//! The store contract, run against every store implementation.
//!
//! Each implementation gets the same checks through [`check_contract`];
//! MongoDB joins the list when its store lands.

mod common;

use std::sync::Arc;

use common::{mongodb_uri, unique_database};
use whiteboard::board::Board;
use whiteboard::image::{ImageId, ImageType};
use whiteboard::protocol::{
    BoardId, Change, Color, OpId, Operation, Point, Stroke, StrokeId, StrokeStyle, UserId,
};
use whiteboard::server::images::hash;
use whiteboard::server::mongo_store::MongoStore;
use whiteboard::server::redb_store::RedbStore;
use whiteboard::server::store::{
    board_at, last_made_before, Access, Store, StoreError, StoredImage, IMAGE_PART_BYTES,
};

fn board(name: &str) -> BoardId {
    BoardId::parse(&format!("contract-{name}-000000")).unwrap()
}

fn op(seq: u64) -> Operation {
    Operation {
        seq,
        author: UserId::parse("alice").unwrap(),
        op_id: OpId::parse(&format!("op{seq}")).unwrap(),
        // When and by whom, which history shows, are kept as they are.
        at: 1_796_000_000_000 + seq * 1_000,
        name: (seq % 2 == 1).then(|| "Ada Lovelace".to_owned()),
        change: Change::AddStroke {
            stroke: Stroke::freehand(
                StrokeId::parse(&format!("s{seq}")).unwrap(),
                StrokeStyle {
                    color: Color::parse("#000000").unwrap(),
                    width: 2.0,
                },
                vec![Point::new(seq as f32, 1.0, 0.5)],
            ),
        },
    }
}

async fn check_contract(store: Arc<dyn Store>) {
    // An unknown board is empty.
    let loaded = store.load(&board("empty")).await.unwrap();
    assert!(loaded.snapshot.is_none() && loaded.ops.is_empty());

    // Appends are ordered and gap-free.
    let id = board("main");
    store.append(&id, &[op(1), op(2)]).await.unwrap();
    store.append(&id, &[op(3)]).await.unwrap();
    let gap = store.append(&id, &[op(5)]).await;
    assert!(matches!(
        gap,
        Err(StoreError::SequenceConflict { stored: 3, got: 5 })
    ));
    let replay = store.append(&id, &[op(3)]).await;
    assert!(matches!(
        replay,
        Err(StoreError::SequenceConflict { stored: 3, got: 3 })
    ));
    // A batch with a bad member is rejected whole.
    assert!(store.append(&id, &[op(4), op(6)]).await.is_err());
    assert_eq!(store.ops_after(&id, 0).await.unwrap().len(), 3);

    assert_eq!(store.ops_after(&id, 1).await.unwrap(), vec![op(2), op(3)]);
    assert!(store.ops_after(&id, 3).await.unwrap().is_empty());

    // Boards are independent.
    store.append(&board("other"), &[op(1)]).await.unwrap();
    assert_eq!(store.ops_after(&id, 0).await.unwrap().len(), 3);

    // Snapshot plus later operations load as the same board.
    let mut expected = Board::new();
    for seq in 1..=3 {
        expected.apply(&op(seq));
    }
    store
        .save_snapshot(&id, Arc::new(expected.clone()))
        .await
        .unwrap();
    store.append(&id, &[op(4)]).await.unwrap();
    expected.apply(&op(4));
    let loaded = store.load(&id).await.unwrap();
    assert_eq!(loaded.snapshot.as_ref().map(Board::seq), Some(3));
    assert_eq!(loaded.ops, vec![op(4)]);
    assert_eq!(loaded.into_board(), expected);

    // Snapshots never move backwards.
    let mut older = Board::new();
    older.apply(&op(1));
    store.save_snapshot(&id, Arc::new(older)).await.unwrap();
    assert_eq!(
        store.load(&id).await.unwrap().snapshot.map(|b| b.seq()),
        Some(3)
    );

    // Access: none at first; read back as written; a view token finds its
    // board until it is replaced.
    assert_eq!(store.access(&id).await.unwrap(), Access::default());
    assert_eq!(store.board_of_view("nothing-here").await.unwrap(), None);
    let shared = Access {
        view: Some("view-token-1".into()),
        edit: None,
    };
    assert!(store
        .set_access(&id, &Access::default(), &shared)
        .await
        .unwrap());
    assert_eq!(store.access(&id).await.unwrap(), shared);
    // Only over the access it expects: a writer that read before this one
    // wrote changes nothing (on a board with a document and without).
    let late = Access {
        view: Some("view-token-late".into()),
        edit: None,
    };
    assert!(!store
        .set_access(&id, &Access::default(), &late)
        .await
        .unwrap());
    assert!(!store
        .set_access(&board("no-such-board"), &shared, &late)
        .await
        .unwrap());
    assert_eq!(store.access(&id).await.unwrap(), shared);
    assert_eq!(
        store.access(&board("no-such-board")).await.unwrap(),
        Access::default()
    );
    assert_eq!(store.board_of_view("view-token-late").await.unwrap(), None);
    assert_eq!(
        store.access(&board("other")).await.unwrap(),
        Access::default()
    );
    assert_eq!(
        store.board_of_view("view-token-1").await.unwrap(),
        Some(id.clone())
    );
    let rotated = Access {
        view: Some("view-token-2".into()),
        edit: Some("edit-key-1".into()),
    };
    assert!(store.set_access(&id, &shared, &rotated).await.unwrap());
    assert_eq!(store.access(&id).await.unwrap(), rotated);
    assert_eq!(store.board_of_view("view-token-1").await.unwrap(), None);
    assert_eq!(
        store.board_of_view("view-token-2").await.unwrap(),
        Some(id.clone())
    );
    // Access leaves the board's contents alone.
    assert_eq!(store.load(&id).await.unwrap().into_board(), expected);

    // An operation longer than a MongoDB document may be (16 MiB: a clear
    // or a restore of a huge board) is stored and read back whole.
    let huge_id = board("huge");
    let mut huge = op(2);
    huge.change = Change::Clear {
        stroke_ids: (0..2_000_000)
            .map(|i| StrokeId::parse(&format!("s{i:07}")).unwrap())
            .collect(),
    };
    assert!(serde_json::to_string(&huge).unwrap().len() > 16 << 20);
    store
        .append(&huge_id, &[op(1), huge.clone(), op(3)])
        .await
        .unwrap();
    assert_eq!(
        store.load(&huge_id).await.unwrap().ops,
        vec![op(1), huge, op(3)]
    );

    check_images(&*store).await;

    store.flush().await.unwrap();
}

/// A PNG-signed image of `size` bytes whose content depends on `seed`.
fn image(size: usize, seed: u8) -> (ImageId, StoredImage) {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..size - bytes.len()).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    let image = StoredImage {
        kind: ImageType::Png,
        bytes,
    };
    (hash(&image.bytes), image)
}

/// Images: stored once under their id, read back whole at any size.
async fn check_images(store: &dyn Store) {
    let (big_id, big) = image(2 * IMAGE_PART_BYTES + 12_345, 1);
    assert_eq!(store.image(&big_id).await.unwrap(), None);
    store.put_image(&big_id, big.clone()).await.unwrap();
    assert_eq!(store.image(&big_id).await.unwrap().as_ref(), Some(&big));
    // Storing it again (another upload of the same bytes) changes nothing.
    store.put_image(&big_id, big.clone()).await.unwrap();
    assert_eq!(store.image(&big_id).await.unwrap().as_ref(), Some(&big));
    // Images are independent, whatever their size.
    let (small_id, mut small) = image(100, 2);
    small.kind = ImageType::Gif;
    store.put_image(&small_id, small.clone()).await.unwrap();
    assert_eq!(store.image(&small_id).await.unwrap(), Some(small));
    assert_eq!(store.image(&big_id).await.unwrap(), Some(big));
    let (exact_id, exact) = image(IMAGE_PART_BYTES, 3);
    store.put_image(&exact_id, exact.clone()).await.unwrap();
    assert_eq!(store.image(&exact_id).await.unwrap(), Some(exact));
}

/// A board of `strokes` operations of 2,000 points each (about 42 KiB of
/// snapshot JSON apiece: 60 make three MongoDB chunks).
fn heavy_ops(from: u64, strokes: u64) -> Vec<Operation> {
    (from..from + strokes)
        .map(|seq| {
            let mut operation = op(seq);
            if let Change::AddStroke { stroke } = &mut operation.change {
                stroke.points = (0..2_000)
                    .map(|i| Point::new(i as f32 * 1.25, seq as f32, 0.5))
                    .collect();
            }
            operation
        })
        .collect()
}

/// Two instances (`first`, `second`) snapshot one board at once, at the
/// same sequence number (a rolling restart closes and reopens a room on
/// both) and at different ones, while it is being loaded: every load finds
/// a whole snapshot, and the newest one wins.
async fn check_snapshots_written_at_once(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    let id = board("racing-snapshots");
    let mut board = Board::new();
    let mut seq = 0;
    for round in 0..4 {
        let ops = heavy_ops(seq + 1, if round == 0 { 60 } else { 3 });
        first.append(&id, &ops).await.unwrap();
        let (last, earlier) = ops.split_last().unwrap();
        for operation in earlier {
            board.apply(operation);
        }
        // What an instance one operation behind would write at the same time.
        let behind = Arc::new(board.clone());
        board.apply(last);
        seq = board.seq();
        let now = Arc::new(board.clone());
        let (a, b, c, loaded) = tokio::join!(
            first.save_snapshot(&id, Arc::clone(&now)),
            second.save_snapshot(&id, Arc::clone(&now)),
            second.save_snapshot(&id, behind),
            first.load(&id),
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        assert_eq!(loaded.unwrap().into_board(), board, "round {round}");
        for store in [&first, &second] {
            let loaded = store.load(&id).await.unwrap();
            assert_eq!(
                loaded.snapshot.as_ref().map(Board::seq),
                Some(seq),
                "round {round}"
            );
            assert_eq!(loaded.into_board(), board, "round {round}");
        }
    }
}

/// History: with a snapshot kept every 3 operations and saved after each
/// one (the newest replacing the one before), the board at every point of
/// its log reads back as replaying the log up to there, and starts from
/// the newest snapshot kept at or before it.
async fn check_history(store: Arc<dyn Store>) {
    let id = board("history");
    let ops: Vec<Operation> = (1..=11).map(op).collect();
    let mut board = Board::new();
    for operation in &ops {
        store
            .append(&id, std::slice::from_ref(operation))
            .await
            .unwrap();
        board.apply(operation);
        store
            .save_snapshot(&id, Arc::new(board.clone()))
            .await
            .unwrap();
    }
    let replayed = |upto: u64| {
        let mut expected = Board::new();
        for operation in &ops[..upto as usize] {
            expected.apply(operation);
        }
        expected
    };
    for seq in 0..=11 {
        let at = board_at(&*store, &id, seq).await.unwrap();
        assert_eq!(at, replayed(seq), "the board at {seq}");
        let kept = store.snapshot_at_or_before(&id, seq).await.unwrap();
        // Kept: 3, 6, 9 (each 3 after the last kept) and 11 (the newest).
        let expected_kept = match seq {
            0..=2 => None,
            11 => Some(11),
            seq => Some(seq - seq % 3),
        };
        assert_eq!(
            kept.map(|b| b.seq()),
            expected_kept,
            "the snapshot for {seq}"
        );
    }
    assert_eq!(board_at(&*store, &id, 99).await.unwrap(), board);
    assert_eq!(
        store.ops_between(&id, 4, 7).await.unwrap(),
        ops[4..7].to_vec()
    );
    assert!(store.ops_between(&id, 7, 7).await.unwrap().is_empty());
    // The board as it is still loads from the newest snapshot.
    let loaded = store.load(&id).await.unwrap();
    assert_eq!(loaded.snapshot.map(|b| b.seq()), Some(11));

    // The last operation made before a time (op n was made at `at` + n s).
    let made = |seq: u64| op(seq).at;
    assert_eq!(
        last_made_before(&*store, &id, 11, made(8)).await.unwrap(),
        7
    );
    assert_eq!(
        last_made_before(&*store, &id, 11, made(1)).await.unwrap(),
        0
    );
    assert_eq!(
        last_made_before(&*store, &id, 11, made(12)).await.unwrap(),
        11
    );
    assert_eq!(last_made_before(&*store, &id, 5, made(8)).await.unwrap(), 5);

    // Forgetting history before 8 keeps the snapshot at 6 and what follows:
    // every version from 6 on reads back, none before it.
    assert_eq!(store.forget_before(&id, 8).await.unwrap(), 6);
    for seq in 6..=11 {
        let at = board_at(&*store, &id, seq).await.unwrap();
        assert_eq!(at, replayed(seq), "the board at {seq}, after forgetting");
    }
    for seq in 1..6 {
        let at = board_at(&*store, &id, seq).await;
        assert!(matches!(at, Err(StoreError::Forgotten)), "{seq}: {at:?}");
    }
    assert_eq!(board_at(&*store, &id, 0).await.unwrap(), Board::new());
    assert_eq!(
        store.ops_between(&id, 0, 11).await.unwrap(),
        ops[6..].to_vec()
    );
    assert_eq!(store.load(&id).await.unwrap().into_board(), board);
    // What is no longer kept counts as older.
    assert_eq!(
        last_made_before(&*store, &id, 11, made(8)).await.unwrap(),
        7
    );
    // Nothing kept that early: nothing more to forget.
    assert_eq!(store.forget_before(&id, 5).await.unwrap(), 0);
    // The board goes on, and an empty board has forgotten nothing.
    store.append(&id, &[op(12)]).await.unwrap();
    board.apply(&op(12));
    assert_eq!(store.load(&id).await.unwrap().into_board(), board);
    let never = BoardId::parse("contract-never-drawn-on-0000").unwrap();
    let empty = board_at(&*store, &never, 4).await.unwrap();
    assert_eq!(empty, Board::new());
}

#[tokio::test]
async fn redb_store_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path()).unwrap().with_history_every(3);
    check_history(Arc::new(store)).await;
}

#[tokio::test]
async fn mongo_store_keeps_history() {
    let Some(uri) = mongodb_uri() else { return };
    let store = MongoStore::connect(&uri, &unique_database("history"))
        .await
        .unwrap()
        .with_history_every(3);
    check_history(Arc::new(store)).await;
}

#[tokio::test]
async fn redb_store_fulfils_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    check_contract(Arc::new(RedbStore::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn redb_store_takes_snapshots_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // One process holds the file: two rooms of it race instead.
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(dir.path()).unwrap());
    check_snapshots_written_at_once(Arc::clone(&store), store).await;
}

#[tokio::test]
async fn mongo_store_takes_snapshots_written_at_once_by_two_instances() {
    let Some(uri) = mongodb_uri() else { return };
    let database = unique_database("racing");
    let first = MongoStore::connect(&uri, &database).await.unwrap();
    let second = MongoStore::connect(&uri, &database).await.unwrap();
    check_snapshots_written_at_once(Arc::new(first), Arc::new(second)).await;
}

#[tokio::test]
async fn redb_store_keeps_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = board("reopen");
    {
        let store = RedbStore::open(dir.path()).unwrap();
        store.append(&id, &[op(1), op(2)]).await.unwrap();
    }
    let store = RedbStore::open(dir.path()).unwrap();
    assert_eq!(store.ops_after(&id, 0).await.unwrap(), vec![op(1), op(2)]);
}

#[tokio::test]
async fn mongo_store_fulfils_the_contract() {
    let Some(uri) = mongodb_uri() else { return };
    let store = MongoStore::connect(&uri, &unique_database("contract"))
        .await
        .unwrap();
    check_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn mongo_store_keeps_an_image_once_in_parts_below_the_document_limit() {
    use mongodb::bson::doc;
    let Some(uri) = mongodb_uri() else { return };
    let database = unique_database("images");
    let store = MongoStore::connect(&uri, &database).await.unwrap();
    let (id, big) = image(5 * IMAGE_PART_BYTES / 2, 7);
    // Two instances store the same image at once, then once more.
    let other = MongoStore::connect(&uri, &database).await.unwrap();
    let (first, second) = tokio::join!(
        store.put_image(&id, big.clone()),
        other.put_image(&id, big.clone())
    );
    first.unwrap();
    second.unwrap();
    store.put_image(&id, big.clone()).await.unwrap();
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let parts = client
        .database(&database)
        .collection::<mongodb::bson::Document>("image_parts");
    let mut sizes = Vec::new();
    let mut cursor = parts.find(doc! { "image": id.as_str() }).await.unwrap();
    while cursor.advance().await.unwrap() {
        let part = cursor.deserialize_current().unwrap();
        sizes.push(part.get_binary_generic("data").unwrap().len());
    }
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        vec![IMAGE_PART_BYTES / 2, IMAGE_PART_BYTES, IMAGE_PART_BYTES],
        "three parts, each stored once"
    );
    assert_eq!(other.image(&id).await.unwrap(), Some(big));
}

#[tokio::test]
async fn mongo_store_splits_large_snapshots_into_chunks() {
    let Some(uri) = mongodb_uri() else { return };
    let database = unique_database("chunks");
    let store = MongoStore::connect(&uri, &database).await.unwrap();
    let id = board("big");
    // About 2.5 MiB of strokes: three chunks.
    let mut big = Board::new();
    let mut ops = Vec::new();
    for seq in 1..=60 {
        let mut operation = op(seq);
        if let Change::AddStroke { stroke } = &mut operation.change {
            stroke.points = (0..2_000)
                .map(|i| Point::new(i as f32 * 1.25, seq as f32, 0.5))
                .collect();
        }
        big.apply(&operation);
        ops.push(operation);
    }
    store.append(&id, &ops).await.unwrap();
    store
        .save_snapshot(&id, Arc::new(big.clone()))
        .await
        .unwrap();
    let reopened = MongoStore::connect(&uri, &database).await.unwrap();
    let loaded = reopened.load(&id).await.unwrap();
    assert!(loaded.ops.is_empty());
    assert_eq!(loaded.snapshot.unwrap(), big);
}
