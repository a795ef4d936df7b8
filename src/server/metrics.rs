//! Process-wide counters for `GET /metrics` (Prometheus / OpenMetrics text).
//!
//! One static registry, because every part of the server updates it and
//! nothing reads it but the endpoint. Hot paths (every frame in and out) hold
//! pre-made handles to their labelled series: updating one is an atomic add,
//! never a lookup. The crate (`prometheus-client`, the Prometheus project's
//! own) does the text format, so nothing here formats numbers by hand.

use std::sync::LazyLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Which lane a frame travels on.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Lane {
    /// Operations, acknowledgements, welcomes: ordered and stored.
    Durable,
    /// Previews, drafts, cursors: relayed, never stored.
    Ephemeral,
    /// Presence and errors.
    Control,
}

impl EncodeLabelValue for Lane {
    /// Lower case, as Prometheus label values usually are.
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(match self {
            Lane::Durable => "durable",
            Lane::Ephemeral => "ephemeral",
            Lane::Control => "control",
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabel {
    lane: Lane,
}

/// Frame counters for the three lanes, resolved once.
pub struct PerLane {
    durable: Counter,
    ephemeral: Counter,
    control: Counter,
}

impl PerLane {
    fn new(family: &Family<LaneLabel, Counter>) -> Self {
        let series = |lane| family.get_or_create(&LaneLabel { lane }).clone();
        Self {
            durable: series(Lane::Durable),
            ephemeral: series(Lane::Ephemeral),
            control: series(Lane::Control),
        }
    }

    pub fn add(&self, lane: Lane, frames: u64) {
        match lane {
            Lane::Durable => &self.durable,
            Lane::Ephemeral => &self.ephemeral,
            Lane::Control => &self.control,
        }
        .inc_by(frames);
    }
}

pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Boards with a room on this instance.
    pub open_boards: Gauge,
    /// Frames received from clients.
    pub frames_in: PerLane,
    /// Frames queued for clients.
    pub frames_out: PerLane,
    /// Clients closed because their queue was full.
    pub clients_dropped: Counter,
    /// Frames handed to the bus, and frames dropped because its queue was full.
    pub bus_published: Counter,
    pub bus_publish_dropped: Counter,
    /// One pipelined round trip to the bus, and how many frames it carried.
    pub bus_publish_seconds: Histogram,
    pub bus_publish_batch: Histogram,
    /// Frames a room missed because it read its subscription too slowly.
    pub bus_lagged_frames: Counter,
    /// Times a room read the store to fill a gap in what the bus relayed.
    pub bus_gap_fills: Counter,
    /// One store append, and how many operations it stored.
    pub store_append_seconds: Histogram,
    pub store_append_batch: Histogram,
    /// Durable requests held by rooms while the store is unreachable.
    pub held_requests: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("whiteboard");
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        let open_boards = Gauge::default();
        registry.register(
            "open_boards",
            "Boards with a room on this instance",
            open_boards.clone(),
        );
        let frames_in = Family::<LaneLabel, Counter>::default();
        registry.register(
            "frames_received",
            "Frames received from clients",
            frames_in.clone(),
        );
        let frames_out = Family::<LaneLabel, Counter>::default();
        registry.register(
            "frames_sent",
            "Frames queued for clients",
            frames_out.clone(),
        );
        let clients_dropped = Counter::default();
        registry.register(
            "clients_dropped",
            "Clients closed (1013) because they fell behind",
            clients_dropped.clone(),
        );
        let bus_published = Counter::default();
        registry.register(
            "bus_published_frames",
            "Frames handed to the bus",
            bus_published.clone(),
        );
        let bus_publish_dropped = Counter::default();
        registry.register(
            "bus_publish_dropped_frames",
            "Frames dropped because the bus publisher queue was full",
            bus_publish_dropped.clone(),
        );
        let bus_publish_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        registry.register(
            "bus_publish_seconds",
            "Duration of one pipelined publish round trip",
            bus_publish_seconds.clone(),
        );
        let bus_publish_batch = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "bus_publish_batch_frames",
            "Frames sent in one publish round trip",
            bus_publish_batch.clone(),
        );
        let bus_lagged_frames = Counter::default();
        registry.register(
            "bus_lagged_frames",
            "Frames a room missed because it read its subscription too slowly",
            bus_lagged_frames.clone(),
        );
        let bus_gap_fills = Counter::default();
        registry.register(
            "bus_gap_fills",
            "Store reads that filled a gap in relayed operations",
            bus_gap_fills.clone(),
        );
        let store_append_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        registry.register(
            "store_append_seconds",
            "Duration of one store append",
            store_append_seconds.clone(),
        );
        let store_append_batch = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        registry.register(
            "store_append_batch_ops",
            "Operations stored by one append",
            store_append_batch.clone(),
        );
        let held_requests = Gauge::default();
        registry.register(
            "held_requests",
            "Durable requests held while the store is unreachable",
            held_requests.clone(),
        );
        Self {
            registry,
            connections,
            open_boards,
            frames_in: PerLane::new(&frames_in),
            frames_out: PerLane::new(&frames_out),
            clients_dropped,
            bus_published,
            bus_publish_dropped,
            bus_publish_seconds,
            bus_publish_batch,
            bus_lagged_frames,
            bus_gap_fills,
            store_append_seconds,
            store_append_batch,
            held_requests,
        }
    }

    /// The whole registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}
