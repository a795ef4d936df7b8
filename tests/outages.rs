//! Redis and MongoDB going away while people draw: nothing acknowledged is
//! lost, clients converge, and the server processes keep running.
//!
//! These tests start their own Redis and MongoDB-protocol servers so they can
//! kill and restart them; they skip with a message when the binaries are not
//! named (scripts/test.sh names them).

mod common;

use std::time::Duration;

use common::*;
use whiteboard::board::Board;
use whiteboard::protocol::{BoardId, ServerMessage};
use whiteboard::server::mongo_store::MongoStore;
use whiteboard::server::store::Store;

/// Applies operations from `client` to `board` until it reaches `seq`.
async fn follow(client: &mut Client, board: &mut Board, seq: u64) {
    while board.seq() < seq {
        if let ServerMessage::Op { op } = client
            .recv_matching(|m| matches!(m, ServerMessage::Op { .. }))
            .await
        {
            assert!(op.seq <= board.seq() + 1, "gap before {}", op.seq);
            board.apply(&op);
        }
    }
}

async fn join_replica(addr: std::net::SocketAddr, board: &BoardId, name: &str) -> (Client, Board) {
    let (client, welcome) = Client::join(addr, board, name, None).await;
    (client, board_from_welcome(&welcome))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_drawing_loses_nothing() {
    let (Some(mut redis), Some(mongodb)) = (ServiceProcess::redis(), mongodb_uri()) else {
        return;
    };
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let database = unique_database("redis_restart");
    let env = [
        ("REDIS_URL", redis_url.as_str()),
        ("MONGODB_URI", mongodb.as_str()),
        ("MONGODB_DB", database.as_str()),
    ];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut a = ServerProcess::start_with(dirs[0].path(), &env);
    let mut b = ServerProcess::start_with(dirs[1].path(), &env);
    let board = board_id("redis-restart");
    let (mut alice, _) = join_replica(a.addr, &board, "alice").await;
    let (mut bob, mut bob_board) = join_replica(b.addr, &board, "bob").await;

    let mut last = 0;
    for i in 0..3 {
        last = alice
            .commit(add_stroke(
                &format!("before{i}"),
                stroke(&format!("before{i}"), i as f32),
            ))
            .await;
    }
    follow(&mut bob, &mut bob_board, last).await;

    redis.kill();
    // Drawing goes on: operations are stored and acknowledged without Redis.
    for i in 0..3 {
        last = alice
            .commit(add_stroke(
                &format!("during{i}"),
                stroke(&format!("during{i}"), 10.0 + i as f32),
            ))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();

    // Bob's instance resubscribes and catches up from the store...
    follow(&mut bob, &mut bob_board, last).await;
    // ...and live relaying works again.
    last = alice
        .commit(add_stroke("after", stroke("after", 20.0)))
        .await;
    follow(&mut bob, &mut bob_board, last).await;

    let store = MongoStore::connect(&mongodb, &database).await.unwrap();
    let stored = store.load(&board).await.unwrap().into_board();
    assert_eq!(stored.seq(), 7);
    assert_eq!(bob_board.snapshot(), stored.snapshot());
    assert!(a.is_running() && b.is_running(), "no instance exited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mongodb_restart_mid_drawing_loses_nothing_acknowledged() {
    let data = tempfile::tempdir().unwrap();
    let Some(mut mongodb) = ServiceProcess::mongodb(data.path()) else {
        return;
    };
    let uri = format!(
        "mongodb://127.0.0.1:{}/?directConnection=true",
        mongodb.port
    );
    let database = unique_database("mongo_restart");
    let env = [
        ("MONGODB_URI", uri.as_str()),
        ("MONGODB_DB", database.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start_with(dir.path(), &env);
    let board = board_id("mongo-restart");
    let (mut alice, _) = join_replica(server.addr, &board, "alice").await;
    for i in 0..3 {
        alice
            .commit(add_stroke(
                &format!("before{i}"),
                stroke(&format!("before{i}"), i as f32),
            ))
            .await;
    }

    mongodb.kill();
    // Not stored, so not acknowledged while the database is away; the
    // connection stays open (the browser shows "saving…").
    let pending = add_stroke("during", stroke("during", 5.0));
    alice.send(&pending).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while let Some(received) = alice
        .try_recv_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        match received {
            Received::Message(ServerMessage::Ack { .. }) => panic!("acknowledged without a store"),
            Received::Message(ServerMessage::Error { code, .. }) => {
                panic!("refused instead of held: {code:?}")
            }
            Received::Closed(code) => panic!("connection closed ({code:?}) instead of holding"),
            Received::Message(_) => {}
        }
    }
    mongodb.restart();

    // Once the database is back, the held request is stored and acknowledged
    // on the same connection.
    let seq = loop {
        match alice.recv_within(Duration::from_secs(60)).await {
            Received::Message(ServerMessage::Ack { seq, .. }) => break seq,
            Received::Message(_) => {}
            Received::Closed(code) => panic!("connection closed ({code:?})"),
        }
    };
    assert_eq!(
        seq, 4,
        "stored once, right after the three before the outage"
    );
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    let ids: Vec<String> = board_from_welcome(&welcome)
        .visible_strokes()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, vec!["before0", "before1", "before2", "during"]);
    assert!(server.is_running(), "the server never exits");
}
