//! The bus seam: publish/subscribe per board between server instances.
//!
//! A room delivers to its own clients directly and publishes the same frames
//! on the bus for rooms of the same board in other instances. Each frame
//! carries the publishing instance's id, and a bus drops its own instance's
//! frames before they reach any room (its rooms delivered them already).
//! Publishing never waits: a bus queues the frame or drops and counts it, so
//! a slow or absent bus can never stall a room.
//! [`LocalBus`] is the in-process implementation (tokio broadcast channels);
//! a Redis implementation plugs in behind the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc};

use super::Frame;
use crate::protocol::{BoardId, Person};

/// How many frames a subscriber may fall behind before it is told it lagged.
pub const SUBSCRIBER_BUFFER: usize = 1024;
/// The same for the in-process bus, which carries no frame outside tests
/// (see [`LocalBus`]): a channel's buffer is allocated up front, and 1,024
/// slots were 80 KB of every open board's memory for nothing.
const LOCAL_SUBSCRIBER_BUFFER: usize = 16;

/// Identifies one server process on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(pub u64);

/// What travels between instances.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// An encoded `op` [`ServerMessage`](crate::protocol::ServerMessage):
    /// the receiving room decodes it to keep its board in step.
    Op(Frame),
    /// An encoded ephemeral message (`preview`, `preview_end`, `draft`,
    /// `draft_end`, `cursor`) that the receiving room hands to its clients
    /// as it is, without decoding it.
    Live(Frame),
    /// The people connected to the publishing instance for this board; sent
    /// on change and periodically, so that presence counts everyone.
    Roster(Roster),
    /// The board's access tokens changed in the store (its edit link was
    /// rotated): rooms read them there and let go of editors with an old
    /// key. No token travels on the bus.
    AccessChanged,
}

/// What an instance announces about a board, on change and every few seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// The people connected to the publishing instance.
    pub people: Vec<Person>,
    /// The publisher's board sequence number. A room that is behind it
    /// missed a relayed operation (a publish lost while Redis reconnected)
    /// and reads what it missed from the store: relaying is best effort,
    /// this bounds how long a lost frame can go unnoticed.
    pub seq: u64,
}

/// One frame on the bus and who published it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub origin: InstanceId,
    pub payload: Payload,
}

impl Envelope {
    /// Text form for buses that carry strings: 16 hex digits of the origin,
    /// `F` (an `op` frame), `E` (an ephemeral frame), `R` (roster, a JSON
    /// object) or `A` (access changed, no body), then the body.
    pub fn encode(&self) -> String {
        match &self.payload {
            Payload::Op(frame) => format!("{:016x}F{frame}", self.origin.0),
            Payload::Live(frame) => format!("{:016x}E{frame}", self.origin.0),
            Payload::Roster(roster) => format!(
                "{:016x}R{}",
                self.origin.0,
                serde_json::to_string(roster).expect("rosters always serialise")
            ),
            Payload::AccessChanged => format!("{:016x}A", self.origin.0),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        let origin = u64::from_str_radix(text.get(..16)?, 16).ok()?;
        let body = text.get(17..).unwrap_or_default();
        let payload = match text.get(16..17)? {
            "F" => Payload::Op(body.into()),
            "E" => Payload::Live(body.into()),
            "R" => Payload::Roster(serde_json::from_str(body).ok()?),
            "A" => Payload::AccessChanged,
            _ => return None,
        };
        Some(Self {
            origin: InstanceId(origin),
            payload,
        })
    }
}

#[derive(Debug, Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum BusEvent {
    Frame(Envelope),
    /// `n` frames were dropped because the subscriber was too slow; durable
    /// state must be refetched from the store.
    Lagged(u64),
    /// The bus reconnected after an outage: frames may have been missed.
    Resync,
    /// The subscription ended; subscribe again.
    Closed,
}

/// What a bus hands to its subscribers' channels.
#[derive(Debug, Clone)]
pub enum Delivery {
    Frame(Envelope),
    Resync,
}

/// A live subscription to one board's frames.
pub struct Subscription {
    // Dropped before `_release`, so the bus sees it gone.
    receiver: broadcast::Receiver<Delivery>,
    /// Tells the bus when this subscription is dropped, so it can stop
    /// listening for a board nobody here cares about any more.
    _release: Option<ReleaseGuard>,
}

/// Tells the bus, when dropped, that a subscription ended.
pub struct ReleaseGuard(Option<Box<dyn FnOnce() + Send + Sync>>);

impl ReleaseGuard {
    /// Runs `release` when the subscription is dropped (after its receiver).
    pub fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self(Some(Box::new(release)))
    }

    /// Sends `board` on `releases` when dropped.
    pub fn sending(board: BoardId, releases: mpsc::UnboundedSender<BoardId>) -> Self {
        Self::new(move || {
            let _ = releases.send(board);
        })
    }
}

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl Subscription {
    pub fn new(receiver: broadcast::Receiver<Delivery>, release: Option<ReleaseGuard>) -> Self {
        Self {
            receiver,
            _release: release,
        }
    }

    pub async fn next(&mut self) -> BusEvent {
        match self.receiver.recv().await {
            Ok(Delivery::Frame(envelope)) => BusEvent::Frame(envelope),
            Ok(Delivery::Resync) => BusEvent::Resync,
            Err(broadcast::error::RecvError::Lagged(n)) => BusEvent::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => BusEvent::Closed,
        }
    }
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    fn describe(&self) -> String;
    /// Hands a frame to the bus without waiting. Frames the bus cannot take
    /// now (its queue is full, or it is down) are dropped and counted: the
    /// ephemeral lane tolerates loss, and rooms notice lost operations by
    /// their sequence numbers and read them from the store.
    fn publish(&self, board: &BoardId, envelope: Envelope);
    async fn subscribe(&self, board: &BoardId) -> Result<Subscription, BusError>;
    /// Whether the bus is reachable now (for `/healthz`).
    async fn healthy(&self) -> bool {
        true
    }
}

/// The in-process bus: one broadcast channel per board with subscribers.
///
/// Within one process a board has one room, so everything this instance
/// publishes is its own echo and is dropped at once: with the in-process bus,
/// relaying costs nothing. A board's channel (its buffer is allocated up
/// front) goes when its last subscription does, so boards opened and closed
/// leave nothing behind.
pub struct LocalBus {
    instance: InstanceId,
    channels: Arc<Mutex<Channels>>,
}

type Channels = HashMap<BoardId, broadcast::Sender<Delivery>>;

impl LocalBus {
    /// A bus for the rooms of `instance`.
    pub fn new(instance: InstanceId) -> Self {
        Self {
            instance,
            channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn describe(&self) -> String {
        "in-process broadcast bus".to_owned()
    }

    fn publish(&self, board: &BoardId, envelope: Envelope) {
        if envelope.origin == self.instance {
            return;
        }
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = channels.get(board) {
            if sender.send(Delivery::Frame(envelope)).is_err() {
                // Nobody listens any more: forget the channel.
                channels.remove(board);
            }
        }
    }

    async fn subscribe(&self, board: &BoardId) -> Result<Subscription, BusError> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let sender = channels
            .entry(board.clone())
            .or_insert_with(|| broadcast::channel(LOCAL_SUBSCRIBER_BUFFER).0);
        let receiver = sender.subscribe();
        let (shared, board) = (Arc::clone(&self.channels), board.clone());
        let release = ReleaseGuard::new(move || {
            let mut channels = shared.lock().unwrap_or_else(|e| e.into_inner());
            if channels
                .get(&board)
                .is_some_and(|sender| sender.receiver_count() == 0)
            {
                channels.remove(&board);
            }
        });
        Ok(Subscription::new(receiver, Some(release)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::UserId;

    fn relay(text: &str) -> Envelope {
        Envelope {
            origin: InstanceId(1),
            payload: Payload::Live(text.into()),
        }
    }

    #[tokio::test]
    async fn subscribers_receive_frames_of_their_board_only() {
        let bus = LocalBus::new(InstanceId(0));
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let b = BoardId::parse("bbbbbbbbbbbbbbbb").unwrap();
        let mut sub_a = bus.subscribe(&a).await.unwrap();
        let mut sub_b = bus.subscribe(&b).await.unwrap();
        bus.publish(&a, relay("for a"));
        bus.publish(&b, relay("for b"));
        match sub_a.next().await {
            BusEvent::Frame(e) => assert_eq!(e, relay("for a")),
            other => panic!("unexpected {other:?}"),
        }
        match sub_b.next().await {
            BusEvent::Frame(e) => assert_eq!(e, relay("for b")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_instance_never_hears_its_own_frames() {
        let bus = LocalBus::new(InstanceId(1));
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let mut sub = bus.subscribe(&a).await.unwrap();
        bus.publish(&a, relay("own echo"));
        let other = Envelope {
            origin: InstanceId(2),
            payload: Payload::Live("from elsewhere".into()),
        };
        bus.publish(&a, other.clone());
        match sub.next().await {
            BusEvent::Frame(e) => assert_eq!(e, other),
            event => panic!("unexpected {event:?}"),
        }
    }

    #[tokio::test]
    async fn a_boards_channel_goes_with_its_last_subscription() {
        let bus = LocalBus::new(InstanceId(0));
        let open = |bus: &LocalBus| bus.channels.lock().unwrap().len();
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let first = bus.subscribe(&a).await.unwrap();
        let mut second = bus.subscribe(&a).await.unwrap();
        drop(first);
        assert_eq!(open(&bus), 1, "one subscription is left");
        bus.publish(&a, relay("still heard"));
        assert!(matches!(second.next().await, BusEvent::Frame(_)));
        drop(second);
        assert_eq!(open(&bus), 0);
        for i in 0..100 {
            let board = BoardId::parse(&format!("board-{i:011}")).unwrap();
            drop(bus.subscribe(&board).await.unwrap());
        }
        assert_eq!(open(&bus), 0, "boards opened and closed leave nothing");
    }

    #[tokio::test]
    async fn slow_subscribers_learn_that_they_lagged() {
        let bus = LocalBus::new(InstanceId(0));
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let mut sub = bus.subscribe(&a).await.unwrap();
        for i in 0..LOCAL_SUBSCRIBER_BUFFER + 10 {
            bus.publish(&a, relay(&i.to_string()));
        }
        assert!(matches!(sub.next().await, BusEvent::Lagged(10)));
    }

    #[test]
    fn envelopes_round_trip_as_text() {
        let roster = Envelope {
            origin: InstanceId(u64::MAX),
            payload: Payload::Roster(Roster {
                people: vec![Person {
                    user: UserId::parse("alice").unwrap(),
                    name: "Alice".into(),
                    viewer: false,
                    following: None,
                }],
                seq: 42,
            }),
        };
        let op = Envelope {
            origin: InstanceId(7),
            payload: Payload::Op(r#"{"type":"op"}"#.into()),
        };
        let access = Envelope {
            origin: InstanceId(3),
            payload: Payload::AccessChanged,
        };
        for envelope in [relay(r#"{"type":"cursor"}"#), op, roster, access] {
            assert_eq!(Envelope::decode(&envelope.encode()), Some(envelope));
        }
        assert_eq!(Envelope::decode("garbage"), None);
        assert_eq!(Envelope::decode("00000000000000zzF{}"), None);
    }
}
