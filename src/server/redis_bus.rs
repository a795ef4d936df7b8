//! The Redis bus, used when `REDIS_URL` is set: one pub/sub channel per board.
//!
//! Publishing goes through a `ConnectionManager`, which reconnects by itself.
//! Receiving goes through one dedicated pub/sub connection per instance,
//! owned by a pump task: it subscribes to a board's channel only while some
//! room here subscribes to the board (so no instance receives every board's
//! traffic), hands each message to that board's local broadcast channel, and
//! after losing Redis reconnects with backoff, subscribes again to every
//! board still wanted and tells each room to resynchronise from the store
//! (frames published during the outage are gone).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::bus::{
    Bus, BusError, Delivery, Envelope, ReleaseGuard, Subscription, SUBSCRIBER_BUFFER,
};
use crate::protocol::BoardId;

/// Channel name prefix; the board id follows.
const CHANNEL_PREFIX: &str = "whiteboard:board:";
/// Publishing gives up after this long (Redis down must not stall a room).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Reconnect backoff bounds.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long `subscribe` waits for Redis to confirm before going on (the room
/// catches up from the store anyway).
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// The pub/sub connection is pinged this often; a ping that fails or takes
/// longer than [`PUBLISH_TIMEOUT`] counts as a lost connection (a dead TCP
/// peer does not always end the message stream).
const PING_INTERVAL: Duration = Duration::from_secs(2);

fn channel_name(board: &BoardId) -> String {
    format!("{CHANNEL_PREFIX}{board}")
}

fn redis_error(error: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(error.to_string())
}

enum Control {
    Subscribe(BoardId, oneshot::Sender<()>),
}

struct Shared {
    channels: Mutex<HashMap<BoardId, broadcast::Sender<Delivery>>>,
    connected: AtomicBool,
}

impl Shared {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<BoardId, broadcast::Sender<Delivery>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dispatch(&self, message: &redis::Msg) {
        let Some(board) = message
            .get_channel_name()
            .strip_prefix(CHANNEL_PREFIX)
            .and_then(|raw| BoardId::parse(raw).ok())
        else {
            return;
        };
        let Some(envelope) = std::str::from_utf8(message.get_payload_bytes())
            .ok()
            .and_then(Envelope::decode)
        else {
            warn!(%board, "undecodable message on the bus");
            return;
        };
        if let Some(sender) = self.channels().get(&board) {
            let _ = sender.send(Delivery::Frame(envelope));
        }
    }

    /// Forgets a board nobody here listens to any more; `true` if forgotten.
    fn release_if_unused(&self, board: &BoardId) -> bool {
        let mut channels = self.channels();
        if channels.get(board).is_some_and(|s| s.receiver_count() == 0) {
            channels.remove(board);
            true
        } else {
            false
        }
    }
}

pub struct RedisBus {
    publisher: ConnectionManager,
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
    releases: mpsc::UnboundedSender<BoardId>,
    description: String,
}

impl RedisBus {
    /// Connects (failing if Redis is unreachable now) and starts the pump.
    pub async fn connect(url: &str, shutdown: CancellationToken) -> Result<Self, BusError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PUBLISH_TIMEOUT))
            .set_response_timeout(Some(PUBLISH_TIMEOUT));
        let publisher = tokio::time::timeout(
            SUBSCRIBE_WAIT * 3,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| BusError::Unavailable("timed out connecting to Redis".into()))?
        .map_err(redis_error)?;
        let shared = Arc::new(Shared {
            channels: Mutex::new(HashMap::new()),
            connected: AtomicBool::new(false),
        });
        let (control, control_rx) = mpsc::unbounded_channel();
        let (releases, releases_rx) = mpsc::unbounded_channel();
        tokio::spawn(pump(
            client,
            Arc::clone(&shared),
            control_rx,
            releases_rx,
            shutdown,
        ));
        Ok(Self {
            publisher,
            shared,
            control,
            releases,
            description: format!("Redis pub/sub at {}", super::redact_credentials(url)),
        })
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn publish(&self, board: &BoardId, envelope: Envelope) -> Result<(), BusError> {
        let mut connection = self.publisher.clone();
        let published = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(channel_name(board))
                .arg(envelope.encode())
                .query_async::<i64>(&mut connection),
        )
        .await;
        match published {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(redis_error(error)),
            Err(_) => Err(BusError::Unavailable("publish timed out".into())),
        }
    }

    async fn subscribe(&self, board: &BoardId) -> Result<Subscription, BusError> {
        let (receiver, new) = {
            let mut channels = self.shared.channels();
            match channels.get(board) {
                Some(sender) => (sender.subscribe(), false),
                None => {
                    let (sender, receiver) = broadcast::channel(SUBSCRIBER_BUFFER);
                    channels.insert(board.clone(), sender);
                    (receiver, true)
                }
            }
        };
        if new {
            let (confirmed, confirmation) = oneshot::channel();
            let _ = self
                .control
                .send(Control::Subscribe(board.clone(), confirmed));
            // Wait for Redis to confirm so that frames published from now on
            // reach us; if Redis is down, go on: the reconnect resyncs.
            let _ = tokio::time::timeout(SUBSCRIBE_WAIT, confirmation).await;
        }
        let release = ReleaseGuard {
            board: board.clone(),
            releases: self.releases.clone(),
        };
        Ok(Subscription::new(receiver, Some(release)))
    }

    async fn healthy(&self) -> bool {
        if !self.shared.connected.load(Ordering::Relaxed) {
            return false;
        }
        let mut connection = self.publisher.clone();
        matches!(
            tokio::time::timeout(
                PUBLISH_TIMEOUT,
                redis::cmd("PING").query_async::<String>(&mut connection)
            )
            .await,
            Ok(Ok(_))
        )
    }
}

async fn subscribe(sink: &mut PubSubSink, board: &BoardId) -> bool {
    sink.subscribe(channel_name(board)).await.is_ok()
}

/// Owns the pub/sub connection: (re)connects, (un)subscribes, dispatches.
async fn pump(
    client: redis::Client,
    shared: Arc<Shared>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut releases: mpsc::UnboundedReceiver<BoardId>,
    shutdown: CancellationToken,
) {
    let mut retry = FIRST_RETRY;
    let mut was_connected = false;
    loop {
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = client.get_async_pubsub() => result,
        };
        let (mut sink, mut stream) = match connected {
            Ok(pubsub) => pubsub.split(),
            Err(error) => {
                warn!(%error, "cannot reach Redis; retrying in {retry:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        };
        let wanted: Vec<BoardId> = shared.channels().keys().cloned().collect();
        let mut subscribed = true;
        for board in &wanted {
            subscribed &= subscribe(&mut sink, board).await;
        }
        if !subscribed {
            continue;
        }
        retry = FIRST_RETRY;
        shared.connected.store(true, Ordering::Relaxed);
        if was_connected {
            info!(
                boards = wanted.len(),
                "Redis is back; resynchronising rooms"
            );
            for sender in shared.channels().values() {
                let _ = sender.send(Delivery::Resync);
            }
        }
        was_connected = true;
        let mut ping = tokio::time::interval(PING_INTERVAL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ping.tick() => {
                    let answered = tokio::time::timeout(PUBLISH_TIMEOUT, sink.ping::<redis::Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        break;
                    }
                }
                message = stream.next() => match message {
                    Some(message) => shared.dispatch(&message),
                    None => break,
                },
                command = control.recv() => match command {
                    Some(Control::Subscribe(board, confirmed)) => {
                        let ok = subscribe(&mut sink, &board).await;
                        let _ = confirmed.send(());
                        if !ok {
                            break;
                        }
                    }
                    None => return,
                },
                released = releases.recv() => {
                    if let Some(board) = released {
                        if shared.release_if_unused(&board) {
                            let _ = sink.unsubscribe(channel_name(&board)).await;
                        }
                    }
                }
            }
        }
        shared.connected.store(false, Ordering::Relaxed);
        warn!("lost the Redis pub/sub connection; reconnecting");
    }
}
