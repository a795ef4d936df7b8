//! The bus seam: publish/subscribe per board between server instances.
//!
//! A room delivers to its own clients directly and publishes the same frames
//! on the bus for rooms of the same board in other instances. Each frame
//! carries the publishing instance's id so a room ignores its own echo.
//! [`LocalBus`] is the in-process implementation (tokio broadcast channels);
//! a Redis implementation plugs in behind the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::broadcast;

use crate::protocol::BoardId;

/// How many frames a subscriber may fall behind before it is told it lagged.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// Identifies one server process on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceId(pub u64);

/// One frame on the bus: an encoded [`ServerMessage`](crate::protocol::ServerMessage)
/// and who published it.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub origin: InstanceId,
    pub frame: Arc<str>,
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
    /// The subscription ended (the bus shut down).
    Closed,
}

/// A live subscription to one board's frames; unsubscribes when dropped.
pub struct Subscription {
    receiver: broadcast::Receiver<Envelope>,
}

impl Subscription {
    pub fn new(receiver: broadcast::Receiver<Envelope>) -> Self {
        Self { receiver }
    }

    pub async fn next(&mut self) -> BusEvent {
        match self.receiver.recv().await {
            Ok(envelope) => BusEvent::Frame(envelope),
            Err(broadcast::error::RecvError::Lagged(n)) => BusEvent::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => BusEvent::Closed,
        }
    }
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    fn describe(&self) -> String;
    async fn publish(&self, board: &BoardId, envelope: Envelope) -> Result<(), BusError>;
    async fn subscribe(&self, board: &BoardId) -> Result<Subscription, BusError>;
}

/// The in-process bus: one broadcast channel per board with subscribers.
#[derive(Default)]
pub struct LocalBus {
    channels: Mutex<HashMap<BoardId, broadcast::Sender<Envelope>>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn describe(&self) -> String {
        "in-process broadcast bus".to_owned()
    }

    async fn publish(&self, board: &BoardId, envelope: Envelope) -> Result<(), BusError> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = channels.get(board) {
            if sender.send(envelope).is_err() {
                // Nobody listens any more: forget the channel.
                channels.remove(board);
            }
        }
        Ok(())
    }

    async fn subscribe(&self, board: &BoardId) -> Result<Subscription, BusError> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let sender = channels
            .entry(board.clone())
            .or_insert_with(|| broadcast::channel(SUBSCRIBER_BUFFER).0);
        Ok(Subscription::new(sender.subscribe()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_frames_of_their_board_only() {
        let bus = LocalBus::new();
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let b = BoardId::parse("bbbbbbbbbbbbbbbb").unwrap();
        let mut sub_a = bus.subscribe(&a).await.unwrap();
        let mut sub_b = bus.subscribe(&b).await.unwrap();
        let origin = InstanceId(1);
        bus.publish(
            &a,
            Envelope {
                origin,
                frame: "for a".into(),
            },
        )
        .await
        .unwrap();
        bus.publish(
            &b,
            Envelope {
                origin,
                frame: "for b".into(),
            },
        )
        .await
        .unwrap();
        match sub_a.next().await {
            BusEvent::Frame(e) => assert_eq!(&*e.frame, "for a"),
            other => panic!("unexpected {other:?}"),
        }
        match sub_b.next().await {
            BusEvent::Frame(e) => assert_eq!(&*e.frame, "for b"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn slow_subscribers_learn_that_they_lagged() {
        let bus = LocalBus::new();
        let a = BoardId::parse("aaaaaaaaaaaaaaaa").unwrap();
        let mut sub = bus.subscribe(&a).await.unwrap();
        for i in 0..SUBSCRIBER_BUFFER + 10 {
            let frame: Arc<str> = i.to_string().into();
            bus.publish(
                &a,
                Envelope {
                    origin: InstanceId(1),
                    frame,
                },
            )
            .await
            .unwrap();
        }
        assert!(matches!(sub.next().await, BusEvent::Lagged(10)));
    }
}
