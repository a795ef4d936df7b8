//! Hostile clients against the real server binary, over real sockets:
//! garbage, floods, frames too large to read, clients that never read or
//! fall silent, one address holding too many connections, boards and
//! instances at their limits, pages of other sites, a client that opens
//! ten thousand previews, a view link's client trying every change, and
//! editors whose edit link was rotated. Each test checks that the
//! well-behaved clients on the same board receive everything and stay
//! connected.

mod common;

use common::*;
use whiteboard::protocol::{
    close_code, limits, BoardId, ClientMessage, ErrorCode, OpId, ServerMessage, StrokeId,
    PROTOCOL_VERSION,
};

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
    let cursor = ClientMessage::Cursor {
        x: 1.0,
        y: 2.0,
        laser: false,
    }
    .encode();
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
            key: None,
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

#[tokio::test]
async fn ten_thousand_preview_ids_then_leaving_disturbs_nobody() {
    let dir = tempfile::tempdir().unwrap();
    // A budget of 5,000 frames a second: what is tested is the bound on
    // open previews (at the default 240 ten thousand would take a minute).
    let server = ServerProcess::start_with(dir.path(), &[("WHITEBOARD_EPHEMERAL_PER_SEC", "5000")]);
    let board = board_id("preview-ids");
    let mut readers = Vec::new();
    for name in ["r1", "r2", "r3", "r4", "r5"] {
        readers.push(Client::join(server.addr, &board, name, None).await.0);
    }
    let (mut mallory, _) = Client::join(server.addr, &board, "mallory", None).await;
    let ids = 10_000;
    let (readers_done, mut readers) = {
        // Readers read everything as it comes, as browsers do, counting
        // what they get until mallory has gone and a stroke arrives.
        let (done, finished) = tokio::sync::mpsc::channel(readers.len());
        for mut reader in readers.drain(..) {
            let done = done.clone();
            tokio::spawn(async move {
                let (mut previews, mut ends) = (0, 0);
                loop {
                    match reader.recv().await {
                        Received::Message(ServerMessage::Preview { .. }) => previews += 1,
                        Received::Message(ServerMessage::PreviewEnd { .. }) => ends += 1,
                        Received::Message(ServerMessage::Op { .. }) => break,
                        Received::Message(_) => {}
                        Received::Closed(code) => panic!("a reader was closed ({code:?})"),
                    }
                }
                let _ = done.send((previews, ends)).await;
            });
        }
        (done, finished)
    };
    drop(readers_done);
    let line = |i: usize| {
        let mut drawn = stroke(&format!("m{i}"), i as f32);
        drawn.points.truncate(2);
        preview_of(&drawn, 2).encode()
    };
    // 2,000 a second, within the budget: readers get two frames for each
    // (the preview, and the end of the one it pushed out).
    for i in 0..ids {
        assert!(mallory.try_send_raw(&line(i)).await, "mallory was cut off");
        if i % 100 == 99 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    mallory.close().await;
    // Once mallory has left (after everything it sent), a stroke from
    // someone else.
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 6, .. }))
        .await;
    alice
        .commit(add_stroke("after", stroke("after", 1.0)))
        .await;
    // The room relayed the previews it took (a live frame finding the
    // room's queue full is dropped, so not always all) to every reader;
    // each one past the eighth ended the oldest open one, and leaving ended
    // at most the eight still open: not ten thousand, which would overflow
    // every reader's queue and close it. And every reader got the stroke.
    for _ in 0..5 {
        let (previews, ends) = readers.recv().await.expect("every reader reports");
        assert!(previews > ids / 2, "{previews} of {ids} previews relayed");
        let evicted = previews - limits::MAX_OPEN_PREVIEWS;
        assert!(
            (evicted..=previews).contains(&ends),
            "{ends} preview ends for {previews} previews"
        );
    }
}

#[tokio::test]
async fn a_viewer_watches_live_but_every_change_it_tries_is_refused() {
    let (_dir, server) = start_server();
    let board = board_id("view-only");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    alice.commit(add_stroke("a1", stroke("s1", 1.0))).await;

    // The view link's token: made once, the same the next time.
    let path = format!("/b/{board}/view-link");
    let (status, body) = http_post(server.addr, &path, None);
    assert_eq!(status, 200, "{body}");
    let token = json_field(&body, "token");
    assert_eq!(token.len(), 22);
    assert!(!token.contains(board.as_str()));
    assert_eq!(http_post(server.addr, &path, None).1, body);

    // A viewer joins through it: the board as it is, then live.
    let url = format!("ws://{}/ws/v/{token}", server.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut viewer = Client::from_socket(ws, user("vera"));
    viewer.hello(None).await;
    let welcome = viewer
        .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    assert_eq!(board_from_welcome(&welcome).seq(), 1);
    // It never learns the board's id: that would let it edit.
    assert!(matches!(
        welcome,
        ServerMessage::Welcome { board: None, .. }
    ));
    let presence = alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 2, .. }))
        .await;
    let ServerMessage::Presence { people, .. } = presence else {
        unreachable!()
    };
    assert!(people.iter().any(|p| p.user.as_str() == "vera" && p.viewer));
    assert!(people
        .iter()
        .any(|p| p.user.as_str() == "alice" && !p.viewer));

    // Every durable request is refused by name; drawing in progress too.
    let s1 = StrokeId::parse("s1").unwrap();
    let tries = [
        add_stroke("v1", stroke("v1", 2.0)),
        ClientMessage::AddStrokes {
            op_id: op_id("v2"),
            strokes: vec![stroke("v2", 3.0)],
        },
        ClientMessage::Update {
            op_id: op_id("v3"),
            strokes: vec![stroke("s1", 9.0)],
        },
        ClientMessage::Erase {
            op_id: op_id("v4"),
            stroke_ids: vec![s1.clone()],
        },
        ClientMessage::Clear { op_id: op_id("v5") },
        ClientMessage::Undo { op_id: op_id("v6") },
        ClientMessage::Redo { op_id: op_id("v7") },
        ClientMessage::Restore {
            op_id: op_id("v9"),
            seq: 0,
        },
        ClientMessage::NameVersion {
            op_id: op_id("v10"),
            name: "mine".into(),
        },
    ];
    for attempt in &tries {
        viewer.send(attempt).await;
        match viewer
            .recv_matching(|m| matches!(m, ServerMessage::Error { .. } | ServerMessage::Ack { .. }))
            .await
        {
            ServerMessage::Error {
                code: ErrorCode::Forbidden,
                op_id: Some(refused),
                ..
            } => assert_eq!(Some(&refused), attempt.op_id()),
            other => panic!("{attempt:?} was not refused: {other:?}"),
        }
    }
    // Nor may it draw, or bring everyone to its view.
    for ephemeral in [preview_of(&stroke("v8", 1.0), 2), ClientMessage::Summon] {
        viewer.send(&ephemeral).await;
        assert_eq!(
            error_code(
                &viewer
                    .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
                    .await
            ),
            ErrorCode::Forbidden,
            "{ephemeral:?}"
        );
    }
    // It may follow someone, and be followed.
    viewer
        .send(&ClientMessage::Follow {
            user: Some(user("alice")),
        })
        .await;
    alice
        .recv_matching(|m| {
            matches!(m, ServerMessage::Presence { people, .. }
                if people.iter().any(|p| p.user.as_str() == "vera"
                    && p.following.as_ref().is_some_and(|f| f.as_str() == "alice")))
        })
        .await;
    let area = whiteboard::geometry::Rect::from_corners((0.0, 0.0), (640.0, 480.0));
    viewer.send(&ClientMessage::View { area }).await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::View { author, area: seen } if author.as_str() == "vera" && *seen == area))
        .await;
    // It may look back: history reads pass.
    viewer
        .send(&ClientMessage::History {
            before: None,
            limit: 10,
        })
        .await;
    let page = viewer
        .recv_matching(|m| {
            matches!(
                m,
                ServerMessage::History { .. } | ServerMessage::Error { .. }
            )
        })
        .await;
    assert!(
        matches!(&page, ServerMessage::History { entries } if entries.len() == 1),
        "{page:?}"
    );
    // Its cursor is shown.
    viewer
        .send(&ClientMessage::Cursor {
            x: 5.0,
            y: 6.0,
            laser: false,
        })
        .await;
    alice
        .recv_matching(
            |m| matches!(m, ServerMessage::Cursor { author, .. } if author.as_str() == "vera"),
        )
        .await;

    // Nothing changed; the viewer still sees alice's next stroke live.
    alice.commit(add_stroke("a2", stroke("s2", 2.0))).await;
    let op = viewer.ops_until(2).await;
    assert_eq!(op.last().map(|op| op.op_id.as_str()), Some("a2"));
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    assert_eq!(board_from_welcome(&welcome).seq(), 2);
    assert!(matches!(&welcome, ServerMessage::Welcome { board: Some(id), .. } if *id == board));

    // A token no board has: told so, and closed for good.
    for unknown in ["A".repeat(22), "short".to_owned()] {
        let url = format!("ws://{}/ws/v/{unknown}", server.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut stranger = Client::from_socket(ws, user("stranger"));
        assert_eq!(
            error_code(&stranger.recv_message().await),
            ErrorCode::Forbidden
        );
        assert_eq!(stranger.closed().await, Some(close_code::NO_ACCESS));
    }
}

#[tokio::test]
async fn a_rotated_edit_link_lets_go_of_everyone_who_came_with_the_old_one() {
    let (_dir, server) = start_server();
    let board = board_id("rotated");
    let (mut alice, _) = Client::join(server.addr, &board, "alice", None).await;
    alice.commit(add_stroke("a1", stroke("s1", 1.0))).await;
    let token = json_field(
        &http_post(server.addr, &format!("/b/{board}/view-link"), None).1,
        "token",
    );
    let url = format!("ws://{}/ws/v/{token}", server.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
    let mut viewer = Client::from_socket(ws, user("vera"));
    viewer.hello(None).await;
    viewer
        .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;

    // Anyone who knows the board's id may rotate it, once.
    let rotate = format!("/b/{board}/edit-link");
    let (status, body) = http_post(server.addr, &rotate, None);
    assert_eq!(status, 200, "{body}");
    let key = json_field(&body, "key");
    assert_eq!(key.len(), 22);

    // Alice came with the old link: told, closed, and gone from the list.
    assert_eq!(
        error_code(
            &alice
                .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(alice.closed().await, Some(close_code::NO_ACCESS));
    viewer
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 1, .. }))
        .await;

    // The old link opens nothing, and changes nothing over HTTP either.
    let mut mallory = Client::open(server.addr, &board, user("mallory")).await;
    mallory.hello(None).await;
    assert_eq!(
        error_code(&mallory.recv_message().await),
        ErrorCode::Forbidden
    );
    assert_eq!(mallory.closed().await, Some(close_code::NO_ACCESS));
    let wrong = "B".repeat(22);
    for stale in [None, Some(wrong.as_str())] {
        assert_eq!(http_post(server.addr, &rotate, stale).0, 403);
        let view_link = format!("/b/{board}/view-link");
        assert_eq!(http_post(server.addr, &view_link, stale).0, 403);
    }

    // The new one edits; the view link still watches.
    let mut bob = Client::open(server.addr, &board, user("bob")).await;
    bob.hello_with_key(None, Some(&key)).await;
    let welcome = bob
        .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    assert_eq!(board_from_welcome(&welcome).seq(), 1);
    bob.commit(add_stroke("b1", stroke("s2", 2.0))).await;
    viewer.ops_until(2).await;
    let (status, body) = http_post(server.addr, &format!("/b/{board}/view-link"), Some(&key));
    assert_eq!((status, json_field(&body, "token")), (200, token));

    // Rotated again by bob: he is let go too (his page reconnects with the
    // key it was given).
    let (status, body) = http_post(server.addr, &rotate, Some(&key));
    assert_eq!(status, 200, "{body}");
    assert_ne!(json_field(&body, "key"), key);
    assert_eq!(bob.closed().await, Some(close_code::NO_ACCESS));

    // Each of those requests may write to the store: an address that keeps
    // asking (ten at once, then thirty a minute) is refused.
    let statuses: Vec<u16> = (0..5)
        .map(|_| http_post(server.addr, &format!("/b/{board}/view-link"), None).0)
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}
