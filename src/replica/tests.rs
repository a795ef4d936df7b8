//! The replica against a fake server: a real [`Board`] that commits what
//! the replica sends, as the room would, and answers with the messages the
//! room sends back. No socket, no browser.

use super::*;
use crate::protocol::{packed, BoardId, Color, StrokeKind};

fn id(raw: &str) -> StrokeId {
    StrokeId::parse(raw).expect("valid id")
}

fn user(raw: &str) -> UserId {
    UserId::parse(raw).expect("valid user")
}

fn style() -> StrokeStyle {
    StrokeStyle {
        color: Color::parse("#1e1e1e").expect("valid colour"),
        width: 2.0,
    }
}

/// A short horizontal stroke from (x, y) to (x + 10, y) at key `z`.
fn stroke(raw: &str, x: f32, y: f32, z: f64) -> Stroke {
    let mut stroke = Stroke::freehand(
        id(raw),
        style(),
        vec![Point::new(x, y, 0.5), Point::new(x + 10.0, y, 0.5)],
    );
    stroke.z = z;
    stroke
}

/// The room's side, reduced to what the replica sees of it.
struct FakeServer {
    board: Board,
    ops: u64,
}

impl FakeServer {
    fn new() -> Self {
        Self {
            board: Board::new(),
            ops: 0,
        }
    }

    /// A version 1 welcome carrying the whole board.
    fn welcome(&self) -> ServerMessage {
        ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            board: Some(BoardId::parse("replica-test-board").expect("valid board")),
            seq: self.board.seq(),
            snapshot: Some(self.board.snapshot()),
            packed_snapshot: None,
            snapshot_parts: None,
            ops: Vec::new(),
            presence: 1,
        }
    }

    /// Commits a durable request from `author` and returns the operation
    /// as everyone on the board receives it.
    fn commit(&mut self, author: &UserId, message: &ClientMessage) -> ServerMessage {
        let (op_id, request) = message.clone().into_request().expect("a durable request");
        let op = self
            .board
            .commit(author, &op_id, request)
            .expect("the board accepts the request");
        ServerMessage::Op { op }
    }

    /// Someone else draws a stroke.
    fn other_adds(&mut self, stroke: Stroke) -> ServerMessage {
        self.ops += 1;
        let message = ClientMessage::from_request(
            OpId::parse(&format!("other-{}", self.ops)).expect("valid op id"),
            Request::AddStroke(stroke),
        );
        self.commit(&user("other"), &message)
    }
}

/// The people list once everyone else has left.
fn only_me_here() -> ServerMessage {
    ServerMessage::Presence {
        count: 1,
        people: vec![Person {
            user: user("me"),
            name: String::new(),
            viewer: false,
            following: None,
        }],
    }
}

fn welcomed(server: &FakeServer) -> Replica {
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, None, None);
    let changed = replica.on_server(server.welcome(), 0.0);
    assert!(changed.connected);
    replica
}

#[test]
fn the_first_hello_asks_for_everything_and_a_reconnect_for_what_was_missed() {
    let mut server = FakeServer::new();
    let mut replica = Replica::new(user("me"), "t".into());
    let ClientMessage::Hello { last_seq, user, .. } = replica.connect(None, None, None) else {
        panic!("connect says hello");
    };
    assert_eq!((last_seq, user.as_str()), (None, "me"));

    replica.on_server(server.other_adds(stroke("a", 0.0, 0.0, 1.0)), 0.0);
    let welcome = server.welcome();
    replica.on_server(welcome, 0.0);
    replica.disconnect();
    let ClientMessage::Hello { last_seq, .. } = replica.connect(Some("Ada".into()), None, None)
    else {
        panic!("connect says hello");
    };
    assert_eq!(last_seq, Some(1));
}

#[test]
fn requests_made_offline_wait_and_go_out_in_order_with_the_welcome() {
    let server = FakeServer::new();
    let mut replica = Replica::new(user("me"), "t".into());
    let first = replica.submit(Request::AddStroke(stroke("a", 0.0, 0.0, 1.0)));
    let second = replica.submit(Request::Erase(vec![id("a")]));
    assert!(
        first.send.is_empty() && second.send.is_empty(),
        "nothing goes out offline"
    );
    assert!(first.redraw, "shown at once");
    assert_eq!(replica.pending().len(), 2);

    replica.connect(None, None, None);
    let changed = replica.on_server(server.welcome(), 0.0);
    let sent: Vec<&ClientMessage> = changed.send.iter().collect();
    let pending: Vec<&ClientMessage> = replica.pending().iter().map(|p| &p.message).collect();
    assert_eq!(sent, pending, "resent in their original order");
    assert!(matches!(sent[0], ClientMessage::AddStroke { .. }));
    assert!(matches!(sent[1], ClientMessage::Erase { .. }));
}

#[test]
fn a_request_is_pending_until_its_operation_or_ack_arrives() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    let changed = replica.submit(Request::AddStroke(stroke("a", 0.0, 0.0, 1.0)));
    assert_eq!(changed.send.len(), 1, "sent at once when live");
    assert_eq!(replica.pending().len(), 1);
    let local = Local::default();
    let shown = replica.display_strokes(&local);
    assert_eq!(shown.len(), 1);
    assert!(!shown[0].1, "shown as unconfirmed");

    let op = server.commit(&user("me"), &changed.send[0]);
    replica.on_server(op, 0.0);
    assert!(
        replica.pending().is_empty(),
        "its own operation confirms it"
    );
    let shown = replica.display_strokes(&local);
    assert_eq!(shown.len(), 1);
    assert!(shown[0].1, "now confirmed");

    // An ack for something not pending changes nothing.
    let changed = replica.on_server(
        ServerMessage::Ack {
            op_id: OpId::parse("unknown").expect("valid op id"),
            seq: 1,
        },
        0.0,
    );
    assert_eq!(changed, Changed::default());
}

#[test]
fn a_gap_in_operations_asks_for_a_reconnect_and_a_repeat_is_ignored() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    let first = server.other_adds(stroke("a", 0.0, 0.0, 1.0));
    server.other_adds(stroke("b", 0.0, 0.0, 2.0));
    replica.on_server(first.clone(), 0.0);
    assert_eq!(replica.on_server(first, 0.0), Changed::default());
    assert_eq!(replica.board().seq(), 1);

    let third = server.other_adds(stroke("c", 0.0, 0.0, 3.0));
    let changed = replica.on_server(third, 0.0);
    assert!(changed.reconnect.is_some(), "operation 2 is missing");
    assert!(!replica.is_live());
    assert_eq!(replica.board().seq(), 1, "nothing applied past the gap");
}

/// A fresh replica that submits `request` and has it answered with an
/// error of `code` naming it: what the replica makes of that, and the
/// replica after.
fn answered_with(
    server: &FakeServer,
    request: Request,
    code: ErrorCode,
    message: &str,
) -> (Changed, Replica) {
    let mut replica = welcomed(server);
    let changed = replica.submit(request);
    let op_id = changed.send[0].op_id().expect("durable").clone();
    let error = ServerMessage::Error {
        code,
        message: message.into(),
        op_id: Some(op_id),
    };
    (replica.on_server(error, 0.0), replica)
}

#[test]
fn refusals_drop_the_request_with_a_notice_and_storage_trouble_keeps_it() {
    let server = FakeServer::new();
    let erase = Request::Erase(vec![id("nothing")]);
    let (refused, replica) = answered_with(&server, erase, ErrorCode::Invalid, "nothing to erase");
    assert_eq!(refused.notice.as_deref(), Some("Nothing to erase"));
    assert!(replica.pending().is_empty());

    // Losing a race (what it erases or moves is gone) is no news.
    for request in [
        Request::Erase(vec![id("gone")]),
        Request::Clear,
        Request::Update(vec![stroke("gone", 0.0, 0.0, 1.0)]),
    ] {
        let (lost, replica) = answered_with(&server, request, ErrorCode::Rejected, "gone");
        assert_eq!(lost.notice, None);
        assert!(replica.pending().is_empty(), "dropped");
    }
    let (nothing, _) = answered_with(
        &server,
        Request::Undo,
        ErrorCode::Rejected,
        "nothing to undo",
    );
    assert_eq!(nothing.notice.as_deref(), Some("Nothing to undo"));

    for code in [ErrorCode::RateLimited, ErrorCode::StorageUnavailable] {
        let (trouble, replica) = answered_with(&server, Request::Undo, code, "not now");
        assert!(
            trouble.reconnect.is_some(),
            "{code:?}: reconnect to resend soon"
        );
        assert_eq!(replica.pending().len(), 1, "{code:?}: kept for the resend");
    }

    let mut replica = welcomed(&server);
    let unrelated = replica.on_server(
        ServerMessage::Error {
            code: ErrorCode::Malformed,
            message: "bad frame".into(),
            op_id: None,
        },
        0.0,
    );
    assert!(unrelated.warning.is_some() && unrelated.notice.is_none());
    // A history read refused (a version no longer kept) is said.
    let forgotten = replica.on_server(
        ServerMessage::Error {
            code: ErrorCode::Invalid,
            message: "that version of the board is no longer kept".into(),
            op_id: None,
        },
        0.0,
    );
    assert_eq!(
        forgotten.notice.as_deref(),
        Some("That version of the board is no longer kept")
    );

    // A full board is said plainly, whether it turned a request or a join away.
    let (full, replica) = answered_with(
        &server,
        Request::Undo,
        ErrorCode::LimitReached,
        "the board holds 10 items, its limit",
    );
    assert_eq!(
        full.notice.as_deref(),
        Some("The board holds 10 items, its limit")
    );
    assert!(
        replica.pending().is_empty(),
        "not resent: it would be refused"
    );
    let mut replica = welcomed(&server);
    let turned_away = replica.on_server(
        ServerMessage::Error {
            code: ErrorCode::LimitReached,
            message: "the board has 2 people on it, its limit; try again later".into(),
            op_id: None,
        },
        0.0,
    );
    assert_eq!(
        turned_away.notice.as_deref(),
        Some("The board has 2 people on it, its limit; try again later")
    );
}

#[test]
fn previews_grow_until_their_stroke_is_stored_and_leave_with_their_author() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    let preview = |points: Vec<Point>| ServerMessage::Preview {
        author: user("other"),
        stroke: id("p"),
        color: style().color,
        width: style().width,
        points,
    };
    replica.on_server(preview(vec![Point::new(0.0, 0.0, 0.5)]), 0.0);
    replica.on_server(preview(vec![Point::new(1.0, 0.0, 0.5)]), 0.0);
    assert_eq!(replica.previews().map(|p| p.points.len()).sum::<usize>(), 2);
    // A preview never grows past a stroke's points.
    let most = crate::protocol::limits::MAX_STROKE_POINTS;
    let fill = vec![Point::new(1.0, 0.0, 0.5); most - 2];
    assert!(replica.on_server(preview(fill), 0.0).redraw);
    let past = replica.on_server(preview(vec![Point::new(1.0, 0.0, 0.5)]), 0.0);
    assert!(!past.redraw);
    assert_eq!(
        replica.previews().map(|p| p.points.len()).sum::<usize>(),
        most
    );

    replica.on_server(server.other_adds(stroke("p", 0.0, 0.0, 1.0)), 0.0);
    assert_eq!(
        replica.previews().count(),
        0,
        "the stroke replaces its preview"
    );
    let late = replica.on_server(preview(vec![Point::new(2.0, 0.0, 0.5)]), 0.0);
    assert!(
        !late.redraw && replica.previews().count() == 0,
        "late points are ignored"
    );

    // Someone else's live work goes when they leave.
    replica.on_server(
        ServerMessage::Preview {
            author: user("other"),
            stroke: id("q"),
            color: style().color,
            width: style().width,
            points: vec![Point::new(0.0, 0.0, 0.5)],
        },
        0.0,
    );
    replica.on_server(
        ServerMessage::Draft {
            author: user("other"),
            strokes: vec![stroke("d", 0.0, 0.0, 9.0)],
        },
        0.0,
    );
    replica.on_server(
        ServerMessage::Cursor {
            author: user("other"),
            x: 1.0,
            y: 1.0,
            laser: false,
        },
        0.0,
    );
    let left = replica.on_server(only_me_here(), 0.0);
    assert_eq!(left.presence, Some(1));
    assert_eq!(replica.previews().count(), 0);
    assert_eq!(replica.cursors().count(), 0);
    assert!(replica.live_strokes(&Local::default()).is_empty());
}

/// A welcomed replica that saw someone's pointer at x = 0 (time 0), then
/// at x = 100 (time 1,000), gliding for `glide` milliseconds.
fn cursor_moved(glide: f64) -> Replica {
    let server = FakeServer::new();
    let mut replica = welcomed(&server);
    replica.set_glide(glide);
    let cursor = |x| ServerMessage::Cursor {
        author: user("other"),
        x,
        y: 0.0,
        laser: false,
    };
    replica.on_server(cursor(0.0), 0.0);
    replica.on_server(cursor(100.0), 1_000.0);
    replica
}

#[test]
fn cursors_glide_to_their_new_position() {
    let replica = cursor_moved(CURSOR_GLIDE_MS);
    let (_, glide) = replica.cursors().next().expect("a cursor");
    assert_eq!(glide.position(1_000.0), (0.0, 0.0));
    assert_eq!(glide.position(1_000.0 + CURSOR_GLIDE_MS / 2.0), (50.0, 0.0));
    assert_eq!(glide.position(1_000.0 + CURSOR_GLIDE_MS), (100.0, 0.0));
    assert_eq!(
        glide.position(1_000.0 + 10.0 * CURSOR_GLIDE_MS),
        (100.0, 0.0)
    );
    // A frame drawn before the glide ends leaves the cursor short: frames
    // are due until one is drawn at or after this.
    assert_eq!(replica.cursors_settle_at(), 1_000.0 + CURSOR_GLIDE_MS);
}

#[test]
fn a_laser_held_down_leaves_a_trail_that_fades() {
    let server = FakeServer::new();
    let mut replica = welcomed(&server);
    let cursor = |x, laser| ServerMessage::Cursor {
        author: user("other"),
        x,
        y: 0.0,
        laser,
    };
    replica.on_server(cursor(0.0, false), 0.0);
    replica.on_server(cursor(10.0, true), 100.0);
    replica.on_server(cursor(20.0, true), 120.0);
    replica.on_server(cursor(30.0, true), 140.0);
    // Let go, then pressed again elsewhere: a new stroke of light.
    replica.on_server(cursor(40.0, false), 160.0);
    replica.on_server(cursor(90.0, true), 180.0);
    replica.on_server(cursor(95.0, true), 200.0);
    let (_, other) = replica.cursors().next().expect("a cursor");
    let lines: Vec<((f32, f32), (f32, f32))> = other
        .trail
        .segments(200.0)
        .map(|(a, b, _)| (a, b))
        .collect();
    assert_eq!(
        lines,
        [
            ((10.0, 0.0), (20.0, 0.0)),
            ((20.0, 0.0), (30.0, 0.0)),
            ((90.0, 0.0), (95.0, 0.0))
        ]
    );
    // Frames are due until the last point has faded.
    assert_eq!(
        replica.cursors_settle_at(),
        200.0 + crate::laser::LASER_FADE_MS
    );
    assert_eq!(other.trail.segments(1_200.0).count(), 0);
}

#[test]
fn others_selections_are_outlined_until_changed_emptied_or_their_owner_leaves() {
    let mut server = FakeServer::new();
    let add_a = server.other_adds(stroke("a", 0.0, 0.0, 1.0));
    let add_b = server.other_adds(stroke("b", 100.0, 50.0, 2.0));
    let mut replica = welcomed(&FakeServer::new());
    replica.on_server(add_a, 0.0);
    replica.on_server(add_b, 0.0);
    let selected = |replica: &Replica| -> Vec<(String, Vec<Rect>)> {
        replica
            .others_selections(&Local::default())
            .map(|(user, boxes)| (user.as_str().to_owned(), boxes))
            .collect()
    };
    let selection = |author: &str, ids: &[&str]| ServerMessage::Selection {
        author: user(author),
        ids: ids.iter().map(|raw| id(raw)).collect(),
    };
    // An item not on the board (yet, or any more) is left out.
    let changed = replica.on_server(selection("other", &["a", "gone"]), 0.0);
    assert!(changed.redraw);
    let box_of = |raw: &str| {
        geometry::shape_box(replica.board().get(&id(raw)).expect("on the board")).expect("a box")
    };
    let (a, b) = (box_of("a"), box_of("b"));
    assert_eq!(selected(&replica), [("other".to_owned(), vec![a])]);
    // A new selection replaces the old one; a second person has their own.
    replica.on_server(selection("other", &["a", "b"]), 0.0);
    replica.on_server(selection("third", &["b"]), 0.0);
    assert_eq!(
        selected(&replica),
        [
            ("other".to_owned(), vec![a, b]),
            ("third".to_owned(), vec![b])
        ]
    );
    // Emptied, it is gone; so is the selection of someone who left.
    replica.on_server(selection("other", &[]), 0.0);
    replica.on_server(only_me_here(), 0.0);
    assert!(selected(&replica).is_empty());
}

#[test]
fn a_summon_follows_its_author_whose_views_move_the_view_until_they_leave() {
    let server = FakeServer::new();
    let mut replica = welcomed(&server);
    let area = Rect::from_corners((10.0, 20.0), (650.0, 500.0));
    let view = |author: &str| ServerMessage::View {
        author: user(author),
        area,
    };
    // Views of someone not followed change nothing.
    assert!(!replica.on_server(view("ada"), 0.0).redraw);
    assert_eq!(replica.follow().area(), None);
    // Nor does one's own summon (another tab of the same person).
    replica.on_server(ServerMessage::Summon { author: user("me") }, 0.0);
    assert_eq!(replica.follow().leader(), None);
    assert!(!replica.follow_view_of(Some(user("me"))), "not oneself");
    let changed = replica.on_server(
        ServerMessage::Summon {
            author: user("ada"),
        },
        0.0,
    );
    assert!(changed.redraw);
    assert_eq!(replica.follow().leader(), Some(&user("ada")));
    assert!(replica.on_server(view("ada"), 0.0).redraw);
    assert_eq!(replica.follow().area(), Some(area));
    // Ada and Bob follow this person; then Ada leaves, and following ends.
    let person = |id: &str, following: Option<&str>| Person {
        user: user(id),
        name: String::new(),
        viewer: false,
        following: following.map(user),
    };
    replica.on_server(
        ServerMessage::Presence {
            count: 3,
            people: vec![
                person("ada", Some("me")),
                person("bob", Some("me")),
                person("me", Some("ada")),
            ],
        },
        0.0,
    );
    assert_eq!(replica.follow().followers(), 2);
    assert_eq!(replica.follow().leader(), Some(&user("ada")));
    replica.on_server(only_me_here(), 0.0);
    assert_eq!(replica.follow().leader(), None);
    assert_eq!(replica.follow().area(), None);
    assert_eq!(replica.follow().followers(), 0);
}

#[test]
fn what_others_do_live_is_said_and_what_a_welcome_catches_up_on_is_not() {
    let mut server = FakeServer::new();
    let before = server.other_adds(stroke("old", 0.0, 0.0, 1.0));
    let mut replica = welcomed(&server);
    // Applied again (a repeat): nothing to say.
    replica.on_server(before, 0.0);
    assert!(!replica.announcer().has_news());
    let live = server.other_adds(stroke("new", 0.0, 0.0, 2.0));
    replica.on_server(live, 0.0);
    // This tab's own operation is not news to it.
    let mine = replica.submit(Request::AddStroke(stroke("mine", 5.0, 5.0, 3.0)));
    let own = server.commit(&user("me"), &mine.send[0]);
    replica.on_server(own, 0.0);
    let name = |user: &UserId| user.as_str().to_uppercase();
    assert_eq!(
        replica.announcer().speak(0.0, name).as_deref(),
        Some("OTHER added 1 item")
    );
}

#[test]
fn cursors_jump_when_motion_is_reduced() {
    let replica = cursor_moved(0.0);
    let (_, cursor) = replica.cursors().next().expect("a cursor");
    assert_eq!(cursor.position(1_000.0), (100.0, 0.0));
    assert_eq!(replica.cursors_settle_at(), 1_000.0);
}

#[test]
fn a_packed_snapshot_is_collected_over_frames_then_loaded() {
    let mut server = FakeServer::new();
    for n in 0..50 {
        server.other_adds(stroke(&format!("s{n}"), n as f32, 0.0, f64::from(n)));
    }
    // No view: one part, the whole board.
    let (welcome, bytes) = welcome_in_parts(&server, None);
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, None, None);
    assert_eq!(replica.on_server(welcome.clone(), 0.0), Changed::default());
    assert_eq!(replica.snapshot_missing(), Some(bytes.len() as u64));
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    assert_eq!(replica.on_snapshot_frame(head), SnapshotProgress::Partial);
    let SnapshotProgress::Complete(complete) = replica.on_snapshot_frame(tail) else {
        panic!("the last frame completes the snapshot");
    };
    let changed = replica.on_server(complete, 0.0);
    assert!(changed.connected && changed.opened);
    assert_eq!(replica.board().snapshot(), server.board.snapshot());

    // Bytes nobody announced, too many bytes, or a message before the
    // snapshot is complete: the connection cannot be trusted.
    let SnapshotProgress::Broken(changed) = replica.on_snapshot_frame(&bytes) else {
        panic!("unannounced bytes break the connection");
    };
    assert!(changed.reconnect.is_some());
    replica.connect(None, None, None);
    replica.on_server(welcome.clone(), 0.0);
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        replica.on_snapshot_frame(&longer),
        SnapshotProgress::Broken(_)
    ));
    replica.connect(None, None, None);
    replica.on_server(welcome, 0.0);
    let early = replica.on_server(ServerMessage::DraftEnd { author: user("x") }, 0.0);
    assert!(early.reconnect.is_some());
    assert_eq!(replica.snapshot_missing(), None);
}

#[test]
fn what_is_shown_lays_pending_drafts_and_the_gesture_over_the_board() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    for (raw, z) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
        replica.on_server(server.other_adds(stroke(raw, 0.0, 0.0, z)), 0.0);
    }
    replica.submit(Request::Erase(vec![id("a")]));
    replica.submit(Request::Update(vec![stroke("b", 50.0, 0.0, 10.0)]));
    replica.on_server(
        ServerMessage::Draft {
            author: user("other"),
            strokes: vec![stroke("c", 0.0, 20.0, 3.0)],
        },
        0.0,
    );
    let mine = stroke("c", 0.0, 40.0, 3.0);
    let hidden = id("nothing");
    let local = Local {
        strokes: vec![&mine],
        hidden: vec![&hidden],
    };
    let shown: Vec<(String, f32, bool)> = replica
        .display_strokes(&local)
        .iter()
        .map(|(s, confirmed)| (s.id.as_str().to_owned(), s.points[0].y, *confirmed))
        .collect();
    assert_eq!(
        shown,
        vec![("c".to_owned(), 40.0, false), ("b".to_owned(), 0.0, false),],
        "a erased, b moved up by its update, c as this tab's gesture has it"
    );
    assert_eq!(replica.top_z(&local), 10.0);
    let erasing = id("b");
    let local = Local {
        strokes: Vec::new(),
        hidden: vec![&erasing],
    };
    let shown: Vec<String> = replica
        .display_strokes(&local)
        .iter()
        .map(|(s, _)| s.id.as_str().to_owned())
        .collect();
    assert_eq!(shown, vec!["c"], "hidden by the eraser; c from the draft");
    // The item list's: the pending requests laid over the board, in
    // drawing order, but not what anyone is still drawing.
    let settled: Vec<(String, f32, bool)> = replica
        .settled_strokes()
        .iter()
        .map(|(s, confirmed)| (s.id.as_str().to_owned(), s.points[0].y, *confirmed))
        .collect();
    assert_eq!(
        settled,
        vec![("c".to_owned(), 0.0, true), ("b".to_owned(), 0.0, false)],
        "c as confirmed, not as drawn; b restacked by its update"
    );
}

#[test]
fn the_scene_repaints_only_what_changed() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    replica.on_server(server.other_adds(stroke("a", 0.0, 0.0, 1.0)), 0.0);
    assert!(
        replica.scene_rebuild_due(),
        "the welcome asks for a rebuild"
    );
    assert_eq!(replica.sync_scene(&Local::default()), SceneUpdate::Rebuilt);
    assert_eq!(
        replica.sync_scene(&Local::default()),
        SceneUpdate::Unchanged
    );

    replica.on_server(server.other_adds(stroke("b", 100.0, 0.0, 2.0)), 0.0);
    assert_eq!(
        replica.sync_scene(&Local::default()),
        SceneUpdate::Damaged(vec![Damage::Above(id("b"))]),
        "a new item on top is painted over"
    );

    // Moving "a" live takes it out of the layer: its area is repainted.
    let moving = stroke("a", 0.0, 50.0, 1.0);
    let local = Local {
        strokes: vec![&moving],
        hidden: Vec::new(),
    };
    let SceneUpdate::Damaged(damage) = replica.sync_scene(&local) else {
        panic!("the moved item's area is damaged");
    };
    assert!(matches!(damage.as_slice(), [Damage::Area(_)]));
    let area = Rect::from_corners((-5.0, -5.0), (5.0, 5.0));
    let found: Vec<f32> = replica
        .shown_in(&area, &local)
        .iter()
        .map(|s| s.points[0].y)
        .collect();
    assert!(found.is_empty(), "a is shown where it is being moved to");
    let there = Rect::from_corners((-5.0, 45.0), (5.0, 55.0));
    assert_eq!(replica.shown_in(&there, &local).len(), 1);

    // A clear, pending or confirmed, starts the layer over.
    replica.submit(Request::Clear);
    assert_eq!(replica.sync_scene(&Local::default()), SceneUpdate::Rebuilt);
}

#[test]
fn an_arrived_image_repaints_the_items_showing_it() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    let image = |raw: &str, bytes: &str, x: f32| {
        let mut item = Stroke::new(
            id(raw),
            StrokeKind::Image,
            style(),
            vec![Point::new(x, 0.0, 0.5), Point::new(x + 40.0, 30.0, 0.5)],
        );
        item.image = Some(ImageId::parse(&bytes.repeat(64)).expect("valid image id"));
        item
    };
    for item in [
        image("a", "a", 0.0),
        image("b", "b", 100.0),
        image("c", "a", 200.0),
    ] {
        replica.on_server(server.other_adds(item), 0.0);
    }
    replica.on_server(server.other_adds(stroke("d", 0.0, 0.0, 5.0)), 0.0);
    assert_eq!(replica.sync_scene(&Local::default()), SceneUpdate::Rebuilt);

    replica.repaint_image(&ImageId::parse(&"a".repeat(64)).expect("valid image id"));
    let SceneUpdate::Damaged(damage) = replica.sync_scene(&Local::default()) else {
        panic!("the items showing the image are damaged");
    };
    let left_edges: Vec<f32> = damage
        .iter()
        .map(|damage| match damage {
            Damage::Area(area) => area.min_x.round(),
            Damage::Above(id) => panic!("{id:?} is not new"),
        })
        .collect();
    assert_eq!(
        left_edges.len(),
        4,
        "a and c, each where it was and where it is: {damage:?}"
    );
    assert!(left_edges
        .iter()
        .all(|x| *x < 0.0 || (195.0..200.0).contains(x)));
    assert_eq!(
        replica.sync_scene(&Local::default()),
        SceneUpdate::Unchanged,
        "once"
    );
}

#[test]
fn the_selection_follows_erasures_and_commands_on_it_become_requests() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    for (raw, z) in [("a", 1.0), ("b", 2.0)] {
        replica.on_server(server.other_adds(stroke(raw, 0.0, 0.0, z)), 0.0);
    }
    assert!(replica.select(vec![id("a"), id("b")]));
    assert!(!replica.select(vec![id("a"), id("b")]), "no change");
    let local = Local::default();

    let changed = replica.duplicate_selection(16.0, &local);
    let [ClientMessage::AddStrokes { strokes, .. }] = changed.send.as_slice() else {
        panic!("one add_strokes: {:?}", changed.send);
    };
    assert_eq!(strokes.len(), 2);
    assert!(strokes.iter().all(|s| s.points[0].x == 16.0 && s.z > 2.0));
    let copies: Vec<StrokeId> = strokes.iter().map(|s| s.id.clone()).collect();
    assert_eq!(
        replica.selection(),
        copies.as_slice(),
        "the copies are selected"
    );

    let changed = replica.restyle_selection(|s| s.style.width = 9.0, &local);
    let [ClientMessage::Update { strokes, .. }] = changed.send.as_slice() else {
        panic!("one update: {:?}", changed.send);
    };
    assert!(strokes.iter().all(|s| s.style.width == 9.0));
    // What changes nothing sends nothing (a width they already have).
    let changed = replica.restyle_selection(|s| s.style.width = 9.0, &local);
    assert!(changed.send.is_empty(), "{:?}", changed.send);

    replica.select(vec![id("a")]);
    let changed = replica.restack_selection(Restack::ToFront, &local);
    let [ClientMessage::Update { strokes, .. }] = changed.send.as_slice() else {
        panic!("one update: {:?}", changed.send);
    };
    assert!(strokes[0].z > replica.board().top_z());

    // Someone else erases a selected item: it leaves the selection.
    replica.select(vec![id("a"), id("b")]);
    let erase = ClientMessage::from_request(
        OpId::parse("x1").expect("valid op id"),
        Request::Erase(vec![id("b")]),
    );
    replica.on_server(server.commit(&user("other"), &erase), 0.0);
    assert_eq!(replica.selection(), &[id("a")]);

    let many: Vec<StrokeId> = (0..limits::MAX_ERASE_IDS + 1)
        .map(|n| id(&format!("x{n}")))
        .collect();
    replica.select(many);
    let changed = replica.delete_selection();
    assert_eq!(changed.send.len(), 2, "erases in chunks of the limit");
    assert!(replica.selection().is_empty());
}

#[test]
fn new_ids_are_unique_to_the_tab() {
    let mut replica = Replica::new(user("me"), "ab12".into());
    let first = replica.new_id();
    let second = replica.new_id();
    assert!(first.starts_with("ab12") && second.starts_with("ab12"));
    assert_ne!(first, second);
}

#[test]
fn a_request_out_of_bounds_is_dropped_before_sending_with_a_notice() {
    let server = FakeServer::new();
    let mut replica = welcomed(&server);
    // 3,000 two-byte characters: within a textarea's 4,000 UTF-16 units,
    // over the 4,000 bytes of UTF-8 the server allows.
    let mut text = stroke("t", 0.0, 0.0, 1.0);
    text.kind = crate::protocol::StrokeKind::Text;
    text.points.truncate(1);
    text.font_size = Some(20.0);
    text.text = Some("é".repeat(1_999));
    let fits = replica.submit(Request::AddStroke(text.clone()));
    assert_eq!(fits.send.len(), 1, "3,998 bytes fit");
    text.id = id("t2");
    text.text = Some("é".repeat(3_000));
    let too_long = replica.submit(Request::AddStroke(text));
    // Moved (a paste, a nudge) past the coordinate limits.
    let far = stroke(
        "far",
        crate::protocol::limits::MAX_COORDINATE * 1.5,
        0.0,
        1.0,
    );
    let too_far = replica.submit(Request::AddStrokes(vec![far]));
    for changed in [too_long, too_far] {
        assert!(changed.send.is_empty(), "nothing goes out");
        let notice = changed.notice.expect("the person is told");
        assert!(notice.starts_with("Not saved: "), "{notice}");
    }
    assert_eq!(
        replica.pending().len(),
        1,
        "only what fits waits for an answer"
    );
    // Within bounds, the same request goes out.
    let near = replica.submit(Request::AddStrokes(vec![stroke("near", 1.0, 0.0, 1.0)]));
    assert_eq!(near.send.len(), 1);
    assert!(near.notice.is_none());
}

#[test]
fn typed_text_becomes_an_add_an_update_an_erase_or_nothing() {
    let mut server = FakeServer::new();
    let mut replica = welcomed(&server);
    let mut text = stroke("t", 0.0, 0.0, 1.0);
    text.kind = crate::protocol::StrokeKind::Text;
    text.points.truncate(1);
    text.font_size = Some(20.0);
    text.text = Some("hello".into());
    replica.on_server(server.other_adds(text.clone()), 0.0);
    let typed = |existing: bool, typed: &str| TypedText {
        stroke: text.clone(),
        existing,
        text: typed.into(),
    };
    let sent = |changed: Changed| -> Vec<ClientMessage> { changed.send };

    let new = sent(replica.commit_text(typed(false, "new")));
    assert!(
        matches!(new.as_slice(), [ClientMessage::AddStroke { stroke, .. }] if stroke.text.as_deref() == Some("new"))
    );
    assert!(
        sent(replica.commit_text(typed(false, "  \n"))).is_empty(),
        "a blank new text is dropped"
    );
    assert!(
        sent(replica.commit_text(typed(true, "hello"))).is_empty(),
        "unchanged"
    );
    let edited = sent(replica.commit_text(typed(true, "bye")));
    assert!(
        matches!(edited.as_slice(), [ClientMessage::Update { strokes, .. }] if strokes[0].text.as_deref() == Some("bye"))
    );
    let emptied = sent(replica.commit_text(typed(true, "")));
    assert!(
        matches!(emptied.as_slice(), [ClientMessage::Erase { stroke_ids, .. }] if stroke_ids == &[id("t")])
    );
}

#[test]
fn notices_start_with_a_capital_and_leave_the_rest_alone() {
    assert_eq!(sentence_case("nothing to undo"), "Nothing to undo");
    assert_eq!(sentence_case("Already fine"), "Already fine");
    assert_eq!(
        sentence_case("éclair"),
        "éclair",
        "not ASCII: left as it is"
    );
    assert_eq!(sentence_case(""), "");
}

/// A version 3 welcome for `view`: the welcome announcing the parts, and
/// their bytes as the binary frames bring them.
fn welcome_in_parts(server: &FakeServer, view: Option<Rect>) -> (ServerMessage, Vec<u8>) {
    let (grouped, body) = server.board.snapshot_grouped(false);
    let plans = grouped.parts(view.as_ref());
    let bytes = packed::joined(&plans, &body);
    let parts = plans.iter().map(|p| p.len() as u64).collect();
    (
        announcing(server.welcome(), bytes.len() as u64, parts),
        bytes,
    )
}

/// `welcome` announcing a packed snapshot of `len` bytes in `parts` of
/// these sizes, instead of carrying it.
fn announcing(welcome: ServerMessage, len: u64, parts: Vec<u64>) -> ServerMessage {
    let ServerMessage::Welcome {
        protocol,
        board,
        seq,
        ops,
        presence,
        ..
    } = welcome
    else {
        unreachable!("a welcome");
    };
    ServerMessage::Welcome {
        protocol,
        board,
        seq,
        snapshot: None,
        packed_snapshot: Some(len),
        snapshot_parts: Some(parts),
        ops,
        presence,
    }
}

/// Strokes near the origin (even numbers) and far from it (odd), added
/// alternately, at rising keys but for two ties.
fn board_near_and_far() -> FakeServer {
    let mut server = FakeServer::new();
    for n in 0..20 {
        let x = if n % 2 == 0 { 0.0 } else { 5_000.0 };
        let z = if n < 2 { 0.0 } else { f64::from(n) };
        server.other_adds(stroke(&format!("s{n}"), x, n as f32, z));
    }
    server
}

#[test]
fn a_snapshot_in_parts_shows_the_view_first_and_merges_the_rest_in_order() {
    let mut server = board_near_and_far();
    let view = Rect::from_corners((-100.0, -100.0), (100.0, 100.0));
    let (welcome, bytes) = welcome_in_parts(&server, Some(view));
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, Some(view), None);
    assert_eq!(replica.on_server(welcome, 0.0), Changed::default());

    // All bytes in two frames: the first part ends inside the first one.
    let (head, tail) = bytes.split_at(bytes.len() * 2 / 3);
    let SnapshotProgress::Complete(complete) = replica.on_snapshot_frame(head) else {
        panic!("the first part is complete");
    };
    let changed = replica.on_server(complete, 0.0);
    assert!(changed.connected, "drawing may start");
    assert!(!changed.opened, "decided once the whole board is in");
    let near: Vec<&str> = replica
        .board()
        .visible_strokes()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        near,
        ["s0", "s2", "s4", "s6", "s8", "s10", "s12", "s14", "s16", "s18"]
    );
    let near_top = replica
        .board()
        .visible_strokes()
        .map(|s| s.z)
        .fold(0.0, f64::max);
    assert!(near_top < server.board.top_z());
    assert_eq!(
        replica.board().top_z(),
        server.board.top_z(),
        "new items go on top of the whole board"
    );
    assert!(!replica.rest_arrived());
    assert_eq!(
        replica.on_snapshot_frame(tail),
        SnapshotProgress::RestArrived
    );
    assert!(replica.rest_arrived());
    assert_eq!(replica.sync_scene(&Local::default()), SceneUpdate::Rebuilt);

    // What comes meanwhile waits for the rest: an item added far away and
    // one of the near ones erased.
    let added = server.other_adds(stroke("late", 5_000.0, 50.0, 30.0));
    assert_eq!(replica.on_server(added, 0.0), Changed::default());
    let erase = ClientMessage::from_request(
        OpId::parse("other-erase").expect("valid op id"),
        Request::Erase(vec![id("s2")]),
    );
    let erased = server.commit(&user("other"), &erase);
    assert_eq!(replica.on_server(erased, 0.0), Changed::default());
    assert_eq!(replica.board().seq(), 20);

    assert!(replica.is_partial(), "until the rest is merged");
    let changed = replica.finish_snapshot(0.0);
    assert!(changed.opened && changed.redraw && !replica.is_partial());
    assert_eq!(replica.board().snapshot(), server.board.snapshot());
    // The scene takes the rest in; what is painted in the view stays, but
    // where the erased item was.
    let SceneUpdate::Damaged(damage) = replica.sync_scene(&Local::default()) else {
        panic!("the scene takes the rest in, no rebuild");
    };
    let damaged = |x, y| {
        damage
            .iter()
            .any(|d| matches!(d, Damage::Area(area) if area.contains_point((x, y))))
    };
    assert!(damaged(5.0, 2.0), "where s2 was erased");
    assert!(!damaged(50.0, 50.0), "the rest of the view");
    for outside in [
        (-101.0, 0.0),
        (101.0, 0.0),
        (0.0, -101.0),
        (0.0, 101.0),
        (5_005.0, 50.0),
    ] {
        assert!(damaged(outside.0, outside.1), "{outside:?}");
    }
    assert_eq!(replica.finish_snapshot(0.0), Changed::default(), "once");
    // Equal keys keep the board's order: s0 under s1 where they overlap.
    let both = Rect::from_corners((-10.0, -10.0), (6_000.0, 10.0));
    let shown: Vec<&str> = replica
        .shown_in(&both, &Local::default())
        .iter()
        .map(|s| s.id.as_str())
        .take(2)
        .collect();
    assert_eq!(shown, ["s0", "s1"]);
}

#[test]
fn a_connection_lost_before_the_rest_asks_for_a_whole_snapshot_again() {
    let server = board_near_and_far();
    let view = Rect::from_corners((-100.0, -100.0), (100.0, 100.0));
    let (welcome, bytes) = welcome_in_parts(&server, Some(view));
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, Some(view), None);
    replica.on_server(welcome.clone(), 0.0);
    let first_len = match &welcome {
        ServerMessage::Welcome {
            snapshot_parts: Some(parts),
            ..
        } => parts[0] as usize,
        _ => unreachable!("parts"),
    };
    let SnapshotProgress::Complete(complete) = replica.on_snapshot_frame(&bytes[..first_len])
    else {
        panic!("the first part is complete");
    };
    replica.on_server(complete, 0.0);
    // A message before the rest came: the server broke its word.
    let early = replica.on_server(ServerMessage::DraftEnd { author: user("x") }, 0.0);
    assert!(early.reconnect.is_some());
    replica.disconnect();
    let ClientMessage::Hello {
        last_seq,
        view: asked,
        ..
    } = replica.connect(None, Some(view), None)
    else {
        panic!("connect says hello");
    };
    assert_eq!(last_seq, None, "the board holds part of a snapshot");
    assert_eq!(asked, Some(view));
    assert!(
        matches!(
            replica.on_snapshot_frame(&bytes[first_len..]),
            SnapshotProgress::Broken(_)
        ),
        "the rest of the old connection's snapshot is not expected"
    );

    // Parts that do not add up to the announced size are refused at once.
    replica.connect(None, Some(view), None);
    let odd = announcing(welcome, bytes.len() as u64, vec![1, 2]);
    assert!(replica.on_server(odd, 0.0).reconnect.is_some());
}

#[test]
fn a_page_that_does_not_paint_merges_the_rest_once_it_holds_too_much() {
    let mut server = board_near_and_far();
    let view = Rect::from_corners((-100.0, -100.0), (100.0, 100.0));
    let (welcome, bytes) = welcome_in_parts(&server, Some(view));
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, Some(view), None);
    replica.on_server(welcome, 0.0);
    let SnapshotProgress::Complete(complete) = replica.on_snapshot_frame(&bytes) else {
        panic!("the first part is complete");
    };
    replica.on_server(complete, 0.0);
    assert!(replica.rest_arrived());
    let cursor = ServerMessage::Cursor {
        author: user("other"),
        x: 1.0,
        y: 2.0,
        laser: false,
    };
    for _ in 1..MAX_HELD_MESSAGES {
        assert_eq!(replica.on_server(cursor.clone(), 0.0), Changed::default());
    }
    let added = server.other_adds(stroke("late", 0.0, 0.0, 30.0));
    let changed = replica.on_server(added, 0.0);
    assert!(changed.redraw && !replica.rest_arrived(), "merged");
    assert_eq!(replica.board().snapshot(), server.board.snapshot());
    assert_eq!(replica.cursors().count(), 1);
}

/// The first part of a version 3 welcome for `view`, loaded, and the rest's
/// bytes.
fn first_part_loaded(server: &FakeServer, view: Rect) -> (Replica, Vec<u8>) {
    let (welcome, bytes) = welcome_in_parts(server, Some(view));
    let ServerMessage::Welcome {
        snapshot_parts: Some(parts),
        ..
    } = &welcome
    else {
        unreachable!("parts");
    };
    let (first, rest) = bytes.split_at(parts[0] as usize);
    let mut replica = Replica::new(user("me"), "t".into());
    replica.connect(None, Some(view), None);
    replica.on_server(welcome.clone(), 0.0);
    let SnapshotProgress::Complete(complete) = replica.on_snapshot_frame(first) else {
        panic!("the first part is complete");
    };
    assert!(replica.on_server(complete, 0.0).connected);
    assert_eq!(replica.sync_scene(&Local::default()), SceneUpdate::Rebuilt);
    (replica, rest.to_vec())
}

/// Gives the `n`-th stroke of the board the stacking key `key(n)` (adding
/// always stacks on top: ties come from updates).
fn tie_keys(server: &mut FakeServer, key: impl Fn(u32) -> f64) {
    let strokes = server
        .board
        .visible_strokes()
        .zip(0..)
        .map(|(stroke, n)| {
            let mut stroke = stroke.clone();
            stroke.z = key(n);
            stroke
        })
        .collect();
    let update = ClientMessage::from_request(
        OpId::parse("other-keys").expect("valid op id"),
        Request::Update(strokes),
    );
    server.commit(&user("other"), &update);
}

/// Ids the scene holds in `area` with their drawing orders, bottom first.
fn scene_in(replica: &Replica, area: &Rect) -> Vec<(StrokeId, crate::scene::Order)> {
    replica.with_layer(|_, scene| {
        scene
            .in_area_after(area, None)
            .into_iter()
            .map(|(id, order)| (id.clone(), order))
            .collect()
    })
}

#[test]
fn a_big_rest_is_merged_a_slice_at_a_time_and_nothing_painted_moves() {
    // 6,000 strokes, a third in view, stacking keys tied in pairs.
    let mut server = FakeServer::new();
    for n in 0..6_000u32 {
        let (x, y) = if n % 3 == 0 {
            ((n % 10) as f32, (n % 90) as f32)
        } else {
            (5_000.0 + (n % 50) as f32 * 20.0, (n / 50) as f32)
        };
        server.other_adds(stroke(&format!("s{n}"), x, y, 0.0));
    }
    tie_keys(&mut server, |n| f64::from(n / 2 + 1));
    let view = Rect::from_corners((-100.0, -100.0), (100.0, 100.0));
    let (mut replica, rest) = first_part_loaded(&server, view);
    let painted = scene_in(&replica, &view);
    assert_eq!(painted.len(), 2_000);
    assert_eq!(
        replica.on_snapshot_frame(&rest),
        SnapshotProgress::RestArrived
    );

    let mut slices = 0;
    let mut opened_after = None;
    while replica.merging() {
        slices += 1;
        let changed = replica.merge_slice(0.0);
        if changed.opened {
            opened_after = Some(slices);
            assert!(!replica.is_partial());
        }
        // A frame between slices: the scene catches up, never starts over.
        let update = replica.sync_scene(&Local::default());
        assert!(matches!(
            update,
            SceneUpdate::Unchanged | SceneUpdate::Damaged(_)
        ));
        assert_eq!(scene_in(&replica, &view), painted, "slice {slices}");
    }
    let opened_after = opened_after.expect("the merged board opens");
    assert!(opened_after > 4, "4,000 strokes decoded a slice at a time");
    assert!(slices > opened_after, "then the scene takes them in");
    assert_eq!(replica.board().snapshot(), server.board.snapshot());

    // Everything in the scene, in the board's drawing order.
    let everything = Rect::from_corners((-1e5, -1e5), (1e5, 1e5));
    let shown: Vec<&str> = replica
        .shown_in(&everything, &Local::default())
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    let mut expected: Vec<&Stroke> = server.board.visible_strokes().collect();
    expected.sort_by(|a, b| a.z.total_cmp(&b.z));
    let expected: Vec<&str> = expected.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(shown, expected);
}

#[test]
fn an_item_of_the_rest_changed_before_the_scene_takes_it_in_keeps_its_place() {
    // s0 (out of view) and s1 (in view) share a stacking key: s0 is under.
    let mut server = FakeServer::new();
    server.other_adds(stroke("s0", 5_000.0, 0.0, 0.0));
    server.other_adds(stroke("s1", 0.0, 0.0, 0.0));
    tie_keys(&mut server, |_| 1.0);
    let view = Rect::from_corners((-100.0, -100.0), (100.0, 100.0));
    let (mut replica, rest) = first_part_loaded(&server, view);
    assert_eq!(
        replica.on_snapshot_frame(&rest),
        SnapshotProgress::RestArrived
    );
    // Meanwhile someone moves s0 onto s1, keeping its key.
    let moved = ClientMessage::from_request(
        OpId::parse("other-move").expect("valid op id"),
        Request::Update(vec![stroke("s0", 0.0, 0.0, 1.0)]),
    );
    let moved = server.commit(&user("other"), &moved);
    assert_eq!(replica.on_server(moved, 0.0), Changed::default(), "held");

    // The board is whole and the move applied; a frame comes before the
    // scene takes the rest in.
    while replica.rest_arrived() {
        replica.merge_slice(0.0);
    }
    assert_eq!(replica.board().snapshot(), server.board.snapshot());
    replica.sync_scene(&Local::default());
    assert!(replica.merging(), "the scene has the rest to take in");
    replica.merge_slice(0.0);
    assert!(!replica.merging());
    let SceneUpdate::Damaged(damage) = replica.sync_scene(&Local::default()) else {
        panic!("damage");
    };
    assert!(
        damage
            .iter()
            .any(|d| matches!(d, Damage::Area(area) if area.contains_point((5.0, 0.0)))),
        "where s0 is now: its drawing order changed"
    );
    let shown: Vec<&str> = replica
        .shown_in(&view, &Local::default())
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(shown, ["s0", "s1"]);
}

/// The `version` message and its snapshot's bytes for `board`, as the
/// room's history read sends them.
fn version_of(board: &Board) -> (ServerMessage, Vec<u8>) {
    let (grouped, body) = board.snapshot_grouped(false);
    let plans = grouped.parts(None);
    let bytes = packed::joined(&plans, &body);
    let message = ServerMessage::Version {
        seq: board.seq(),
        packed_snapshot: bytes.len() as u64,
        snapshot_parts: plans.iter().map(|p| p.len() as u64).collect(),
    };
    (message, bytes)
}

fn shown_ids(replica: &Replica) -> Vec<String> {
    replica
        .display_strokes(&Local::default())
        .iter()
        .map(|(s, _)| s.id.as_str().to_owned())
        .collect()
}

#[test]
fn a_past_version_is_shown_read_only_while_the_board_goes_on_and_a_replay_steps_it() {
    let mut server = FakeServer::new();
    let mut versions = vec![server.board.clone()];
    let mut ops = Vec::new();
    for n in 0..3 {
        let ServerMessage::Op { op } =
            server.other_adds(stroke(&format!("s{n}"), 0.0, n as f32, 0.0))
        else {
            unreachable!("an op");
        };
        ops.push(op);
        versions.push(server.board.clone());
    }
    let mut replica = welcomed(&server);
    let pending = replica.submit(Request::AddStroke(stroke("mine", 50.0, 0.0, 9.0)));
    assert_eq!(pending.send.len(), 1);

    // Version 1 arrives in two frames.
    let (message, bytes) = version_of(&versions[1]);
    assert_eq!(replica.on_server(message, 0.0), Changed::default());
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    assert_eq!(replica.on_snapshot_frame(head), SnapshotProgress::Partial);
    let SnapshotProgress::Past(changed) = replica.on_snapshot_frame(tail) else {
        panic!("the version is shown");
    };
    assert_eq!(changed.history, Some(HistoryAnswer::Past(1)));
    assert_eq!(replica.past(), Some(1));
    assert_eq!(shown_ids(&replica), ["s0"], "nothing pending over the past");
    assert!(replica.live_strokes(&Local::default()).is_empty());

    // Someone draws meanwhile: the live board has it, the past does not.
    replica.on_server(server.other_adds(stroke("s3", 0.0, 9.0, 0.0)), 0.0);
    assert_eq!(replica.board().seq(), 4);
    assert_eq!(shown_ids(&replica), ["s0"]);

    // A replay steps the past forward, in order only.
    assert!(!replica.step_past(&ops[2]));
    assert!(replica.step_past(&ops[1]));
    assert_eq!(shown_ids(&replica), ["s0", "s1"]);

    // Back to the board as it is, the pending stroke over it.
    assert!(replica.leave_past());
    assert_eq!(replica.past(), None);
    assert_eq!(shown_ids(&replica), ["s0", "s1", "s2", "s3", "mine"]);
    assert!(!replica.leave_past());
}

#[test]
fn kept_requests_read_back_as_the_same_messages_of_every_kind() {
    let mut replica = Replica::new(user("me"), "t".into());
    let mut moved = stroke("a", 5.0, 5.0, 1.0);
    moved.points[0] = Point::new(1.0, 2.0, 0.5);
    for request in [
        Request::AddStroke(stroke("a", 0.0, 0.0, 1.0)),
        Request::AddStrokes(vec![
            stroke("b", 0.0, 9.0, 2.0),
            stroke("c", 0.0, 19.0, 3.0),
        ]),
        Request::Update(vec![moved]),
        Request::Erase(vec![id("b")]),
        Request::Clear,
        Request::Undo,
        Request::Redo,
        Request::Restore { seq: 3 },
        Request::NameVersion("before the workshop".into()),
    ] {
        replica.submit(request);
    }
    let text = replica.pending_to_keep();
    let read = kept::read_pending(&text).expect("kept requests read back");
    let messages = |pending: &[Pending]| -> Vec<(OpId, ClientMessage)> {
        pending
            .iter()
            .map(|p| (p.op_id.clone(), p.message.clone()))
            .collect()
    };
    assert_eq!(messages(&read), messages(replica.pending()));
    assert_eq!(read.len(), 9, "every kind of request is kept");

    assert!(kept::read_pending("not json").is_err());
    // A kept request that would be refused is left out, the rest kept.
    let too_long = text.replace("before the workshop", &"n".repeat(200));
    assert_eq!(kept::read_pending(&too_long).map(|r| r.len()), Ok(8));
}

#[test]
fn a_reload_shows_what_was_kept_at_once_and_catches_up_from_its_number() {
    let mut server = FakeServer::new();
    let mut before = welcomed(&server);
    for n in 0..3 {
        let op = server.other_adds(stroke(&format!("s{n}"), 0.0, 10.0 * n as f32, n as f64));
        before.on_server(op, 0.0);
    }
    let undo_mine = before.submit(Request::AddStroke(stroke("mine", 50.0, 0.0, 9.0)));
    let op = server.commit(&user("me"), &undo_mine.send[0]);
    before.on_server(op, 0.0);
    // The connection drops; drawing goes on.
    before.disconnect();
    before.submit(Request::AddStroke(stroke("offline", 0.0, 90.0, 10.0)));
    before.submit(Request::Erase(vec![id("s0")]));
    before.submit(Request::Undo);
    let seq = before.keepable_seq().expect("a whole confirmed board");
    let (board, pending) = (kept::pack_board(before.board()), before.pending_to_keep());
    let shown_before = shown_ids(&before);

    // Someone else goes on meanwhile.
    let missed = server.other_adds(stroke("later", 0.0, 200.0, 20.0));

    // The page reloads: a new replica (new id prefix), same user.
    let mut after = Replica::new(user("me"), "u".into());
    let changed = after.resume(Some(&board), Some(&pending));
    assert!(changed.opened && changed.redraw, "shown at once");
    assert!(changed.send.is_empty(), "nothing goes out offline");
    assert_eq!(shown_ids(&after), shown_before, "exactly as it was");
    assert_eq!(after.pending().len(), 3);
    assert_eq!(after.keepable_seq(), Some(seq));

    let ClientMessage::Hello { last_seq, .. } = after.connect(None, None, None) else {
        panic!("connect says hello");
    };
    assert_eq!(last_seq, Some(seq), "asks only for what came after");
    let ServerMessage::Op { op: missed } = missed else {
        panic!("an op");
    };
    let welcome = ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        board: None,
        seq: server.board.seq(),
        snapshot: None,
        packed_snapshot: None,
        snapshot_parts: None,
        ops: vec![missed],
        presence: 1,
    };
    let changed = after.on_server(welcome, 0.0);
    assert!(!changed.opened, "not a first opening");
    assert_eq!(changed.send.len(), 3, "what was kept goes out, in order");
    for message in &changed.send {
        let op = server.commit(&user("me"), message);
        after.on_server(op, 0.0);
    }
    assert!(after.pending().is_empty());
    let visible = |board: &Board| -> Vec<String> {
        board
            .visible_strokes()
            .map(|s| s.id.as_str().to_owned())
            .collect()
    };
    assert_eq!(visible(after.board()), visible(&server.board));
    assert_eq!(
        visible(after.board()),
        ["s0", "s1", "s2", "mine", "later", "offline"],
        "the undo made offline took back the erase made offline"
    );
}

#[test]
fn what_was_kept_never_replaces_a_board_from_the_server_nor_doubles_a_request() {
    let mut server = FakeServer::new();
    let mut first = welcomed(&server);
    first.disconnect();
    first.submit(Request::AddStroke(stroke("a", 0.0, 0.0, 1.0)));
    let old_board = kept::pack_board(first.board());
    let pending = first.pending_to_keep();

    server.other_adds(stroke("b", 0.0, 10.0, 2.0));
    let mut live = welcomed(&server);
    live.resume(None, Some(&pending));
    let changed = live.resume(Some(&old_board), Some(&pending));
    assert_eq!(live.board().seq(), 1, "the server's board stays");
    assert_eq!(live.pending().len(), 1, "taken once");
    assert!(changed.send.is_empty(), "already sent by the first resume");

    let mut unreadable = Replica::new(user("me"), "u".into());
    let changed = unreadable.resume(Some(b"garbage"), Some("[1]"));
    assert!(changed.warning.is_some());
    assert_eq!(unreadable.board().seq(), 0);
}

#[test]
fn a_replica_speaks_for_another_user_only_before_it_connects() {
    let server = FakeServer::new();
    let mut replica = Replica::new(user("me"), "t".into());
    replica.speak_for(user("closed-tab"));
    let ClientMessage::Hello { user: hello, .. } = replica.connect(None, None, None) else {
        panic!("connect says hello");
    };
    assert_eq!(hello.as_str(), "closed-tab");
    replica.on_server(server.welcome(), 0.0);
    replica.speak_for(user("someone-else"));
    let ClientMessage::Hello { user: hello, .. } = replica.connect(None, None, None) else {
        panic!("connect says hello");
    };
    assert_eq!(hello.as_str(), "closed-tab");
}

#[test]
fn the_newer_of_a_kept_list_and_its_copy_wins() {
    let list = |key: &str, at: u64, text: &str| (key.to_owned(), kept::stamped(text, at));
    assert_eq!(kept::unstamped(&kept::stamped("[]", 42)), Some((42, "[]")));
    assert_eq!(kept::unstamped("[] without a stamp"), None);

    let stored = vec![
        list("b/pending/u1", 10, "older"),
        list("b/pending/u2", 30, "kept"),
    ];
    let copies = vec![
        list("b/pending/u1", 20, "copied on hiding"),
        list("b/pending/u2", 25, "an older copy"),
        list("b/pending/u3", 5, "only copied"),
        ("b/pending/u4".to_owned(), "unreadable".to_owned()),
    ];
    let newest = kept::newest(stored, copies);
    let text = |key: &str| {
        newest
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| kept::unstamped(v))
            .map(|(_, text)| text)
    };
    assert_eq!(text("b/pending/u1"), Some("copied on hiding"));
    assert_eq!(text("b/pending/u2"), Some("kept"));
    assert_eq!(text("b/pending/u3"), Some("only copied"));
    assert_eq!(newest.len(), 4);
}
