//! Several server instances sharing Redis and MongoDB behave as one.
//!
//! Needs the Redis and MongoDB-protocol servers that `scripts/test.sh`
//! starts; each test skips with a message when they are not there.

mod common;

use common::*;
use whiteboard::board::Board;
use whiteboard::protocol::{
    close_code, BoardId, Change, ClientMessage, ErrorCode, OpId, ServerMessage, StrokeId,
};
use whiteboard::server::mongo_store::MongoStore;
use whiteboard::server::store::Store;

/// Two instances on one Redis and one fresh MongoDB database.
struct Cluster {
    _dirs: Vec<tempfile::TempDir>,
    instances: Vec<ServerProcess>,
    mongodb_uri: String,
    database: String,
}

impl Cluster {
    fn start(name: &str, count: usize) -> Option<Self> {
        let (redis, mongodb_uri) = (redis_url()?, mongodb_uri()?);
        let database = unique_database(name);
        let mut dirs = Vec::new();
        let mut instances = Vec::new();
        for _ in 0..count {
            let dir = tempfile::tempdir().unwrap();
            let env = [
                ("REDIS_URL", redis.as_str()),
                ("MONGODB_URI", mongodb_uri.as_str()),
                ("MONGODB_DB", database.as_str()),
            ];
            instances.push(ServerProcess::start_with(dir.path(), &env));
            dirs.push(dir);
        }
        Some(Self {
            _dirs: dirs,
            instances,
            mongodb_uri,
            database,
        })
    }

    fn addr(&self, instance: usize) -> std::net::SocketAddr {
        self.instances[instance].addr
    }

    async fn stored_board(&self, board: &BoardId) -> Board {
        let store = MongoStore::connect(&self.mongodb_uri, &self.database)
            .await
            .unwrap();
        store.load(board).await.unwrap().into_board()
    }
}

/// A client with its own replica of the board, built only from what the
/// server sent it.
struct Replica {
    client: Client,
    board: Board,
    name: String,
    next_op: u64,
}

impl Replica {
    async fn join(
        addr: std::net::SocketAddr,
        board: &BoardId,
        name: &str,
        last: Option<Board>,
    ) -> Self {
        let last_seq = last.as_ref().map(Board::seq);
        let (client, welcome) = Client::join(addr, board, name, last_seq).await;
        let ServerMessage::Welcome { snapshot, ops, .. } = welcome else {
            unreachable!()
        };
        let mut replica = Self {
            client,
            board: match snapshot {
                Some(snapshot) => Board::from_snapshot(snapshot),
                None => last.expect("a welcome without snapshot answers a last_seq"),
            },
            name: name.to_owned(),
            next_op: 0,
        };
        for op in ops {
            replica.absorb(&ServerMessage::Op { op });
        }
        replica
    }

    /// Applies an operation, insisting on order: no gaps, duplicates ignored.
    fn absorb(&mut self, message: &ServerMessage) {
        if let ServerMessage::Op { op } = message {
            assert!(
                op.seq <= self.board.seq() + 1,
                "{} got operation {} after {}: a gap",
                self.name,
                op.seq,
                self.board.seq()
            );
            self.board.apply(op);
        }
    }

    fn fresh_op_id(&mut self) -> OpId {
        self.next_op += 1;
        OpId::parse(&format!("{}-{}", self.name, self.next_op)).unwrap()
    }

    /// Sends a durable request and waits for its ack or error.
    async fn request(&mut self, message: ClientMessage) -> Result<u64, ErrorCode> {
        let wanted = message
            .op_id()
            .unwrap_or_else(|| panic!("not durable: {message:?}"))
            .clone();
        self.client.send(&message).await;
        loop {
            let reply = self.client.recv_message().await;
            self.absorb(&reply);
            match reply {
                ServerMessage::Ack { op_id, seq } if op_id == wanted => return Ok(seq),
                ServerMessage::Error {
                    op_id: Some(op_id),
                    code,
                    ..
                } if op_id == wanted => return Err(code),
                _ => {}
            }
        }
    }

    /// Reads until the replica has applied operation `seq`.
    async fn sync_to(&mut self, seq: u64) {
        while self.board.seq() < seq {
            let message = self.client.recv_message().await;
            self.absorb(&message);
        }
    }
}

/// xorshift64*: a small deterministic generator, seeded per client.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// One client's random session: draw, erase, move, restack, undo, redo,
/// clear, preview.
async fn random_session(mut replica: Replica, seed: u64, steps: usize) -> (Replica, Vec<u64>) {
    let mut random = Random(seed | 1);
    let mut acknowledged = Vec::new();
    for step in 0..steps {
        let op_id = replica.fresh_op_id();
        let message = match random.below(23) {
            20..=22 => {
                // Move (and sometimes restack) a visible stroke, as the select tool does.
                let visible: Vec<_> = replica.board.visible_strokes().cloned().collect();
                if visible.is_empty() {
                    continue;
                }
                let target = &visible[random.below(visible.len() as u64) as usize];
                let mut moved = target.translated(random.below(40) as f32 - 20.0, 5.0);
                if random.below(2) == 0 {
                    moved.z = replica.board.top_z() + 1.0;
                }
                ClientMessage::Update {
                    op_id,
                    strokes: vec![moved],
                }
            }
            0..=9 => {
                let id = format!("{}-s{step}", replica.name);
                add_stroke(op_id.as_str(), stroke(&id, random.below(500) as f32))
            }
            10..=12 => {
                let visible: Vec<StrokeId> = replica
                    .board
                    .visible_strokes()
                    .map(|s| s.id.clone())
                    .collect();
                if visible.is_empty() {
                    continue;
                }
                let victim = visible[random.below(visible.len() as u64) as usize].clone();
                ClientMessage::Erase {
                    op_id,
                    stroke_ids: vec![victim],
                }
            }
            13..=14 => ClientMessage::Undo { op_id },
            15..=16 => ClientMessage::Redo { op_id },
            17 => ClientMessage::Clear { op_id },
            _ => {
                let live = stroke(&format!("{}-live{step}", replica.name), 1.0);
                replica
                    .client
                    .send(&ClientMessage::Preview {
                        stroke: live.id,
                        style: live.style,
                        points: live.points,
                    })
                    .await;
                continue;
            }
        };
        // Like the browser: a request the server could not store yet is
        // resent with the same op id until it is stored or refused.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match replica.request(message.clone()).await {
                Ok(seq) => acknowledged.push(seq),
                Err(ErrorCode::Rejected) => {} // Nothing to undo, already erased, ...
                Err(ErrorCode::StorageUnavailable) if attempts < 5 => continue,
                Err(other) => panic!("{}: unexpected refusal {other:?}", replica.name),
            }
            break;
        }
    }
    (replica, acknowledged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_on_two_instances_converge_on_one_board() {
    let Some(cluster) = Cluster::start("converge", 2) else {
        return;
    };
    let board = board_id("converge");
    let mut sessions = Vec::new();
    for i in 0..6 {
        let addr = cluster.addr(i % 2);
        let replica = Replica::join(addr, &board, &format!("c{i}"), None).await;
        sessions.push(tokio::spawn(random_session(
            replica,
            0x9e37_79b9 * (i as u64 + 1),
            25,
        )));
    }
    let mut replicas = Vec::new();
    let mut all_acknowledged = Vec::new();
    for session in sessions {
        let (replica, acknowledged) = session.await.unwrap();
        all_acknowledged.extend(acknowledged);
        replicas.push(replica);
    }
    // Every acknowledged operation has its own sequence number.
    all_acknowledged.sort_unstable();
    let count = all_acknowledged.len();
    all_acknowledged.dedup();
    assert_eq!(
        all_acknowledged.len(),
        count,
        "two requests were acknowledged under one seq"
    );
    let last = *all_acknowledged
        .last()
        .expect("some operations were acknowledged");

    for replica in &mut replicas {
        replica.sync_to(last).await;
    }
    let stored = cluster.stored_board(&board).await;
    assert_eq!(
        stored.seq(),
        last,
        "the store holds exactly the acknowledged operations"
    );
    for replica in &replicas {
        assert_eq!(
            replica.board.snapshot(),
            stored.snapshot(),
            "{} diverged",
            replica.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strokes_previews_and_presence_cross_instances() {
    let Some(cluster) = Cluster::start("cross", 2) else {
        return;
    };
    let board = board_id("cross");
    let (mut alice, _) = Client::join(cluster.addr(0), &board, "alice", None).await;
    let (mut bob, _) = Client::join(cluster.addr(1), &board, "bob", None).await;
    alice
        .recv_matching(|m| matches!(m, ServerMessage::Presence { count: 2, .. }))
        .await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Presence { count: 2, .. }))
        .await;

    // Names and cursors travel too.
    alice
        .send(&ClientMessage::Profile {
            name: "Alice".into(),
        })
        .await;
    bob.recv_matching(|m| {
        matches!(m, ServerMessage::Presence { people, .. }
            if people.iter().any(|p| p.user.as_str() == "alice" && p.name == "Alice"))
    })
    .await;
    alice
        .send(&ClientMessage::Cursor {
            x: 5.0,
            y: 6.0,
            laser: true,
        })
        .await;
    bob.recv_matching(
        |m| matches!(m, ServerMessage::Cursor { author, laser: true, .. } if author.as_str() == "alice"),
    )
    .await;
    // So do who follows whom, the leader's view and a summon.
    bob.send(&ClientMessage::Follow {
        user: Some(user("alice")),
    })
    .await;
    alice
        .recv_matching(|m| {
            matches!(m, ServerMessage::Presence { people, .. }
                if people.iter().any(|p| p.user.as_str() == "bob"
                    && p.following.as_ref().is_some_and(|f| f.as_str() == "alice")))
        })
        .await;
    let area = whiteboard::geometry::Rect::from_corners((-5.0, 0.0), (635.0, 480.0));
    alice.send(&ClientMessage::View { area }).await;
    bob.recv_matching(|m| matches!(m, ServerMessage::View { author, area: seen } if author.as_str() == "alice" && *seen == area))
        .await;
    alice.send(&ClientMessage::Summon).await;
    bob.recv_matching(
        |m| matches!(m, ServerMessage::Summon { author } if author.as_str() == "alice"),
    )
    .await;

    let live = stroke("live", 3.0);
    alice
        .send(&ClientMessage::Preview {
            stroke: live.id.clone(),
            style: live.style.clone(),
            points: live.points.clone(),
        })
        .await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Preview { stroke, .. } if *stroke == live.id))
        .await;

    let seq = alice.commit(add_stroke("a1", live.clone())).await;
    match bob
        .recv_matching(|m| matches!(m, ServerMessage::Op { .. }))
        .await
    {
        ServerMessage::Op { op } => assert_eq!(op.seq, seq),
        _ => unreachable!(),
    }
    // Bob's undo has nothing of his to take back; alice's does.
    bob.send(&ClientMessage::Undo {
        op_id: op_id("b-undo"),
    })
    .await;
    let refusal = bob
        .recv_matching(|m| matches!(m, ServerMessage::Error { .. }))
        .await;
    assert!(matches!(
        refusal,
        ServerMessage::Error {
            code: ErrorCode::Rejected,
            ..
        }
    ));

    alice.close().await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Presence { count: 1, .. }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_link_rotated_on_one_instance_lets_go_of_its_editors_on_the_other() {
    let Some(cluster) = Cluster::start("rotate", 2) else {
        return;
    };
    let board = board_id("rotate");
    let (mut alice, _) = Client::join(cluster.addr(1), &board, "alice", None).await;
    alice.commit(add_stroke("a1", stroke("s1", 1.0))).await;

    let (status, body) = http_post(cluster.addr(0), &format!("/b/{board}/edit-link"), None);
    assert_eq!(status, 200, "{body}");
    let key = json_field(&body, "key");
    assert_eq!(alice.closed().await, Some(close_code::NO_ACCESS));

    // On the other instance too, only the new key edits.
    let mut mallory = Client::open(cluster.addr(1), &board, user("mallory")).await;
    mallory.hello(None).await;
    assert_eq!(mallory.closed().await, Some(close_code::NO_ACCESS));
    let mut bob = Client::open(cluster.addr(1), &board, user("bob")).await;
    bob.hello_with_key(None, Some(&key)).await;
    bob.recv_matching(|m| matches!(m, ServerMessage::Welcome { .. }))
        .await;
    assert_eq!(bob.commit(add_stroke("b1", stroke("s2", 2.0))).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_on_one_instance_is_seen_listed_and_undone_on_the_other() {
    let Some(cluster) = Cluster::start("restore", 2) else {
        return;
    };
    let board = board_id("restore");
    let (mut alice, _) = Client::join(cluster.addr(0), &board, "alice", None).await;
    for n in 1..=3 {
        alice
            .commit(add_stroke(
                &format!("a{n}"),
                stroke(&format!("s{n}"), n as f32),
            ))
            .await;
    }
    // Bob, on the other instance, brings back version 1: his room reads it
    // from the shared store.
    let (mut bob, _) = Client::join(cluster.addr(1), &board, "bob", None).await;
    assert_eq!(
        bob.commit(ClientMessage::Restore {
            op_id: op_id("r1"),
            seq: 1,
        })
        .await,
        4
    );
    let seen = alice.ops_until(4).await;
    assert!(
        matches!(&seen.last().unwrap().change, Change::Restore { version: 1, hide, .. } if hide.len() == 2),
        "{seen:?}"
    );
    // Alice's instance lists it...
    alice
        .send(&ClientMessage::History {
            before: None,
            limit: 10,
        })
        .await;
    let ServerMessage::History { entries } = alice
        .recv_matching(|m| matches!(m, ServerMessage::History { .. }))
        .await
    else {
        unreachable!("a history page");
    };
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3].version, Some(1));
    assert!(entries.iter().all(|entry| entry.at > 0));
    // ...and Bob, come back through it, undoes his restore there.
    bob.close().await;
    let (mut bob, _) = Client::join(cluster.addr(0), &board, "bob", Some(4)).await;
    assert_eq!(
        bob.commit(ClientMessage::Undo { op_id: op_id("u1") }).await,
        5
    );
    let undone = alice.ops_until(5).await;
    assert!(
        matches!(&undone.last().unwrap().change, Change::Undo { target: 4, show, .. } if show.len() == 2),
        "{undone:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_the_other_instance_without_gaps_or_duplicates() {
    let Some(cluster) = Cluster::start("resume", 2) else {
        return;
    };
    let board = board_id("resume");
    let mut alice = Replica::join(cluster.addr(0), &board, "alice", None).await;
    for _ in 0..3 {
        let op_id = alice.fresh_op_id();
        let id = format!("first-{op_id}");
        alice
            .request(add_stroke(op_id.as_str(), stroke(&id, 1.0)))
            .await
            .unwrap();
    }
    let seen = alice.board.clone();
    alice.client.close().await;

    let mut bob = Replica::join(cluster.addr(1), &board, "bob", None).await;
    for _ in 0..4 {
        let op_id = bob.fresh_op_id();
        let id = format!("second-{op_id}");
        bob.request(add_stroke(op_id.as_str(), stroke(&id, 2.0)))
            .await
            .unwrap();
    }

    // Alice comes back through the other instance with her last seq.
    let (_client, welcome) = Client::join(cluster.addr(1), &board, "alice", Some(seen.seq())).await;
    let ServerMessage::Welcome { snapshot, ops, .. } = welcome else {
        unreachable!()
    };
    assert!(snapshot.is_none());
    let seqs: Vec<u64> = ops.iter().map(|op| op.seq).collect();
    assert_eq!(seqs, vec![4, 5, 6, 7]);
    let mut resumed = seen;
    for op in &ops {
        resumed.apply(op);
    }
    assert_eq!(resumed.snapshot(), bob.board.snapshot());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_operations_survive_kill_9_with_mongodb() {
    let Some(mut cluster) = Cluster::start("kill9", 1) else {
        return;
    };
    let board = board_id("kill9");
    let mut alice = Replica::join(cluster.addr(0), &board, "alice", None).await;
    let mut acknowledged = 0;
    for i in 0..8 {
        let op_id = alice.fresh_op_id();
        alice
            .request(add_stroke(op_id.as_str(), stroke(&format!("k{i}"), 1.0)))
            .await
            .unwrap();
        acknowledged += 1;
    }
    cluster.instances[0].kill();
    let stored = cluster.stored_board(&board).await;
    assert_eq!(stored.visible_strokes().count(), acknowledged);
    assert_eq!(stored.snapshot(), alice.board.snapshot());
}
