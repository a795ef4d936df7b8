//! The wire protocol, compiled into both the server and the WASM client.
//!
//! Every type that crosses the WebSocket lives here, so the two ends cannot
//! drift apart: the server and the browser serialise and validate with the
//! same code. Frames are JSON text (and, from version 2, binary frames
//! holding a packed snapshot after a `welcome`); `docs/protocol.md` is the
//! prose version of this file and must change with it.
//!
//! Messages travel on two lanes:
//! - **ephemeral** (`preview`, `preview_end`, `draft`, `draft_end`, `cursor`,
//!   `profile`): relayed at once to everyone else on the board, never stored,
//!   never acknowledged;
//! - **durable** (`add_stroke`, `add_strokes`, `update`, `erase`, `clear`,
//!   `undo`, `redo`, and from version 4 `restore` and `name_version`):
//!   validated by the server, numbered with the board's sequence, stored,
//!   then broadcast as an [`Operation`] and acknowledged to the sender.
//!
//! From version 4 a client may also read the board's history (`history`,
//! `board_at`, `ops`): answered to it alone, from what is stored.
//!
//! A "stroke" is anything on the board: a freehand line, a shape or a text.
//! Its `kind` says which; fields added after the first version (`kind`,
//! `fill`, `opacity`, `z`, `text`, `font_size`) all have defaults, so a
//! freehand stroke is written exactly as it was before they existed.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::decimal::dec;
use crate::geometry::Rect;
pub use crate::image::ImageId;

pub mod packed;
pub(crate) mod tag_first;

use tag_first::tag_first_serde;

/// The protocol version this build speaks: bumped on any incompatible change
/// to the messages below. Version 2 sends a `welcome`'s snapshot packed, in
/// binary frames after it (see [`packed`]); nothing else differs from 1.
/// Version 3 sends it in parts, what is in the `hello`'s view first.
/// Version 4 adds history: operations carry when and by whom they were
/// made, clients may read the board's history and restore or name versions.
/// Version 5 adds image items (`kind` `image`).
pub const PROTOCOL_VERSION: u32 = 5;
/// The oldest version the server still answers (with JSON snapshots).
pub const OLDEST_PROTOCOL_VERSION: u32 = 1;
/// The first version whose snapshots are packed.
pub const PACKED_SNAPSHOTS_SINCE: u32 = 2;
/// The first version whose packed snapshots come in parts.
pub const SNAPSHOT_PARTS_SINCE: u32 = 3;
/// The first version that reads history and knows the operations
/// `restore` and `name_version` (older clients get those as `undo` and
/// `erase` of nothing, which do the same to their board).
pub const HISTORY_SINCE: u32 = 4;
/// The first version that knows image items: older clients get each as a
/// grey rectangle of the same box ([`Stroke::as_placeholder`]), and may not
/// turn one into anything else.
pub const IMAGES_SINCE: u32 = 5;
/// What older clients see of an image item: a rectangle filled with this.
pub const IMAGE_PLACEHOLDER_FILL: &str = "#e9ecef";

/// Limits that bound what one client can make the server hold or relay.
pub mod limits {
    /// Largest text frame the server accepts, in bytes.
    pub const MAX_FRAME_BYTES: usize = 64 * 1024;
    /// Frames larger than this are not even read: the connection is closed
    /// with [`super::close_code::MESSAGE_TOO_BIG`]. Between the two limits a
    /// frame gets a `frame_too_large` error.
    pub const HARD_FRAME_BYTES: usize = 4 * MAX_FRAME_BYTES;
    /// Most points in one committed stroke. Longer pen strokes are split by
    /// the client into several strokes.
    pub const MAX_STROKE_POINTS: usize = 5_000;
    /// Most points in one `preview` batch.
    pub const MAX_PREVIEW_POINTS: usize = 512;
    /// Most previews one person may have open at once: a new one beyond it
    /// ends their oldest for everyone.
    pub const MAX_OPEN_PREVIEWS: usize = 8;
    /// Most stroke ids one `erase` may name.
    pub const MAX_ERASE_IDS: usize = 2_000;
    /// Items a `selection` names at most (a bigger selection is shown to
    /// others by its first this many).
    pub const MAX_SELECTION_IDS: usize = 1_000;
    /// Longest id (board, user, stroke, operation), in characters.
    pub const MAX_ID_LEN: usize = 64;
    /// Shortest board id, so that ids stay unguessable.
    pub const MIN_BOARD_ID_LEN: usize = 16;
    /// Stroke width bounds, in board units (CSS pixels at zoom 1).
    pub const MIN_STROKE_WIDTH: f32 = 0.5;
    pub const MAX_STROKE_WIDTH: f32 = 128.0;
    /// Coordinates must lie within ±this value.
    pub const MAX_COORDINATE: f32 = 1_000_000.0;
    /// Most strokes one `add_strokes`, `update` or `draft` may carry.
    pub const MAX_BATCH_STROKES: usize = 256;
    /// Longest text of a text item, in bytes of UTF-8.
    pub const MAX_TEXT_BYTES: usize = 4_000;
    /// Font size bounds of a text item, in board units.
    pub const MIN_FONT_SIZE: f32 = 4.0;
    pub const MAX_FONT_SIZE: f32 = 400.0;
    /// Opacity bounds; fully transparent items would be invisible yet there.
    pub const MIN_OPACITY: f32 = 0.05;
    /// Stacking keys must lie within ±this value.
    pub const MAX_Z: f64 = 1e15;
    /// Longest display name, in characters.
    pub const MAX_NAME_CHARS: usize = 32;
    /// Longest name of a version, in characters.
    pub const MAX_VERSION_NAME_CHARS: usize = 80;
    /// Most operations one `history` page summarises.
    pub const MAX_HISTORY_PAGE: u32 = 1_000;

    /// Batches are kept below this many bytes of JSON, well under a frame.
    pub const BATCH_BYTES: usize = MAX_FRAME_BYTES * 3 / 4;

    /// Splits strokes, in order, into batches that each fit one `add_strokes`
    /// or `update` frame: at most [`MAX_BATCH_STROKES`] strokes and about
    /// [`BATCH_BYTES`] of JSON. (A single stroke within the point limits
    /// always fits.)
    pub fn batches(strokes: Vec<super::Stroke>) -> Vec<Vec<super::Stroke>> {
        let mut out: Vec<Vec<super::Stroke>> = Vec::new();
        let mut bytes = 0;
        for stroke in strokes {
            let size = serde_json::to_string(&stroke).map_or(0, |json| json.len() + 1);
            let full = out
                .last()
                .is_none_or(|batch| batch.len() >= MAX_BATCH_STROKES || bytes + size > BATCH_BYTES);
            if full {
                out.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(batch) = out.last_mut() {
                batch.push(stroke);
            }
        }
        out
    }
}

/// Why a message from a client was refused. Sent back as `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON, or not a known message, or misses fields.
    Malformed,
    /// The frame is larger than [`limits::MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// A field is out of range: a coordinate, a colour, a width, an id, a count.
    Invalid,
    /// `hello` named a protocol version this server does not speak.
    UnsupportedVersion,
    /// A message other than `hello` came first, or `hello` came twice.
    UnexpectedMessage,
    /// The operation does not apply to the board as it is (nothing to undo,
    /// an already used stroke id, nothing left to erase, ...).
    Rejected,
    /// The server could not store the operation; it was not applied. Resend it.
    StorageUnavailable,
    /// The sender went over its budget (frames, bytes or requests a second);
    /// the frame was dropped. A durable request is named by its `op_id`:
    /// resend it a little later.
    RateLimited,
    /// A limit of the board or of the server is reached: people on the
    /// board, boards open on the instance (both refuse `hello`), or items or
    /// bytes the board holds (refuses the request that would add them,
    /// named by its `op_id`). The message says which.
    LimitReached,
    /// The connection came through a view link: it may watch the board and
    /// show its cursor and name, not change anything or show drawing in
    /// progress. The refused request is named by its `op_id`.
    Forbidden,
}

/// A validation failure, with the message that goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub message: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $min_len:expr) => {
        $(#[$doc])*
        ///
        /// Shared text: ids are copied into indexes, operations and undo
        /// histories many times over, and a copy costs a reference count.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Accepts 1..=64 (boards: 16..=64) characters of `A-Z a-z 0-9 _ -`.
            pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
                validate_id(stringify!($name), raw, $min_len)?;
                Ok(Self(raw.into()))
            }

            /// Wraps an id generated by this program; still validated in debug builds.
            pub fn from_trusted(raw: String) -> Self {
                debug_assert!(validate_id(stringify!($name), &raw, $min_len).is_ok());
                Self(raw.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn validate(&self) -> Result<(), ProtocolError> {
                validate_id(stringify!($name), &self.0, $min_len)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A board; also the `session_id` in `/ws/{session_id}`.
    BoardId,
    limits::MIN_BOARD_ID_LEN
);
id_type!(
    /// One person on a board (one browser tab). Undo and redo act per user.
    UserId,
    1
);
id_type!(
    /// A stroke, chosen by the client that draws it; unique within a board.
    StrokeId,
    1
);
id_type!(
    /// A durable request, chosen by the client; makes resends idempotent.
    OpId,
    1
);

fn validate_id(kind: &str, raw: &str, min_len: usize) -> Result<(), ProtocolError> {
    let length_ok = (min_len..=limits::MAX_ID_LEN).contains(&raw.len());
    let charset_ok = raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if length_ok && charset_ok {
        Ok(())
    } else {
        Err(ProtocolError::invalid(format!(
            "{kind} must be {min_len} to {} characters of A-Z, a-z, 0-9, '_' or '-'",
            limits::MAX_ID_LEN
        )))
    }
}

/// One sampled pen position in board coordinates, with pen pressure in 0..=1
/// (0.5 when the device reports none). On the wire: `[x, y, pressure]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "(f32, f32, f32)", into = "(f32, f32, f32)")]
pub struct Point {
    pub x: f32,
    pub y: f32,
    pub pressure: f32,
}

impl Point {
    pub const DEFAULT_PRESSURE: f32 = 0.5;

    pub fn new(x: f32, y: f32, pressure: f32) -> Self {
        Self { x, y, pressure }
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        let coordinate_ok = |v: f32| v.is_finite() && v.abs() <= limits::MAX_COORDINATE;
        if !coordinate_ok(self.x) || !coordinate_ok(self.y) {
            return Err(ProtocolError::invalid(format!(
                "coordinates must be finite and within ±{}",
                dec(limits::MAX_COORDINATE)
            )));
        }
        if !(0.0..=1.0).contains(&self.pressure) {
            return Err(ProtocolError::invalid("pressure must be within 0..=1"));
        }
        Ok(())
    }
}

impl From<(f32, f32, f32)> for Point {
    fn from((x, y, pressure): (f32, f32, f32)) -> Self {
        Self { x, y, pressure }
    }
}

impl From<Point> for (f32, f32, f32) {
    fn from(p: Point) -> Self {
        (p.x, p.y, p.pressure)
    }
}

/// A CSS hex colour, `#rrggbb` or `#rrggbbaa`.
///
/// Shared text, like ids: a board has a handful of colours and every item
/// holds one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Color(Arc<str>);

impl Color {
    pub fn parse(raw: &str) -> Result<Self, ProtocolError> {
        let color = Self(raw.into());
        color.validate()?;
        Ok(color)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Red, green, blue and alpha (`#rrggbb` is opaque; anything that does
    /// not validate reads as opaque black).
    pub fn rgba(&self) -> [u8; 4] {
        let hex = self.0.as_bytes().get(1..).unwrap_or_default();
        let digit = |i: usize| {
            hex.get(i)
                .and_then(|&b| (b as char).to_digit(16))
                .unwrap_or(0) as u8
        };
        let byte = |i: usize| digit(2 * i) * 16 + digit(2 * i + 1);
        let alpha = if hex.len() == 8 { byte(3) } else { 255 };
        [byte(0), byte(1), byte(2), alpha]
    }

    pub fn validate(&self) -> Result<(), ProtocolError> {
        let hex = self.0.strip_prefix('#').unwrap_or("");
        if matches!(hex.len(), 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(ProtocolError::invalid(
                "colour must be #rrggbb or #rrggbbaa in hexadecimal",
            ))
        }
    }
}

/// How a stroke looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrokeStyle {
    pub color: Color,
    /// Nominal width in board units; pressure scales it between 0.5× and 1.5×.
    pub width: f32,
}

impl StrokeStyle {
    pub fn validate(&self) -> Result<(), ProtocolError> {
        self.color.validate()?;
        let range = limits::MIN_STROKE_WIDTH..=limits::MAX_STROKE_WIDTH;
        if !self.width.is_finite() || !range.contains(&self.width) {
            return Err(ProtocolError::invalid(format!(
                "width must be within {}..={}",
                dec(limits::MIN_STROKE_WIDTH),
                dec(limits::MAX_STROKE_WIDTH)
            )));
        }
        Ok(())
    }
}

/// What a stroke is. Every kind but `freehand` has a fixed number of points:
/// two corners of the bounding box for `rectangle` and `ellipse`, start and
/// end for `line` and `arrow` (the head is at the end), the top-left corner
/// for `text`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrokeKind {
    #[default]
    Freehand,
    Rectangle,
    Ellipse,
    Line,
    Arrow,
    Text,
    /// An uploaded image (see `image`), stretched over its box.
    Image,
}

/// Read from its name by hand: serde's derive for this enum (a visitor
/// for names, bytes and indexes) weighed 1.4 KB of the WebAssembly bundle.
impl<'de> Deserialize<'de> for StrokeKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &[
            "freehand",
            "rectangle",
            "ellipse",
            "line",
            "arrow",
            "text",
            "image",
        ];
        let name = String::deserialize(deserializer)?;
        Ok(match name.as_str() {
            "freehand" => StrokeKind::Freehand,
            "rectangle" => StrokeKind::Rectangle,
            "ellipse" => StrokeKind::Ellipse,
            "line" => StrokeKind::Line,
            "arrow" => StrokeKind::Arrow,
            "text" => StrokeKind::Text,
            "image" => StrokeKind::Image,
            _ => return Err(serde::de::Error::unknown_variant(&name, NAMES)),
        })
    }
}

impl StrokeKind {
    pub fn is_freehand(&self) -> bool {
        *self == StrokeKind::Freehand
    }

    /// Whether the kind encloses an area that can be filled.
    pub fn is_closed(self) -> bool {
        matches!(self, StrokeKind::Rectangle | StrokeKind::Ellipse)
    }

    /// How many points a stroke of this kind has: `(min, max)`.
    fn point_count(self) -> (usize, usize) {
        match self {
            StrokeKind::Freehand => (1, limits::MAX_STROKE_POINTS),
            StrokeKind::Text => (1, 1),
            _ => (2, 2),
        }
    }
}

fn full_opacity() -> f32 {
    1.0
}

fn is_full_opacity(opacity: &f32) -> bool {
    *opacity == 1.0
}

fn is_zero(z: &f64) -> bool {
    *z == 0.0
}

/// A finished item on the board: a freehand stroke, a shape or a text.
///
/// Written with its style's fields among its own (`flatten`), read through
/// `StrokeFields`, which lists them all: serde reads a flattened struct by
/// buffering the whole object first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StrokeFields")]
pub struct Stroke {
    pub id: StrokeId,
    #[serde(default, skip_serializing_if = "StrokeKind::is_freehand")]
    pub kind: StrokeKind,
    /// Outline (or text) colour and line width.
    #[serde(flatten)]
    pub style: StrokeStyle,
    pub points: Vec<Point>,
    /// Fill colour of a rectangle or ellipse; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<Color>,
    #[serde(default = "full_opacity", skip_serializing_if = "is_full_opacity")]
    pub opacity: f32,
    /// Stacking key: higher is drawn later (on top); ties keep the order the
    /// strokes were added in. The server sets it when a stroke is added (on
    /// top of everything), and `update` can change it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub z: f64,
    /// The text of a `text` item (lines separated by `\n`). Shown as plain
    /// text, never interpreted as markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Font size of a `text` item, in board units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_size: Option<f32>,
    /// The image an `image` item shows: the id its upload was answered
    /// with (`/images/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageId>,
}

/// Every field a stroke object may have, as read; defaults as [`Stroke`]
/// documents them. `visible` belongs to a [`SnapshotStroke`] (a stroke
/// ignores it, as it ignores any field it does not know).
#[derive(Deserialize)]
struct StrokeFields {
    id: StrokeId,
    #[serde(default)]
    kind: StrokeKind,
    color: Color,
    width: f32,
    points: Vec<Point>,
    #[serde(default)]
    fill: Option<Color>,
    #[serde(default = "full_opacity")]
    opacity: f32,
    #[serde(default)]
    z: f64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    font_size: Option<f32>,
    /// Checked by `Stroke::validate` (see [`ImageId::unchecked`]).
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    visible: Option<bool>,
}

impl StrokeFields {
    fn into_stroke(self) -> (Stroke, Option<bool>) {
        let stroke = Stroke {
            id: self.id,
            kind: self.kind,
            style: StrokeStyle {
                color: self.color,
                width: self.width,
            },
            points: self.points,
            fill: self.fill,
            opacity: self.opacity,
            z: self.z,
            text: self.text,
            font_size: self.font_size,
            image: self.image.map(ImageId::unchecked),
        };
        (stroke, self.visible)
    }
}

impl From<StrokeFields> for Stroke {
    fn from(fields: StrokeFields) -> Self {
        fields.into_stroke().0
    }
}

impl TryFrom<StrokeFields> for SnapshotStroke {
    type Error = &'static str;

    fn try_from(fields: StrokeFields) -> Result<Self, Self::Error> {
        match fields.into_stroke() {
            (stroke, Some(visible)) => Ok(SnapshotStroke { stroke, visible }),
            (_, None) => Err("missing field `visible`"),
        }
    }
}

impl Stroke {
    /// A freehand stroke with default fill, opacity and stacking.
    pub fn freehand(id: StrokeId, style: StrokeStyle, points: Vec<Point>) -> Self {
        Self::new(id, StrokeKind::Freehand, style, points)
    }

    /// A stroke of any kind with no fill, full opacity and no text.
    pub fn new(id: StrokeId, kind: StrokeKind, style: StrokeStyle, points: Vec<Point>) -> Self {
        Self {
            id,
            kind,
            style,
            points,
            fill: None,
            opacity: 1.0,
            z: 0.0,
            text: None,
            font_size: None,
            image: None,
        }
    }

    pub fn validate(&self) -> Result<(), ProtocolError> {
        self.id.validate()?;
        self.style.validate()?;
        let (min, max) = self.kind.point_count();
        if !(min..=max).contains(&self.points.len()) {
            return Err(ProtocolError::invalid(if min == max {
                format!("{:?} strokes have exactly {min} point(s)", self.kind).to_ascii_lowercase()
            } else {
                format!("a stroke needs {min} to {max} points")
            }));
        }
        self.points.iter().try_for_each(Point::validate)?;
        if let Some(fill) = &self.fill {
            if !self.kind.is_closed() {
                return Err(ProtocolError::invalid(
                    "only rectangles and ellipses can be filled",
                ));
            }
            fill.validate()?;
        }
        if !(limits::MIN_OPACITY..=1.0).contains(&self.opacity) {
            return Err(ProtocolError::invalid(format!(
                "opacity must be within {}..=1",
                dec(limits::MIN_OPACITY)
            )));
        }
        if !self.z.is_finite() || self.z.abs() > limits::MAX_Z {
            return Err(ProtocolError::invalid(format!(
                "z must be finite and within ±{}",
                limits::MAX_Z as u64
            )));
        }
        if self.image.is_some() != (self.kind == StrokeKind::Image) {
            return Err(ProtocolError::invalid(
                "an image item needs image, and only image items have it",
            ));
        }
        if let Some(image) = &self.image {
            ImageId::parse(image.as_str())
                .map_err(|error| ProtocolError::invalid(error.to_string()))?;
        }
        match (self.kind, &self.text, self.font_size) {
            (StrokeKind::Text, Some(text), Some(size)) => {
                if text.trim().is_empty() || text.len() > limits::MAX_TEXT_BYTES {
                    return Err(ProtocolError::invalid(format!(
                        "text must be 1 to {} bytes and not blank",
                        limits::MAX_TEXT_BYTES
                    )));
                }
                if !(limits::MIN_FONT_SIZE..=limits::MAX_FONT_SIZE).contains(&size) {
                    return Err(ProtocolError::invalid(format!(
                        "font_size must be within {}..={}",
                        dec(limits::MIN_FONT_SIZE),
                        dec(limits::MAX_FONT_SIZE)
                    )));
                }
                Ok(())
            }
            (StrokeKind::Text, _, _) => Err(ProtocolError::invalid(
                "a text item needs text and font_size",
            )),
            (_, None, None) => Ok(()),
            _ => Err(ProtocolError::invalid(
                "only text items have text and font_size",
            )),
        }
    }

    /// What a client older than [`IMAGES_SINCE`] gets of an image item: a
    /// rectangle over the same box, filled grey; other items as they are.
    pub fn as_placeholder(&self) -> Cow<'_, Stroke> {
        if self.kind != StrokeKind::Image {
            return Cow::Borrowed(self);
        }
        let mut placeholder = self.clone();
        placeholder.kind = StrokeKind::Rectangle;
        placeholder.image = None;
        placeholder.fill = Color::parse(IMAGE_PLACEHOLDER_FILL).ok();
        Cow::Owned(placeholder)
    }

    /// The same stroke shifted by `(dx, dy)`.
    pub fn translated(&self, dx: f32, dy: f32) -> Self {
        let mut moved = self.clone();
        for point in &mut moved.points {
            point.x += dx;
            point.y += dy;
        }
        moved
    }
}

/// Validates a batch of strokes (`add_strokes`, `update`, `draft`).
fn validate_batch(strokes: &[Stroke]) -> Result<(), ProtocolError> {
    if strokes.is_empty() || strokes.len() > limits::MAX_BATCH_STROKES {
        return Err(ProtocolError::invalid(format!(
            "a batch holds 1 to {} strokes",
            limits::MAX_BATCH_STROKES
        )));
    }
    strokes.iter().try_for_each(Stroke::validate)
}

/// A display name: 1 to 32 characters, no control characters, trimmed.
pub fn validate_name(name: &str) -> Result<(), ProtocolError> {
    validate_label(name, limits::MAX_NAME_CHARS)
}

/// A version's name: like a display name, up to 80 characters.
pub fn validate_version_name(name: &str) -> Result<(), ProtocolError> {
    validate_label(name, limits::MAX_VERSION_NAME_CHARS)
}

fn validate_label(name: &str, max: usize) -> Result<(), ProtocolError> {
    let count = name.chars().count();
    if name.trim() != name || !(1..=max).contains(&count) || name.chars().any(char::is_control) {
        return Err(ProtocolError::invalid(format!(
            "a name is 1 to {max} characters without control characters or surrounding spaces"
        )));
    }
    Ok(())
}

/// A `hello`'s view: finite, not inverted. It may reach past
/// [`limits::MAX_COORDINATE`] (a view zoomed far out does).
pub fn validate_view(view: &Rect) -> Result<(), ProtocolError> {
    let corners = [view.min_x, view.min_y, view.max_x, view.max_y];
    if !corners.iter().all(|c| c.is_finite()) || view.min_x > view.max_x || view.min_y > view.max_y
    {
        return Err(ProtocolError::invalid(
            "a view has finite min_x ≤ max_x and min_y ≤ max_y",
        ));
    }
    Ok(())
}

/// Colours for people's cursors and badges, all readable under white text.
pub const PERSON_COLORS: [&str; 10] = [
    "#e03131", "#1971c2", "#2f9e44", "#f08c00", "#9c36b5", "#0c8599", "#d6336c", "#66a80f",
    "#5c7cfa", "#a0522d",
];

/// The 32-bit FNV-1a hash of `text`'s bytes: small, and the same in every
/// client, for what everyone must derive alike from an id.
pub(crate) fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The colour a person prefers: the [`fnv1a`] hash of the user id, modulo
/// the number of [`PERSON_COLORS`].
fn preferred_color(user: &UserId) -> usize {
    fnv1a(user.as_str()) as usize % PERSON_COLORS.len()
}

/// Which of [`PERSON_COLORS`] each person in `people` gets (same order).
///
/// Every client computes this from the same people list, so everyone sees a
/// person in the same colour without asking the server: going through the
/// people sorted by user id, each takes their preferred colour, or the next
/// one nobody before them took. Up to ten people all get different colours.
pub fn person_colors(people: &[Person]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..people.len()).collect();
    let user = |&i: &usize| people[i].user.as_str();
    crate::sorting::sort_by_key(&mut order, |i| {
        (
            crate::sorting::text_key(user(i), 0),
            crate::sorting::text_key(user(i), 8),
        )
    });
    crate::sorting::settle_by(&mut order, |a, b| user(a) < user(b));
    let mut taken = [false; PERSON_COLORS.len()];
    let mut colors = vec![0; people.len()];
    for index in order {
        let preferred = preferred_color(&people[index].user);
        let free = (0..PERSON_COLORS.len())
            .map(|step| (preferred + step) % PERSON_COLORS.len())
            .find(|&color| !taken[color])
            .unwrap_or(preferred);
        taken[free] = true;
        colors[index] = free;
    }
    colors
}

/// Someone on the board, as the people list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Person {
    pub user: UserId,
    /// Empty when the person has not chosen a name.
    #[serde(default)]
    pub name: String,
    /// Came through a view link: watches, changes nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub viewer: bool,
    /// Whose view this person follows, if anyone's (see `follow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following: Option<UserId>,
}

/// Characters of an access token (a view link's token, an edit key): 128
/// random bits in base64url.
pub const TOKEN_CHARS: usize = 22;

/// Whether `token` can be an access token at all (the server makes them;
/// anything else names nothing).
pub fn validate_token(token: &str) -> Result<(), ProtocolError> {
    let well_formed = token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match well_formed {
        true => Ok(()),
        false => Err(ProtocolError::invalid(format!(
            "an access token or key is {TOKEN_CHARS} characters of base64url"
        ))),
    }
}

fn validate_points(points: &[Point], max: usize) -> Result<(), ProtocolError> {
    if points.is_empty() || points.len() > max {
        return Err(ProtocolError::invalid(format!(
            "a stroke needs 1 to {max} points"
        )));
    }
    points.iter().try_for_each(Point::validate)
}

/// A durable change as the client asks for it, before the server resolves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    AddStroke(Stroke),
    /// Several strokes added as one undoable action (duplicate, paste, import).
    AddStrokes(Vec<Stroke>),
    /// New states for existing strokes (move, resize, restyle, restack, edit).
    Update(Vec<Stroke>),
    Erase(Vec<StrokeId>),
    Clear,
    Undo,
    Redo,
    /// Make the board what it was after operation `seq` (the server reads
    /// that version and resolves the difference).
    Restore {
        seq: u64,
    },
    /// Name the board as it is now.
    NameVersion(String),
}

/// A frame from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Must be the first frame. `last_seq` is the last sequence number the
    /// client applied, if it has a copy of the board; the server then sends
    /// only what came after.
    Hello {
        protocol: u32,
        user: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seq: Option<u64>,
        /// The person's display name, if they chose one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// What the client shows, in board coordinates: from version 3, a
        /// snapshot's first part holds every item that may paint there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        view: Option<Rect>,
        /// The edit key of the board's edit link (`/b/{id}#k={key}`), once
        /// its edit link was rotated: without the current one, `hello` on
        /// `/ws/{id}` is refused `forbidden` and closed with
        /// [`close_code::NO_ACCESS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// Ephemeral: more points of a stroke still being drawn (appended to what
    /// was sent before under the same stroke id).
    Preview {
        stroke: StrokeId,
        #[serde(flatten)]
        style: StrokeStyle,
        points: Vec<Point>,
    },
    /// Ephemeral: a stroke being drawn was abandoned.
    PreviewEnd {
        stroke: StrokeId,
    },
    /// Ephemeral: the sender's work in progress as whole strokes (a shape
    /// being dragged out, strokes being moved or resized). Replaces the
    /// sender's previous draft; strokes whose id is on the board are shown in
    /// place of the stored ones.
    Draft {
        strokes: Vec<Stroke>,
    },
    /// Ephemeral: the sender's draft is over (committed or abandoned).
    DraftEnd,
    /// Ephemeral: where the sender's pointer is, in board coordinates;
    /// with `laser`, the laser pointer is held down there (others draw a
    /// fading trail through such positions).
    Cursor {
        x: f32,
        y: f32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        laser: bool,
    },
    /// Ephemeral: the sender changed their display name.
    Profile {
        name: String,
    },
    /// Ephemeral: the items the sender has selected now (none: nothing);
    /// others outline them in the sender's colour.
    Selection {
        ids: Vec<StrokeId>,
    },
    /// Ephemeral: the sender follows `user`'s view from now on (none:
    /// follows nobody). Shown to everyone as `following` in `presence`.
    Follow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
    },
    /// Ephemeral: the part of the board the sender shows now (sent while
    /// someone follows them, at most ten a second); followers show it too.
    View {
        area: Rect,
    },
    /// Ephemeral: "bring everyone to me": everyone else starts following
    /// the sender's view.
    Summon,
    AddStroke {
        op_id: OpId,
        stroke: Stroke,
    },
    AddStrokes {
        op_id: OpId,
        strokes: Vec<Stroke>,
    },
    Update {
        op_id: OpId,
        strokes: Vec<Stroke>,
    },
    Erase {
        op_id: OpId,
        stroke_ids: Vec<StrokeId>,
    },
    Clear {
        op_id: OpId,
    },
    Undo {
        op_id: OpId,
    },
    Redo {
        op_id: OpId,
    },
    /// Durable (version 4): make the board what it was after operation
    /// `seq`, as one new operation that its author can undo.
    Restore {
        op_id: OpId,
        seq: u64,
    },
    /// Durable (version 4): name the board as it is now.
    NameVersion {
        op_id: OpId,
        name: String,
    },
    /// A read (version 4): summaries of up to `limit` operations numbered
    /// below `before` (below the board's next one if absent), answered by
    /// [`ServerMessage::History`].
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        limit: u32,
    },
    /// A read (version 4): the board as it was after operation `seq`,
    /// answered by [`ServerMessage::Version`].
    BoardAt {
        seq: u64,
    },
    /// A read (version 4): up to `limit` whole operations after `after`
    /// (to replay them), answered by [`ServerMessage::Ops`].
    Ops {
        after: u64,
        limit: u32,
    },
}

impl ClientMessage {
    /// Parses and validates one text frame.
    pub fn decode(frame: &str) -> Result<Self, ProtocolError> {
        if frame.len() > limits::MAX_FRAME_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::FrameTooLarge,
                format!("frames are limited to {} bytes", limits::MAX_FRAME_BYTES),
            ));
        }
        let message: Self = serde_json::from_str(frame)
            .map_err(|e| ProtocolError::new(ErrorCode::Malformed, e.to_string()))?;
        message.validate()?;
        Ok(message)
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialise")
    }

    pub fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            ClientMessage::Hello {
                user,
                name,
                view,
                key,
                ..
            } => {
                user.validate()?;
                name.as_deref().map_or(Ok(()), validate_name)?;
                key.as_deref().map_or(Ok(()), validate_token)?;
                view.as_ref().map_or(Ok(()), validate_view)
            }
            ClientMessage::Preview {
                stroke,
                style,
                points,
            } => {
                stroke.validate()?;
                style.validate()?;
                validate_points(points, limits::MAX_PREVIEW_POINTS)
            }
            ClientMessage::PreviewEnd { stroke } => stroke.validate(),
            ClientMessage::Draft { strokes } => validate_batch(strokes),
            ClientMessage::DraftEnd => Ok(()),
            ClientMessage::Cursor { x, y, .. } => Point::new(*x, *y, 0.5).validate(),
            ClientMessage::Profile { name } => validate_name(name),
            ClientMessage::Selection { ids } => {
                if ids.len() > limits::MAX_SELECTION_IDS {
                    return Err(ProtocolError::invalid(format!(
                        "a selection names at most {} strokes",
                        limits::MAX_SELECTION_IDS
                    )));
                }
                ids.iter().try_for_each(StrokeId::validate)
            }
            ClientMessage::Follow { user } => user.as_ref().map_or(Ok(()), UserId::validate),
            ClientMessage::View { area } => validate_view(area),
            ClientMessage::Summon => Ok(()),
            ClientMessage::AddStroke { op_id, stroke } => {
                op_id.validate()?;
                stroke.validate()
            }
            ClientMessage::AddStrokes { op_id, strokes }
            | ClientMessage::Update { op_id, strokes } => {
                op_id.validate()?;
                validate_batch(strokes)
            }
            ClientMessage::Erase { op_id, stroke_ids } => {
                op_id.validate()?;
                if stroke_ids.is_empty() || stroke_ids.len() > limits::MAX_ERASE_IDS {
                    return Err(ProtocolError::invalid(format!(
                        "erase names 1 to {} strokes",
                        limits::MAX_ERASE_IDS
                    )));
                }
                stroke_ids.iter().try_for_each(StrokeId::validate)
            }
            ClientMessage::Clear { op_id }
            | ClientMessage::Undo { op_id }
            | ClientMessage::Redo { op_id }
            | ClientMessage::Restore { op_id, .. } => op_id.validate(),
            ClientMessage::NameVersion { op_id, name } => {
                op_id.validate()?;
                validate_version_name(name)
            }
            ClientMessage::History { limit, .. } | ClientMessage::Ops { limit, .. } => {
                if !(1..=limits::MAX_HISTORY_PAGE).contains(limit) {
                    return Err(ProtocolError::invalid(format!(
                        "a history page holds 1 to {} operations",
                        limits::MAX_HISTORY_PAGE
                    )));
                }
                Ok(())
            }
            ClientMessage::BoardAt { .. } => Ok(()),
        }
    }

    /// Whether this is a read of the board's history (`history`,
    /// `board_at`, `ops`).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            ClientMessage::History { .. }
                | ClientMessage::BoardAt { .. }
                | ClientMessage::Ops { .. }
        )
    }

    /// Splits a durable message into its operation id and request.
    pub fn into_request(self) -> Option<(OpId, Request)> {
        match self {
            ClientMessage::AddStroke { op_id, stroke } => Some((op_id, Request::AddStroke(stroke))),
            ClientMessage::AddStrokes { op_id, strokes } => {
                Some((op_id, Request::AddStrokes(strokes)))
            }
            ClientMessage::Update { op_id, strokes } => Some((op_id, Request::Update(strokes))),
            ClientMessage::Erase { op_id, stroke_ids } => Some((op_id, Request::Erase(stroke_ids))),
            ClientMessage::Clear { op_id } => Some((op_id, Request::Clear)),
            ClientMessage::Undo { op_id } => Some((op_id, Request::Undo)),
            ClientMessage::Redo { op_id } => Some((op_id, Request::Redo)),
            ClientMessage::Restore { op_id, seq } => Some((op_id, Request::Restore { seq })),
            ClientMessage::NameVersion { op_id, name } => Some((op_id, Request::NameVersion(name))),
            ClientMessage::Hello { .. }
            | ClientMessage::History { .. }
            | ClientMessage::BoardAt { .. }
            | ClientMessage::Ops { .. }
            | ClientMessage::Preview { .. }
            | ClientMessage::PreviewEnd { .. }
            | ClientMessage::Draft { .. }
            | ClientMessage::DraftEnd
            | ClientMessage::Cursor { .. }
            | ClientMessage::Profile { .. }
            | ClientMessage::Selection { .. }
            | ClientMessage::Follow { .. }
            | ClientMessage::View { .. }
            | ClientMessage::Summon => None,
        }
    }

    /// The operation id of a durable message (`None` for the others).
    pub fn op_id(&self) -> Option<&OpId> {
        match self {
            ClientMessage::AddStroke { op_id, .. }
            | ClientMessage::AddStrokes { op_id, .. }
            | ClientMessage::Update { op_id, .. }
            | ClientMessage::Erase { op_id, .. }
            | ClientMessage::Clear { op_id }
            | ClientMessage::Undo { op_id }
            | ClientMessage::Redo { op_id }
            | ClientMessage::Restore { op_id, .. }
            | ClientMessage::NameVersion { op_id, .. } => Some(op_id),
            ClientMessage::Hello { .. }
            | ClientMessage::History { .. }
            | ClientMessage::BoardAt { .. }
            | ClientMessage::Ops { .. }
            | ClientMessage::Preview { .. }
            | ClientMessage::PreviewEnd { .. }
            | ClientMessage::Draft { .. }
            | ClientMessage::DraftEnd
            | ClientMessage::Cursor { .. }
            | ClientMessage::Profile { .. }
            | ClientMessage::Selection { .. }
            | ClientMessage::Follow { .. }
            | ClientMessage::View { .. }
            | ClientMessage::Summon => None,
        }
    }

    /// The operation id of a refused frame, when the frame is a durable
    /// request (by its `type`) whose `op_id` is well formed: read leniently,
    /// since the frame failed to decode or validate, so that the refusal
    /// names the request and its sender can stop resending it. Only called
    /// on refusals, so the second parse costs nothing on the live path.
    pub fn refused_op_id(frame: &str) -> Option<OpId> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "type")]
            kind: Option<String>,
            op_id: Option<String>,
        }
        const DURABLE: [&str; 9] = [
            "add_stroke",
            "add_strokes",
            "update",
            "erase",
            "clear",
            "undo",
            "redo",
            "restore",
            "name_version",
        ];
        let probe: Probe = serde_json::from_str(frame).ok()?;
        if !DURABLE.contains(&probe.kind?.as_str()) {
            return None;
        }
        OpId::parse(&probe.op_id?).ok()
    }

    /// Builds the durable message for a request.
    pub fn from_request(op_id: OpId, request: Request) -> Self {
        match request {
            Request::AddStroke(stroke) => ClientMessage::AddStroke { op_id, stroke },
            Request::AddStrokes(strokes) => ClientMessage::AddStrokes { op_id, strokes },
            Request::Update(strokes) => ClientMessage::Update { op_id, strokes },
            Request::Erase(stroke_ids) => ClientMessage::Erase { op_id, stroke_ids },
            Request::Clear => ClientMessage::Clear { op_id },
            Request::Undo => ClientMessage::Undo { op_id },
            Request::Redo => ClientMessage::Redo { op_id },
            Request::Restore { seq } => ClientMessage::Restore { op_id, seq },
            Request::NameVersion(name) => ClientMessage::NameVersion { op_id, name },
        }
    }
}

/// What an operation did, fully resolved by the server so that applying it
/// needs no history: `show` and `hide` list exactly the strokes whose
/// visibility it changes, `set` the new states of strokes it changes.
///
/// On the wire an object whose first key, `kind`, names the variant
/// (`protocol::tag_first`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum Change {
    AddStroke {
        stroke: Stroke,
    },
    AddStrokes {
        strokes: Vec<Stroke>,
    },
    /// Replaces the states of existing strokes (visibility unchanged).
    Update {
        strokes: Vec<Stroke>,
    },
    Erase {
        stroke_ids: Vec<StrokeId>,
    },
    Clear {
        stroke_ids: Vec<StrokeId>,
    },
    /// Takes back the author's operation `target`.
    Undo {
        target: u64,
        show: Vec<StrokeId>,
        hide: Vec<StrokeId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        set: Vec<Stroke>,
    },
    /// Re-applies the author's operation `target` after an undo.
    Redo {
        target: u64,
        show: Vec<StrokeId>,
        hide: Vec<StrokeId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        set: Vec<Stroke>,
    },
    /// Makes the board what it was after operation `version` (version 4;
    /// undoable by its author, like an `update`).
    Restore {
        version: u64,
        show: Vec<StrokeId>,
        hide: Vec<StrokeId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        set: Vec<Stroke>,
    },
    /// Names the board as it is after this operation (version 4); changes
    /// nothing on it.
    NameVersion {
        name: String,
    },
}

tag_first_serde!(Change, "kind");

impl Change {
    /// What kind of change this is, as history lists it.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::AddStroke { .. } => ChangeKind::AddStroke,
            Change::AddStrokes { .. } => ChangeKind::AddStrokes,
            Change::Update { .. } => ChangeKind::Update,
            Change::Erase { .. } => ChangeKind::Erase,
            Change::Clear { .. } => ChangeKind::Clear,
            Change::Undo { .. } => ChangeKind::Undo,
            Change::Redo { .. } => ChangeKind::Redo,
            Change::Restore { .. } => ChangeKind::Restore,
            Change::NameVersion { .. } => ChangeKind::NameVersion,
        }
    }

    /// How many items it touched.
    pub fn items(&self) -> usize {
        match self {
            Change::AddStroke { .. } => 1,
            Change::AddStrokes { strokes } | Change::Update { strokes } => strokes.len(),
            Change::Erase { stroke_ids } | Change::Clear { stroke_ids } => stroke_ids.len(),
            Change::Undo {
                show, hide, set, ..
            }
            | Change::Redo {
                show, hide, set, ..
            }
            | Change::Restore {
                show, hide, set, ..
            } => show.len() + hide.len() + set.len(),
            Change::NameVersion { .. } => 0,
        }
    }

    /// The same change for a client speaking `protocol`: one older than
    /// [`IMAGES_SINCE`] gets image items as placeholders
    /// ([`Stroke::as_placeholder`]); one older than [`HISTORY_SINCE`] also
    /// gets a restore as the `undo` of nothing (`target` 0) that shows,
    /// hides and sets the same, and a version's name as an `erase` of
    /// nothing. `None` if it is fine as it is.
    pub fn for_protocol(&self, protocol: u32) -> Option<Change> {
        let placeholders = (protocol < IMAGES_SINCE)
            .then(|| self.with_placeholders())
            .flatten();
        if protocol >= HISTORY_SINCE {
            return placeholders;
        }
        match placeholders.as_ref().unwrap_or(self) {
            Change::Restore {
                show, hide, set, ..
            } => Some(Change::Undo {
                target: 0,
                show: show.clone(),
                hide: hide.clone(),
                set: set.clone(),
            }),
            Change::NameVersion { .. } => Some(Change::Erase {
                stroke_ids: Vec::new(),
            }),
            _ => placeholders,
        }
    }

    /// The same change with its image items as placeholders, if it has any.
    fn with_placeholders(&self) -> Option<Change> {
        if !self.strokes().iter().any(|s| s.kind == StrokeKind::Image) {
            return None;
        }
        let mut change = self.clone();
        for stroke in change.strokes_mut() {
            if let Cow::Owned(placeholder) = stroke.as_placeholder() {
                *stroke = placeholder;
            }
        }
        Some(change)
    }

    /// The items it carries whole (added, updated, or set back by an undo,
    /// a redo or a restore).
    fn strokes(&self) -> &[Stroke] {
        match self {
            Change::AddStroke { stroke } => std::slice::from_ref(stroke),
            Change::AddStrokes { strokes } | Change::Update { strokes } => strokes,
            Change::Undo { set, .. } | Change::Redo { set, .. } | Change::Restore { set, .. } => {
                set
            }
            Change::Erase { .. } | Change::Clear { .. } | Change::NameVersion { .. } => &[],
        }
    }

    fn strokes_mut(&mut self) -> &mut [Stroke] {
        match self {
            Change::AddStroke { stroke } => std::slice::from_mut(stroke),
            Change::AddStrokes { strokes } | Change::Update { strokes } => strokes,
            Change::Undo { set, .. } | Change::Redo { set, .. } | Change::Restore { set, .. } => {
                set
            }
            Change::Erase { .. } | Change::Clear { .. } | Change::NameVersion { .. } => &mut [],
        }
    }
}

/// The kinds of [`Change`], as `history` names them. Read and written
/// through their names ([`ChangeKind::name`]): serde's derived enum code
/// weighs 1.5 KB of the browser's WebAssembly, a lookup in one table
/// next to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ChangeKind {
    AddStroke,
    AddStrokes,
    Update,
    Erase,
    Clear,
    Undo,
    Redo,
    Restore,
    NameVersion,
}

const CHANGE_KINDS: [(ChangeKind, &str); 9] = [
    (ChangeKind::AddStroke, "add_stroke"),
    (ChangeKind::AddStrokes, "add_strokes"),
    (ChangeKind::Update, "update"),
    (ChangeKind::Erase, "erase"),
    (ChangeKind::Clear, "clear"),
    (ChangeKind::Undo, "undo"),
    (ChangeKind::Redo, "redo"),
    (ChangeKind::Restore, "restore"),
    (ChangeKind::NameVersion, "name_version"),
];

impl ChangeKind {
    /// Its name on the wire (the `kind` of the change).
    pub fn name(self) -> &'static str {
        CHANGE_KINDS
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }
}

impl From<ChangeKind> for &'static str {
    fn from(kind: ChangeKind) -> Self {
        kind.name()
    }
}

impl TryFrom<String> for ChangeKind {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        CHANGE_KINDS
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(kind, _)| *kind)
            .ok_or_else(|| format!("unknown kind {name}"))
    }
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// A durable operation as stored and broadcast: the board's `seq`-th change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub seq: u64,
    pub author: UserId,
    pub op_id: OpId,
    /// When the server numbered it, in milliseconds since the Unix epoch
    /// (from version 4; 0, left out, for operations stored before). The
    /// browser reads times and names from `history`, never from here.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub at: u64,
    /// The author's display name then, if they had one (from version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub name: Option<String>,
    pub change: Change,
}

impl Operation {
    /// The same operation for a client speaking `protocol` (see
    /// [`Change::for_protocol`]); `None` if it is fine as it is.
    pub fn for_protocol(&self, protocol: u32) -> Option<Operation> {
        let change = self.change.for_protocol(protocol)?;
        Some(Operation {
            seq: self.seq,
            author: self.author.clone(),
            op_id: self.op_id.clone(),
            at: self.at,
            name: self.name.clone(),
            change,
        })
    }

    /// What `history` says of it.
    pub fn summary(&self) -> HistoryEntry {
        HistoryEntry {
            seq: self.seq,
            author: self.author.clone(),
            name: self.name.clone(),
            at: self.at,
            kind: self.change.kind(),
            items: u32::try_from(self.change.items()).unwrap_or(u32::MAX),
            label: match &self.change {
                Change::NameVersion { name } => Some(name.clone()),
                _ => None,
            },
            version: match &self.change {
                Change::Restore { version, .. } => Some(*version),
                _ => None,
            },
        }
    }
}

/// The author of a history entry as the browser reads it (see there).
#[cfg(feature = "hydrate")]
fn nobody() -> UserId {
    UserId::from_trusted("unknown".to_owned())
}

/// One operation as a `history` page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// The browser lists entries by name and time: it reads neither their
// authors' ids, nor how many items each touched, nor what a restore brought
// back (less of serde's code in its WebAssembly).
pub struct HistoryEntry {
    pub seq: u64,
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing, default = "nobody"))]
    pub author: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub at: u64,
    pub kind: ChangeKind,
    /// How many items it touched.
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub items: u32,
    /// A named version's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The version a restore brought back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
    pub version: Option<u64>,
}

/// One stroke in a board snapshot; hidden strokes are kept so that an undo
/// can bring them back. Read through `StrokeFields`, like a stroke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StrokeFields")]
pub struct SnapshotStroke {
    #[serde(flatten)]
    pub stroke: Stroke,
    pub visible: bool,
}

/// The whole board as of sequence number `seq`, strokes in drawing order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BoardSnapshot {
    pub seq: u64,
    pub strokes: Vec<SnapshotStroke>,
}

/// A `welcome` frame with its snapshot already encoded: the same JSON as
/// [`ServerMessage::Welcome`], but the snapshot (megabytes on a big board) is
/// spliced in as it is, so that everyone joining at one version shares one
/// encoding (see `Board::snapshot_json`).
#[derive(Serialize)]
#[serde(tag = "type", rename = "welcome")]
pub struct EncodedWelcome<'a> {
    pub protocol: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<&'a BoardId>,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<&'a serde_json::value::RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_snapshot: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_parts: Option<&'a [u64]>,
    pub ops: &'a [Operation],
    pub presence: u32,
}

impl EncodedWelcome<'_> {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("welcomes always serialise")
    }
}

/// A frame from the server: an object whose first key, `type`, names the
/// variant (`protocol::tag_first`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`. Either there is a snapshot (replace everything
    /// with it, then apply `ops`), or `ops` are exactly the operations after
    /// the client's `last_seq`. Afterwards the board is at `seq`. Version 1
    /// carries the snapshot in `snapshot`; version 2 says in
    /// `packed_snapshot` how many bytes the binary frames right after this
    /// one have in all; concatenated, they hold it (see [`packed`]).
    /// Version 3 also lists in `snapshot_parts` the sizes of the parts
    /// those bytes are, in order: the first holds every item that may paint
    /// in the `hello`'s view.
    Welcome {
        protocol: u32,
        /// The board's id; absent on a view link's channel (the id is what
        /// lets anyone edit a board whose edit link was never rotated).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        board: Option<BoardId>,
        seq: u64,
        /// (Never read by the browser, which speaks the newest version:
        /// version 1's JSON snapshot would only weigh on its WebAssembly.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
        snapshot: Option<BoardSnapshot>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packed_snapshot: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot_parts: Option<Vec<u64>>,
        ops: Vec<Operation>,
        presence: u32,
    },
    /// A durable operation, to everyone on the board including its author.
    Op { op: Operation },
    /// The sender's durable request `op_id` is stored as operation `seq`.
    Ack { op_id: OpId, seq: u64 },
    /// Ephemeral: points of someone else's stroke in progress, in its
    /// style (the fields of a [`StrokeStyle`], written out here: flattening
    /// would make serde buffer the whole frame to read it, see `protocol::tag_first`).
    Preview {
        author: UserId,
        stroke: StrokeId,
        color: Color,
        width: f32,
        points: Vec<Point>,
    },
    /// Ephemeral: someone abandoned a stroke in progress.
    PreviewEnd { author: UserId, stroke: StrokeId },
    /// Ephemeral: someone's work in progress (see the client's `draft`).
    Draft {
        author: UserId,
        strokes: Vec<Stroke>,
    },
    /// Ephemeral: someone's draft is over.
    DraftEnd { author: UserId },
    /// Ephemeral: the items someone has selected now.
    Selection { author: UserId, ids: Vec<StrokeId> },
    /// Ephemeral: the part of the board someone shows now (sent while
    /// someone follows them).
    View { author: UserId, area: Rect },
    /// Ephemeral: someone asks everyone else to follow their view.
    Summon { author: UserId },
    /// Ephemeral: someone's pointer moved (`laser`: their laser pointer is
    /// held down there).
    Cursor {
        author: UserId,
        x: f32,
        y: f32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        laser: bool,
    },
    /// Who is on the board now: `count` people, listed in `people` (sorted
    /// by user id). A person appears once however many tabs they have open.
    Presence {
        count: u32,
        #[serde(default)]
        people: Vec<Person>,
    },
    /// Answer to `history` (version 4): the operations asked for, oldest
    /// first; none left below the first when it is operation 1 or the page
    /// is empty.
    History { entries: Vec<HistoryEntry> },
    /// Answer to `board_at` (version 4): the board as it was after
    /// operation `seq`, as a snapshot in `packed_snapshot` bytes of binary
    /// frames right after it, in parts of `snapshot_parts` sizes (as a
    /// version 3 welcome's, without a view: the first part is all).
    Version {
        seq: u64,
        packed_snapshot: u64,
        /// (Never read by the browser: a version comes in one part.)
        #[cfg_attr(feature = "hydrate", serde(skip_deserializing))]
        snapshot_parts: Vec<u64>,
    },
    /// Answer to `ops` (version 4): the operations after the one asked
    /// for, in order: as many as asked, unless they weigh more than about
    /// a megabyte of JSON (at least one; none past the stored end).
    Ops { ops: Vec<Operation> },
    /// The client's last message was refused; nothing changed.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        op_id: Option<OpId>,
    },
}

tag_first_serde!(ServerMessage, "type");

impl ServerMessage {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialise")
    }

    pub fn decode(frame: &str) -> Result<Self, ProtocolError> {
        serde_json::from_str(frame)
            .map_err(|e| ProtocolError::new(ErrorCode::Malformed, e.to_string()))
    }
}

/// WebSocket close codes the server uses.
pub mod close_code {
    /// The server is shutting down; reconnect (possibly to another instance).
    pub const GOING_AWAY: u16 = 1001;
    /// Repeated invalid frames, or no `hello` in time.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over [`super::limits::HARD_FRAME_BYTES`]; it was not read.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client fell too far behind; reconnect and catch up.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The link the client came with opens nothing (any more): a view link
    /// no board has, or an edit link that was rotated (the `error` before
    /// it says which). Reconnecting with it will not help.
    pub const NO_ACCESS: u16 = 4403;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_says_what_it_found_in_serdes_words() {
        // serde_json is patched to write these itself (patches/serde_json):
        // the words must stay those serde writes.
        let said = |frame: &str| ClientMessage::decode(frame).unwrap_err().message;
        let cases = [
            (
                r#"{"type":"cursor","x":"left","y":1}"#,
                r#"string "left", expected f32"#,
            ),
            (
                r#"{"type":"cursor","x":true,"y":1}"#,
                "boolean `true`, expected f32",
            ),
            (
                r#"{"type":"profile","name":1.5}"#,
                "floating point `1.5`, expected a string",
            ),
            (
                r#"{"type":"profile","name":7}"#,
                "integer `7`, expected a string",
            ),
            (
                r#"{"type":"profile","name":-7}"#,
                "integer `-7`, expected a string",
            ),
            (
                r#"{"type":"profile","name":null}"#,
                "null, expected a string",
            ),
            (
                r#"{"type":"profile","name":[]}"#,
                "sequence, expected a string",
            ),
            (r#"{"type":"profile","name":{}}"#, "map, expected a string"),
        ];
        for (frame, found) in cases {
            assert_eq!(said(frame), format!("invalid type: {found}"), "{frame}");
        }
    }

    fn stroke(id: &str, points: Vec<Point>) -> Stroke {
        Stroke::freehand(
            StrokeId::parse(id).unwrap(),
            StrokeStyle {
                color: Color::parse("#1e1e1e").unwrap(),
                width: 4.0,
            },
            points,
        )
    }

    fn shape(kind: StrokeKind, points: &[(f32, f32)]) -> Stroke {
        let mut shape = stroke(
            "sh",
            points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect(),
        );
        shape.kind = kind;
        shape
    }

    fn text(content: &str) -> Stroke {
        let mut text = shape(StrokeKind::Text, &[(0.0, 0.0)]);
        text.text = Some(content.into());
        text.font_size = Some(20.0);
        text
    }

    fn add_stroke_frame(points: &str, color: &str, width: &str) -> String {
        format!(
            r#"{{"type":"add_stroke","op_id":"o1","stroke":{{"id":"s1","color":"{color}","width":{width},"points":{points}}}}}"#
        )
    }

    #[test]
    fn client_messages_round_trip() {
        let messages = vec![
            ClientMessage::Hello {
                protocol: PROTOCOL_VERSION,
                user: UserId::parse("u-1").unwrap(),
                last_seq: Some(41),
                name: Some("Ada".into()),
                view: Some(Rect::from_corners((-10.0, 0.0), (1270.0, 800.5))),
                key: Some("k3y-0f_22-characters12".into()),
            },
            ClientMessage::Draft {
                strokes: vec![shape(StrokeKind::Ellipse, &[(0.0, 0.0), (5.0, 5.0)])],
            },
            ClientMessage::DraftEnd,
            ClientMessage::Cursor {
                x: 1.5,
                y: -3.0,
                laser: false,
            },
            ClientMessage::Cursor {
                x: 1.5,
                y: -3.0,
                laser: true,
            },
            ClientMessage::Profile {
                name: "Grace Hopper".into(),
            },
            ClientMessage::Selection {
                ids: vec![
                    StrokeId::parse("s1").unwrap(),
                    StrokeId::parse("s2").unwrap(),
                ],
            },
            ClientMessage::Selection { ids: Vec::new() },
            ClientMessage::Follow {
                user: Some(UserId::parse("u2").unwrap()),
            },
            ClientMessage::Follow { user: None },
            ClientMessage::View {
                area: Rect::from_corners((-10.0, 0.0), (1270.0, 800.5)),
            },
            ClientMessage::Summon,
            ClientMessage::AddStrokes {
                op_id: OpId::parse("o6").unwrap(),
                strokes: vec![
                    text("hi <b>there</b>"),
                    shape(StrokeKind::Arrow, &[(0.0, 0.0), (9.0, 9.0)]),
                ],
            },
            ClientMessage::Update {
                op_id: OpId::parse("o7").unwrap(),
                strokes: vec![Stroke {
                    fill: Some(Color::parse("#ffec99").unwrap()),
                    opacity: 0.5,
                    z: 12.5,
                    ..shape(StrokeKind::Rectangle, &[(0.0, 0.0), (5.0, 5.0)])
                }],
            },
            ClientMessage::Preview {
                stroke: StrokeId::parse("s1").unwrap(),
                style: StrokeStyle {
                    color: Color::parse("#ff000080").unwrap(),
                    width: 2.5,
                },
                points: vec![Point::new(1.5, -2.0, 0.25)],
            },
            ClientMessage::PreviewEnd {
                stroke: StrokeId::parse("s1").unwrap(),
            },
            ClientMessage::AddStroke {
                op_id: OpId::parse("o1").unwrap(),
                stroke: stroke(
                    "s1",
                    vec![Point::new(0.0, 0.0, 0.5), Point::new(3.0, 4.0, 0.5)],
                ),
            },
            ClientMessage::Erase {
                op_id: OpId::parse("o2").unwrap(),
                stroke_ids: vec![StrokeId::parse("s1").unwrap()],
            },
            ClientMessage::Clear {
                op_id: OpId::parse("o3").unwrap(),
            },
            ClientMessage::Undo {
                op_id: OpId::parse("o4").unwrap(),
            },
            ClientMessage::Redo {
                op_id: OpId::parse("o5").unwrap(),
            },
        ];
        for message in messages {
            let decoded = ClientMessage::decode(&message.encode()).unwrap();
            assert_eq!(decoded, message);
        }
    }

    /// A welcome with its snapshot encoded beforehand is byte for byte the
    /// one the enum encodes, with a snapshot and without one.
    #[test]
    fn an_encoded_welcome_is_the_welcome() {
        let board = BoardId::parse("abcdefghijklmnopqrstuv").unwrap();
        let snapshot = BoardSnapshot {
            seq: 6,
            strokes: vec![SnapshotStroke {
                stroke: stroke("a", vec![Point::new(1.0, 2.5, 0.5)]),
                visible: false,
            }],
        };
        let op = Operation {
            seq: 7,
            author: UserId::parse("u1").unwrap(),
            op_id: OpId::parse("o1").unwrap(),
            at: 0,
            name: None,
            change: Change::Erase {
                stroke_ids: vec![StrokeId::parse("a").unwrap()],
            },
        };
        for (snapshot, packed_snapshot, snapshot_parts, ops) in [
            (Some(snapshot), None, None, vec![]),
            (None, Some(1234), None, vec![]),
            (None, Some(1234), Some(vec![234, 1000]), vec![]),
            (None, None, None, vec![op]),
        ] {
            let raw = snapshot.as_ref().map(|s| {
                serde_json::value::RawValue::from_string(serde_json::to_string(s).unwrap()).unwrap()
            });
            let encoded = EncodedWelcome {
                protocol: PROTOCOL_VERSION,
                board: Some(&board),
                seq: 7,
                snapshot: raw.as_deref(),
                packed_snapshot,
                snapshot_parts: snapshot_parts.as_deref(),
                ops: &ops,
                presence: 3,
            }
            .encode();
            let expected = ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                board: Some(board.clone()),
                seq: 7,
                snapshot,
                packed_snapshot,
                snapshot_parts,
                ops,
                presence: 3,
            };
            assert_eq!(encoded, expected.encode());
            assert_eq!(ServerMessage::decode(&encoded).unwrap(), expected);
        }
    }

    #[test]
    fn server_messages_round_trip() {
        let op = Operation {
            seq: 7,
            author: UserId::parse("u1").unwrap(),
            op_id: OpId::parse("o1").unwrap(),
            at: 0,
            name: None,
            change: Change::Undo {
                target: 3,
                show: vec![StrokeId::parse("a").unwrap()],
                hide: vec![],
                set: vec![shape(StrokeKind::Line, &[(1.0, 1.0), (2.0, 2.0)])],
            },
        };
        let messages = vec![
            ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                board: Some(BoardId::parse("abcdefghijklmnopqrstuv").unwrap()),
                seq: 7,
                snapshot: Some(BoardSnapshot {
                    seq: 6,
                    strokes: vec![SnapshotStroke {
                        stroke: stroke("a", vec![Point::new(1.0, 2.0, 0.5)]),
                        visible: false,
                    }],
                }),
                packed_snapshot: None,
                snapshot_parts: None,
                ops: vec![op.clone()],
                presence: 2,
            },
            ServerMessage::Op { op },
            ServerMessage::Ack {
                op_id: OpId::parse("o1").unwrap(),
                seq: 7,
            },
            ServerMessage::Presence {
                count: 1,
                people: vec![Person {
                    user: UserId::parse("u1").unwrap(),
                    name: "Ada".into(),
                    viewer: false,
                    following: Some(UserId::parse("u2").unwrap()),
                }],
            },
            ServerMessage::View {
                author: UserId::parse("u1").unwrap(),
                area: Rect::from_corners((-10.0, 0.0), (1270.0, 800.5)),
            },
            ServerMessage::Summon {
                author: UserId::parse("u1").unwrap(),
            },
            ServerMessage::Draft {
                author: UserId::parse("u1").unwrap(),
                strokes: vec![text("draft")],
            },
            ServerMessage::DraftEnd {
                author: UserId::parse("u1").unwrap(),
            },
            ServerMessage::Cursor {
                author: UserId::parse("u1").unwrap(),
                x: 3.0,
                y: 4.0,
                laser: false,
            },
            ServerMessage::Selection {
                author: UserId::parse("u1").unwrap(),
                ids: vec![StrokeId::parse("s1").unwrap()],
            },
            ServerMessage::Cursor {
                author: UserId::parse("u1").unwrap(),
                x: 3.0,
                y: 4.0,
                laser: true,
            },
            ServerMessage::Error {
                code: ErrorCode::Invalid,
                message: "no".into(),
                op_id: None,
            },
        ];
        for message in messages {
            assert_eq!(ServerMessage::decode(&message.encode()).unwrap(), message);
        }
    }

    #[test]
    fn points_are_compact_arrays_on_the_wire() {
        let json = serde_json::to_string(&Point::new(1.5, 2.0, 0.5)).unwrap();
        assert_eq!(json, "[1.5,2.0,0.5]");
    }

    fn assert_code(frame: &str, code: ErrorCode) {
        match ClientMessage::decode(frame) {
            Err(e) => assert_eq!(e.code, code, "frame {frame}: {e}"),
            Ok(m) => panic!("frame {frame} was accepted as {m:?}"),
        }
    }

    #[test]
    fn a_refused_durable_request_is_named_by_its_op_id() {
        let op_id = || Some(OpId::parse("op-1").unwrap());
        // Every durable type, whole: the probe knows them all.
        let stroke = stroke("s1", vec![Point::new(1.0, 2.0, 0.5)]);
        for request in [
            Request::AddStroke(stroke.clone()),
            Request::AddStrokes(vec![stroke.clone()]),
            Request::Update(vec![stroke]),
            Request::Erase(vec![StrokeId::parse("s1").unwrap()]),
            Request::Clear,
            Request::Undo,
            Request::Redo,
        ] {
            let frame = ClientMessage::from_request(op_id().unwrap(), request).encode();
            assert_eq!(ClientMessage::refused_op_id(&frame), op_id(), "{frame}");
        }
        // Refused ones: a field out of range, fields missing, a bad erase list.
        for frame in [
            r##"{"type":"add_stroke","op_id":"op-1","stroke":{"id":"s1","color":"#000000","width":1000,"points":[[1,2,0.5]]}}"##,
            r#"{"type":"add_stroke","op_id":"op-1"}"#,
            r#"{"type":"erase","op_id":"op-1","stroke_ids":[]}"#,
            r#"{"op_id":"op-1","type":"update","strokes":"no"}"#,
        ] {
            assert!(ClientMessage::decode(frame).is_err(), "{frame}");
            assert_eq!(ClientMessage::refused_op_id(frame), op_id(), "{frame}");
        }
        // Nothing to name: not durable, no well-formed op id, not JSON.
        for frame in [
            r#"{"type":"preview","op_id":"op-1"}"#,
            r#"{"type":"clear","op_id":"op 1"}"#,
            r#"{"type":"clear","op_id":7}"#,
            r#"{"type":"clear"}"#,
            r#"{"op_id":"op-1"}"#,
            "not json",
        ] {
            assert_eq!(ClientMessage::refused_op_id(frame), None, "{frame}");
        }
    }

    #[test]
    fn rejects_non_json_and_unknown_types() {
        assert_code("not json", ErrorCode::Malformed);
        assert_code(r#"{"type":"teleport"}"#, ErrorCode::Malformed);
        assert_code(r#"{"type":"clear"}"#, ErrorCode::Malformed);
        assert_code("[]", ErrorCode::Malformed);
    }

    #[test]
    fn rejects_non_finite_and_out_of_range_coordinates() {
        // JSON has no NaN or Infinity literal: they arrive as tokens serde refuses,
        // or as numbers too large for f32.
        let cases = [
            ("[[NaN,1,0.5]]", ErrorCode::Malformed),
            ("[[1e39,1,0.5]]", ErrorCode::Invalid),
            ("[[2000000,1,0.5]]", ErrorCode::Invalid),
            ("[[1,1,1.5]]", ErrorCode::Invalid),
            ("[]", ErrorCode::Invalid),
        ];
        for (points, code) in cases {
            assert_code(&add_stroke_frame(points, "#000000", "2"), code);
        }
    }

    #[test]
    fn rejects_oversized_frames_and_strokes() {
        let huge = format!(
            "{{\"type\":\"clear\",\"op_id\":\"{}\"}}",
            "a".repeat(limits::MAX_FRAME_BYTES)
        );
        assert_code(&huge, ErrorCode::FrameTooLarge);
        let many: Vec<Point> = (0..=limits::MAX_STROKE_POINTS)
            .map(|i| Point::new(i as f32, 0.0, 0.5))
            .collect();
        let message = ClientMessage::AddStroke {
            op_id: OpId::parse("o").unwrap(),
            stroke: stroke("s", many),
        };
        assert_eq!(message.validate().unwrap_err().code, ErrorCode::Invalid);
        let selection = |count: usize| ClientMessage::Selection {
            ids: (0..count)
                .map(|i| StrokeId::parse(&format!("s{i}")).unwrap())
                .collect(),
        };
        assert!(selection(limits::MAX_SELECTION_IDS).validate().is_ok());
        let error = selection(limits::MAX_SELECTION_IDS + 1)
            .validate()
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Invalid);
        assert_eq!(error.message, "a selection names at most 1000 strokes");
    }

    #[test]
    fn colours_read_as_red_green_blue_and_alpha() {
        let rgba = |raw: &str| Color::parse(raw).unwrap().rgba();
        assert_eq!(rgba("#1971c2"), [0x19, 0x71, 0xc2, 255]);
        assert_eq!(rgba("#FF000080"), [255, 0, 0, 0x80]);
    }

    #[test]
    fn rejects_malformed_colours_and_widths() {
        for color in ["red", "#12345", "#12345g", "123456", "#1234567"] {
            assert_code(
                &add_stroke_frame("[[1,1,0.5]]", color, "2"),
                ErrorCode::Invalid,
            );
        }
        for width in ["0", "-1", "1000"] {
            assert_code(
                &add_stroke_frame("[[1,1,0.5]]", "#000000", width),
                ErrorCode::Invalid,
            );
        }
    }

    #[test]
    fn board_ids_must_be_long_url_safe_strings() {
        assert!(BoardId::parse("abcdefghijklmnop").is_ok());
        assert!(BoardId::parse("short").is_err());
        assert!(BoardId::parse("has/slash/abcdefghijk").is_err());
        assert!(BoardId::parse(&"a".repeat(65)).is_err());
        assert!(UserId::parse("").is_err());
        assert!(StrokeId::parse("with space").is_err());
    }

    #[test]
    fn freehand_strokes_keep_their_original_wire_form() {
        let json = serde_json::to_string(&stroke("s1", vec![Point::new(1.0, 2.0, 0.5)])).unwrap();
        assert_eq!(
            json,
            r##"{"id":"s1","color":"#1e1e1e","width":4.0,"points":[[1.0,2.0,0.5]]}"##
        );
        let old: Stroke = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (old.kind, old.opacity, old.z),
            (StrokeKind::Freehand, 1.0, 0.0)
        );
    }

    #[test]
    fn strokes_read_their_fields_in_any_order_and_snapshots_need_visibility() {
        let stroke: Stroke = serde_json::from_str(
            r##"{"points":[[1,2,0.5]],"width":3,"z":2.5,"kind":"text","text":"hi","id":"s1","color":"#e03131","unknown":{"a":[1]}}"##,
        )
        .unwrap();
        assert_eq!(
            (
                stroke.id.as_str(),
                stroke.style.color.as_str(),
                stroke.style.width
            ),
            ("s1", "#e03131", 3.0)
        );
        assert_eq!(
            (stroke.kind, stroke.z, stroke.text.as_deref()),
            (StrokeKind::Text, 2.5, Some("hi"))
        );

        let snapshot = r##"{"seq":1,"strokes":[{"visible":false,"id":"s1","color":"#1e1e1e","width":4,"points":[]}]}"##;
        let snapshot: BoardSnapshot = serde_json::from_str(snapshot).unwrap();
        assert!(!snapshot.strokes[0].visible);
        let written = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(
            serde_json::from_str::<BoardSnapshot>(&written).unwrap(),
            snapshot
        );
        let hidden_unknown =
            r##"{"seq":1,"strokes":[{"id":"s1","color":"#1e1e1e","width":4,"points":[]}]}"##;
        let error = serde_json::from_str::<BoardSnapshot>(hidden_unknown).unwrap_err();
        assert!(
            error.to_string().contains("missing field `visible`"),
            "{error}"
        );
    }

    #[test]
    fn the_server_writes_its_tags_first_and_refuses_them_elsewhere() {
        let ack = ServerMessage::Ack {
            op_id: OpId::parse("op1").unwrap(),
            seq: 3,
        };
        assert_eq!(ack.encode(), r#"{"type":"ack","op_id":"op1","seq":3}"#);
        let late_tag = r#"{"op_id":"op1","seq":3,"type":"ack"}"#;
        let error = ServerMessage::decode(late_tag).unwrap_err();
        assert!(
            error
                .message
                .contains("`type` must be the object's first key"),
            "{}",
            error.message
        );
    }

    #[test]
    fn each_kind_needs_its_number_of_points() {
        assert!(shape(StrokeKind::Rectangle, &[(0.0, 0.0), (1.0, 1.0)])
            .validate()
            .is_ok());
        assert!(shape(StrokeKind::Rectangle, &[(0.0, 0.0)])
            .validate()
            .is_err());
        assert!(
            shape(StrokeKind::Line, &[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)])
                .validate()
                .is_err()
        );
        assert!(text("x").validate().is_ok());
        let mut two_anchors = text("x");
        two_anchors.points.push(Point::new(1.0, 1.0, 0.5));
        assert!(two_anchors.validate().is_err());
    }

    #[test]
    fn rejects_bad_fills_opacities_texts_and_names() {
        let mut filled_line = shape(StrokeKind::Line, &[(0.0, 0.0), (1.0, 1.0)]);
        filled_line.fill = Some(Color::parse("#000000").unwrap());
        assert!(filled_line.validate().is_err());
        let mut faint = shape(StrokeKind::Ellipse, &[(0.0, 0.0), (1.0, 1.0)]);
        faint.opacity = 0.0;
        assert!(faint.validate().is_err());
        let mut far = faint.clone();
        far.opacity = 1.0;
        far.z = f64::INFINITY;
        assert!(far.validate().is_err());
        assert!(text("   ").validate().is_err());
        assert!(text(&"x".repeat(limits::MAX_TEXT_BYTES + 1))
            .validate()
            .is_err());
        let mut huge = text("x");
        huge.font_size = Some(1000.0);
        assert!(huge.validate().is_err());
        let mut texty_rect = shape(StrokeKind::Rectangle, &[(0.0, 0.0), (1.0, 1.0)]);
        texty_rect.text = Some("no".into());
        assert!(texty_rect.validate().is_err());
        for name in ["", " Ada", "Ada\n", &"n".repeat(33)] {
            assert!(validate_name(name).is_err(), "{name:?}");
        }
        assert!(validate_name("Ada Lovelace ✏️").is_ok());
        assert_code(
            r#"{"type":"add_strokes","op_id":"o","strokes":[]}"#,
            ErrorCode::Invalid,
        );
        assert_code(r#"{"type":"cursor","x":1e30,"y":0}"#, ErrorCode::Invalid);
    }

    fn image() -> Stroke {
        let mut image = shape(StrokeKind::Image, &[(10.0, 20.0), (330.0, 260.0)]);
        image.image = Some(ImageId::from_digest(&[7; 32]));
        image
    }

    #[test]
    fn an_image_item_names_its_image_and_only_it_does() {
        assert!(image().validate().is_ok());
        let json = serde_json::to_string(&image()).unwrap();
        assert!(
            json.contains(&format!(r#""image":"{}""#, "07".repeat(32))),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Stroke>(&json).unwrap(), image());
        let mut without = image();
        without.image = None;
        assert_eq!(without.validate().unwrap_err().code, ErrorCode::Invalid);
        let mut rectangle = image();
        rectangle.kind = StrokeKind::Rectangle;
        assert_eq!(rectangle.validate().unwrap_err().code, ErrorCode::Invalid);
        let mut one_point = image();
        one_point.points.truncate(1);
        assert!(one_point.validate().is_err());
        // An id that is not a SHA-256 in hex is refused.
        let bad = json.replace(&"07".repeat(32), "../../etc/passwd");
        let message = format!(r#"{{"type":"add_stroke","op_id":"o1","stroke":{bad}}}"#);
        assert_eq!(
            ClientMessage::decode(&message).unwrap_err().code,
            ErrorCode::Invalid
        );
    }

    #[test]
    fn clients_before_version_5_get_image_items_as_grey_rectangles() {
        let placeholder = image().as_placeholder().into_owned();
        assert_eq!(placeholder.kind, StrokeKind::Rectangle);
        assert_eq!(placeholder.image, None);
        assert_eq!(
            placeholder.fill.as_ref().map(Color::as_str),
            Some(IMAGE_PLACEHOLDER_FILL)
        );
        assert_eq!(
            (&placeholder.id, &placeholder.points),
            (&image().id, &image().points)
        );
        assert!(placeholder.validate().is_ok());
        let other = shape(StrokeKind::Ellipse, &[(0.0, 0.0), (1.0, 1.0)]);
        assert!(matches!(other.as_placeholder(), Cow::Borrowed(_)));

        let add = Change::AddStrokes {
            strokes: vec![other.clone(), image()],
        };
        assert_eq!(
            add.for_protocol(IMAGES_SINCE),
            None,
            "version 5 reads it as it is"
        );
        let Some(Change::AddStrokes { strokes }) = add.for_protocol(IMAGES_SINCE - 1) else {
            panic!("version 4 gets its own");
        };
        assert_eq!(
            strokes,
            vec![other.clone(), image().as_placeholder().into_owned()]
        );
        // Older still: a restore that sets an image back is an undo of nothing
        // that sets its placeholder.
        let restore = Change::Restore {
            version: 3,
            show: Vec::new(),
            hide: Vec::new(),
            set: vec![image()],
        };
        let Some(Change::Undo { target: 0, set, .. }) = restore.for_protocol(HISTORY_SINCE - 1)
        else {
            panic!("version 3 gets an undo");
        };
        assert_eq!(set[0].kind, StrokeKind::Rectangle);
        let erase = Change::Erase {
            stroke_ids: vec![image().id],
        };
        assert_eq!(erase.for_protocol(HISTORY_SINCE), None);
    }

    #[test]
    fn people_get_distinct_stable_colours() {
        let people: Vec<Person> = (0..10)
            .map(|i| Person {
                user: UserId::parse(&format!("user{i}")).unwrap(),
                name: String::new(),
                viewer: false,
                following: None,
            })
            .collect();
        let colors = person_colors(&people);
        let distinct: std::collections::HashSet<usize> = colors.iter().copied().collect();
        assert_eq!(distinct.len(), 10);
        // The same list in another order gives everyone the same colour.
        let mut reversed = people.clone();
        reversed.reverse();
        let mut again = person_colors(&reversed);
        again.reverse();
        assert_eq!(again, colors);
        // Alone, everyone has their preferred colour.
        for person in &people {
            let alone = person_colors(std::slice::from_ref(person));
            assert_eq!(alone, vec![preferred_color(&person.user)]);
        }
    }

    #[test]
    fn batches_fit_in_frames_and_keep_the_order() {
        let long: Vec<Point> = (0..2_000).map(|i| Point::new(i as f32, 0.5, 0.5)).collect();
        let strokes: Vec<Stroke> = (0..40)
            .map(|i| {
                stroke(
                    &format!("s{i}"),
                    if i % 4 == 0 {
                        long.clone()
                    } else {
                        vec![Point::new(1.0, 1.0, 0.5)]
                    },
                )
            })
            .chain((40..700).map(|i| stroke(&format!("s{i}"), vec![Point::new(1.0, 1.0, 0.5)])))
            .collect();
        let batches = limits::batches(strokes.clone());
        assert!(batches.len() > 3);
        for batch in &batches {
            let message = ClientMessage::AddStrokes {
                op_id: OpId::parse("o").unwrap(),
                strokes: batch.clone(),
            };
            assert!(message.encode().len() <= limits::MAX_FRAME_BYTES);
            assert!(message.validate().is_ok());
        }
        assert_eq!(batches.concat(), strokes);
        assert!(limits::batches(Vec::new()).is_empty());
    }
}
