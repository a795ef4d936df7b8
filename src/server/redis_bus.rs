//! The Redis bus, used when `REDIS_URL` is set: one pub/sub channel per board.
//!
//! Publishing never waits: rooms put frames on one queue per instance, and a
//! publisher task sends everything queued in one pipelined round trip through
//! a `ConnectionManager` (which reconnects by itself), so a busy board costs a
//! Redis round trip per batch, not per frame, and frames keep their order.
//! When the queue is full (Redis is down or slow) frames are dropped and
//! counted. Receiving goes through one dedicated pub/sub connection per instance,
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
use tracing::{debug, info, warn};

use super::bus::{
    Bus, BusError, Delivery, Envelope, InstanceId, ReleaseGuard, Subscription, SUBSCRIBER_BUFFER,
};
use super::metrics::metrics;
use crate::protocol::BoardId;

/// Channel name prefix; the board id follows.
const CHANNEL_PREFIX: &str = "whiteboard:board:";
/// A publish round trip gives up after this long.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames waiting for the publisher; beyond that they are dropped.
const PUBLISH_QUEUE: usize = 32_768;
/// Most frames sent in one pipelined round trip.
const MAX_PIPELINE: usize = 1_024;
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
    /// This instance: its own frames come back from Redis and are dropped.
    instance: InstanceId,
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
        if envelope.origin == self.instance {
            return;
        }
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
    /// For health checks; publishing goes through `outgoing`.
    publisher: ConnectionManager,
    outgoing: mpsc::Sender<(BoardId, String)>,
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
    releases: mpsc::UnboundedSender<BoardId>,
    description: String,
}

impl RedisBus {
    /// Connects (failing if Redis is unreachable now) and starts the pump
    /// and the publisher for the rooms of `instance`.
    pub async fn connect(
        url: &str,
        instance: InstanceId,
        shutdown: CancellationToken,
    ) -> Result<Self, BusError> {
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
            instance,
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
            shutdown.clone(),
        ));
        let (outgoing, queue) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publish_queued(publisher.clone(), queue, shutdown));
        Ok(Self {
            publisher,
            outgoing,
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

    fn publish(&self, board: &BoardId, envelope: Envelope) {
        let counter = match self.outgoing.try_send((board.clone(), envelope.encode())) {
            Ok(()) => &metrics().bus_published,
            Err(_) => &metrics().bus_publish_dropped,
        };
        counter.inc();
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
        let release = ReleaseGuard::sending(board.clone(), self.releases.clone());
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

/// Sends queued frames, each time everything queued so far in one pipeline.
async fn publish_queued(
    mut connection: ConnectionManager,
    mut queue: mpsc::Receiver<(BoardId, String)>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_PIPELINE);
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = queue.recv_many(&mut batch, MAX_PIPELINE) => received,
        };
        if received == 0 {
            return;
        }
        let mut pipeline = redis::pipe();
        for (board, frame) in batch.drain(..) {
            pipeline
                .cmd("PUBLISH")
                .arg(channel_name(&board))
                .arg(frame)
                .ignore();
        }
        let started = std::time::Instant::now();
        let sent =
            tokio::time::timeout(PUBLISH_TIMEOUT, pipeline.query_async::<()>(&mut connection))
                .await;
        metrics()
            .bus_publish_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics().bus_publish_batch.observe(received as f64);
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(error)) => debug!(%error, frames = received, "could not publish to Redis"),
            Err(_) => debug!(frames = received, "publishing to Redis timed out"),
        }
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
