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
use prometheus_client::registry::{Metric, Registry};

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
    /// Frames from clients dropped for going over their budget.
    pub frames_over_budget: Counter,
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
    /// Appends that lost a race for a sequence number to another instance.
    pub store_append_conflicts: Counter,
    /// Durable requests held by rooms while the store is unreachable.
    pub held_requests: Gauge,
}

/// Registers `metric` under `name` and hands it back for updating.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("whiteboard");
        let r = &mut registry;
        let lanes = Family::<LaneLabel, Counter>::default;
        let frames_in = registered(
            r,
            "frames_received",
            "Frames received from clients",
            lanes(),
        );
        let frames_out = registered(r, "frames_sent", "Frames queued for clients", lanes());
        Self {
            connections: registered(
                r,
                "connections",
                "Open WebSocket connections",
                Gauge::default(),
            ),
            open_boards: registered(
                r,
                "open_boards",
                "Boards with a room on this instance",
                Gauge::default(),
            ),
            frames_in: PerLane::new(&frames_in),
            frames_out: PerLane::new(&frames_out),
            clients_dropped: registered(
                r,
                "clients_dropped",
                "Clients closed (1013) because they fell behind",
                Counter::default(),
            ),
            frames_over_budget: registered(
                r,
                "frames_over_budget",
                "Frames from clients dropped because their sender was over its budget",
                Counter::default(),
            ),
            bus_published: registered(
                r,
                "bus_published_frames",
                "Frames handed to the bus",
                Counter::default(),
            ),
            bus_publish_dropped: registered(
                r,
                "bus_publish_dropped_frames",
                "Frames dropped because the bus publisher queue was full",
                Counter::default(),
            ),
            bus_publish_seconds: registered(
                r,
                "bus_publish_seconds",
                "Duration of one pipelined publish round trip",
                Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            ),
            bus_publish_batch: registered(
                r,
                "bus_publish_batch_frames",
                "Frames sent in one publish round trip",
                Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            ),
            bus_lagged_frames: registered(
                r,
                "bus_lagged_frames",
                "Frames a room missed because it read its subscription too slowly",
                Counter::default(),
            ),
            bus_gap_fills: registered(
                r,
                "bus_gap_fills",
                "Store reads that filled a gap in relayed operations",
                Counter::default(),
            ),
            store_append_seconds: registered(
                r,
                "store_append_seconds",
                "Duration of one store append",
                Histogram::new(exponential_buckets(0.000_1, 2.0, 16)),
            ),
            store_append_batch: registered(
                r,
                "store_append_batch_ops",
                "Operations stored by one append",
                Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            ),
            store_append_conflicts: registered(
                r,
                "store_append_conflicts",
                "Appends that lost a race for a sequence number to another instance",
                Counter::default(),
            ),
            held_requests: registered(
                r,
                "held_requests",
                "Durable requests held while the store is unreachable",
                Gauge::default(),
            ),
            registry,
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
