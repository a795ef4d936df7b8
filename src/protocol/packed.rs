//! Packed snapshots: a whole board as bytes, for protocol version 2.
//!
//! A board's JSON snapshot spends most of its bytes on punctuation and
//! decimal digits (464 bytes for a 20-point stroke), and decoding it in the
//! browser (serde buffers every flattened and internally tagged object before
//! reading it) was the longest step of opening a 100,000-item board. Version
//! 2 clients get the snapshot in this layout instead, in binary frames
//! after the `welcome`: points in columns, as deltas of hundredths when that
//! is exact (else raw little-endian floats), one shared pressure when a
//! stroke has a single one, colours in a table.
//!
//! The layout is specified byte by byte in `docs/protocol.md` ("Packed
//! snapshots"); that section and this file change together. It is lossless:
//! every float keeps its bits, so a board reopens exactly as it was left.
//! Decoding checks every length against what is left before allocating, so
//! a damaged frame is an error, never a panic or a huge allocation.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use thiserror::Error;

use crate::geometry::Rect;

use super::{
    BoardSnapshot, Color, ImageId, Point, SnapshotStroke, Stroke, StrokeId, StrokeKind, StrokeStyle,
};

/// The first four bytes of a packed snapshot; the digit is the layout's
/// version.
pub const MAGIC: [u8; 4] = *b"WBP1";

/// Bits of a stroke's flags byte: which optional fields follow.
mod flag {
    pub const VISIBLE: u8 = 1;
    pub const FILL: u8 = 2;
    pub const OPACITY: u8 = 4;
    pub const Z: u8 = 8;
    pub const TEXT: u8 = 16;
    pub const FONT_SIZE: u8 = 32;
    /// Every point has its own pressure; otherwise one pressure follows for all.
    pub const PRESSURES: u8 = 64;
    /// Coordinates are in hundredths, as varint deltas (see [`super::centi`]).
    pub const CENTI: u8 = 128;
}

/// The fewest bytes a stroke can take (flags, kind, empty id, colour,
/// width, no points): bounds the stroke count a frame can claim.
const MIN_STROKE_BYTES: usize = 1 + 1 + 1 + 1 + 4 + 1;
/// The same in a part, with its position: a part's total can claim no more
/// strokes than all the parts' bytes can hold.
pub const MIN_PART_STROKE_BYTES: usize = MIN_STROKE_BYTES + 1;

/// Why bytes are not a packed snapshot.
#[derive(Debug, Error, PartialEq)]
pub enum PackedError {
    #[error("not a packed snapshot: it does not start with \"WBP1\"")]
    BadMagic,
    #[error("not a snapshot part: it does not start with \"WBP2\"")]
    BadPartMagic,
    #[error("the packed snapshot ends in the middle of {0}")]
    Truncated(&'static str),
    #[error("the packed snapshot has {0} bytes after its last stroke")]
    TrailingBytes(usize),
    #[error("the packed snapshot holds an invalid {0}")]
    Invalid(&'static str),
}

/// Every colour the strokes use (outline and fill), each once, in order of
/// first use: a packed snapshot's colour table. (It owns its few strings,
/// so that a [`Packing`] can keep it beside the strokes.)
struct Colours {
    index: HashMap<String, u64>,
    table: Vec<String>,
}

impl Colours {
    fn of<S: Borrow<SnapshotStroke>>(strokes: &[S]) -> Self {
        let mut colours = Self {
            index: HashMap::new(),
            table: Vec::new(),
        };
        for item in strokes {
            let stroke = &item.borrow().stroke;
            for colour in std::iter::once(&stroke.style.color).chain(stroke.fill.as_ref()) {
                if !colours.index.contains_key(colour.as_str()) {
                    let next = colours.table.len() as u64;
                    colours.index.insert(colour.as_str().to_owned(), next);
                    colours.table.push(colour.as_str().to_owned());
                }
            }
        }
        colours
    }

    /// The table as written: a count, then the colours.
    fn write(&self, out: &mut Writer) {
        out.varint(self.table.len() as u64);
        for colour in &self.table {
            out.str(colour);
        }
    }
}

/// Packs the board at `seq` whose items, in drawing order, are `strokes`.
pub fn encode<S: Borrow<SnapshotStroke>>(seq: u64, strokes: &[S]) -> Vec<u8> {
    let colours = Colours::of(strokes);
    let points: usize = strokes.iter().map(|s| s.borrow().stroke.points.len()).sum();
    let mut out = Writer(Vec::with_capacity(16 + strokes.len() * 24 + points * 8));
    out.0.extend_from_slice(&MAGIC);
    out.u64(seq);
    colours.write(&mut out);
    out.varint(strokes.len() as u64);
    let mut scratch = Vec::new();
    for item in strokes {
        write_stroke(&mut out, item.borrow(), &colours, &mut scratch);
    }
    out.0
}

/// One stroke as the layout has it; `hundredths` is scratch space.
fn write_stroke(
    out: &mut Writer,
    item: &SnapshotStroke,
    colours: &Colours,
    hundredths: &mut Vec<i64>,
) {
    let stroke = &item.stroke;
    // The stroke's coordinates in hundredths (all x, then all y), if exact.
    hundredths.clear();
    let in_centi = [|p: &Point| p.x, |p: &Point| p.y]
        .into_iter()
        .flat_map(|column| stroke.points.iter().map(column))
        .all(|value| centi(value).map(|h| hundredths.push(h)).is_some());
    let pressure = stroke
        .points
        .first()
        .map_or(Point::DEFAULT_PRESSURE, |p| p.pressure);
    let shared_pressure = stroke
        .points
        .iter()
        .all(|p| p.pressure.to_bits() == pressure.to_bits());
    let flags = [
        (item.visible, flag::VISIBLE),
        (stroke.fill.is_some(), flag::FILL),
        (stroke.opacity.to_bits() != 1.0f32.to_bits(), flag::OPACITY),
        (stroke.z.to_bits() != 0.0f64.to_bits(), flag::Z),
        (stroke.text.is_some(), flag::TEXT),
        (stroke.font_size.is_some(), flag::FONT_SIZE),
        (!shared_pressure, flag::PRESSURES),
        (in_centi, flag::CENTI),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .fold(0, |flags, (_, bit)| flags | bit);
    out.0.push(flags);
    out.0.push(kind_code(stroke.kind));
    out.str(stroke.id.as_str());
    out.varint(colours.index[stroke.style.color.as_str()]);
    out.f32(stroke.style.width);
    if let Some(fill) = &stroke.fill {
        out.varint(colours.index[fill.as_str()]);
    }
    if flags & flag::OPACITY != 0 {
        out.f32(stroke.opacity);
    }
    if flags & flag::Z != 0 {
        out.f64(stroke.z);
    }
    if let Some(text) = &stroke.text {
        out.str(text);
    }
    if let Some(font_size) = stroke.font_size {
        out.f32(font_size);
    }
    // An image item always has its image (the kind says so: no flag).
    if let Some(image) = &stroke.image {
        out.str(image.as_str());
    }
    out.varint(stroke.points.len() as u64);
    if in_centi {
        for column in hundredths.chunks(stroke.points.len().max(1)) {
            let mut previous = 0;
            for &value in column {
                out.zigzag(value - previous);
                previous = value;
            }
        }
    } else {
        for point in &stroke.points {
            out.f32(point.x);
        }
        for point in &stroke.points {
            out.f32(point.y);
        }
    }
    if shared_pressure {
        out.f32(pressure);
    } else {
        for point in &stroke.points {
            out.f32(point.pressure);
        }
    }
}

/// Unpacks a snapshot made by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<BoardSnapshot, PackedError> {
    let mut input = Reader { bytes, at: 0 };
    if input.take(MAGIC.len(), "the header")? != MAGIC {
        return Err(PackedError::BadMagic);
    }
    let seq = input.u64("the header")?;
    let colours = read_colours(&mut input)?;
    let stroke_count = input.count(MIN_STROKE_BYTES, "the stroke count")?;
    let mut strokes = Vec::with_capacity(stroke_count);
    for _ in 0..stroke_count {
        strokes.push(read_stroke(&mut input, &colours)?);
    }
    input.finish()?;
    Ok(BoardSnapshot { seq, strokes })
}

fn read_colours(input: &mut Reader<'_>) -> Result<Vec<Color>, PackedError> {
    let colour_count = input.count(1, "the colour table")?;
    (0..colour_count)
        .map(|_| {
            let raw = input.str("the colour table")?;
            Color::parse(raw).map_err(|_| PackedError::Invalid("colour"))
        })
        .collect()
}

/// One stroke written by [`write_stroke`].
fn read_stroke(input: &mut Reader<'_>, colours: &[Color]) -> Result<SnapshotStroke, PackedError> {
    const AT: &str = "a stroke";
    let colour = |index: u64| {
        usize::try_from(index)
            .ok()
            .and_then(|index| colours.get(index))
            .cloned()
            .ok_or(PackedError::Invalid("colour index"))
    };
    let flags = input.u8(AT)?;
    let kind = kind_from_code(input.u8(AT)?)?;
    let id = StrokeId::parse(input.str(AT)?).map_err(|_| PackedError::Invalid("stroke id"))?;
    let style = StrokeStyle {
        color: colour(input.varint(AT)?)?,
        width: input.f32(AT)?,
    };
    let mut stroke = Stroke::new(id, kind, style, Vec::new());
    if flags & flag::FILL != 0 {
        stroke.fill = Some(colour(input.varint(AT)?)?);
    }
    if flags & flag::OPACITY != 0 {
        stroke.opacity = input.f32(AT)?;
    }
    if flags & flag::Z != 0 {
        stroke.z = input.f64(AT)?;
    }
    if flags & flag::TEXT != 0 {
        stroke.text = Some(input.str(AT)?.to_owned());
    }
    if flags & flag::FONT_SIZE != 0 {
        stroke.font_size = Some(input.f32(AT)?);
    }
    if kind == StrokeKind::Image {
        stroke.image =
            Some(ImageId::parse(input.str(AT)?).map_err(|_| PackedError::Invalid("image id"))?);
    }
    const POINTS: &str = "a stroke's points";
    let in_centi = flags & flag::CENTI != 0;
    let count = input.count(if in_centi { 2 } else { 8 }, POINTS)?;
    let mut points = vec![Point::new(0.0, 0.0, 0.0); count];
    for column in [|p: &mut Point, v| p.x = v, |p: &mut Point, v| p.y = v] {
        if in_centi {
            let mut value: i64 = 0;
            for point in &mut points {
                value = value.wrapping_add(input.zigzag(POINTS)?);
                column(point, from_centi(value));
            }
        } else {
            let raw = input.take(count * 4, POINTS)?;
            for (point, bytes) in points.iter_mut().zip(raw.chunks_exact(4)) {
                column(point, f32_at(bytes));
            }
        }
    }
    if flags & flag::PRESSURES != 0 {
        let raw = input.take(count * 4, "a stroke's pressures")?;
        for (point, bytes) in points.iter_mut().zip(raw.chunks_exact(4)) {
            point.pressure = f32_at(bytes);
        }
    } else {
        let pressure = input.f32("a stroke's pressure")?;
        for point in &mut points {
            point.pressure = pressure;
        }
    }
    stroke.points = points;
    Ok(SnapshotStroke {
        stroke,
        visible: flags & flag::VISIBLE != 0,
    })
}

/// The first four bytes of a snapshot part (protocol version 3).
pub const PART_MAGIC: [u8; 4] = *b"WBP2";

/// Side of the squares of board that strokes are grouped by: small enough
/// that a view's first part holds little besides what is in sight (at 256
/// units, about 40 % of a board four screens large, for a view of one screen),
/// large enough that a part is a few long runs of bytes.
pub const GROUP_SIDE: f32 = 256.0;

/// A board's strokes packed once for version 3, grouped by where they
/// paint (by the square of [`GROUP_SIDE`] their paint's centre is in, row
/// by row), so that every welcome at this version cuts its parts from the
/// same bytes: the groups that reach into its view, then the others.
/// The strokes' bytes (the "body": each stroke as its position and its
/// fields, group after group) are kept apart, so that a server can share
/// them however it shares bytes.
#[derive(Debug, Clone)]
pub struct Grouped {
    seq: u64,
    top_z: f64,
    total: u64,
    /// The colour table as written (count, then colours).
    colours: Vec<u8>,
    groups: Vec<Group>,
}

/// A board packed as [`Grouped::whole`] packs it, a slice of its strokes
/// at a time ([`Packing::step`]), so that a browser keeping a big board
/// never spends one long task on it. It holds the strokes as they were
/// when it started (shared, not copied): the board may change meanwhile.
pub struct Packing {
    seq: u64,
    top_z: f64,
    strokes: Vec<Arc<SnapshotStroke>>,
    colours: Colours,
    body: Writer,
    scratch: Vec<i64>,
    next: usize,
}

impl Packing {
    /// Starts packing the board at `seq` whose items, in drawing order,
    /// are `strokes`, whose highest stacking key is `top_z` (the colour
    /// table is made here, in one pass).
    pub fn new(seq: u64, top_z: f64, strokes: Vec<Arc<SnapshotStroke>>) -> Self {
        let points: usize = strokes.iter().map(|s| s.stroke.points.len()).sum();
        Self {
            seq,
            top_z,
            colours: Colours::of(&strokes),
            body: Writer(Vec::with_capacity(strokes.len() * 28 + points * 8)),
            strokes,
            scratch: Vec::new(),
            next: 0,
        }
    }

    /// Packs up to `most` more strokes; whether all are packed.
    pub fn step(&mut self, most: usize) -> bool {
        let end = self.strokes.len().min(self.next.saturating_add(most));
        for position in self.next..end {
            self.body.varint(position as u64);
            write_stroke(
                &mut self.body,
                &self.strokes[position],
                &self.colours,
                &mut self.scratch,
            );
        }
        self.next = end;
        self.next == self.strokes.len()
    }

    /// The board at `seq` packed, in one group, and the group's bytes
    /// (call once [`Self::step`] said all are packed).
    pub fn finish(self) -> (Grouped, Vec<u8>) {
        let mut table = Writer(Vec::new());
        self.colours.write(&mut table);
        let grouped = Grouped {
            seq: self.seq,
            top_z: self.top_z,
            total: self.strokes.len() as u64,
            colours: table.0,
            groups: vec![Group {
                bounds: None,
                bytes: 0..self.body.0.len(),
                count: self.next as u64,
            }],
        };
        (grouped, self.body.0)
    }
}

/// Strokes packed together, by their positions in drawing order, and
/// where they may paint, all together.
#[derive(Default)]
struct Square {
    members: Vec<usize>,
    bounds: Option<Rect>,
}

#[derive(Debug, Clone)]
struct Group {
    /// Where its strokes may paint, all together (`None`: nowhere, such as
    /// hidden strokes).
    bounds: Option<Rect>,
    bytes: Range<usize>,
    count: u64,
}

/// One part of a snapshot as sent: `header`, then the bytes of the body
/// (see [`Grouped::new`]) in `ranges`, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PartPlan {
    pub header: Vec<u8>,
    pub ranges: Vec<Range<usize>>,
}

impl PartPlan {
    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.header.len()
            + self
                .ranges
                .iter()
                .map(ExactSizeIterator::len)
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Grouped {
    /// Packs the board at `seq` whose items, in drawing order, are
    /// `strokes`, whose highest stacking key is `top_z`; `paints` says
    /// where an item may paint (`None`: nowhere). Returns the body too.
    pub fn new<S: Borrow<SnapshotStroke>>(
        seq: u64,
        top_z: f64,
        strokes: &[S],
        paints: impl Fn(&SnapshotStroke) -> Option<Rect>,
    ) -> (Self, Vec<u8>) {
        // Squares row by row (keyed by row, then column), then what paints
        // nowhere (keyed `true`).
        let mut squares: BTreeMap<(bool, i64, i64), Square> = BTreeMap::new();
        for (position, item) in strokes.iter().enumerate() {
            let bounds = paints(item.borrow());
            let key = bounds.map_or((true, 0, 0), |b| {
                let (x, y) = b.center();
                let square = |v: f32| (v / GROUP_SIDE).floor() as i64;
                (false, square(y), square(x))
            });
            let square = squares.entry(key).or_default();
            square.members.push(position);
            square.bounds = match (square.bounds, bounds) {
                (Some(union), Some(b)) => Some(union.union(&b)),
                (union, b) => union.or(b),
            };
        }
        let colours = Colours::of(strokes);
        let mut table = Writer(Vec::new());
        colours.write(&mut table);
        let points: usize = strokes.iter().map(|s| s.borrow().stroke.points.len()).sum();
        let mut body = Writer(Vec::with_capacity(strokes.len() * 28 + points * 8));
        let mut scratch = Vec::new();
        let groups = squares
            .into_values()
            .map(|Square { members, bounds }| {
                let start = body.0.len();
                for &position in &members {
                    body.varint(position as u64);
                    write_stroke(
                        &mut body,
                        strokes[position].borrow(),
                        &colours,
                        &mut scratch,
                    );
                }
                Group {
                    bounds,
                    bytes: start..body.0.len(),
                    count: members.len() as u64,
                }
            })
            .collect();
        let grouped = Self {
            seq,
            top_z,
            total: strokes.len() as u64,
            colours: table.0,
            groups,
        };
        (grouped, body.0)
    }

    /// Packs the board as [`Self::new`] does, all of it in one group in
    /// drawing order: for one part with no view to favour (a past version,
    /// a board kept in the browser), without the cost of grouping.
    pub fn whole(seq: u64, top_z: f64, strokes: &[Arc<SnapshotStroke>]) -> (Self, Vec<u8>) {
        let mut packing = Packing::new(seq, top_z, strokes.to_vec());
        packing.step(usize::MAX);
        packing.finish()
    }

    /// The parts for a welcome: with a view, two (what may paint in it,
    /// then the rest, either possibly empty); without, one.
    pub fn parts(&self, view: Option<&Rect>) -> Vec<PartPlan> {
        let (first, rest): (Vec<&Group>, Vec<&Group>) = self.groups.iter().partition(|group| {
            view.is_none_or(|view| group.bounds.is_some_and(|b| b.intersects(view)))
        });
        let mut parts = vec![self.part(&first)];
        if view.is_some() {
            parts.push(self.part(&rest));
        }
        parts
    }

    fn part(&self, groups: &[&Group]) -> PartPlan {
        let mut header = Writer(Vec::with_capacity(32 + self.colours.len()));
        header.0.extend_from_slice(&PART_MAGIC);
        header.u64(self.seq);
        header.f64(self.top_z);
        header.varint(self.total);
        header.0.extend_from_slice(&self.colours);
        header.varint(groups.iter().map(|g| g.count).sum());
        // Neighbouring groups as one range.
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for group in groups {
            match ranges.last_mut() {
                Some(last) if last.end == group.bytes.start => last.end = group.bytes.end,
                _ => ranges.push(group.bytes.clone()),
            }
        }
        PartPlan {
            header: header.0,
            ranges,
        }
    }
}

/// The bytes of `plans`, one part after another, as the binary frames of a
/// welcome carry them (the server sends the same bytes as slices; this is
/// for clients written in tests and benchmarks).
pub fn joined(plans: &[PartPlan], body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(plans.iter().map(PartPlan::len).sum());
    for plan in plans {
        bytes.extend_from_slice(&plan.header);
        for range in &plan.ranges {
            bytes.extend_from_slice(&body[range.clone()]);
        }
    }
    bytes
}

/// A decoded part of a snapshot: each stroke with its position in the
/// whole snapshot's drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub seq: u64,
    /// The highest stacking key in the whole snapshot.
    pub top_z: f64,
    /// How many strokes the whole snapshot has.
    pub total: usize,
    pub strokes: Vec<(usize, SnapshotStroke)>,
}

/// Unpacks a part made from [`Grouped::parts`]. Positions are checked to
/// be below the total, not to be unique: that takes every part.
pub fn decode_part(bytes: &[u8]) -> Result<Part, PackedError> {
    let mut reader = PartReader::new(bytes)?;
    let strokes = reader.read(bytes, usize::MAX)?;
    Ok(Part {
        seq: reader.seq,
        top_z: reader.top_z,
        total: reader.total,
        strokes,
    })
}

/// A part unpacked a slice at a time, as [`decode_part`] does at once: a
/// browser merging the rest of a big board reads a few thousand strokes
/// between two frames. Every call is given the same bytes, those of the
/// whole part.
#[derive(Debug)]
pub struct PartReader {
    pub seq: u64,
    /// The highest stacking key in the whole snapshot.
    pub top_z: f64,
    /// How many strokes the whole snapshot has.
    pub total: usize,
    colours: Vec<Color>,
    /// Where the next stroke starts.
    at: usize,
    /// How many strokes are still to read.
    left: usize,
}

impl PartReader {
    /// Reads the header of the part in `bytes`.
    pub fn new(bytes: &[u8]) -> Result<Self, PackedError> {
        let mut input = Reader { bytes, at: 0 };
        if input.take(PART_MAGIC.len(), "the header")? != PART_MAGIC {
            return Err(PackedError::BadPartMagic);
        }
        let seq = input.u64("the header")?;
        let top_z = input.f64("the header")?;
        let total = usize::try_from(input.varint("the header")?)
            .map_err(|_| PackedError::Invalid("stroke total"))?;
        let colours = read_colours(&mut input)?;
        let left = input.count(MIN_PART_STROKE_BYTES, "the stroke count")?;
        Ok(Self {
            seq,
            top_z,
            total,
            colours,
            at: input.at,
            left,
        })
    }

    /// Up to `most` more strokes, each with its position (checked to be
    /// below the total). Once the last is read, nothing may follow it.
    pub fn read(
        &mut self,
        bytes: &[u8],
        most: usize,
    ) -> Result<Vec<(usize, SnapshotStroke)>, PackedError> {
        if self.at > bytes.len() {
            return Err(PackedError::Truncated("the part"));
        }
        let mut input = Reader { bytes, at: self.at };
        let count = most.min(self.left);
        let mut strokes = Vec::with_capacity(count);
        for _ in 0..count {
            let position = usize::try_from(input.varint("a stroke's position")?)
                .ok()
                .filter(|&position| position < self.total)
                .ok_or(PackedError::Invalid("stroke position"))?;
            strokes.push((position, read_stroke(&mut input, &self.colours)?));
        }
        self.at = input.at;
        self.left -= count;
        if self.is_done() {
            input.finish()?;
        }
        Ok(strokes)
    }

    /// Whether every stroke is read.
    pub fn is_done(&self) -> bool {
        self.left == 0
    }
}

/// Puts each of a part's strokes, made into a `T` by `wrap`, in the slot
/// of its position (`slots` has one per position of the whole snapshot).
/// A position out of range or already taken is an error.
pub fn place<T>(
    slots: &mut [Option<T>],
    strokes: Vec<(usize, SnapshotStroke)>,
    wrap: impl Fn(SnapshotStroke) -> T,
) -> Result<(), PackedError> {
    for (position, stroke) in strokes {
        let slot = slots
            .get_mut(position)
            .ok_or(PackedError::Invalid("stroke position"))?;
        if slot.replace(wrap(stroke)).is_some() {
            return Err(PackedError::Invalid("stroke positions"));
        }
    }
    Ok(())
}

/// The snapshot that parts made from [`Grouped::parts`] hold, given their
/// bytes one after another and each one's size (as a `welcome` announces
/// them): every stroke in its place, each position exactly once.
pub fn assemble(bytes: &[u8], sizes: &[u64]) -> Result<BoardSnapshot, PackedError> {
    let mut at = 0usize;
    let mut slots: Vec<Option<SnapshotStroke>> = Vec::new();
    let mut whole: Option<(u64, usize)> = None;
    for &size in sizes {
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| at.checked_add(size))
            .filter(|&end| end <= bytes.len())
            .ok_or(PackedError::Truncated("the parts"))?;
        let part = decode_part(&bytes[at..end])?;
        if whole.is_none() {
            if part.total.saturating_mul(MIN_PART_STROKE_BYTES) > bytes.len() {
                return Err(PackedError::Invalid("stroke total"));
            }
            slots = vec![None; part.total];
        }
        if *whole.get_or_insert((part.seq, part.total)) != (part.seq, part.total) {
            return Err(PackedError::Invalid("part header"));
        }
        place(&mut slots, part.strokes, |stroke| stroke)?;
        at = end;
    }
    if at != bytes.len() {
        return Err(PackedError::TrailingBytes(bytes.len() - at));
    }
    let (seq, _) = whole.ok_or(PackedError::Truncated("the parts"))?;
    let strokes = slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or(PackedError::Invalid("stroke positions"))?;
    Ok(BoardSnapshot { seq, strokes })
}

/// A coordinate as a whole number of hundredths, if it is exactly one (it
/// decodes to the same bits through [`from_centi`]). The browser rounds what
/// it draws to hundredths of a board unit, so nearly every stroke qualifies,
/// and a delta of hundredths takes one or two bytes where a float takes four.
fn centi(value: f32) -> Option<i64> {
    let scaled = f64::from(value) * 100.0;
    if !scaled.is_finite() || scaled.abs() > 1e15 {
        return None;
    }
    // The nearest whole number (a cast, not `round`, which is a library call
    // on baseline x86-64); the check below is what makes it right.
    let hundredths = (scaled + 0.5_f64.copysign(scaled)) as i64;
    (from_centi(hundredths).to_bits() == value.to_bits()).then_some(hundredths)
}

/// The coordinate `hundredths / 100`, rounded to the nearest `f32` (IEEE
/// division and conversion: the same bits on every machine).
fn from_centi(hundredths: i64) -> f32 {
    (hundredths as f64 / 100.0) as f32
}

fn kind_code(kind: StrokeKind) -> u8 {
    match kind {
        StrokeKind::Freehand => 0,
        StrokeKind::Rectangle => 1,
        StrokeKind::Ellipse => 2,
        StrokeKind::Line => 3,
        StrokeKind::Arrow => 4,
        StrokeKind::Text => 5,
        StrokeKind::Image => 6,
    }
}

fn kind_from_code(code: u8) -> Result<StrokeKind, PackedError> {
    Ok(match code {
        0 => StrokeKind::Freehand,
        1 => StrokeKind::Rectangle,
        2 => StrokeKind::Ellipse,
        3 => StrokeKind::Line,
        4 => StrokeKind::Arrow,
        5 => StrokeKind::Text,
        6 => StrokeKind::Image,
        _ => return Err(PackedError::Invalid("stroke kind")),
    })
}

/// Four bytes (exactly, by construction) as a little-endian float.
fn f32_at(bytes: &[u8]) -> f32 {
    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

struct Writer(Vec<u8>);

impl Writer {
    /// LEB128: seven bits a byte, low bits first, high bit set on all but the last.
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn f32(&mut self, value: f32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn f64(&mut self, value: f64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// A signed number as a varint: 0, -1, 1, -2, 2… become 0, 1, 2, 3, 4…
    fn zigzag(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    /// A length in bytes, then the UTF-8.
    fn str(&mut self, value: &str) {
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value.as_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], PackedError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(PackedError::Truncated(what))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PackedError> {
        Ok(self.take(1, what)?[0])
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, PackedError> {
        let bytes = self.take(8, what)?;
        let mut word = [0; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    }

    fn f32(&mut self, what: &'static str) -> Result<f32, PackedError> {
        Ok(f32_at(self.take(4, what)?))
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, PackedError> {
        Ok(f64::from_bits(self.u64(what)?))
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, PackedError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(PackedError::Invalid("number"))
    }

    fn zigzag(&mut self, what: &'static str) -> Result<i64, PackedError> {
        let raw = self.varint(what)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    /// A count of things at least `min_bytes` each, refused if what is left
    /// cannot hold that many (so a damaged count never allocates much).
    fn count(&mut self, min_bytes: usize, what: &'static str) -> Result<usize, PackedError> {
        let count = self.varint(what)?;
        let left = (self.bytes.len() - self.at) as u64;
        if count.saturating_mul(min_bytes as u64) > left {
            return Err(PackedError::Truncated(what));
        }
        Ok(count as usize)
    }

    /// Nothing may follow the last stroke.
    fn finish(&self) -> Result<(), PackedError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            left => Err(PackedError::TrailingBytes(left)),
        }
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, PackedError> {
        let len = self.count(1, what)?;
        std::str::from_utf8(self.take(len, what)?).map_err(|_| PackedError::Invalid("text"))
    }
}

#[cfg(test)]
mod tests;
