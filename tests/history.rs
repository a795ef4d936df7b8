//! History over real sockets (protocol version 4): what `history` lists,
//! what `board_at` reads back, and a restore seen by everyone, including a
//! client that speaks version 3. Times and names survive a restart.

mod common;

use common::*;
use tokio_tungstenite::tungstenite::Message;
use whiteboard::protocol::{
    packed, BoardSnapshot, Change, ChangeKind, ClientMessage, ErrorCode, HistoryEntry,
    ServerMessage, PROTOCOL_VERSION,
};

/// Connects and says hello with a display name, speaking `protocol`.
async fn join_named(
    addr: std::net::SocketAddr,
    board: &whiteboard::protocol::BoardId,
    user_name: &str,
    name: &str,
    protocol: u32,
) -> Client {
    let mut client = Client::open(addr, board, user(user_name)).await;
    client
        .send(&ClientMessage::Hello {
            protocol,
            user: client.user.clone(),
            last_seq: None,
            name: Some(name.to_owned()),
            view: None,
            key: None,
        })
        .await;
    client
        .recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    client
}

async fn history_page(client: &mut Client, before: Option<u64>, limit: u32) -> Vec<HistoryEntry> {
    client.send(&ClientMessage::History { before, limit }).await;
    match client
        .recv_matching(|m| {
            matches!(
                m,
                ServerMessage::History { .. } | ServerMessage::Error { .. }
            )
        })
        .await
    {
        ServerMessage::History { entries } => entries,
        other => panic!("expected a history page, got {other:?}"),
    }
}

/// Reads the board as it was after `seq`: the `version` message, then its
/// snapshot in binary frames.
async fn version(client: &mut Client, seq: u64) -> BoardSnapshot {
    client.send(&ClientMessage::BoardAt { seq }).await;
    let ServerMessage::Version {
        seq: read,
        packed_snapshot,
        snapshot_parts,
    } = client
        .recv_matching(|m| {
            matches!(
                m,
                ServerMessage::Version { .. } | ServerMessage::Error { .. }
            )
        })
        .await
    else {
        panic!("expected a version");
    };
    assert_eq!(read, seq);
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < packed_snapshot {
        match client.next_frame().await {
            Message::Binary(part) => bytes.extend_from_slice(&part),
            other => panic!("expected the version's snapshot, got {other:?}"),
        }
    }
    packed::assemble(&bytes, &snapshot_parts).expect("the version decodes")
}

fn visible_ids(snapshot: &BoardSnapshot) -> Vec<&str> {
    snapshot
        .strokes
        .iter()
        .filter(|s| s.visible)
        .map(|s| s.stroke.id.as_str())
        .collect()
}

#[tokio::test]
async fn history_lists_who_did_what_and_when_and_reads_any_version_back() {
    let (dir, mut server) = start_server();
    let board = board_id("history-lists");
    // Before the room opens: its clock starts later.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut ada = join_named(server.addr, &board, "ada", "Ada", PROTOCOL_VERSION).await;
    for (n, y) in [(1, 0.0), (2, 10.0), (3, 20.0)] {
        ada.commit(add_stroke(&format!("a{n}"), stroke(&format!("s{n}"), y)))
            .await;
    }
    ada.commit(ClientMessage::NameVersion {
        op_id: op_id("n1"),
        name: "three lines".into(),
    })
    .await;
    ada.commit(ClientMessage::Erase {
        op_id: op_id("e1"),
        stroke_ids: vec![stroke("s1", 0.0).id],
    })
    .await;

    let entries = history_page(&mut ada, None, 100).await;
    let kinds: Vec<ChangeKind> = entries.iter().map(|e| e.kind).collect();
    use ChangeKind::*;
    assert_eq!(kinds, [AddStroke, AddStroke, AddStroke, NameVersion, Erase]);
    assert_eq!(entries[3].label.as_deref(), Some("three lines"));
    assert!(entries.iter().all(|e| e.name.as_deref() == Some("Ada")));
    assert!(
        entries
            .iter()
            .all(|e| e.at >= started && e.at < started + 60_000),
        "{started}: {entries:?}"
    );
    assert!(entries.windows(2).all(|w| w[0].at <= w[1].at));
    // Pages go back from `before`.
    let older = history_page(&mut ada, Some(4), 2).await;
    let seqs: Vec<u64> = older.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);

    // Whole operations to replay, from any point.
    ada.send(&ClientMessage::Ops { after: 2, limit: 2 }).await;
    let ServerMessage::Ops { ops } = ada
        .recv_matching(|m| matches!(m, ServerMessage::Ops { .. }))
        .await
    else {
        unreachable!("an ops answer");
    };
    let seqs: Vec<u64> = ops.iter().map(|op| op.seq).collect();
    assert_eq!(seqs, [3, 4]);
    assert!(matches!(&ops[1].change, Change::NameVersion { name } if name == "three lines"));
    ada.send(&ClientMessage::Ops {
        after: 5,
        limit: 10,
    })
    .await;
    let past_the_end = ada
        .recv_matching(|m| matches!(m, ServerMessage::Ops { .. }))
        .await;
    assert_eq!(past_the_end, ServerMessage::Ops { ops: Vec::new() });

    assert_eq!(visible_ids(&version(&mut ada, 2).await), ["s1", "s2"]);
    assert_eq!(visible_ids(&version(&mut ada, 5).await), ["s2", "s3"]);
    assert!(visible_ids(&version(&mut ada, 0).await).is_empty());
    // A version the board never was is refused.
    ada.send(&ClientMessage::BoardAt { seq: 6 }).await;
    let refusal = ada
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&refusal), ErrorCode::Invalid);

    // Times and names are stored with the operations.
    ada.close().await;
    assert!(server.stop());
    let restarted = ServerProcess::start(dir.path());
    let mut bob = join_named(restarted.addr, &board, "bob", "Bob", PROTOCOL_VERSION).await;
    assert_eq!(history_page(&mut bob, None, 100).await, entries);
}

#[tokio::test]
async fn a_restore_is_seen_by_everyone_and_a_version_3_client_sees_an_undo() {
    let (_dir, server) = start_server();
    let board = board_id("history-restore");
    let mut ada = join_named(server.addr, &board, "ada", "Ada", PROTOCOL_VERSION).await;
    let mut old = join_named(server.addr, &board, "old", "Old", 3).await;
    for n in 1..=3 {
        ada.commit(add_stroke(
            &format!("a{n}"),
            stroke(&format!("s{n}"), n as f32),
        ))
        .await;
    }
    ada.send(&ClientMessage::Restore {
        op_id: op_id("r1"),
        seq: 1,
    })
    .await;
    let ops = ada.ops_until(4).await;
    let restored = ops.last().unwrap();
    let Change::Restore { version, hide, .. } = &restored.change else {
        panic!("{restored:?}");
    };
    assert_eq!(*version, 1);
    assert_eq!(hide.len(), 2);
    let old_ops = old.ops_until(4).await;
    assert!(
        matches!(&old_ops[3].change, Change::Undo { target: 0, hide, .. } if hide.len() == 2),
        "{:?}",
        old_ops[3]
    );
    // Whoever joins now sees the version restored; its author can undo it.
    let (_carol, welcome) = Client::join(server.addr, &board, "carol", None).await;
    let shown: Vec<String> = board_from_welcome(&welcome)
        .visible_strokes()
        .map(|s| s.id.as_str().to_owned())
        .collect();
    assert_eq!(shown, ["s1"]);
    ada.send(&ClientMessage::Undo { op_id: op_id("u1") }).await;
    let undo = ada.ops_until(5).await;
    assert!(
        matches!(&undo[..], [op] if matches!(&op.change, Change::Undo { target: 4, show, .. } if show.len() == 2))
    );
    // Restoring the version the board already is changes nothing.
    ada.send(&ClientMessage::Restore {
        op_id: op_id("r2"),
        seq: 5,
    })
    .await;
    let refusal = ada
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert_eq!(error_code(&refusal), ErrorCode::Rejected);
}

#[tokio::test]
async fn history_older_than_the_days_kept_is_forgotten_when_the_board_opens() {
    use std::sync::Arc;
    use whiteboard::board::Board;
    use whiteboard::protocol::Operation;
    use whiteboard::server::redb_store::RedbStore;
    use whiteboard::server::store::Store;

    // Ten operations made in 2020, with a snapshot kept for history every 3.
    let dir = tempfile::tempdir().unwrap();
    let board = board_id("history-days");
    {
        let store = RedbStore::open(dir.path()).unwrap().with_history_every(3);
        let mut stored = Board::new();
        for n in 1..=10u64 {
            let op = Operation {
                seq: n,
                author: user("ada"),
                op_id: op_id(&format!("a{n}")),
                at: 1_580_000_000_000 + n * 1_000,
                name: None,
                change: Change::AddStroke {
                    stroke: stroke(&format!("s{n}"), n as f32),
                },
            };
            store
                .append(&board, std::slice::from_ref(&op))
                .await
                .unwrap();
            stored.apply(&op);
            store
                .save_snapshot(&board, Arc::new(stored.clone()))
                .await
                .unwrap();
        }
        store.flush().await.unwrap();
    }
    let server = ServerProcess::start_with(
        dir.path(),
        &[
            ("WHITEBOARD_HISTORY_DAYS", "1"),
            ("WHITEBOARD_HISTORY_SNAPSHOT_OPS", "3"),
        ],
    );
    let mut ada = join_named(server.addr, &board, "ada", "Ada", PROTOCOL_VERSION).await;

    // Forgetting runs beside the room, once it opened: everything up to the
    // newest history snapshot before the cutoff (9) goes.
    let mut refused = None;
    for _ in 0..50 {
        ada.send(&ClientMessage::BoardAt { seq: 8 }).await;
        match ada
            .recv_matching(|m| {
                matches!(
                    m,
                    ServerMessage::Version { .. } | ServerMessage::Error { .. }
                )
            })
            .await
        {
            ServerMessage::Error { code, message, .. } => {
                refused = Some((code, message));
                break;
            }
            ServerMessage::Version {
                packed_snapshot, ..
            } => {
                // Not forgotten yet: its frames, then ask again later.
                let mut read = 0;
                while read < packed_snapshot {
                    if let Message::Binary(part) = ada.next_frame().await {
                        read += part.len() as u64;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("expected a version or a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        refused,
        Some((
            ErrorCode::Invalid,
            "that version of the board is no longer kept".to_owned()
        ))
    );
    // From the snapshot kept on, every version reads back, and the board
    // is as it was.
    assert_eq!(version(&mut ada, 9).await.strokes.len(), 9);
    assert_eq!(version(&mut ada, 10).await.strokes.len(), 10);
    let listed = history_page(&mut ada, None, 100).await;
    assert_eq!(listed.iter().map(|e| e.seq).collect::<Vec<_>>(), [10]);
}

#[tokio::test]
async fn a_version_4_client_reads_image_items_back_as_placeholders() {
    let (_dir, server) = start_server();
    let board = board_id("history-images");
    let mut ada = join_named(server.addr, &board, "ada", "Ada", PROTOCOL_VERSION).await;
    let mut old = join_named(server.addr, &board, "old", "Old", 4).await;
    let mut image = stroke("img", 0.0);
    image.kind = whiteboard::protocol::StrokeKind::Image;
    image.points = vec![
        whiteboard::protocol::Point::new(0.0, 0.0, 0.5),
        whiteboard::protocol::Point::new(320.0, 240.0, 0.5),
    ];
    image.image = Some(whiteboard::image::ImageId::from_digest(&[3; 32]));
    ada.commit(add_stroke("a1", image.clone())).await;
    ada.commit(add_stroke("a2", stroke("s2", 9.0))).await;

    let kind_at = |snapshot: &BoardSnapshot| snapshot.strokes[0].stroke.kind;
    assert_eq!(
        kind_at(&version(&mut ada, 1).await),
        whiteboard::protocol::StrokeKind::Image
    );
    let seen = version(&mut old, 1).await;
    assert_eq!(kind_at(&seen), whiteboard::protocol::StrokeKind::Rectangle);
    assert_eq!(seen.strokes[0].stroke.image, None);
    old.send(&ClientMessage::Ops { after: 0, limit: 2 }).await;
    let ServerMessage::Ops { ops } = old
        .recv_matching(|m| matches!(m, ServerMessage::Ops { .. }))
        .await
    else {
        unreachable!()
    };
    let Change::AddStroke { stroke } = &ops[0].change else {
        panic!("{:?}", ops[0]);
    };
    assert_eq!(stroke.kind, whiteboard::protocol::StrokeKind::Rectangle);
    assert_eq!(stroke.points, image.points);
}
