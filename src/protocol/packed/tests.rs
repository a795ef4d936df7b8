//! The packed layout against the JSON it replaces: same boards out as in,
//! damaged bytes refused, and the document's example byte for byte.

use super::*;

fn item(id: &str, colour: &str, points: &[(f32, f32, f32)]) -> SnapshotStroke {
    SnapshotStroke {
        stroke: Stroke::freehand(
            StrokeId::parse(id).unwrap(),
            StrokeStyle {
                color: Color::parse(colour).unwrap(),
                width: 2.5,
            },
            points
                .iter()
                .map(|&(x, y, p)| Point::new(x, y, p))
                .collect(),
        ),
        visible: true,
    }
}

/// One of everything: every kind, every optional field, hidden items,
/// shared and varying pressures, floats that print long in JSON.
fn every_kind_of_item() -> Vec<SnapshotStroke> {
    let mut items = vec![
        item("plain", "#1e1e1e", &[(0.1, 0.2, 0.5), (1e6, -1e6, 0.5)]),
        item(
            "pressed",
            "#e03131",
            &[(1.0, 2.0, 0.0), (3.0, 4.0, 1.0), (5.0, 6.0, 0.3)],
        ),
        // Not hundredths: kept as floats.
        item(
            "thirds",
            "#e03131",
            &[(1.0 / 3.0, 2.0, 0.5), (0.123_456, -0.0, 0.5)],
        ),
    ];
    let mut hidden = item("hidden", "#1e1e1e80", &[(7.0, 8.0, 0.5)]);
    hidden.visible = false;
    items.push(hidden);
    for (n, kind) in [
        StrokeKind::Rectangle,
        StrokeKind::Ellipse,
        StrokeKind::Line,
        StrokeKind::Arrow,
    ]
    .into_iter()
    .enumerate()
    {
        let mut shape = item(
            &format!("shape{n}"),
            "#2f9e44",
            &[(0.0, 0.0, 0.5), (9.5, -3.25, 0.5)],
        );
        shape.stroke.kind = kind;
        shape.stroke.fill = kind.is_closed().then(|| Color::parse("#ffec99").unwrap());
        shape.stroke.opacity = 0.35;
        shape.stroke.z = -0.0 + n as f64 * 1e15 / 3.0;
        items.push(shape);
    }
    let mut text = item("text", "#1971c2", &[(120.0, 220.0, 0.5)]);
    text.stroke.kind = StrokeKind::Text;
    text.stroke.text = Some("Hello\nwörld <b>✓</b>".into());
    text.stroke.font_size = Some(24.0);
    text.stroke.z = -0.0;
    items.push(text);
    let mut image = item(
        "image",
        "#1e1e1e",
        &[(400.0, 100.0, 0.5), (720.5, 340.25, 0.5)],
    );
    image.stroke.kind = StrokeKind::Image;
    image.stroke.image = Some(ImageId::from_digest(&[0x5a; 32]));
    image.stroke.opacity = 0.5;
    items.push(image);
    items
}

#[test]
fn every_field_of_every_item_comes_back_exactly() {
    let items = every_kind_of_item();
    let decoded = decode(&encode(41, &items)).unwrap();
    assert_eq!(decoded.seq, 41);
    assert_eq!(decoded.strokes, items);
    // Bits, not just values: -0.0 == 0.0 but a board must reopen as it was.
    let z_bits = |s: &[SnapshotStroke]| s.iter().map(|i| i.stroke.z.to_bits()).collect::<Vec<_>>();
    assert_eq!(z_bits(&decoded.strokes), z_bits(&items));
}

#[test]
fn coordinates_in_hundredths_are_packed_as_such_and_others_as_floats() {
    assert_eq!(centi(123.45), Some(12_345));
    assert_eq!(centi(-1e6), Some(-100_000_000));
    assert_eq!(centi(0.1 + 0.2), Some(30));
    assert_eq!(centi(1.0 / 3.0), None);
    assert_eq!(
        centi(0.125),
        None,
        "an eighth is not a whole number of hundredths"
    );
    assert_eq!(centi(-0.0), None, "0 decodes as +0.0");
    assert_eq!(centi(f32::INFINITY), None);
    assert_eq!(centi(f32::NAN), None);
    // Every hundredth in a range comes back with the same bits.
    for hundredths in -100_000..100_000 {
        let value = from_centi(hundredths);
        assert_eq!(centi(value), Some(hundredths), "{value}");
    }

    let in_hundredths = item("h", "#1e1e1e", &[(100.5, 20.25, 0.5), (101.0, 19.75, 0.5)]);
    let in_floats = item(
        "f",
        "#1e1e1e",
        &[(100.5, 20.25, 0.5), (101.0, 1.0 / 3.0, 0.5)],
    );
    let size = |item: &SnapshotStroke| encode(1, std::slice::from_ref(item)).len();
    // Sixteen float bytes, or varints of 10050, +50, 2025, -50 hundredths
    // (3, 1, 2 and 1 bytes).
    assert_eq!(size(&in_floats) - size(&in_hundredths), 16 - 7);
    for item in [in_hundredths, in_floats] {
        let items = [item];
        assert_eq!(decode(&encode(1, &items)).unwrap().strokes, items);
    }
}

#[test]
fn an_empty_board_packs() {
    let bytes = encode::<SnapshotStroke>(0, &[]);
    assert_eq!(decode(&bytes).unwrap(), BoardSnapshot::default());
}

#[test]
fn many_colours_need_longer_indexes() {
    let items: Vec<_> = (0..1_000)
        .map(|n| {
            item(
                &format!("s{n}"),
                &format!("#{n:06x}"),
                &[(n as f32, 0.0, 0.5)],
            )
        })
        .collect();
    let decoded = decode(&encode(7, &items)).unwrap();
    assert_eq!(decoded.strokes, items);
}

#[test]
fn a_typical_board_is_less_than_a_quarter_of_its_json() {
    let items: Vec<_> = (0..100)
        .map(|n| {
            let points: Vec<_> = (0..20)
                .map(|i| {
                    // Rounded to hundredths, as the browser does.
                    let hundredths = |v: f64| ((v * 100.0).round() / 100.0) as f32;
                    (
                        hundredths(n as f64 * 13.7 + i as f64 * 3.1),
                        hundredths(400.25 - i as f64 * 1.9),
                        0.5,
                    )
                })
                .collect();
            item(&format!("k{n:x}a{n}"), "#1e1e1e", &points)
        })
        .collect();
    let packed = encode(100, &items).len();
    let json = serde_json::to_string(&BoardSnapshot {
        seq: 100,
        strokes: items,
    })
    .unwrap()
    .len();
    assert!(packed * 4 < json, "packed {packed} bytes, JSON {json}");
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = encode(9, &every_kind_of_item());
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_err(),
            "{len} of {} bytes decoded",
            bytes.len()
        );
    }
}

#[test]
fn damaged_bytes_are_refused_with_a_reason() {
    let bytes = encode(9, &every_kind_of_item());

    let mut wrong_magic = bytes.clone();
    wrong_magic[3] = b'2';
    assert_eq!(decode(&wrong_magic), Err(PackedError::BadMagic));

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(decode(&trailing), Err(PackedError::TrailingBytes(1)));

    // Header (4 + 8), one colour ("#1e1e1e"), then the first stroke's
    // flags and kind: make the kind unknown.
    let first_kind = 4 + 8 + 1 + 1 + 7 + 1 + 1;
    let mut unknown_kind = encode(9, &every_kind_of_item()[..1]);
    assert_eq!(unknown_kind[first_kind], 0, "freehand");
    unknown_kind[first_kind] = 9;
    assert_eq!(
        decode(&unknown_kind),
        Err(PackedError::Invalid("stroke kind"))
    );
}

#[test]
fn a_huge_count_is_refused_before_allocating() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&3u64.to_le_bytes());
    bytes.push(0); // no colours
                   // A stroke count of 2⁶³ in ten varint bytes.
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(
        decode(&bytes),
        Err(PackedError::Truncated("the stroke count"))
    );

    let mut endless_number = MAGIC.to_vec();
    endless_number.extend_from_slice(&3u64.to_le_bytes());
    endless_number.extend_from_slice(&[0x80; 11]);
    assert_eq!(decode(&endless_number), Err(PackedError::Invalid("number")));
}

#[test]
fn an_invalid_colour_or_id_is_refused() {
    let valid = encode(1, &[item("a1", "#123456", &[(0.0, 0.0, 0.5)])]);
    let colour_at = 4 + 8 + 1 + 1;
    let mut colour = valid.clone();
    colour[colour_at] = b'x';
    assert_eq!(decode(&colour), Err(PackedError::Invalid("colour")));

    let id_at = colour_at + 7 + 1 + 1 + 1 + 1;
    let mut id = valid;
    assert_eq!(&id[id_at..id_at + 2], b"a1");
    id[id_at] = b' ';
    assert_eq!(decode(&id), Err(PackedError::Invalid("stroke id")));
}

/// The hex block of `docs/protocol.md`'s section `heading`, as bytes, and
/// the snapshot of its `welcome` example.
fn documented(heading: &str) -> (Vec<u8>, BoardSnapshot) {
    const PROTOCOL_MD: &str = include_str!("../../../docs/protocol.md");
    let section = PROTOCOL_MD.split(heading).nth(1).expect("the section");
    let hex: String = section
        .split("```hex")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("a hex block")
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect();
    let welcome = PROTOCOL_MD
        .split("### `welcome`")
        .nth(1)
        .and_then(|section| section.split("```json").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("the welcome example");
    let Ok(super::super::ServerMessage::Welcome {
        snapshot: Some(snapshot),
        ..
    }) = super::super::ServerMessage::decode(welcome)
    else {
        panic!("the welcome example has a snapshot");
    };
    (bytes, snapshot)
}

/// `docs/protocol.md` shows the welcome example's snapshot packed, in hex;
/// it must be exactly what this module writes and reads.
#[test]
fn the_documented_example_is_exact() {
    let (documented, snapshot) = documented("## Packed snapshots");
    assert_eq!(encode(snapshot.seq, &snapshot.strokes), documented);
    assert_eq!(decode(&documented).unwrap(), snapshot);
}

/// `docs/protocol.md` shows the same snapshot as one part (version 3).
#[test]
fn the_documented_part_is_exact() {
    let (documented, snapshot) = documented("## Snapshot parts");
    let (grouped, body) = Grouped::new(snapshot.seq, 0.0, &snapshot.strokes, paints);
    assert_eq!(joined(&grouped.parts(None), &body), documented);
    let part = decode_part(&documented).unwrap();
    assert_eq!((part.seq, part.top_z, part.total), (2, 0.0, 2));
    let placed: Vec<(usize, SnapshotStroke)> = snapshot.strokes.into_iter().enumerate().collect();
    assert_eq!(part.strokes, placed);
}

// ---- parts (version 3) ----

/// Where the tests say an item paints: its points' box, if visible.
fn paints(item: &SnapshotStroke) -> Option<Rect> {
    let (x0, y0, x1, y1) = crate::geometry::bounds(&item.stroke.points)?;
    item.visible.then(|| Rect::from_corners((x0, y0), (x1, y1)))
}

#[test]
fn parts_hold_every_item_once_and_in_view_first() {
    let mut items = every_kind_of_item();
    // The text alone in its square of the board; the others share one
    // (but "plain", which reaches from 0 to 1e6).
    let text_at = items.len() - 1;
    items[text_at].stroke.points = vec![Point::new(5_000.0, 5_000.0, 0.5)];
    let (grouped, body) = Grouped::new(41, 7.5, &items, paints);
    let sizes = |plans: &[PartPlan]| plans.iter().map(|p| p.len() as u64).collect::<Vec<_>>();

    // No view: one part, the whole board.
    let whole = grouped.parts(None);
    assert_eq!(whole.len(), 1);
    let snapshot = assemble(&joined(&whole, &body), &sizes(&whole)).unwrap();
    assert_eq!(snapshot.seq, 41);
    assert_eq!(snapshot.strokes, items);

    // A view around the text: its group first, alone; the rest (the
    // hidden item too) after.
    let view = Rect::from_corners((4_990.0, 4_990.0), (5_010.0, 5_010.0));
    let plans = grouped.parts(Some(&view));
    assert_eq!(plans.len(), 2);
    let bytes = joined(&plans, &body);
    let first = decode_part(&bytes[..plans[0].len()]).unwrap();
    assert_eq!(
        (first.seq, first.top_z, first.total),
        (41, 7.5, items.len())
    );
    assert_eq!(first.strokes, vec![(text_at, items[text_at].clone())]);
    let rest = decode_part(&bytes[plans[0].len()..]).unwrap();
    assert_eq!(rest.strokes.len(), items.len() - 1);
    assert_eq!(assemble(&bytes, &sizes(&plans)).unwrap().strokes, items);

    // A view where nothing paints: an empty first part.
    let empty = grouped.parts(Some(&Rect::from_corners((-9e5, -9e5), (-8e5, -8e5))));
    assert_eq!(
        decode_part(&joined(&empty[..1], &body)).unwrap().strokes,
        vec![]
    );
    assert_eq!(
        assemble(&joined(&empty, &body), &sizes(&empty))
            .unwrap()
            .strokes,
        items
    );
}

#[test]
fn groups_are_squares_row_by_row_and_neighbours_one_range() {
    // Four squares in a row (y 0..256), one below: a view over the first
    // two and the one below.
    let at = |n: usize, x: f32, y: f32| item(&format!("i{n}"), "#1e1e1e", &[(x, y, 0.5)]);
    let items = vec![
        at(0, 600.0, 10.0),
        at(1, 10.0, 300.0),
        at(2, 10.0, 10.0),
        at(3, 300.0, 10.0),
        at(4, 900.0, 10.0),
    ];
    let (grouped, body) = Grouped::new(1, 0.0, &items, paints);
    let plans = grouped.parts(Some(&Rect::from_corners((0.0, 0.0), (400.0, 400.0))));
    // Row 0: squares 0 and 1 (items 2, 3) together, then row 1 (item 1):
    // not next to them in the body (squares 2 and 3 of row 0 are between).
    assert_eq!(plans[0].ranges.len(), 2);
    assert_eq!(
        plans[1].ranges.len(),
        1,
        "squares 2 and 3 of row 0, together"
    );
    let first = decode_part(&joined(&plans[..1], &body)).unwrap();
    let positions: Vec<usize> = first.strokes.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, vec![2, 3, 1]);
}

#[test]
fn damaged_parts_are_refused_with_a_reason() {
    let items = every_kind_of_item();
    let (grouped, body) = Grouped::new(9, 0.0, &items, paints);
    let bytes = joined(&grouped.parts(None), &body);
    let size = [bytes.len() as u64];
    for len in 0..bytes.len() {
        assert!(decode_part(&bytes[..len]).is_err(), "{len} bytes decoded");
    }
    let mut magic = bytes.clone();
    magic[3] = b'1';
    assert_eq!(decode_part(&magic), Err(PackedError::BadPartMagic));

    // Header: magic, seq, top z, then the total (one byte): one fewer
    // makes the last position out of range.
    let total_at = 4 + 8 + 8;
    let mut total = bytes.clone();
    assert_eq!(total[total_at] as usize, items.len());
    total[total_at] -= 1;
    assert_eq!(
        decode_part(&total),
        Err(PackedError::Invalid("stroke position"))
    );

    // The same part twice: every position twice, none of a second board.
    let twice = [bytes.clone(), bytes.clone()].concat();
    assert_eq!(
        assemble(&twice, &[size[0], size[0]]),
        Err(PackedError::Invalid("stroke positions"))
    );
    // Sizes that do not add up to the bytes.
    assert!(assemble(&bytes, &[size[0] - 1]).is_err());
    assert!(assemble(&bytes, &[size[0] + 1]).is_err());
    assert!(assemble(&bytes, &[]).is_err());
    assert_eq!(assemble(&bytes, &size).unwrap().strokes, items);
}

#[test]
fn a_part_read_in_slices_is_the_part_read_at_once() {
    let items = every_kind_of_item();
    let (grouped, body) = Grouped::new(3, 2.0, &items, paints);
    let bytes = joined(&grouped.parts(None), &body);
    let whole = decode_part(&bytes).unwrap();
    for slice in [1, 2, items.len()] {
        let mut reader = PartReader::new(&bytes).unwrap();
        assert_eq!(
            (reader.seq, reader.top_z, reader.total),
            (3, 2.0, items.len())
        );
        let mut strokes = Vec::new();
        while !reader.is_done() {
            let read = reader.read(&bytes, slice).unwrap();
            assert!(read.len() <= slice);
            strokes.extend(read);
        }
        assert_eq!(strokes, whole.strokes, "{slice} at a time");
        assert_eq!(reader.read(&bytes, slice), Ok(vec![]), "nothing after");
    }

    // Damage after the first stroke shows when reading gets there; bytes
    // after the last stroke, when the last is read.
    let mut reader = PartReader::new(&bytes[..bytes.len() - 1]).unwrap();
    assert_eq!(
        reader.read(&bytes[..bytes.len() - 1], 1).map(|r| r.len()),
        Ok(1)
    );
    assert!(reader.read(&bytes[..bytes.len() - 1], usize::MAX).is_err());
    let longer = [bytes.as_slice(), &[0]].concat();
    let mut reader = PartReader::new(&longer).unwrap();
    assert_eq!(
        reader.read(&longer, items.len()),
        Err(PackedError::TrailingBytes(1))
    );
}

#[test]
fn a_board_packed_whole_a_slice_at_a_time_is_the_board() {
    let items = every_kind_of_item();
    let shared: Vec<Arc<SnapshotStroke>> = items.iter().cloned().map(Arc::new).collect();
    let (grouped, body) = Grouped::whole(12, 3.5, &shared);
    let at_once = joined(&grouped.parts(None), &body);
    let part = decode_part(&at_once).unwrap();
    assert_eq!((part.seq, part.top_z, part.total), (12, 3.5, items.len()));
    let in_order: Vec<(usize, SnapshotStroke)> = items.iter().cloned().enumerate().collect();
    assert_eq!(
        part.strokes, in_order,
        "every item, hidden ones too, in order"
    );

    for slice in [1, 2, items.len() + 1] {
        let mut packing = Packing::new(12, 3.5, shared.clone());
        let mut steps = 1;
        while !packing.step(slice) {
            steps += 1;
        }
        assert_eq!(
            steps,
            items.len().div_ceil(slice).max(1),
            "{slice} at a time"
        );
        let (grouped, body) = packing.finish();
        assert_eq!(
            joined(&grouped.parts(None), &body),
            at_once,
            "{slice} at a time"
        );
    }
    let (grouped, body) = Grouped::whole(0, 0.0, &[]);
    assert_eq!(
        decode_part(&joined(&grouped.parts(None), &body))
            .unwrap()
            .total,
        0
    );
}
