//! Integration tests: real WebSocket clients against the real server binary.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::Message;
use whiteboard::protocol::{
    close_code, limits, packed, BoardId, Change, ClientMessage, Color, ErrorCode, OpId, Point,
    ServerMessage, Stroke, StrokeId, StrokeKind, PROTOCOL_VERSION,
};

/// A server on a fresh data directory (deleted when the guard drops).
fn start_server() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    (dir, server)
}

fn error_code(message: &ServerMessage) -> ErrorCode {
    match message {
        ServerMessage::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn two_clients_receive_the_same_operations_in_the_same_order() {
    let (_dir, server) = start_server();
    let board = board_id("order");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;

    // Interleave sends from both without waiting, so the server must order them.
    for i in 0..10 {
        alice
            .send(&add_stroke(
                &format!("a-op{i}"),
                stroke(&format!("a{i}"), i as f32),
            ))
            .await;
        bob.send(&add_stroke(
            &format!("b-op{i}"),
            stroke(&format!("b{i}"), 100.0 + i as f32),
        ))
        .await;
    }
    let seen_by_alice = alice.ops_until(20).await;
    let seen_by_bob = bob.ops_until(20).await;
    assert_eq!(seen_by_alice, seen_by_bob);
    let seqs: Vec<u64> = seen_by_alice.iter().map(|op| op.seq).collect();
    assert_eq!(
        seqs,
        (1..=20).collect::<Vec<_>>(),
        "sequence numbers are consecutive"
    );
}

#[tokio::test]
async fn presence_counts_people_on_the_board() {
    let (_dir, server) = start_server();
    let board = board_id("presence");
    let (mut alice, welcome) = Client::join(server.addr, &board, "alice", None).await;
    assert!(matches!(
        welcome,
        ServerMessage::Welcome { presence: 1, .. }
    ));
    let (bob, _) = Client::join(server.addr, &board, "bob", None).await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 2, .. }))
        .await;
    bob.close().await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 1, .. }))
        .await;
}

#[tokio::test]
async fn previews_reach_others_but_not_the_sender_and_are_not_stored() {
    let (_dir, server) = start_server();
    let board = board_id("preview");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    let live = stroke("live", 5.0);
    alice.send(&preview_of(&live, 3)).await;
    match bob
        .recv_matching(|m| matches!(m, ServerMessage::Preview { .. }))
        .await
    {
        ServerMessage::Preview { author, points, .. } => {
            assert_eq!(author, alice.user);
            assert_eq!(points, live.points[..3].to_vec());
        }
        _ => unreachable!(),
    }
    // Alice gets no echo of her own preview: the next thing she sees is her ack.
    let seq = alice.commit(add_stroke("op1", stroke("after", 9.0))).await;
    assert_eq!(seq, 1, "the preview did not consume a sequence number");
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    let board_state = board_from_welcome(&welcome);
    let ids: Vec<&str> = board_state
        .visible_strokes()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids, vec!["after"]);
}

#[tokio::test]
async fn a_late_joiner_receives_the_same_board() {
    let (_dir, server) = start_server();
    let board = board_id("late");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    for i in 0..5 {
        alice
            .commit(add_stroke(
                &format!("op{i}"),
                stroke(&format!("s{i}"), i as f32 * 10.0),
            ))
            .await;
    }
    alice
        .commit(ClientMessage::Erase {
            op_id: op_id("erase"),
            stroke_ids: vec![StrokeId::parse("s1").unwrap()],
        })
        .await;
    let (_late, welcome) = Client::join(server.addr, &board, "late", None).await;
    let late_board = board_from_welcome(&welcome);
    let ids: Vec<&str> = late_board
        .visible_strokes()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids, vec!["s0", "s2", "s3", "s4"]);
    assert_eq!(late_board.seq(), 6);
}

#[tokio::test]
async fn version_1_gets_the_snapshot_as_json_and_version_2_packed_the_same() {
    let (_dir, server) = start_server();
    let board = board_id("versions");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    // Enough to need more than one binary frame (1 MiB each): long strokes
    // whose coordinates are not hundredths, so they stay four-byte floats.
    for i in 0..70 {
        let mut long = stroke(&format!("s{i}"), 0.0);
        long.points = (0..2_000)
            .map(|k| Point::new(k as f32 / 3.0, i as f32 + k as f32 / 7.0, 0.5))
            .collect();
        alice.commit(add_stroke(&format!("op{i}"), long)).await;
    }
    let mut old = Client::open(server.addr, &board, user("old")).await;
    old.send_raw(r#"{"type":"hello","protocol":1,"user":"old"}"#)
        .await;
    let ServerMessage::Welcome {
        protocol: 1,
        snapshot: Some(json),
        packed_snapshot: None,
        ..
    } = old
        .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await
    else {
        panic!("version 1 gets its snapshot in the welcome");
    };
    // As it travels: the welcome, then binary frames of the announced size.
    let mut raw = Client::open(server.addr, &board, user("raw")).await;
    raw.send_raw(r#"{"type":"hello","protocol":2,"user":"raw"}"#)
        .await;
    let Message::Text(welcome) = raw.next_frame().await else {
        panic!("the welcome comes first");
    };
    let Ok(ServerMessage::Welcome {
        packed_snapshot: Some(announced),
        ..
    }) = ServerMessage::decode(welcome.as_str())
    else {
        panic!("a version 2 welcome announces a packed snapshot: {welcome}");
    };
    let mut frames = Vec::new();
    while frames.iter().map(Vec::len).sum::<usize>() < announced as usize {
        match raw.next_frame().await {
            Message::Binary(bytes) => frames.push(bytes.to_vec()),
            other => panic!("expected the snapshot's frames, got {other:?}"),
        }
    }
    assert!(frames.len() >= 2, "{} frame(s)", frames.len());
    assert!(frames.iter().all(|f| f.len() <= 1024 * 1024));
    assert_eq!(
        whiteboard::protocol::packed::decode(&frames.concat()).unwrap(),
        json
    );

    // The test client unpacks the binary frames that must follow a version
    // 2 or 3 welcome, and fails if they do not come or do not decode.
    let (_new, welcome) = Client::join(server.addr, &board, "new", None).await;
    let ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        snapshot: Some(packed),
        ..
    } = welcome
    else {
        panic!("version {PROTOCOL_VERSION} gets a packed snapshot");
    };
    assert_eq!(json.strokes.len(), 70);
    assert_eq!(packed, json);

    let mut future = Client::open(server.addr, &board, user("future")).await;
    future
        .send_raw(r#"{"type":"hello","protocol":4,"user":"future"}"#)
        .await;
    match future.recv_message().await {
        ServerMessage::Error {
            code: ErrorCode::UnsupportedVersion,
            message,
            ..
        } => assert!(message.contains("1 to 3"), "{message}"),
        other => panic!("expected unsupported_version, got {other:?}"),
    }
    assert_eq!(future.closed().await, Some(close_code::POLICY_VIOLATION));
}

#[tokio::test]
async fn version_3_sends_what_may_paint_in_the_view_first() {
    let (_dir, server) = start_server();
    let board = board_id("view-first");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    // Strokes near the origin and far away, added alternately, so that
    // each part's strokes are interleaved in drawing order.
    for i in 0..40 {
        let x = if i % 2 == 0 { 10.0 } else { 5_000.0 };
        let mut item = stroke(&format!("s{i}"), 0.0);
        item.points = vec![Point::new(x, i as f32, 0.5), Point::new(x + 20.0, 5.0, 0.5)];
        alice.commit(add_stroke(&format!("op{i}"), item)).await;
    }
    // Without a view: one part, the whole board.
    let joined = board_from_welcome(&Client::join(server.addr, &board, "whole", None).await.1);

    let mut viewer = Client::open(server.addr, &board, user("viewer")).await;
    viewer
        .send_raw(
            r#"{"type":"hello","protocol":3,"user":"viewer","view":{"min_x":0,"min_y":0,"max_x":1280,"max_y":800}}"#,
        )
        .await;
    let Message::Text(welcome) = viewer.next_frame().await else {
        panic!("the welcome comes first");
    };
    let Ok(ServerMessage::Welcome {
        packed_snapshot: Some(announced),
        snapshot_parts: Some(parts),
        ..
    }) = ServerMessage::decode(welcome.as_str())
    else {
        panic!("a version 3 welcome announces a snapshot in parts: {welcome}");
    };
    assert_eq!(parts.len(), 2, "what is in view, then the rest");
    assert_eq!(parts.iter().sum::<u64>(), announced);
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < announced {
        match viewer.next_frame().await {
            Message::Binary(frame) => bytes.extend_from_slice(&frame),
            other => panic!("expected the snapshot's frames, got {other:?}"),
        }
    }
    let first = packed::decode_part(&bytes[..parts[0] as usize]).unwrap();
    let mut in_view: Vec<(usize, &str)> = first
        .strokes
        .iter()
        .map(|(position, s)| (*position, s.stroke.id.as_str()))
        .collect();
    in_view.sort();
    let expected: Vec<(usize, String)> = (0..40).step_by(2).map(|i| (i, format!("s{i}"))).collect();
    let expected: Vec<(usize, &str)> = expected.iter().map(|(p, s)| (*p, s.as_str())).collect();
    assert_eq!(
        in_view, expected,
        "the strokes near the origin, at their places"
    );
    assert_eq!(first.total, 40);
    let whole = packed::assemble(&bytes, &parts).unwrap();
    assert_eq!(whole, joined.snapshot());

    // A view that is not a rectangle is refused like any invalid hello.
    let mut odd = Client::open(server.addr, &board, user("odd")).await;
    odd.send_raw(
        r#"{"type":"hello","protocol":3,"user":"odd","view":{"min_x":10,"min_y":0,"max_x":0,"max_y":5}}"#,
    )
    .await;
    match odd.recv_message().await {
        ServerMessage::Error {
            code: ErrorCode::Invalid,
            ..
        } => {}
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reconnecting_client_receives_exactly_the_missing_operations() {
    let (_dir, server) = start_server();
    let board = board_id("resume");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    alice.commit(add_stroke("op1", stroke("s1", 1.0))).await;
    alice.commit(add_stroke("op2", stroke("s2", 2.0))).await;
    let bob_has = bob.ops_until(2).await;
    bob.close().await;

    alice.commit(add_stroke("op3", stroke("s3", 3.0))).await;
    alice
        .commit(ClientMessage::Undo {
            op_id: op_id("op4"),
        })
        .await;
    alice.commit(add_stroke("op5", stroke("s5", 5.0))).await;

    let (_bob, welcome) = Client::join(server.addr, &board, "bob", Some(2)).await;
    let ServerMessage::Welcome {
        snapshot, ops, seq, ..
    } = &welcome
    else {
        unreachable!()
    };
    assert!(
        snapshot.is_none(),
        "a short absence is answered with operations, not a snapshot"
    );
    assert_eq!(*seq, 5);
    let seqs: Vec<u64> = ops.iter().map(|op| op.seq).collect();
    assert_eq!(seqs, vec![3, 4, 5], "no gaps and no duplicates");
    assert!(matches!(ops[1].change, Change::Undo { target: 3, .. }));

    // Bob's replica equals a fresh joiner's.
    let mut bob_board = whiteboard::board::Board::new();
    for op in bob_has.iter().chain(ops.iter()) {
        bob_board.apply(op);
    }
    let (_fresh, fresh_welcome) = Client::join(server.addr, &board, "fresh", None).await;
    assert_eq!(
        bob_board.snapshot(),
        board_from_welcome(&fresh_welcome).snapshot()
    );
}

#[tokio::test]
async fn undo_and_redo_are_per_user_and_seen_by_everyone() {
    let (_dir, server) = start_server();
    let board = board_id("undo");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    let (mut carol, _) = Client::join(server.addr, &board, "carol", None).await;
    alice
        .commit(add_stroke("a1", stroke("alice-stroke", 1.0)))
        .await;
    bob.commit(add_stroke("b1", stroke("bob-stroke", 2.0)))
        .await;
    alice
        .commit(ClientMessage::Undo { op_id: op_id("a2") })
        .await;
    let ops = carol.ops_until(3).await;
    match &ops[2].change {
        Change::Undo {
            target, hide, show, ..
        } => {
            assert_eq!(
                *target, 1,
                "alice's undo takes back alice's stroke, not bob's later one"
            );
            assert_eq!(hide, &vec![StrokeId::parse("alice-stroke").unwrap()]);
            assert!(show.is_empty());
        }
        other => panic!("expected an undo, got {other:?}"),
    }
    // Nothing left for alice to undo: an error for her, nothing for anyone else.
    alice
        .send(&ClientMessage::Undo { op_id: op_id("a3") })
        .await;
    let refusal = alice
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&refusal), ErrorCode::Rejected);
    alice
        .commit(ClientMessage::Redo { op_id: op_id("a4") })
        .await;
    let ops = carol.ops_until(4).await;
    assert!(matches!(&ops[0].change, Change::Redo { target: 1, .. }));
}

#[tokio::test]
async fn resending_an_operation_is_idempotent() {
    let (_dir, server) = start_server();
    let board = board_id("idem");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let first = alice.commit(add_stroke("same-op", stroke("s1", 1.0))).await;
    alice.close().await;
    // Same user, same op id, new connection: as after a lost acknowledgement.
    let (mut alice, _) = Client::join(server.addr, &board, "alice", Some(1)).await;
    let second = alice.commit(add_stroke("same-op", stroke("s1", 1.0))).await;
    assert_eq!(first, second);
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    assert_eq!(board_from_welcome(&welcome).seq(), 1, "stored once");
}

#[tokio::test]
async fn boards_survive_a_restart_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let board = board_id("restart");
    let before = {
        let mut server = ServerProcess::start(dir.path());
        let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
        for i in 0..4 {
            alice
                .commit(add_stroke(
                    &format!("op{i}"),
                    stroke(&format!("s{i}"), i as f32),
                ))
                .await;
        }
        alice
            .commit(ClientMessage::Erase {
                op_id: op_id("erase"),
                stroke_ids: vec![StrokeId::parse("s2").unwrap()],
            })
            .await;
        let (_bob, welcome) = Client::join(server.addr, &board, "bob", None).await;
        assert!(server.stop(), "SIGTERM shuts the server down cleanly");
        board_from_welcome(&welcome).snapshot()
    };
    let server = ServerProcess::start(dir.path());
    let (mut alice, welcome) = Client::join(server.addr, &board, "alice", None).await;
    assert_eq!(board_from_welcome(&welcome).snapshot(), before);
    // Undo history survives too: alice's last action was the erase.
    alice
        .commit(ClientMessage::Undo {
            op_id: op_id("after-restart"),
        })
        .await;
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    assert_eq!(board_from_welcome(&welcome).visible_strokes().count(), 4);
}

#[tokio::test]
async fn acknowledged_operations_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let board = board_id("kill9");
    let mut server = ServerProcess::start(dir.path());
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    for i in 0..10 {
        alice
            .commit(add_stroke(
                &format!("op{i}"),
                stroke(&format!("s{i}"), i as f32),
            ))
            .await;
    }
    server.kill();
    let server = ServerProcess::start(dir.path());
    let (_alice, welcome) = Client::join(server.addr, &board, "alice", None).await;
    assert_eq!(board_from_welcome(&welcome).visible_strokes().count(), 10);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let (_dir, mut server) = start_server();
    let board = board_id("shutdown");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    // Keep the server busy with a reader while it stops.
    let stopper = std::thread::spawn(move || server.stop());
    assert_eq!(alice.closed().await, Some(close_code::GOING_AWAY));
    assert!(stopper.join().unwrap(), "exit status is success");
}

#[tokio::test]
async fn bad_input_is_rejected_while_another_client_keeps_drawing() {
    let (_dir, mut server) = start_server();
    let board = board_id("bad");
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;

    // Compact points so that the frame stays under the size limit and only
    // the point limit is exceeded.
    let points = vec!["[1,1,0]"; limits::MAX_STROKE_POINTS + 1].join(",");
    let long_frame = format!(
        r##"{{"type":"add_stroke","op_id":"long","stroke":{{"id":"long","color":"#000000","width":2,"points":[{points}]}}}}"##
    );
    assert!(long_frame.len() < limits::MAX_FRAME_BYTES);

    // Each frame, the refusal it gets, and the operation id the refusal
    // names: every durable request whose op id can be read is named, so the
    // sender can drop it instead of resending it forever.
    let cases: Vec<(String, ErrorCode, Option<&str>)> = vec![
        ("definitely not json".into(), ErrorCode::Malformed, None),
        (r#"{"type":"teleport","to":"mars"}"#.into(), ErrorCode::Malformed, None),
        (
            // NaN is not JSON: nothing can be read from the frame.
            r##"{"type":"add_stroke","op_id":"x1","stroke":{"id":"n","color":"#000000","width":2,"points":[[NaN,1,0.5]]}}"##.into(),
            ErrorCode::Malformed,
            None,
        ),
        (
            r##"{"type":"add_stroke","op_id":"x2","stroke":{"id":"n","color":"#000000","width":2,"points":[[1e39,1,0.5]]}}"##.into(),
            ErrorCode::Invalid,
            Some("x2"),
        ),
        (
            r##"{"type":"add_stroke","op_id":"x3","stroke":{"id":"n","color":"red","width":2,"points":[[1,1,0.5]]}}"##.into(),
            ErrorCode::Invalid,
            Some("x3"),
        ),
        (
            r##"{"type":"add_stroke","op_id":"x4","stroke":{"id":"n","color":"#000000","width":999,"points":[[1,1,0.5]]}}"##.into(),
            ErrorCode::Invalid,
            Some("x4"),
        ),
        (r#"{"type":"add_stroke","op_id":"x5"}"#.into(), ErrorCode::Malformed, Some("x5")),
        (r#"{"type":"erase","op_id":"x6","stroke_ids":[]}"#.into(), ErrorCode::Invalid, Some("x6")),
        (
            format!(r#"{{"type":"clear","op_id":"{}"}}"#, "x".repeat(limits::MAX_FRAME_BYTES)),
            ErrorCode::FrameTooLarge,
            None,
        ),
        (
            format!(r#"{{"type":"clear","op_id":"x7","pad":"{}"}}"#, "x".repeat(limits::MAX_FRAME_BYTES)),
            ErrorCode::FrameTooLarge,
            Some("x7"),
        ),
        (long_frame, ErrorCode::Invalid, Some("long")),
        (
            r#"{"type":"hello","protocol":1,"user":"mallory"}"#.into(),
            ErrorCode::UnexpectedMessage,
            None,
        ),
    ];
    for (i, (frame, expected, named)) in cases.iter().enumerate() {
        mallory.send_raw(frame).await;
        let reply = mallory
            .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
            .await;
        assert_eq!(error_code(&reply), *expected, "case {i}");
        let ServerMessage::Error { op_id, .. } = &reply else {
            unreachable!()
        };
        assert_eq!(op_id.as_ref().map(OpId::as_str), *named, "case {i}");
        // Alice keeps drawing, unaffected.
        alice
            .commit(add_stroke(
                &format!("ok{i}"),
                stroke(&format!("ok{i}"), i as f32),
            ))
            .await;
    }
    mallory.send_binary(vec![1, 2, 3]).await;
    let reply = mallory
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&reply), ErrorCode::Malformed);

    // Nothing of mallory's was stored.
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    let stored = board_from_welcome(&welcome);
    assert_eq!(stored.seq(), cases.len() as u64);
    assert!(stored
        .visible_strokes()
        .all(|s| s.id.as_str().starts_with("ok")));
    assert!(server.is_running());
}

#[tokio::test]
async fn a_client_that_keeps_sending_garbage_is_closed_as_a_policy_violation() {
    let (_dir, mut server) = start_server();
    let board = board_id("abuse");
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    for _ in 0..whiteboard::server::connection::MAX_INVALID_FRAMES {
        mallory.send_raw("garbage").await;
    }
    assert_eq!(mallory.closed().await, Some(close_code::POLICY_VIOLATION));
    assert!(server.is_running());
}

#[tokio::test]
async fn a_frame_too_large_to_read_closes_with_1009_and_nobody_else_notices() {
    let (_dir, mut server) = start_server();
    let board = board_id("huge");
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let huge = format!(
        r#"{{"type":"clear","op_id":"huge","pad":"{}"}}"#,
        "x".repeat(limits::HARD_FRAME_BYTES)
    );
    mallory.send_raw(&huge).await;
    assert_eq!(mallory.closed().await, Some(close_code::MESSAGE_TOO_BIG));
    alice
        .commit(add_stroke("after", stroke("after", 1.0)))
        .await;
    assert!(server.is_running());
}

#[tokio::test]
async fn the_first_message_must_be_hello() {
    let (_dir, server) = start_server();
    let board = board_id("nohello");
    let mut client = Client::open(server.addr, &board, user("eve")).await;
    client.send(&add_stroke("op", stroke("s", 1.0))).await;
    let reply = client.recv_message().await;
    assert_eq!(error_code(&reply), ErrorCode::UnexpectedMessage);
    assert!(matches!(reply, ServerMessage::Error { op_id: Some(op), .. } if op.as_str() == "op"));
    client
        .send_raw(r#"{"type":"hello","protocol":99,"user":"eve"}"#)
        .await;
    let reply = client.recv_message().await;
    assert_eq!(error_code(&reply), ErrorCode::UnsupportedVersion);
    assert_eq!(client.closed().await, Some(close_code::POLICY_VIOLATION));
}

#[tokio::test]
async fn malformed_board_ids_are_refused_before_the_upgrade() {
    let (_dir, server) = start_server();
    for bad in ["short", "has%20space-aaaaaaaaaaaa", &"x".repeat(65)] {
        let url = format!("ws://{}/ws/{bad}", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "board id {bad}");
            }
            other => panic!("board id {bad} was not refused: {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn pages_are_served_at_their_paths_and_anything_else_is_not_found() {
    let (_dir, server) = start_server();
    // The response to `GET path`, which must have status `code`.
    let get = |path: &str, code: u16| {
        let response = http_get(server.addr, path);
        let status = response.lines().next().unwrap_or_default();
        assert!(
            status.starts_with(&format!("HTTP/1.1 {code}")),
            "{path}: {status}"
        );
        response
    };
    assert!(get("/", 200).contains("<h1>Whiteboard</h1>"));
    assert!(get("/b/3q2-8fLx0aZ0pBq9Wc1r7g", 200).contains("board-canvas"));
    assert!(get("/b/bad", 200).contains("This board link is not valid"));
    for path in ["/nope", "/b/", "/b/3q2-8fLx0aZ0pBq9Wc1r7g/", "/b/a/b"] {
        assert!(get(path, 404).contains("Page not found"), "{path}");
    }
}

#[tokio::test]
async fn new_board_redirects_to_a_fresh_unguessable_id() {
    let (_dir, server) = start_server();
    let location = |addr: std::net::SocketAddr| {
        let response = http_get(addr, "/new");
        assert!(response.starts_with("HTTP/1.1 303"), "{response}");
        response
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .expect("a location header")
            .to_owned()
    };
    let (first, second) = (location(server.addr), location(server.addr));
    assert_ne!(first, second);
    let id = first.strip_prefix("/b/").expect("a board path");
    assert_eq!(id.len(), 22, "128 random bits in base64url");
    assert!(whiteboard::protocol::BoardId::parse(id).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_client_is_dropped_without_stalling_the_room() {
    let dir = tempfile::tempdir().unwrap();
    // The flood below must reach the room: no budget in the way.
    let server = ServerProcess::start_with(
        dir.path(),
        &[
            ("WHITEBOARD_EPHEMERAL_PER_SEC", "1000000"),
            ("WHITEBOARD_EPHEMERAL_BYTES_PER_SEC", "1000000000"),
        ],
    );
    let board = board_id("stuck");
    // Joins, then never reads again.
    let (mut stuck, _) = Client::join(server.addr, &board, "stuck", None).await;
    let (mut flooder, _) = Client::join(server.addr, &board, "flooder", None).await;
    let (mut observer, _) = Client::join(server.addr, &board, "observer", None).await;

    // The observer keeps reading, and reports when the room has let go of
    // the stuck client (presence falls from 3 to 2).
    let watcher = tokio::spawn(async move {
        let mut previews = 0usize;
        loop {
            match observer.recv_message().await {
                ServerMessage::Preview { .. } => previews += 1,
                ServerMessage::Presence { count: 2, .. } => return (observer, previews),
                _ => {}
            }
        }
    });

    // Each preview is about 12 KB; a few thousand overflow the stuck
    // client's socket buffers and then its queue.
    let points: Vec<whiteboard::protocol::Point> = (0..limits::MAX_PREVIEW_POINTS)
        .map(|i| whiteboard::protocol::Point::new(123_456.5 + i as f32, 654_321.5, 0.5))
        .collect();
    let style = stroke("x", 0.0).style;
    let mut sent = 0;
    while !watcher.is_finished() && sent < 20_000 {
        // A new stroke every few frames: one preview stops growing at a
        // stroke's points.
        let id = format!("flood{}", sent / 8);
        flooder
            .send(&ClientMessage::Preview {
                stroke: StrokeId::parse(&id).unwrap(),
                style: style.clone(),
                points: points.clone(),
            })
            .await;
        sent += 1;
        if sent % 16 == 0 {
            // Pace the flood so that a client that does read keeps up.
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
    }
    let (mut observer, previews) = tokio::time::timeout(RECV_TIMEOUT, watcher)
        .await
        .expect("the stuck client is dropped")
        .unwrap();
    assert!(
        previews > 0,
        "the observer kept receiving while the stuck client lagged"
    );

    // The room still works for everyone else.
    let seq = flooder
        .commit(add_stroke("after-flood", stroke("after", 1.0)))
        .await;
    assert_eq!(seq, 1);
    observer
        .recv_matching(|m| matches!(m, ServerMessage::Op { .. }))
        .await;

    // The stuck client finds a close frame asking it to reconnect.
    assert_eq!(stuck.closed().await, Some(close_code::TRY_AGAIN_LATER));
}

/// The body of `GET path` over plain HTTP/1.1.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn an_empty_board_is_unloaded_after_the_idle_timeout_and_reloads_intact() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(dir.path(), &[("WHITEBOARD_ROOM_IDLE_SECS", "1")]);
    let board = board_id("idle");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    alice.commit(add_stroke("op1", stroke("s1", 1.0))).await;
    alice.commit(add_stroke("op2", stroke("s2", 2.0))).await;
    assert!(http_get(server.addr, "/healthz").contains("open boards: 1"));
    alice.close().await;

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !http_get(server.addr, "/healthz").contains("open boards: 0") {
        assert!(
            std::time::Instant::now() < deadline,
            "the empty board stayed loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (mut alice, welcome) = Client::join(server.addr, &board, "alice", None).await;
    let ids: Vec<String> = board_from_welcome(&welcome)
        .visible_strokes()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, vec!["s1", "s2"]);
    // Undo history came back with it.
    alice
        .commit(ClientMessage::Undo {
            op_id: op_id("op3"),
        })
        .await;
}

/// A shape of `kind` from (x, y) to (x + 50, y + 40).
fn shape(id: &str, kind: StrokeKind, x: f32, y: f32) -> Stroke {
    let mut shape = stroke(id, y);
    shape.kind = kind;
    shape.points = vec![
        Point::new(x, y, Point::DEFAULT_PRESSURE),
        Point::new(x + 50.0, y + 40.0, Point::DEFAULT_PRESSURE),
    ];
    shape
}

#[tokio::test]
async fn shapes_and_texts_are_stored_stacked_on_top_and_reloaded() {
    let (_dir, server) = start_server();
    let board = board_id("shapes");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let mut text = shape("t1", StrokeKind::Text, 0.0, 0.0);
    text.points.truncate(1);
    text.text = Some("<script>alert(1)</script>\nline two".into());
    text.font_size = Some(24.0);
    let mut filled = shape("r1", StrokeKind::Rectangle, 10.0, 10.0);
    filled.fill = Some(Color::parse("#ffec99").unwrap());
    filled.opacity = 0.6;
    alice.commit(add_stroke("o1", filled.clone())).await;
    alice
        .commit(ClientMessage::AddStrokes {
            op_id: op_id("o2"),
            strokes: vec![
                text.clone(),
                shape("e1", StrokeKind::Ellipse, 100.0, 0.0),
                shape("a1", StrokeKind::Arrow, 0.0, 100.0),
            ],
        })
        .await;
    alice.close().await;

    let (_bob, welcome) = Client::join(server.addr, &board, "bob", None).await;
    let board = board_from_welcome(&welcome);
    let shown: Vec<&Stroke> = board.visible_strokes().collect();
    let ids: Vec<&str> = shown.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["r1", "t1", "e1", "a1"]);
    let zs: Vec<f64> = shown.iter().map(|s| s.z).collect();
    assert_eq!(
        zs,
        [1.0, 2.0, 3.0, 4.0],
        "the server stacks new items on top"
    );
    assert_eq!(shown[1].text, text.text, "text is stored as it was sent");
    assert_eq!(
        (shown[0].fill.clone(), shown[0].opacity),
        (filled.fill, 0.6)
    );
}

#[tokio::test]
async fn a_move_reaches_others_and_its_undo_restores_the_position() {
    let (_dir, server) = start_server();
    let board = board_id("move");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    alice
        .commit(add_stroke(
            "o1",
            shape("r1", StrokeKind::Rectangle, 0.0, 0.0),
        ))
        .await;
    let ops = bob.ops_until(1).await;
    let Change::AddStroke { stroke: stored } = &ops[0].change else {
        panic!("unexpected {:?}", ops[0].change);
    };

    // While dragging, Bob sees the draft; the move itself is an operation.
    let moved = stored.translated(100.0, 0.0);
    alice
        .send(&ClientMessage::Draft {
            strokes: vec![moved.clone()],
        })
        .await;
    let draft = bob
        .recv_matching(|m| matches!(m, ServerMessage::Draft { .. }))
        .await;
    assert!(
        matches!(draft, ServerMessage::Draft { author, strokes } if author.as_str() == "alice" && strokes == vec![moved.clone()])
    );
    alice
        .commit(ClientMessage::Update {
            op_id: op_id("o2"),
            strokes: vec![moved.clone()],
        })
        .await;
    alice.send(&ClientMessage::DraftEnd).await;
    let ops = bob.ops_until(2).await;
    assert!(
        matches!(&ops[0].change, Change::Update { strokes } if strokes == &vec![moved.clone()])
    );
    bob.recv_matching(|m| matches!(m, ServerMessage::DraftEnd { .. }))
        .await;

    // Bob cannot undo Alice's move; Alice can.
    bob.send(&ClientMessage::Undo { op_id: op_id("b1") }).await;
    let refused = bob
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&refused), ErrorCode::Rejected);
    alice
        .commit(ClientMessage::Undo { op_id: op_id("o3") })
        .await;
    let ops = bob.ops_until(3).await;
    match &ops[0].change {
        Change::Undo { set, .. } => assert_eq!(set, &vec![stored.clone()]),
        other => panic!("unexpected {other:?}"),
    }

    // An update of a stroke that is not there, or that changes its kind, is refused.
    let mut other_kind = stored.translated(1.0, 0.0);
    other_kind.kind = StrokeKind::Ellipse;
    for strokes in [
        vec![shape("ghost", StrokeKind::Line, 0.0, 0.0)],
        vec![other_kind],
    ] {
        alice
            .send(&ClientMessage::Update {
                op_id: op_id("bad"),
                strokes,
            })
            .await;
        let refused = alice
            .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
            .await;
        assert_eq!(error_code(&refused), ErrorCode::Rejected);
    }
}

#[tokio::test]
async fn cursors_and_names_reach_others_and_leave_with_their_person() {
    let (_dir, server) = start_server();
    let board = board_id("cursors");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    alice
        .send(&ClientMessage::Profile {
            name: "Alice Liddell".into(),
        })
        .await;
    let named = |m: &ServerMessage| {
        matches!(m, ServerMessage::Presence { people, .. }
            if people.iter().any(|p| p.user.as_str() == "alice" && p.name == "Alice Liddell"))
    };
    bob.recv_matching(named).await;
    alice
        .send(&ClientMessage::Cursor { x: 12.5, y: -4.0 })
        .await;
    let cursor = bob
        .recv_matching(|m| matches!(m, ServerMessage::Cursor { .. }))
        .await;
    assert!(
        matches!(cursor, ServerMessage::Cursor { author, x, y } if author.as_str() == "alice" && x == 12.5 && y == -4.0)
    );

    // A name that is too long or has control characters is refused.
    alice
        .send_raw(r#"{"type":"profile","name":"bad\u0007name"}"#)
        .await;
    let refused = alice
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&refused), ErrorCode::Invalid);

    // A draft in progress ends for everyone when its author leaves.
    alice
        .send(&ClientMessage::Draft {
            strokes: vec![shape("d1", StrokeKind::Ellipse, 0.0, 0.0)],
        })
        .await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Draft { .. }))
        .await;
    alice.close().await;
    bob.recv_matching(
        |m| matches!(m, ServerMessage::DraftEnd { author } if author.as_str() == "alice"),
    )
    .await;
    bob.recv_matching(
        |m| matches!(m, ServerMessage::Presence { count: 1, people } if people.len() == 1),
    )
    .await;
}

/// The value of one series in `GET /metrics`, e.g. `whiteboard_connections`
/// or `whiteboard_frames_sent_total{lane="ephemeral"}`.
fn metric(addr: std::net::SocketAddr, series: &str) -> f64 {
    let body = http_get(addr, "/metrics");
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{body}"))
}

#[tokio::test]
async fn metrics_count_connections_boards_frames_and_store_appends() {
    let (_dir, server) = start_server();
    let response = http_get(server.addr, "/metrics");
    assert!(
        response.contains("application/openmetrics-text"),
        "{response}"
    );
    assert_eq!(metric(server.addr, "whiteboard_connections"), 0.0);
    assert_eq!(metric(server.addr, "whiteboard_open_boards"), 0.0);

    let board = board_id("metrics");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    let live = stroke("live", 5.0);
    alice.send(&preview_of(&live, 3)).await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Preview { .. }))
        .await;
    alice.commit(add_stroke("op1", live)).await;

    assert_eq!(metric(server.addr, "whiteboard_connections"), 2.0);
    assert_eq!(metric(server.addr, "whiteboard_open_boards"), 1.0);
    let received = |lane: &str| {
        metric(
            server.addr,
            &format!("whiteboard_frames_received_total{{lane=\"{lane}\"}}"),
        )
    };
    let sent = |lane: &str| {
        metric(
            server.addr,
            &format!("whiteboard_frames_sent_total{{lane=\"{lane}\"}}"),
        )
    };
    assert_eq!(received("ephemeral"), 1.0, "one preview");
    assert_eq!(received("durable"), 1.0, "one stroke");
    assert_eq!(received("control"), 2.0, "two hellos");
    assert_eq!(sent("ephemeral"), 1.0, "the preview, to Bob only");
    // Two welcomes, the op to both and Alice's ack.
    assert_eq!(sent("durable"), 5.0);
    assert_eq!(
        metric(server.addr, "whiteboard_store_append_seconds_count"),
        1.0
    );
    assert_eq!(metric(server.addr, "whiteboard_clients_dropped_total"), 0.0);

    alice.close().await;
    bob.close().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metric(server.addr, "whiteboard_connections") != 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connections not counted down"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_silent_connection_is_taken_for_dead_and_leaves_the_board() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    // Pings every 2 s; silent for two of them, a connection is closed.
    let server = ServerProcess::start_with(dir.path(), &[("WHITEBOARD_LIVENESS_SECS", "6")]);
    let board = board_id("liveness");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let started = Instant::now();
    // Joins, then never reads again: it never answers the server's pings.
    let (_silent, _) = Client::join(server.addr, &board, "silent", None).await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 2, .. }))
        .await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 1, .. }))
        .await;
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(7)).contains(&waited),
        "gone within the liveness time (6 s, and a little for a loaded machine), \
         not before two pings went unanswered (4 s): {waited:?}"
    );
    // Alice reads (so answers the pings) and stays well past that time.
    let until = tokio::time::Instant::now() + Duration::from_secs(7);
    while let Some(received) = alice
        .try_recv_within(until - tokio::time::Instant::now())
        .await
    {
        assert!(
            matches!(received, Received::Message(_)),
            "alice was closed: {received:?}"
        );
    }
    assert_eq!(
        alice.commit(add_stroke("op1", stroke("still", 1.0))).await,
        1
    );
}

#[tokio::test]
async fn a_flooding_sender_is_dropped_alone_then_closed_while_a_reader_keeps_everything() {
    let (_dir, mut server) = start_server();
    let board = board_id("flood");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    // Far more cursors than a second's budget, as fast as the socket takes
    // them, never reading.
    let cursor = ClientMessage::Cursor { x: 1.0, y: 2.0 }.encode();
    for _ in 0..5_000 {
        if !mallory.try_send_raw(&cursor).await {
            break;
        }
    }
    // Mallory is told, then closed for staying over budget.
    let mut told = false;
    let code = loop {
        match mallory.recv().await {
            Received::Message(ServerMessage::Error { code, .. }) => {
                told |= code == ErrorCode::RateLimited
            }
            Received::Message(_) => {}
            Received::Closed(code) => break code,
        }
    };
    assert!(told, "a rate_limited error came first");
    assert_eq!(code, Some(close_code::POLICY_VIOLATION));
    // Alice read nothing meanwhile, yet was relayed only the budget's
    // worth (a few hundred cursors, within her queue) and is still here:
    // her stroke reaches bob.
    alice.send(&add_stroke("after", stroke("after", 1.0))).await;
    let mut cursors = 0;
    loop {
        match alice.recv_message().await {
            ServerMessage::Cursor { .. } => cursors += 1,
            ServerMessage::Ack { .. } => break,
            _ => {}
        }
    }
    assert!((100..=600).contains(&cursors), "{cursors} cursors relayed");
    bob.recv_matching(|m| matches!(m, ServerMessage::Op { op } if op.op_id.as_str() == "after"))
        .await;
    assert!(server.is_running());
}

#[tokio::test]
async fn durable_requests_over_budget_are_refused_by_name_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    // 5 a second, bursts of 50.
    let server = ServerProcess::start_with(dir.path(), &[("WHITEBOARD_DURABLE_PER_SEC", "5")]);
    let board = board_id("durable-budget");
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    let sent = 80;
    for i in 0..sent {
        mallory
            .send(&add_stroke(
                &format!("o{i}"),
                stroke(&format!("s{i}"), i as f32),
            ))
            .await;
    }
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < sent {
        match mallory.recv_message().await {
            ServerMessage::Ack { op_id, .. } => acked.push(op_id),
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                op_id: Some(op_id),
                ..
            } => limited.push(op_id),
            ServerMessage::Error { code, .. } => panic!("unexpected error {code:?}"),
            _ => {}
        }
    }
    // About the burst went through (a little more refilled meanwhile),
    // every other request was refused by name.
    assert!((50..60).contains(&acked.len()), "{} acked", acked.len());
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    assert_eq!(board_from_welcome(&welcome).seq(), acked.len() as u64);
    // A refused one, resent later, is stored.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let again = limited[0]
        .as_str()
        .trim_start_matches('o')
        .parse::<u32>()
        .unwrap();
    mallory
        .commit(add_stroke(
            limited[0].as_str(),
            stroke(&format!("s{again}"), 1.0),
        ))
        .await;
}

#[tokio::test]
async fn one_address_holds_only_so_many_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start_with(dir.path(), &[("WHITEBOARD_CONNECTIONS_PER_ADDRESS", "3")]);
    let board = board_id("addresses");
    let mut held = Vec::new();
    for name in ["a", "b", "c"] {
        held.push(Client::join(server.addr, &board, name, None).await.0);
    }
    let url = format!("ws://{}/ws/{board}", server.addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!(
            "a fourth connection was not refused: {:?}",
            other.map(|_| ())
        ),
    }
    // One goes; a new one may come.
    held.pop().expect("held").close().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(&url).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A join turned away: the error it got (no `op_id`) and the close code.
async fn turned_away(
    addr: std::net::SocketAddr,
    board: &BoardId,
    name: &str,
) -> (ErrorCode, Option<u16>) {
    let mut client = Client::open(addr, board, user(name)).await;
    client
        .send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            user: client.user.clone(),
            last_seq: None,
            name: None,
            view: None,
        })
        .await;
    match client.recv_message().await {
        ServerMessage::Error {
            code, op_id: None, ..
        } => (code, client.closed().await),
        other => panic!("{name} was not turned away: {other:?}"),
    }
}

#[tokio::test]
async fn boards_and_instances_hold_only_so_much() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(
        dir.path(),
        &[
            ("WHITEBOARD_BOARD_ITEMS", "3"),
            ("WHITEBOARD_PEOPLE_PER_BOARD", "2"),
            ("WHITEBOARD_OPEN_BOARDS", "2"),
        ],
    );
    let board = board_id("limits-full");
    let (mut ada, _) = Client::join(server.addr, &board, "ada", None).await;
    for i in 0..3 {
        ada.commit(add_stroke(
            &format!("o{i}"),
            stroke(&format!("s{i}"), i as f32),
        ))
        .await;
    }
    // A fourth item is refused by name; cleaning up still works, and an
    // erased item still counts (undo can bring it back).
    let refused_fourth = |message: &ServerMessage| matches!(message, ServerMessage::Error { code: ErrorCode::LimitReached, op_id: Some(id), .. } if id.as_str() == "o3");
    ada.send(&add_stroke("o3", stroke("s3", 3.0))).await;
    let refusal = ada
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. } | ServerMessage::Ack { .. }))
        .await;
    assert!(refused_fourth(&refusal), "{refusal:?}");
    ada.commit(ClientMessage::Erase {
        op_id: op_id("e0"),
        stroke_ids: vec![StrokeId::parse("s0").unwrap()],
    })
    .await;
    ada.send(&add_stroke("o3", stroke("s3", 3.0))).await;
    let refusal = ada
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. } | ServerMessage::Ack { .. }))
        .await;
    assert!(refused_fourth(&refusal), "{refusal:?}");

    // Two people: a third is turned away, another tab of one of them is not.
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    assert_eq!(
        turned_away(server.addr, &board, "cy").await,
        (ErrorCode::LimitReached, Some(close_code::TRY_AGAIN_LATER))
    );
    let (_ada_again, welcome) = Client::join(server.addr, &board, "ada", None).await;
    assert_eq!(board_from_welcome(&welcome).seq(), 4);

    // Two boards open: a third is not opened while they are.
    let (_dee, _) = Client::join(server.addr, &board_id("limits-other"), "dee", None).await;
    assert_eq!(
        turned_away(server.addr, &board_id("limits-third"), "eve").await,
        (ErrorCode::LimitReached, Some(close_code::TRY_AGAIN_LATER))
    );
    // Those on the full board were not disturbed.
    ada.commit(ClientMessage::Undo { op_id: op_id("u0") }).await;
    bob.ops_until(5).await;
}

/// The HTTP status of a WebSocket upgrade sent with this `Origin`.
async fn upgrade_status(addr: std::net::SocketAddr, board: &BoardId, origin: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws/{board}")
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_socket, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("upgrade failed: {other}"),
    }
}

#[tokio::test]
async fn sockets_open_only_from_allowed_pages_and_pages_carry_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(
        dir.path(),
        &[("WHITEBOARD_ALLOWED_ORIGINS", "https://app.example")],
    );
    let board = board_id("origins");
    let own = format!("http://{}", server.addr);
    assert_eq!(upgrade_status(server.addr, &board, Some(&own)).await, 101);
    assert_eq!(
        upgrade_status(server.addr, &board, Some("https://app.example")).await,
        101
    );
    assert_eq!(
        upgrade_status(server.addr, &board, None).await,
        101,
        "not a browser"
    );
    for foreign in ["https://evil.example", "null", "http://localhost:1"] {
        assert_eq!(
            upgrade_status(server.addr, &board, Some(foreign)).await,
            403,
            "{foreign}"
        );
    }

    let page = http_get(server.addr, &format!("/b/{board}"));
    let (head, body) = page.split_once("\r\n\r\n").expect("a response");
    let head = head.to_ascii_lowercase();
    for header in [
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "x-frame-options: deny",
    ] {
        assert!(head.contains(header), "{header} missing from\n{head}");
    }
    let policy = head
        .lines()
        .find_map(|line| line.strip_prefix("content-security-policy: "))
        .expect("a content security policy");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    // Its nonce is the one on the page's inline scripts, and new each time.
    let nonce = body
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("inline scripts carry a nonce");
    assert!(
        policy.contains(&format!("'nonce-{}'", nonce.to_ascii_lowercase())),
        "{policy} / {nonce}"
    );
    assert!(!http_get(server.addr, &format!("/b/{board}")).contains(nonce));
}
