//! Integration tests: real WebSocket clients against the real server binary.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::Message;
use whiteboard::protocol::{
    close_code, packed, Change, ClientMessage, Color, ErrorCode, Point, ServerMessage, Stroke,
    StrokeId, StrokeKind, PROTOCOL_VERSION,
};

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
        .send_raw(r#"{"type":"hello","protocol":6,"user":"future"}"#)
        .await;
    match future.recv_message().await {
        ServerMessage::Error {
            code: ErrorCode::UnsupportedVersion,
            message,
            ..
        } => assert!(message.contains("1 to 5"), "{message}"),
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
        .send(&ClientMessage::Cursor {
            x: 12.5,
            y: -4.0,
            laser: true,
        })
        .await;
    let cursor = bob
        .recv_matching(|m| matches!(m, ServerMessage::Cursor { .. }))
        .await;
    assert!(
        matches!(cursor, ServerMessage::Cursor { author, x, y, laser: true } if author.as_str() == "alice" && x == 12.5 && y == -4.0)
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
async fn image_items_reach_version_5_as_they_are_and_older_clients_as_placeholders() {
    let (_dir, server) = start_server();
    let board = board_id("image-items");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    let (mut bob, _) = Client::join(server.addr, &board, "bob", None).await;
    let mut old = Client::open(server.addr, &board, user("old")).await;
    old.send_raw(r#"{"type":"hello","protocol":4,"user":"old"}"#)
        .await;
    old.recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;

    let id = "5a".repeat(32);
    let image = format!(
        r##"{{"id":"img","kind":"image","color":"#1e1e1e","width":2,"points":[[10,20,0.5],[330,260,0.5]],"image":"{id}"}}"##
    );
    alice
        .send_raw(&format!(
            r#"{{"type":"add_stroke","op_id":"op-img","stroke":{image}}}"#
        ))
        .await;
    let added = |message: ServerMessage| match message {
        ServerMessage::Op { op } => match op.change {
            Change::AddStroke { stroke } => stroke,
            other => panic!("expected the image added, got {other:?}"),
        },
        other => panic!("expected an op, got {other:?}"),
    };
    let is_op = |m: &ServerMessage| matches!(m, ServerMessage::Op { .. });
    let seen = added(bob.recv_matching(is_op).await);
    assert_eq!(seen.kind, StrokeKind::Image);
    assert_eq!(seen.image.as_ref().map(|i| i.as_str()), Some(id.as_str()));
    let placeholder = added(old.recv_matching(is_op).await);
    assert_eq!(placeholder.kind, StrokeKind::Rectangle);
    assert_eq!(placeholder.image, None);
    assert_eq!(placeholder.points, seen.points);
    assert_eq!(
        placeholder.fill.as_ref().map(Color::as_str),
        Some(whiteboard::protocol::IMAGE_PLACEHOLDER_FILL)
    );

    // An image id that is not one is refused before anything happens.
    let forged = image
        .replace(&id, "../../etc/passwd")
        .replace("img", "img2");
    alice
        .send_raw(&format!(
            r#"{{"type":"add_stroke","op_id":"op-forged","stroke":{forged}}}"#
        ))
        .await;
    match alice
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await
    {
        ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::Invalid),
        _ => unreachable!(),
    }
}
