//! `RoomState` against fakes: clients are plain bounded queues, the store
//! and the bus are whatever the test answers. Each test feeds events and
//! checks the frames clients got and the effects the task was asked for.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::geometry::Rect;
use crate::protocol::{packed, Color, Point, Stroke, StrokeStyle, PROTOCOL_VERSION};
use crate::server::bus::Envelope;

const ME: InstanceId = InstanceId(1);
/// Frames a fake client's queue holds.
const QUEUE: usize = 1024;
const OTHER: InstanceId = InstanceId(2);

fn board_id() -> BoardId {
    BoardId::parse("boardboardboard1").unwrap()
}

fn stroke(id: &str) -> Stroke {
    Stroke::freehand(
        StrokeId::parse(id).unwrap(),
        StrokeStyle {
            color: Color::parse("#000000").unwrap(),
            width: 2.0,
        },
        vec![Point::new(0.0, 0.0, 0.5), Point::new(10.0, 10.0, 0.5)],
    )
}

fn op_id(id: &str) -> OpId {
    OpId::parse(id).unwrap()
}

fn add(conn: ConnectionId, id: &str) -> Event {
    Event::Submit((
        conn,
        op_id(&format!("op-{id}")),
        Request::AddStroke(stroke(id)),
    ))
}

/// A board on which `author` drew `count` strokes, and its operations.
fn strokes_by(author: &str, count: usize) -> (Board, Vec<Operation>) {
    let mut board = Board::new();
    let author_id = UserId::parse(author).unwrap();
    let ops = (1..=count)
        .map(|i| {
            let id = format!("{author}{i}");
            board
                .commit(&author_id, &op_id(&id), Request::AddStroke(stroke(&id)))
                .unwrap()
        })
        .collect();
    (board, ops)
}

fn preview(id: &str) -> ClientMessage {
    ClientMessage::Preview {
        stroke: StrokeId::parse(id).unwrap(),
        style: StrokeStyle {
            color: Color::parse("#000000").unwrap(),
            width: 2.0,
        },
        points: vec![Point::new(1.0, 2.0, 0.5)],
    }
}

/// A room and a clock the test moves by hand.
struct Harness {
    room: RoomState,
    now: Instant,
}

/// A fake client: the receiving end of its queue.
struct Client {
    frames: mpsc::Receiver<Message>,
}

impl Client {
    /// Every frame queued for this client so far, decoded; a packed snapshot
    /// is put into the welcome before it, which must announce its size.
    fn received(&mut self) -> Vec<ServerMessage> {
        let mut messages = Vec::new();
        while let Ok(frame) = self.frames.try_recv() {
            match frame {
                Message::Text(text) => messages.push(ServerMessage::decode(&text).unwrap()),
                Message::Binary(bytes) => match messages.last_mut() {
                    Some(ServerMessage::Welcome {
                        snapshot,
                        packed_snapshot,
                        snapshot_parts,
                        ..
                    }) if *packed_snapshot == Some(bytes.len() as u64) => {
                        *snapshot = Some(match snapshot_parts.take() {
                            Some(sizes) => packed::assemble(&bytes, &sizes).unwrap(),
                            None => packed::decode(&bytes).unwrap(),
                        });
                        *packed_snapshot = None;
                    }
                    // (Snapshots of more than one frame: see `snapshot_chunks`.)
                    other => panic!("a packed snapshot after {other:?}"),
                },
                other => panic!("unexpected frame {other:?}"),
            }
        }
        messages
    }

    /// The frames queued so far, as they are.
    fn raw(&mut self) -> Vec<Message> {
        std::iter::from_fn(|| self.frames.try_recv().ok()).collect()
    }

    /// The `type` of each frame, for order checks.
    fn kinds(&mut self) -> Vec<&'static str> {
        self.received().iter().map(kind).collect()
    }
}

fn kind(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::Op { .. } => "op",
        ServerMessage::Ack { .. } => "ack",
        ServerMessage::Error { .. } => "error",
        ServerMessage::Presence { .. } => "presence",
        ServerMessage::Preview { .. } => "preview",
        ServerMessage::PreviewEnd { .. } => "preview_end",
        ServerMessage::Draft { .. } => "draft",
        ServerMessage::DraftEnd { .. } => "draft_end",
        ServerMessage::Cursor { .. } => "cursor",
        ServerMessage::Selection { .. } => "selection",
        ServerMessage::View { .. } => "view",
        ServerMessage::Summon { .. } => "summon",
        ServerMessage::History { .. } => "history",
        ServerMessage::Version { .. } => "version",
        ServerMessage::Ops { .. } => "ops",
    }
}

fn appended(effects: &[Effect]) -> Option<Vec<u64>> {
    effects.iter().find_map(|e| match e {
        Effect::Store(StoreJob::Append(ops)) => Some(ops.iter().map(|op| op.seq).collect()),
        _ => None,
    })
}

fn store_jobs(effects: &[Effect]) -> Vec<&StoreJob> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(job) => Some(job),
            _ => None,
        })
        .collect()
}

fn published(effects: &[Effect]) -> Vec<&Payload> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(payload) => Some(payload),
            _ => None,
        })
        .collect()
}

/// A joined client, the answer to its join, and the effects of the join.
type Joined = (
    Client,
    oneshot::Receiver<Result<(), ProtocolError>>,
    Vec<Effect>,
);

/// A join of `user` on connection `conn`, the client it makes and its
/// answer.
fn join_request(
    conn: ConnectionId,
    user: &str,
    last_seq: Option<u64>,
    protocol: u32,
) -> (
    JoinRequest,
    Client,
    oneshot::Receiver<Result<(), ProtocolError>>,
    JoinAnswer,
) {
    let (outbox, frames) = mpsc::channel(QUEUE);
    let (answer, answered) = oneshot::channel();
    let request = JoinRequest {
        conn,
        user: UserId::parse(user).unwrap(),
        name: user.to_owned(),
        last_seq,
        protocol,
        view: None,
        viewer: false,
        key: None,
        outbox,
    };
    (request, Client { frames }, answered, answer)
}

/// The wall clock when a test's room opens (2026-11-30, in milliseconds).
const OPENED_MS: u64 = 1_796_000_000_000;

impl Harness {
    fn new() -> Self {
        Self::with_board(Board::new())
    }

    fn with_board(board: Board) -> Self {
        let now = Instant::now();
        Self {
            room: RoomState::new(
                board_id(),
                ME,
                board,
                Duration::from_secs(30),
                BoardLimits::NONE,
                Access::default(),
                now,
                OPENED_MS,
            ),
            now,
        }
    }

    /// Handles `event` as the room's task does, encodings included (here
    /// made at once and handed back).
    fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = self.room.handle(self.now, event);
        while let Some(at) = effects
            .iter()
            .position(|effect| matches!(effect, Effect::Encode { .. }))
        {
            let Effect::Encode {
                board,
                format,
                epoch,
            } = effects.remove(at)
            else {
                unreachable!("an encoding");
            };
            let encoded = Encoded::new(&board, format, epoch);
            effects.extend(self.room.handle(self.now, Event::Encoded(encoded)));
        }
        effects
    }

    fn advance(&mut self, by: Duration) -> Vec<Effect> {
        self.now += by;
        self.handle(Event::Tick)
    }

    /// Joins a client with `last_seq`; returns it and the join's answer.
    fn join_with(&mut self, conn: ConnectionId, user: &str, last_seq: Option<u64>) -> Joined {
        self.join_speaking(conn, user, last_seq, PROTOCOL_VERSION)
    }

    /// Joins a client speaking protocol version `protocol`.
    fn join_speaking(
        &mut self,
        conn: ConnectionId,
        user: &str,
        last_seq: Option<u64>,
        protocol: u32,
    ) -> Joined {
        let (request, client, answered, answer) = join_request(conn, user, last_seq, protocol);
        let effects = self.handle(Event::Join(request, answer));
        (client, answered, effects)
    }

    /// Like [`Self::join_speaking`] without a snapshot, but encodings are
    /// left to the test (the effects say what was asked for).
    fn join_unencoded(&mut self, conn: ConnectionId, user: &str, protocol: u32) -> Joined {
        let (request, client, answered, answer) = join_request(conn, user, None, protocol);
        let effects = self.room.handle(self.now, Event::Join(request, answer));
        (client, answered, effects)
    }

    /// Joins a client, lets the people list go out (it is throttled) and
    /// drops the welcome and presence frames.
    fn join(&mut self, conn: ConnectionId, user: &str) -> Client {
        let (mut client, mut answered, _) = self.join_with(conn, user, None);
        assert!(matches!(answered.try_recv(), Ok(Ok(()))));
        self.advance(Duration::from_secs(1));
        client.received();
        client
    }

    /// Stores the append in flight and returns the effects.
    fn store_ok(&mut self) -> Vec<Effect> {
        self.handle(Event::Stored(StoreAnswer::Appended(Ok(()))))
    }

    fn drain(&mut self, clients: &mut [&mut Client]) {
        for client in clients {
            client.received();
        }
    }
}

#[test]
fn an_operation_is_seen_only_after_it_is_stored_and_its_ack_follows_it() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);

    let effects = h.handle(add(1, "s1"));
    assert_eq!(appended(&effects), Some(vec![1]));
    assert!(
        alice.received().is_empty(),
        "nothing before the store answers"
    );
    assert!(bob.received().is_empty());

    let effects = h.store_ok();
    assert_eq!(alice.kinds(), ["op", "ack"]);
    assert_eq!(bob.kinds(), ["op"]);
    assert!(matches!(published(&effects)[..], [Payload::Op(_)]));
}

#[test]
fn live_traffic_flows_while_the_store_is_busy_and_requests_queue_behind_it() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);

    h.handle(add(1, "s1"));
    // Bob draws while Alice's stroke is being stored: Alice sees it at once.
    let effects = h.handle(Event::Ephemeral(2, preview("b1")));
    assert_eq!(alice.kinds(), ["preview"]);
    assert!(matches!(published(&effects)[..], [Payload::Live(_)]));
    // Bob's stroke waits for the store (one job at a time)...
    let effects = h.handle(add(2, "s2"));
    assert!(store_jobs(&effects).is_empty());
    let effects = h.handle(add(2, "s3"));
    assert!(store_jobs(&effects).is_empty());
    // ...and both go in one append after the first (group commit).
    let effects = h.store_ok();
    assert_eq!(appended(&effects), Some(vec![2, 3]));
    h.store_ok();
    assert_eq!(bob.kinds(), ["op", "op", "ack", "op", "ack"]);
}

#[test]
fn an_end_waits_behind_the_connections_durable_requests_and_what_follows_it_waits_too() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);

    h.handle(Event::Ephemeral(
        1,
        ClientMessage::Draft {
            strokes: vec![stroke("s1")],
        },
    ));
    h.handle(add(1, "s1"));
    // The next stroke's preview need not wait for the last one to be stored.
    h.handle(Event::Ephemeral(1, preview("s2")));
    h.handle(Event::Ephemeral(1, ClientMessage::DraftEnd));
    h.handle(Event::Ephemeral(
        1,
        ClientMessage::Cursor {
            x: 1.0,
            y: 1.0,
            laser: false,
        },
    ));
    assert_eq!(
        bob.kinds(),
        ["draft", "preview"],
        "draft_end must not overtake the op"
    );
    h.store_ok();
    assert_eq!(bob.kinds(), ["op", "draft_end", "cursor"]);
}

#[test]
fn a_resend_is_acknowledged_again_not_applied_again() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    h.handle(add(1, "s1"));
    h.store_ok();
    alice.received();

    let effects = h.handle(add(1, "s1"));
    assert!(store_jobs(&effects).is_empty(), "nothing new to store");
    let received = alice.received();
    assert!(matches!(received[..], [ServerMessage::Ack { seq: 1, .. }]));
    assert_eq!(h.room.board().seq(), 1);
}

#[test]
fn a_lost_race_takes_the_batch_back_delivers_the_winner_and_retries() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    h.handle(add(1, "mine"));
    assert_eq!(h.room.board().seq(), 1, "applied speculatively");
    // Another instance stored seq 1 first.
    let effects = h.handle(Event::Stored(StoreAnswer::Appended(Err(
        StoreError::SequenceConflict { stored: 1, got: 1 },
    ))));
    assert!(store_jobs(&effects).is_empty(), "pauses, reloads nothing");
    assert_eq!(h.room.board().seq(), 0, "the batch is taken back");
    assert!(!h.room.board().contains(&StrokeId::parse("mine").unwrap()));
    assert!(alice.kinds().is_empty());

    let mut stored = Board::new();
    let winner = stored
        .commit(
            &UserId::parse("zoe").unwrap(),
            &op_id("z"),
            Request::AddStroke(stroke("theirs")),
        )
        .unwrap();
    let effects = h.advance(Duration::from_millis(MAX_RETRY_JITTER_MS + 1));
    assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after: 0 }]);
    let effects = h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(vec![winner]))));
    assert_eq!(appended(&effects), Some(vec![2]));
    assert_eq!(alice.kinds(), ["op"], "the winner's operation");
    h.store_ok();
    let received = alice.received();
    assert!(matches!(
        received[..],
        [ServerMessage::Op { .. }, ServerMessage::Ack { seq: 2, .. }]
    ));
    assert_eq!(h.room.board(), &stored_then_mine(stored));
}

/// `stored` with alice's stroke "mine" committed on top, as the room holds it.
fn stored_then_mine(mut stored: Board) -> Board {
    stored
        .commit(
            &UserId::parse("alice").unwrap(),
            &op_id("op-mine"),
            Request::AddStroke(stroke("mine")),
        )
        .unwrap();
    stored
}

#[test]
fn a_lost_race_takes_back_only_the_batch_that_lost() {
    let mut h = Harness::new();
    let _alice = h.join(1, "alice");
    h.handle(add(1, "kept"));
    h.store_ok();
    h.handle(add(1, "lost"));
    h.handle(Event::Stored(StoreAnswer::Appended(Err(
        StoreError::SequenceConflict { stored: 2, got: 2 },
    ))));
    assert_eq!(h.room.board().seq(), 1);
    assert!(h.room.board().contains(&StrokeId::parse("kept").unwrap()));
    assert!(!h.room.board().contains(&StrokeId::parse("lost").unwrap()));
}

#[test]
fn a_batch_that_keeps_losing_is_refused_except_what_got_stored() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    h.handle(add(1, "mine"));
    for attempt in 1..=MAX_ATTEMPTS {
        h.handle(Event::Stored(StoreAnswer::Appended(Err(
            StoreError::SequenceConflict { stored: 1, got: 1 },
        ))));
        let effects = h.advance(Duration::from_millis(MAX_RETRY_JITTER_MS + 1));
        let after = h.room.board().seq();
        assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after }]);
        // Someone else won again.
        let mut theirs = h.room.board().clone();
        let op = theirs
            .commit(
                &UserId::parse("zoe").unwrap(),
                &op_id(&format!("z{attempt}")),
                Request::AddStroke(stroke(&format!("theirs{attempt}"))),
            )
            .unwrap();
        let effects = h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(vec![op]))));
        let asked = appended(&effects);
        assert_eq!(asked.is_some(), attempt < MAX_ATTEMPTS, "attempt {attempt}");
    }
    let kinds = alice.kinds();
    assert_eq!(kinds.len(), MAX_ATTEMPTS + 1, "{kinds:?}");
    assert!(kinds[..MAX_ATTEMPTS].iter().all(|k| *k == "op"));
    assert_eq!(kinds[MAX_ATTEMPTS], "error");
    assert_eq!(h.room.board().seq(), MAX_ATTEMPTS as u64);
}

#[test]
fn an_outage_holds_requests_turns_joins_away_and_stores_them_in_order_later() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);

    h.handle(add(1, "s1"));
    let effects = h.handle(Event::Stored(StoreAnswer::Appended(Err(
        StoreError::Backend("down".into()),
    ))));
    assert_eq!(store_jobs(&effects), [&StoreJob::Reload { base_seq: 0 }]);
    h.handle(Event::Stored(StoreAnswer::Reloaded(Err(
        StoreError::Backend("down".into()),
    ))));
    assert_eq!(h.room.held(), 1);

    // Held, unanswered; live traffic still flows; joins are turned away.
    let effects = h.handle(add(2, "s2"));
    assert!(store_jobs(&effects).is_empty());
    assert_eq!(h.room.held(), 2);
    h.handle(Event::Ephemeral(2, preview("p")));
    assert_eq!(alice.kinds(), ["preview"]);
    let (_carol, mut answered, _) = h.join_with(3, "carol", None);
    assert!(matches!(answered.try_recv(), Ok(Err(_))));

    // Two seconds later the room tries to reload; the store is back.
    let effects = h.advance(Duration::from_secs(2));
    assert_eq!(store_jobs(&effects), [&StoreJob::Reload { base_seq: 0 }]);
    let effects = h.handle(Event::Stored(StoreAnswer::Reloaded(Ok((
        Board::new(),
        Vec::new(),
    )))));
    assert_eq!(
        appended(&effects),
        Some(vec![1, 2]),
        "held requests, in order, in one append"
    );
    h.store_ok();
    assert_eq!(h.room.held(), 0);
    assert_eq!(alice.kinds(), ["op", "ack", "op"]);
    assert_eq!(bob.kinds(), ["op", "op", "ack"]);
}

#[test]
fn version_2_gets_the_snapshot_packed_after_its_welcome_and_version_1_as_json() {
    let (board, _) = strokes_by("alice", 3);
    let expected = board.snapshot();
    let mut h = Harness::with_board(board);
    let (mut old, _, _) = h.join_speaking(1, "old", None, 1);
    let (mut new, _, _) = h.join_speaking(2, "new", None, 2);
    let (mut newer, _, _) = h.join_speaking(3, "newer", None, 2);

    let old_frames = old.raw();
    assert!(old_frames.iter().all(|f| matches!(f, Message::Text(_))));
    let Message::Text(welcome) = &old_frames[0] else {
        unreachable!()
    };
    match ServerMessage::decode(welcome).unwrap() {
        ServerMessage::Welcome {
            protocol: 1,
            snapshot: Some(snapshot),
            packed_snapshot: None,
            ..
        } => assert_eq!(snapshot, expected),
        other => panic!("expected a JSON snapshot, got {other:?}"),
    }

    let packed_of = |client: &mut Client| match &client.raw()[..2] {
        [Message::Text(welcome), Message::Binary(bytes)] => {
            let welcome = ServerMessage::decode(welcome).unwrap();
            assert!(matches!(
                welcome,
                ServerMessage::Welcome {
                    protocol: 2,
                    snapshot: None,
                    packed_snapshot: Some(len),
                    ..
                } if len == bytes.len() as u64
            ));
            bytes.clone()
        }
        other => panic!("expected a welcome and a packed snapshot, got {other:?}"),
    };
    let packed = packed_of(&mut new);
    assert_eq!(packed::decode(&packed).unwrap(), expected);
    // Encoded once for both: the same bytes, not a copy.
    assert_eq!(packed_of(&mut newer).as_ptr(), packed.as_ptr());
}

#[test]
fn a_big_packed_snapshot_is_sliced_into_frames_that_fit_the_queue() {
    let frames = |len: usize| {
        let bytes = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
        let chunks: Vec<Bytes> = snapshot_chunks(bytes.clone()).collect();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(joined, bytes, "the frames concatenate to the snapshot");
        // Slices of the shared bytes, not copies.
        let at = chunks
            .last()
            .map(|c| c.as_ptr() as usize - bytes.as_ptr() as usize);
        assert_eq!(at, len.checked_sub(chunks.last().map_or(0, Bytes::len)));
        chunks.iter().map(Bytes::len).collect::<Vec<_>>()
    };
    assert_eq!(frames(100), [100]);
    assert_eq!(frames(SNAPSHOT_FRAME_BYTES), [SNAPSHOT_FRAME_BYTES]);
    assert_eq!(
        frames(2 * SNAPSHOT_FRAME_BYTES + 1),
        [SNAPSHOT_FRAME_BYTES, SNAPSHOT_FRAME_BYTES, 1]
    );
    // A board too big for that many frames of the usual size.
    let huge = MAX_SNAPSHOT_FRAMES * SNAPSHOT_FRAME_BYTES * 3 + 7;
    let frames = huge.div_ceil(snapshot_frame_bytes(huge));
    assert!(frames <= MAX_SNAPSHOT_FRAMES, "{frames} frames");
}

#[test]
fn parts_go_out_in_whole_frames_gathered_from_pieces_and_sliced_from_long_runs() {
    let body = Bytes::from(
        (0..4 * SNAPSHOT_FRAME_BYTES)
            .map(|i| i as u8)
            .collect::<Vec<_>>(),
    );
    let plan = |header: &[u8], ranges: &[std::ops::Range<usize>]| PartPlan {
        header: header.to_vec(),
        ranges: ranges.to_vec(),
    };
    let big = SNAPSHOT_FRAME_BYTES;
    let plans = [
        plan(b"first", &[0..10, 100..big + 50]),
        plan(b"rest", &[2 * big..4 * big, 20..30]),
    ];
    let frames = part_frames(&plans, &body);
    let expected: Vec<u8> = plans
        .iter()
        .flat_map(|p| {
            let ranges = p.ranges.iter().flat_map(|r| body[r.clone()].to_vec());
            p.header.iter().copied().chain(ranges).collect::<Vec<_>>()
        })
        .collect();
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
    assert_eq!(joined, expected, "the frames concatenate to the parts");
    let sizes: Vec<usize> = frames.iter().map(Bytes::len).collect();
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&size| size == big),
        "{sizes:?}"
    );
    assert_eq!(frames.len(), expected.len().div_ceil(big));
    // A run of a frame or more goes out as slices of the body, not copies.
    let in_body = |frame: &Bytes| {
        let start = body.as_ptr() as usize;
        (start..start + body.len()).contains(&(frame.as_ptr() as usize))
    };
    assert_eq!(frames.iter().filter(|f| in_body(f)).count(), 1, "{sizes:?}");
}

#[test]
fn version_3_gets_its_view_first_from_one_encoding_shared_by_all() {
    let (board, _) = strokes_by("alice", 3);
    let expected = board.snapshot();
    let mut h = Harness::with_board(board);
    let join = |h: &mut Harness, conn: ConnectionId, view: Option<Rect>| {
        let (outbox, mut frames) = mpsc::channel(QUEUE);
        let (answer, _answered) = oneshot::channel();
        let request = JoinRequest {
            conn,
            user: UserId::parse(&format!("u{conn}")).unwrap(),
            name: String::new(),
            last_seq: None,
            protocol: 3,
            view,
            viewer: false,
            key: None,
            outbox,
        };
        h.handle(Event::Join(request, answer));
        std::iter::from_fn(|| frames.try_recv().ok()).collect::<Vec<_>>()
    };
    let parts_of = |frames: &[Message]| match frames {
        [Message::Text(welcome), Message::Binary(bytes), ..] => {
            let Ok(ServerMessage::Welcome {
                protocol: 3,
                packed_snapshot: Some(len),
                snapshot_parts: Some(parts),
                ..
            }) = ServerMessage::decode(welcome)
            else {
                panic!("a version 3 welcome: {welcome}");
            };
            assert_eq!(len, bytes.len() as u64);
            (parts, bytes.clone())
        }
        other => panic!("expected a welcome and a snapshot, got {other:?}"),
    };
    let (parts, bytes) = parts_of(&join(&mut h, 1, None));
    assert_eq!(parts.len(), 1);
    assert_eq!(packed::assemble(&bytes, &parts).unwrap(), expected);
    let away = Rect::from_corners((-5_000.0, -5_000.0), (-4_000.0, -4_000.0));
    let (parts, bytes) = parts_of(&join(&mut h, 2, Some(away)));
    assert_eq!(parts.len(), 2);
    let first = packed::decode_part(&bytes[..parts[0] as usize]).unwrap();
    assert!(first.strokes.is_empty(), "nothing paints there");
    assert_eq!(packed::assemble(&bytes, &parts).unwrap(), expected);
    let encoded = |h: &Harness| match h.room.encodings.get(Format::GroupedPlaceholders) {
        Some((_, Encoding::Grouped(grouped, _))) => Some(grouped),
        _ => None,
    };
    let shared = encoded(&h).expect("encoded once");
    join(&mut h, 3, Some(away));
    assert!(Arc::ptr_eq(&shared, &encoded(&h).unwrap()), "and shared");
}

#[test]
fn joins_wait_while_the_board_holds_an_unstored_operation() {
    let mut h = Harness::new();
    let _alice = h.join(1, "alice");
    h.handle(add(1, "s1"));
    let (mut bob, mut answered, _) = h.join_with(2, "bob", None);
    assert!(answered.try_recv().is_err(), "not answered yet");
    assert!(bob.received().is_empty());
    h.store_ok();
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    match &bob.received()[0] {
        ServerMessage::Welcome { seq, snapshot, .. } => {
            assert_eq!(*seq, 1);
            assert_eq!(snapshot.as_ref().map(|s| s.strokes.len()), Some(1));
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
}

#[test]
fn a_join_from_further_back_than_memory_is_answered_from_the_store() {
    let (board, ops) = strokes_by("alice", 3);
    let mut h = Harness::with_board(board);
    let (mut alice, mut answered, effects) = h.join_with(1, "alice", Some(1));
    assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after: 1 }]);
    h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(ops[1..].to_vec()))));
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    match &alice.received()[0] {
        ServerMessage::Welcome {
            ops,
            snapshot: None,
            ..
        } => {
            assert_eq!(ops.iter().map(|op| op.seq).collect::<Vec<_>>(), [2, 3]);
        }
        other => panic!("expected a welcome with operations, got {other:?}"),
    }
}

#[test]
fn relayed_operations_apply_in_order_and_a_gap_is_read_from_the_store_once() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let (_, ops) = strokes_by("zoe", 4);
    let relay = |op: &Operation| {
        Event::Bus(BusEvent::Frame(Envelope {
            origin: OTHER,
            payload: Payload::Op(encode(&ServerMessage::Op { op: op.clone() })),
        }))
    };
    h.handle(relay(&ops[0]));
    assert_eq!(alice.kinds(), ["op"]);
    // 2 is lost; 3 and 4 reveal the gap, which is read once.
    let first = h.handle(relay(&ops[2]));
    assert_eq!(store_jobs(&first), [&StoreJob::OpsAfter { after: 1 }]);
    let second = h.handle(relay(&ops[3]));
    assert!(store_jobs(&second).is_empty(), "one read for the gap");
    h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(ops[1..].to_vec()))));
    assert_eq!(alice.kinds(), ["op", "op", "op"]);
    assert_eq!(h.room.board().seq(), 4);
}

#[test]
fn ephemeral_frames_from_the_bus_reach_clients_as_they_came_and_own_echoes_do_not() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let frame = Frame::from(r#"{"type":"cursor","author":"zoe","x":1.0,"y":2.0}"#);
    h.handle(Event::Bus(BusEvent::Frame(Envelope {
        origin: OTHER,
        payload: Payload::Live(frame.clone()),
    })));
    h.handle(Event::Bus(BusEvent::Frame(Envelope {
        origin: ME,
        payload: Payload::Live(frame),
    })));
    assert_eq!(alice.kinds(), ["cursor"]);
}

#[test]
fn a_lagging_subscription_reads_the_store_at_most_once_a_second() {
    let mut h = Harness::new();
    let _alice = h.join(1, "alice");
    let effects = h.handle(Event::Bus(BusEvent::Lagged(500)));
    assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after: 0 }]);
    h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(Vec::new()))));
    let effects = h.handle(Event::Bus(BusEvent::Lagged(500)));
    assert!(store_jobs(&effects).is_empty());
    h.now += LAG_CATCH_UP_INTERVAL;
    let effects = h.handle(Event::Bus(BusEvent::Lagged(1)));
    assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after: 0 }]);
}

#[test]
fn people_on_other_instances_count_until_their_roster_expires() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let roster = Roster {
        people: vec![Person {
            user: UserId::parse("zoe").unwrap(),
            name: "Zoe".into(),
            viewer: false,
            following: None,
        }],
        seq: 0,
    };
    h.handle(Event::Bus(BusEvent::Frame(Envelope {
        origin: OTHER,
        payload: Payload::Roster(roster),
    })));
    let counts = |client: &mut Client| -> Vec<u32> {
        client
            .received()
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Presence { count, .. } => Some(count),
                _ => None,
            })
            .collect()
    };
    h.advance(Duration::from_secs(1));
    assert_eq!(counts(&mut alice), [2]);
    h.advance(ROSTER_TTL + ROSTER_INTERVAL);
    assert_eq!(counts(&mut alice), [1]);
}

#[test]
fn a_client_that_leaves_mid_stroke_has_its_preview_ended_for_everyone() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let _bob = h.join(2, "bob");
    alice.received();
    h.handle(Event::Ephemeral(2, preview("b1")));
    h.handle(Event::Leave(2));
    assert_eq!(alice.kinds(), ["preview", "preview_end", "presence"]);
}

#[test]
fn a_client_keeps_at_most_a_few_previews_open_and_leaving_ends_only_those() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let _bob = h.join(2, "bob");
    alice.received();
    let opened = limits::MAX_OPEN_PREVIEWS + 5;
    for i in 0..opened {
        h.handle(Event::Ephemeral(2, preview(&format!("b{i}"))));
    }
    // Each preview past the limit ended bob's oldest for everyone first.
    let ended: Vec<String> = alice
        .received()
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::PreviewEnd { stroke, .. } => Some(stroke.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ended, ["b0", "b1", "b2", "b3", "b4"]);
    // More of an open one is no new preview.
    h.handle(Event::Ephemeral(2, preview(&format!("b{}", opened - 1))));
    assert_eq!(alice.kinds(), ["preview"]);
    // One preview grows to a stroke's points at most; more is not relayed.
    let long = |points: usize| ClientMessage::Preview {
        stroke: StrokeId::parse("long").unwrap(),
        style: StrokeStyle {
            color: Color::parse("#000000").unwrap(),
            width: 2.0,
        },
        points: vec![Point::new(1.0, 2.0, 0.5); points],
    };
    let batches = limits::MAX_STROKE_POINTS / limits::MAX_PREVIEW_POINTS;
    for _ in 0..batches {
        h.handle(Event::Ephemeral(2, long(limits::MAX_PREVIEW_POINTS)));
    }
    let relayed = alice.kinds().iter().filter(|k| **k == "preview").count();
    assert_eq!(relayed, batches);
    h.handle(Event::Ephemeral(2, long(limits::MAX_PREVIEW_POINTS)));
    assert!(alice.kinds().is_empty(), "past a stroke's points");
    h.handle(Event::Leave(2));
    let ends = alice
        .kinds()
        .iter()
        .filter(|k| **k == "preview_end")
        .count();
    assert_eq!(ends, limits::MAX_OPEN_PREVIEWS);
}

#[test]
fn a_client_whose_queue_is_full_is_dropped_and_others_go_on() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    // Bob never reads: his queue fills up.
    let _bob = h.join(2, "bob");
    alice.received();
    for i in 0..=QUEUE {
        h.handle(Event::Ephemeral(
            1,
            ClientMessage::Cursor {
                x: i as f32,
                y: 0.0,
                laser: false,
            },
        ));
    }
    h.advance(Duration::from_secs(1));
    // Alice sees Bob leave; the room goes on without him.
    let presence = alice.received().into_iter().rev().find_map(|m| match m {
        ServerMessage::Presence { count, .. } => Some(count),
        _ => None,
    });
    assert_eq!(presence, Some(1));
}

#[test]
fn an_empty_room_closes_after_the_idle_timeout_and_snapshots_only_what_is_stored() {
    let mut h = Harness::new();
    let _alice = h.join(1, "alice");
    h.handle(add(1, "s1"));
    h.handle(Event::Leave(1));
    h.now += Duration::from_secs(31);
    assert!(!h.room.should_close(h.now), "an append is in flight");
    assert!(h.room.closing_snapshot().is_none());
    h.store_ok();
    assert!(h.room.should_close(h.now));
    assert_eq!(h.room.closing_snapshot().map(Board::seq), Some(1));
}

#[test]
fn people_lists_are_throttled_while_a_crowd_arrives() {
    let mut h = Harness::new();
    let mut first = h.join(1, "first");
    let mut others = Vec::new();
    for conn in 2..=50 {
        let (client, _, _) = h.join_with(conn, &format!("p{conn}"), None);
        others.push(client);
    }
    let lists = |client: &mut Client| {
        client
            .received()
            .into_iter()
            .filter(|m| matches!(m, ServerMessage::Presence { .. }))
            .count()
    };
    assert_eq!(
        lists(&mut first),
        1,
        "one list for the first arrival, then a pause"
    );
    let effects = h.advance(PRESENCE_INTERVAL);
    assert_eq!(
        lists(&mut first),
        1,
        "then one list for everyone who came meanwhile"
    );
    let rosters = published(&effects)
        .into_iter()
        .filter(|p| matches!(p, Payload::Roster(r) if r.people.len() == 50))
        .count();
    assert_eq!(rosters, 1);
}

#[test]
fn a_selection_goes_to_the_others_with_its_author() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);
    let ids = vec![
        StrokeId::parse("s1").unwrap(),
        StrokeId::parse("s2").unwrap(),
    ];
    h.handle(Event::Ephemeral(
        1,
        ClientMessage::Selection { ids: ids.clone() },
    ));
    assert_eq!(
        bob.received(),
        [ServerMessage::Selection {
            author: UserId::parse("alice").unwrap(),
            ids,
        }]
    );
    assert!(alice.kinds().is_empty(), "not sent back to its author");
}

#[test]
fn who_follows_whom_is_in_the_people_list_and_views_and_summons_are_relayed() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);
    let user = |id: &str| UserId::parse(id).unwrap();
    let following = |client: &mut Client| {
        client
            .received()
            .into_iter()
            .filter_map(|m| match m {
                ServerMessage::Presence { people, .. } => Some(
                    people
                        .into_iter()
                        .map(|p| (p.user.as_str().to_owned(), p.following))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .last()
    };
    h.handle(Event::Ephemeral(
        2,
        ClientMessage::Follow {
            user: Some(user("alice")),
        },
    ));
    h.advance(PRESENCE_INTERVAL);
    let expected = vec![
        ("alice".to_owned(), None),
        ("bob".to_owned(), Some(user("alice"))),
    ];
    assert_eq!(following(&mut alice), Some(expected.clone()));
    assert_eq!(following(&mut bob), Some(expected));

    // The leader's view goes to the others with its author.
    let area = crate::geometry::Rect::from_corners((-10.0, 0.0), (790.0, 600.0));
    h.handle(Event::Ephemeral(1, ClientMessage::View { area }));
    assert_eq!(
        bob.received(),
        [ServerMessage::View {
            author: user("alice"),
            area,
        }]
    );
    assert!(alice.kinds().is_empty(), "not sent back to its author");
    h.handle(Event::Ephemeral(1, ClientMessage::Summon));
    assert_eq!(
        bob.received(),
        [ServerMessage::Summon {
            author: user("alice"),
        }]
    );

    // Following oneself is following nobody; so is following none.
    h.handle(Event::Ephemeral(
        2,
        ClientMessage::Follow {
            user: Some(user("bob")),
        },
    ));
    h.advance(PRESENCE_INTERVAL);
    let nobody = vec![("alice".to_owned(), None), ("bob".to_owned(), None)];
    assert_eq!(following(&mut alice), Some(nobody));
}

#[test]
fn a_store_that_stays_slow_does_not_hold_back_live_traffic_for_ever() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let mut bob = h.join(2, "bob");
    h.drain(&mut [&mut alice, &mut bob]);
    h.handle(add(1, "s1"));
    h.handle(Event::Ephemeral(1, ClientMessage::DraftEnd));
    for i in 1..MAX_DEFERRED_EPHEMERAL {
        h.handle(Event::Ephemeral(
            1,
            ClientMessage::Cursor {
                x: i as f32,
                y: 0.0,
                laser: false,
            },
        ));
    }
    // The store has not answered, but everything Alice sent has gone out, in
    // her order.
    let kinds = bob.kinds();
    assert_eq!(kinds.len(), MAX_DEFERRED_EPHEMERAL);
    assert_eq!(kinds[0], "draft_end");
    h.handle(Event::Ephemeral(
        1,
        ClientMessage::Cursor {
            x: 0.0,
            y: 1.0,
            laser: false,
        },
    ));
    assert_eq!(
        bob.kinds(),
        ["cursor"],
        "and what follows is no longer held"
    );
}

/// The welcome `client` got first: its sequence number, snapshot and the
/// sequence numbers of its operations.
fn welcome_of(client: &mut Client) -> (u64, Option<crate::protocol::BoardSnapshot>, Vec<u64>) {
    match client.received().into_iter().next() {
        Some(ServerMessage::Welcome {
            seq, snapshot, ops, ..
        }) => (seq, snapshot, ops.iter().map(|op| op.seq).collect()),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// The `Encode` effect among `effects`, if any.
fn encode_asked(effects: Vec<Effect>) -> Option<(Arc<Board>, Format, u64)> {
    effects.into_iter().find_map(|effect| match effect {
        Effect::Encode {
            board,
            format,
            epoch,
        } => Some((board, format, epoch)),
        _ => None,
    })
}

#[test]
fn a_join_waits_for_its_encoding_while_the_board_goes_on() {
    let (board, _) = strokes_by("alice", 3);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");
    // Bob speaks version 2: nothing is encoded packed yet. His join waits
    // for the blocking pool (the room's task is not the harness here).
    let (mut bob, mut answered, effects) = h.join_unencoded(2, "bob", 2);
    let (copy, format, epoch) = encode_asked(effects).expect("an encoding asked for");
    assert_eq!((copy.seq(), format), (3, Format::Packed));
    assert!(answered.try_recv().is_err(), "not answered yet");
    assert!(bob.received().is_empty());

    // Meanwhile the board goes on: alice's stroke is stored and relayed.
    h.handle(add(1, "late"));
    h.store_ok();
    let kinds: Vec<&str> = alice.received().iter().map(kind).collect();
    assert!(kinds.contains(&"op"), "{kinds:?}");

    // The encoding comes back: bob gets it with the operation since.
    h.handle(Event::Encoded(Encoded::new(&copy, format, epoch)));
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    let (seq, snapshot, ops) = welcome_of(&mut bob);
    assert_eq!(seq, 4);
    assert_eq!(snapshot.map(|s| s.strokes.len()), Some(3));
    assert_eq!(ops, [4]);
}

#[test]
fn an_encoding_is_shared_at_its_version_and_made_again_after_a_change() {
    let mut h = Harness::new();
    let _alice = h.join(1, "alice");
    let join = |h: &mut Harness, conn: ConnectionId| {
        h.join_unencoded(conn, &format!("u{conn}"), PROTOCOL_VERSION)
            .2
    };
    assert!(encode_asked(join(&mut h, 2)).is_none(), "alice's, shared");
    h.handle(add(1, "s1"));
    h.store_ok();
    let (copy, format, epoch) = encode_asked(join(&mut h, 3)).expect("the board changed");
    assert_eq!(copy.seq(), 1);
    // While it is made, the board goes far on: the join asks again.
    for n in 0..=MAX_OPS_AFTER_ENCODING {
        h.handle(add(1, &format!("more{n}")));
        h.store_ok();
    }
    let effects = h
        .room
        .handle(h.now, Event::Encoded(Encoded::new(&copy, format, epoch)));
    let (again, _, _) = encode_asked(effects).expect("encoded again");
    assert_eq!(again.seq(), MAX_OPS_AFTER_ENCODING + 2);
}

#[test]
fn an_encoding_of_a_board_taken_back_is_not_used() {
    let (board, _) = strokes_by("alice", 2);
    let (_, winner) = strokes_by("alice", 3);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");
    let (mut bob, mut answered, effects) = h.join_unencoded(2, "bob", 2);
    let (copy, format, epoch) = encode_asked(effects).expect("an encoding asked for");
    // An append loses a race: the board is taken back.
    h.handle(add(1, "raced"));
    h.handle(Event::Stored(StoreAnswer::Appended(Err(
        StoreError::SequenceConflict { stored: 3, got: 3 },
    ))));
    // The encoding made before comes back: not used.
    h.room
        .handle(h.now, Event::Encoded(Encoded::new(&copy, format, epoch)));
    assert!(answered.try_recv().is_err(), "not welcomed from it");
    assert!(bob.received().is_empty());
    // Once the race is settled (the winner's operation read, the stroke
    // stored after it), bob gets the board encoded afresh.
    let effects = h.advance(Duration::from_secs(1));
    assert_eq!(store_jobs(&effects), [&StoreJob::OpsAfter { after: 2 }]);
    h.handle(Event::Stored(StoreAnswer::OpsAfter(Ok(
        winner[2..].to_vec()
    ))));
    h.store_ok();
    alice.received();
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    let (seq, snapshot, ops) = welcome_of(&mut bob);
    assert_eq!(seq, 4);
    assert_eq!(snapshot.map(|s| s.seq), Some(4));
    assert!(ops.is_empty());
}

/// A join with an edit key, as an editor or a viewer; its client and answer.
fn join_keyed(
    h: &mut Harness,
    conn: ConnectionId,
    user: &str,
    key: Option<&str>,
    viewer: bool,
) -> (Client, oneshot::Receiver<Result<(), ProtocolError>>) {
    let (mut request, client, answered, answer) = join_request(conn, user, None, PROTOCOL_VERSION);
    request.key = key.map(str::to_owned);
    request.viewer = viewer;
    h.handle(Event::Join(request, answer));
    (client, answered)
}

fn reads_access(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::ReadAccess))
}

fn rotated(key: &str) -> Access {
    Access {
        view: None,
        edit: Some(key.to_owned()),
    }
}

#[test]
fn once_the_edit_link_was_rotated_only_its_current_key_lets_an_editor_join() {
    let mut h = Harness::new();
    h.room.access = rotated("key-1");
    for key in [None, Some("key-0"), Some("key-10")] {
        let (_client, mut answered) = join_keyed(&mut h, 1, "mallory", key, false);
        match answered.try_recv() {
            Ok(Err(refusal)) => assert_eq!(refusal.code, ErrorCode::Forbidden, "{key:?}"),
            other => panic!("{key:?} was let in: {other:?}"),
        }
    }
    let (_alice, mut answered) = join_keyed(&mut h, 2, "alice", Some("key-1"), false);
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    // A view link's people need no key: they change nothing.
    let (_viewer, mut answered) = join_keyed(&mut h, 3, "vic", None, true);
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
}

#[test]
fn rotating_the_edit_link_lets_go_of_every_editor_with_an_old_key_and_only_them() {
    let mut h = Harness::new();
    let (mut alice, _) = join_keyed(&mut h, 1, "alice", None, false);
    let (mut vic, _) = join_keyed(&mut h, 2, "vic", None, true);
    h.advance(Duration::from_secs(1));
    alice.raw();
    vic.raw();

    // Rotated on this instance, or on another one (the bus says so): the
    // room reads the tokens from the store, never from the notice.
    assert!(reads_access(&h.handle(Event::AccessChanged)));
    let notice = Envelope {
        origin: OTHER,
        payload: Payload::AccessChanged,
    };
    assert!(reads_access(&h.handle(Event::Bus(BusEvent::Frame(notice)))));

    // Reading failed: nobody is let go yet, and the room reads again soon.
    h.handle(Event::Access(Err(StoreError::Backend("down".into()))));
    assert!(alice.raw().is_empty());
    assert!(!reads_access(&h.advance(Duration::from_millis(10))));
    assert!(reads_access(&h.advance(OUTAGE_RETRY)));

    h.handle(Event::Access(Ok(rotated("key-2"))));
    let frames = alice.raw();
    let [Message::Text(refusal), Message::Close(Some(close))] = frames.as_slice() else {
        panic!("alice got {frames:?}");
    };
    assert!(matches!(
        ServerMessage::decode(refusal),
        Ok(ServerMessage::Error {
            code: ErrorCode::Forbidden,
            op_id: None,
            ..
        })
    ));
    assert_eq!(close.code, close_code::NO_ACCESS);
    // Her requests are not taken any more, and the people list lost her.
    assert!(appended(&h.handle(add(1, "a1"))).is_none());
    h.advance(Duration::from_secs(1));
    let people: Vec<_> = vic
        .received()
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Presence { people, .. } => Some(people),
            _ => None,
        })
        .collect();
    assert_eq!(people.len(), 1, "{people:?}");
    assert!(people[0].iter().all(|p| p.user.as_str() == "vic"));

    // With the new key she is back.
    let (_alice, mut answered) = join_keyed(&mut h, 3, "alice", Some("key-2"), false);
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));

    // A notice lost on the bus is made up for: the room reads the tokens
    // again when it resubscribes, and every minute anyway.
    assert!(reads_access(&h.handle(Event::Bus(BusEvent::Resync))));
    h.handle(Event::Access(Ok(rotated("key-2"))));
    assert!(!reads_access(&h.advance(ACCESS_REFRESH / 2)));
    assert!(reads_access(&h.advance(ACCESS_REFRESH / 2)));
}

// ----- history --------------------------------------------------------------

fn restore(conn: ConnectionId, id: &str, seq: u64) -> Event {
    Event::Submit((conn, op_id(id), Request::Restore { seq }))
}

/// The operations a client received, in order.
fn ops_of(messages: &[ServerMessage]) -> Vec<&Operation> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Op { op } => Some(op),
            _ => None,
        })
        .collect()
}

#[test]
fn operations_carry_when_the_room_numbered_them_and_their_authors_name() {
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    h.advance(Duration::from_millis(2_500));
    h.handle(add(1, "s1"));
    h.store_ok();
    let received = alice.received();
    let [op] = ops_of(&received)[..] else {
        panic!("alice got {received:?}");
    };
    // Joined a second after the room opened, then 2.5 s later.
    assert_eq!(op.at, OPENED_MS + 3_500);
    assert_eq!(op.name.as_deref(), Some("alice"));
}

#[test]
fn a_restore_reads_its_version_first_and_what_comes_after_it_waits() {
    let (board, _) = strokes_by("bob", 3);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");

    h.handle(add(1, "a1"));
    let effects = h.handle(restore(1, "r1", 1));
    assert!(store_jobs(&effects).is_empty(), "the append is in flight");
    h.handle(add(1, "a2"));
    let effects = h.store_ok();
    // The restore is at the head: its version is read, and a2 waits.
    assert_eq!(store_jobs(&effects), [&StoreJob::Version { seq: 1 }]);
    let (version, _) = strokes_by("bob", 1);
    let effects = h.handle(Event::Stored(StoreAnswer::Version(Ok(version))));
    assert_eq!(appended(&effects), Some(vec![5, 6]), "the restore, then a2");
    h.store_ok();

    let received = alice.received();
    let ops = ops_of(&received);
    assert_eq!(ops.len(), 3);
    let Change::Restore {
        version,
        show,
        hide,
        set,
    } = &ops[1].change
    else {
        panic!("{:?}", ops[1]);
    };
    assert_eq!(*version, 1);
    assert!(show.is_empty() && set.is_empty());
    let hidden: Vec<&str> = hide.iter().map(StrokeId::as_str).collect();
    assert_eq!(hidden, ["bob2", "bob3", "a1"]);
    let shown: Vec<&str> = h
        .room
        .board()
        .visible_strokes()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(shown, ["bob1", "a2"]);
}

#[test]
fn a_restore_whose_version_cannot_be_read_is_refused_by_name_and_the_queue_goes_on() {
    let (board, _) = strokes_by("bob", 3);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");
    h.handle(restore(1, "r1", 2));
    h.handle(add(1, "a1"));
    let failed = StoreAnswer::Version(Err(StoreError::Backend("down".into())));
    let effects = h.handle(Event::Stored(failed));
    assert_eq!(appended(&effects), Some(vec![4]));
    let received = alice.received();
    assert!(matches!(
        &received[..],
        [ServerMessage::Error { code: ErrorCode::StorageUnavailable, op_id: Some(id), .. }]
            if id.as_str() == "r1"
    ));
    // Restoring what the board is, or a version it never was, needs no read.
    h.store_ok();
    alice.received();
    let effects = h.handle(restore(1, "r2", 4));
    assert!(store_jobs(&effects).is_empty());
    let effects = h.handle(restore(1, "r3", 9));
    assert!(store_jobs(&effects).is_empty());
    let codes: Vec<ErrorCode> = alice
        .received()
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Error { code, .. } => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [ErrorCode::Rejected, ErrorCode::Invalid]);

    // A version older than the history kept is refused for good.
    let effects = h.handle(restore(1, "r4", 1));
    assert!(!store_jobs(&effects).is_empty(), "the version is read");
    h.handle(Event::Stored(StoreAnswer::Version(Err(
        StoreError::Forgotten,
    ))));
    assert!(matches!(
        &alice.received()[..],
        [ServerMessage::Error { code: ErrorCode::Invalid, op_id: Some(id), message }]
            if id.as_str() == "r4" && message == FORGOTTEN
    ));
}

#[test]
fn a_version_3_client_sees_a_restore_and_a_name_as_changes_it_knows() {
    let (board, _) = strokes_by("bob", 2);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");
    let (mut old, mut answered, _) = h.join_speaking(2, "old", None, 3);
    assert!(matches!(answered.try_recv(), Ok(Ok(()))));
    h.drain(&mut [&mut alice, &mut old]);

    h.handle(restore(1, "r1", 0));
    h.store_ok();
    h.handle(Event::Submit((
        1,
        op_id("n1"),
        Request::NameVersion("empty".into()),
    )));
    h.store_ok();
    let new_kinds: Vec<&str> = ops_of(&alice.received())
        .iter()
        .map(|op| op.change.kind().name())
        .collect();
    assert_eq!(new_kinds, ["restore", "name_version"]);
    let old_received = old.received();
    let old_ops = ops_of(&old_received);
    assert!(
        matches!(&old_ops[0].change, Change::Undo { target: 0, hide, .. } if hide.len() == 2),
        "{old_ops:?}"
    );
    assert!(matches!(&old_ops[1].change, Change::Erase { stroke_ids } if stroke_ids.is_empty()));

    // Coming back, it gets them the same way in its welcome.
    h.handle(Event::Leave(2));
    let (mut back, _, _) = h.join_speaking(3, "old", Some(2), 3);
    let welcome = back.received();
    let Some(ServerMessage::Welcome { ops, .. }) = welcome.first() else {
        panic!("{welcome:?}");
    };
    let kinds: Vec<&str> = ops.iter().map(|op| op.change.kind().name()).collect();
    assert_eq!(kinds, ["undo", "erase"]);
}

fn reads(effects: &[Effect]) -> Vec<(ConnectionId, &HistoryRead)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Read { conn, read } => Some((*conn, read)),
            _ => None,
        })
        .collect()
}

fn history(before: Option<u64>, limit: u32) -> ClientMessage {
    ClientMessage::History { before, limit }
}

#[test]
fn history_reads_are_bounded_by_what_is_stored_and_one_per_client_at_a_time() {
    let (board, _) = strokes_by("bob", 10);
    let mut h = Harness::with_board(board);
    let mut alice = h.join(1, "alice");
    let mut carol = h.join(2, "carol");
    h.drain(&mut [&mut alice, &mut carol]);

    // An append in flight is not history yet.
    h.handle(add(2, "c1"));
    let effects = h.handle(Event::Read(1, history(None, 4)));
    assert_eq!(
        reads(&effects),
        [(1, &HistoryRead::Page { after: 6, upto: 10 })]
    );
    // A second read of hers waits for the first's answer.
    h.handle(Event::Read(1, ClientMessage::BoardAt { seq: 3 }));
    assert!(matches!(
        &alice.received()[..],
        [ServerMessage::Error {
            code: ErrorCode::RateLimited,
            ..
        }]
    ));
    // Carol's goes beside it; past the stored end it is refused.
    let effects = h.handle(Event::Read(2, history(Some(3), 100)));
    assert_eq!(
        reads(&effects),
        [(2, &HistoryRead::Page { after: 0, upto: 2 })]
    );
    h.handle(Event::ReadDone(2, Ok(Vec::new())));
    h.handle(Event::Read(2, ClientMessage::BoardAt { seq: 11 }));
    let refused = carol.received();
    assert!(
        matches!(
            &refused[..],
            [ServerMessage::Error {
                code: ErrorCode::Invalid,
                ..
            }]
        ),
        "{refused:?}"
    );

    // The answer goes to alice alone, and then she may read again.
    let page = ServerMessage::History {
        entries: Vec::new(),
    };
    h.handle(Event::ReadDone(
        1,
        Ok(vec![Message::Text(page.encode().into())]),
    ));
    assert_eq!(alice.received(), [page]);
    assert!(carol.received().is_empty());
    let effects = h.handle(Event::Read(1, ClientMessage::BoardAt { seq: 3 }));
    assert_eq!(
        reads(&effects),
        [(
            1,
            &HistoryRead::BoardAt {
                seq: 3,
                protocol: PROTOCOL_VERSION
            }
        )]
    );
    // Operations to replay stop at what is stored.
    h.handle(Event::ReadDone(1, Ok(Vec::new())));
    let effects = h.handle(Event::Read(1, ClientMessage::Ops { after: 8, limit: 5 }));
    assert_eq!(
        reads(&effects),
        [(
            1,
            &HistoryRead::Ops {
                after: 8,
                upto: 10,
                protocol: PROTOCOL_VERSION
            }
        )]
    );
}

#[test]
fn a_room_runs_a_few_history_reads_at_once_and_older_clients_none() {
    let mut h = Harness::new();
    let mut clients: Vec<Client> = (1..=MAX_READS as u64 + 1)
        .map(|conn| h.join(conn, &format!("u{conn}")))
        .collect();
    for conn in 1..=MAX_READS as u64 {
        let effects = h.handle(Event::Read(conn, history(None, 10)));
        assert_eq!(reads(&effects).len(), 1);
    }
    let last = MAX_READS as u64 + 1;
    assert!(reads(&h.handle(Event::Read(last, history(None, 10)))).is_empty());
    assert!(matches!(
        &clients[MAX_READS].received()[..],
        [ServerMessage::Error {
            code: ErrorCode::RateLimited,
            ..
        }]
    ));
    h.handle(Event::ReadDone(1, Err(ProtocolError::invalid("gone"))));
    assert_eq!(
        reads(&h.handle(Event::Read(last, history(None, 10)))).len(),
        1
    );
    clients[0].received();

    let (mut old, _, _) = h.join_speaking(9, "old", None, 3);
    old.received();
    assert!(reads(&h.handle(Event::Read(9, history(None, 10)))).is_empty());
    assert!(matches!(
        &old.received()[..],
        [ServerMessage::Error {
            code: ErrorCode::UnexpectedMessage,
            ..
        }]
    ));
}

/// An image item, and what a client older than version 5 sees of it.
fn image_item(id: &str) -> (Stroke, Stroke) {
    let mut image = stroke(id);
    image.kind = crate::protocol::StrokeKind::Image;
    image.points = vec![Point::new(0.0, 0.0, 0.5), Point::new(320.0, 240.0, 0.5)];
    image.image = Some(crate::image::ImageId::from_digest(&[9; 32]));
    // Where the room puts the first item of an empty board.
    image.z = 1.0;
    let placeholder = image.as_placeholder().into_owned();
    (image, placeholder)
}

#[test]
fn clients_before_version_5_get_image_items_as_placeholders_everywhere() {
    use crate::protocol::IMAGES_SINCE;
    let (image, placeholder) = image_item("img");
    let mut h = Harness::new();
    let mut alice = h.join(1, "alice");
    let (mut bob, _, _) = h.join_speaking(2, "bob", None, IMAGES_SINCE - 1);
    h.advance(Duration::from_secs(1));
    h.drain(&mut [&mut alice, &mut bob]);

    // A draft (an image being moved): bob gets the placeholder.
    let draft = |strokes| ClientMessage::Draft { strokes };
    h.handle(Event::Ephemeral(3, draft(vec![image.clone()])));
    let author = |name: &str| UserId::parse(name).unwrap();
    let (mut carol, _, _) = h.join_speaking(3, "carol", None, PROTOCOL_VERSION);
    h.advance(Duration::from_secs(1));
    h.drain(&mut [&mut alice, &mut bob, &mut carol]);
    h.handle(Event::Ephemeral(3, draft(vec![image.clone()])));
    assert_eq!(
        alice.received(),
        [ServerMessage::Draft {
            author: author("carol"),
            strokes: vec![image.clone()],
        }]
    );
    assert_eq!(
        bob.received(),
        [ServerMessage::Draft {
            author: author("carol"),
            strokes: vec![placeholder.clone()],
        }]
    );

    // The operation that adds it.
    h.handle(Event::Submit((
        1,
        op_id("op-img"),
        Request::AddStroke(image.clone()),
    )));
    h.store_ok();
    let added = |client: &mut Client| {
        client
            .received()
            .into_iter()
            .find_map(|message| match message {
                ServerMessage::Op { op } => Some(op.change),
                _ => None,
            })
    };
    assert_eq!(
        added(&mut carol),
        Some(Change::AddStroke {
            stroke: image.clone()
        })
    );
    assert_eq!(
        added(&mut bob),
        Some(Change::AddStroke {
            stroke: placeholder.clone()
        })
    );

    // Welcomes: each version from its own encoding.
    let snapshot_of = |client: &mut Client| {
        client
            .received()
            .into_iter()
            .find_map(|message| match message {
                ServerMessage::Welcome { snapshot, .. } => snapshot,
                _ => None,
            })
    };
    let (mut dora, _, _) = h.join_speaking(4, "dora", None, IMAGES_SINCE - 1);
    let (mut eve, _, _) = h.join_speaking(5, "eve", None, PROTOCOL_VERSION);
    let stroke_of = |snapshot: Option<crate::protocol::BoardSnapshot>| {
        snapshot.expect("a snapshot").strokes[0].stroke.clone()
    };
    assert_eq!(stroke_of(snapshot_of(&mut dora)), placeholder);
    assert_eq!(stroke_of(snapshot_of(&mut eve)), image);
    let (mut first, _, _) = h.join_speaking(6, "first", None, 1);
    assert_eq!(stroke_of(snapshot_of(&mut first)), placeholder);

    // Bob cannot turn the image into his rectangle for everyone.
    let mut moved = placeholder.translated(10.0, 0.0);
    moved.fill = None;
    h.handle(Event::Submit((
        2,
        op_id("op-move"),
        Request::Update(vec![moved]),
    )));
    assert!(bob.received().iter().any(|message| matches!(
        message,
        ServerMessage::Error {
            code: ErrorCode::Rejected,
            ..
        }
    )));
    assert_eq!(h.room.board.get_visible(&image.id), Some(&image));
}
