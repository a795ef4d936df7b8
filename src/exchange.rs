//! Boards outside the app: the JSON file format and the SVG export.
//!
//! Pure functions, shared so they are unit tested natively; the browser
//! (`client::export`) only adds files, downloads and canvases around them.
//!
//! The JSON format (documented in `docs/protocol.md`) is the protocol's own
//! stroke representation wrapped in a small header:
//!
//! ```json
//! {"format": "whiteboard", "version": 1, "strokes": [ ... ]}
//! ```
//!
//! Strokes are listed in drawing order (bottom first). Importing gives every
//! stroke a fresh id and stacks the imported strokes on top of the board in
//! the same order, so a file can be imported into any board, any number of
//! times. An export also carries the bytes of the images its items show
//! (`images`, as `data:` URLs), which an import uploads again: the file
//! restores them on any server. The SVG export embeds them the same way.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::decimal::dec;
use crate::geometry::{self, pressure_width, Rect, TEXT_LINE_HEIGHT};
use crate::image::ImageId;
use crate::protocol::{Point, Stroke, StrokeId, StrokeKind, IMAGE_PLACEHOLDER_FILL};

/// The `format` field of a board file.
pub const FORMAT: &str = "whiteboard";
/// The `version` field this program writes and reads.
pub const VERSION: u32 = 1;
/// Most strokes one import accepts.
pub const MAX_IMPORT_STROKES: usize = 50_000;
/// The font texts are drawn in, on the canvas and in SVG.
pub const TEXT_FONT: &str = "\"Segoe UI\", \"Helvetica Neue\", Arial, sans-serif";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardFile {
    pub format: String,
    pub version: u32,
    pub strokes: Vec<Stroke>,
    /// The bytes of images the items show (a copy to the clipboard leaves
    /// them out: the server it is pasted on has them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<FileImage>,
}

/// An image a board file carries: its id and its bytes as a `data:` URL
/// (`data:image/png;base64,…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileImage {
    pub id: String,
    pub data: String,
}

impl FileImage {
    /// Its bytes, base64, if `data` is a base64 `data:` URL of an image.
    pub fn base64(&self) -> Option<&str> {
        // Split at characters, not a string: a string search adds its own
        // code to the WebAssembly.
        let (media, rest) = self.data.strip_prefix("data:image/")?.split_once(';')?;
        let base64 = rest.strip_prefix("base64,")?;
        let plain = |text: &str, extra: &[u8]| {
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        (plain(media, b"+-.") && plain(base64, b"+/=")).then_some(base64)
    }
}

/// Why a file could not be imported; nothing was changed.
#[derive(Debug, Error, PartialEq)]
pub enum ImportError {
    #[error("this is not a whiteboard JSON file ({0})")]
    NotJson(String),
    #[error("this file is a {0:?} file, not a whiteboard board")]
    WrongFormat(String),
    #[error("this file has version {0}; this whiteboard reads version {VERSION}")]
    UnsupportedVersion(u32),
    #[error("the file holds no items")]
    Empty,
    #[error("the file holds more than {MAX_IMPORT_STROKES} items")]
    TooLarge,
    #[error("item {index} is invalid: {reason}")]
    InvalidStroke { index: usize, reason: String },
    #[error("image {index} is invalid: an image is an id and a base64 data: URL")]
    InvalidImage { index: usize },
}

impl BoardFile {
    /// A file holding `strokes` (in drawing order).
    pub fn new(strokes: Vec<Stroke>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            strokes,
            images: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("board files always serialise")
    }

    /// Reads and validates a file; every stroke must be valid.
    pub fn parse(text: &str) -> Result<Self, ImportError> {
        let file: BoardFile =
            serde_json::from_str(text).map_err(|e| ImportError::NotJson(e.to_string()))?;
        if file.format != FORMAT {
            return Err(ImportError::WrongFormat(file.format));
        }
        if file.version != VERSION {
            return Err(ImportError::UnsupportedVersion(file.version));
        }
        if file.strokes.is_empty() {
            return Err(ImportError::Empty);
        }
        if file.strokes.len() > MAX_IMPORT_STROKES {
            return Err(ImportError::TooLarge);
        }
        for (index, stroke) in file.strokes.iter().enumerate() {
            stroke.validate().map_err(|e| ImportError::InvalidStroke {
                index,
                reason: e.message,
            })?;
        }
        for (index, image) in file.images.iter().enumerate() {
            if ImageId::parse(&image.id).is_err() || image.base64().is_none() {
                return Err(ImportError::InvalidImage { index });
            }
        }
        Ok(file)
    }

    /// The strokes to add: fresh ids from `new_id`, stacked above `top_z`
    /// in file order.
    pub fn into_new_strokes(self, mut new_id: impl FnMut() -> StrokeId, top_z: f64) -> Vec<Stroke> {
        self.strokes
            .into_iter()
            .zip(1..)
            .map(|(mut stroke, i)| {
                stroke.id = new_id();
                stroke.z = top_z + f64::from(i);
                stroke
            })
            .collect()
    }
}

/// Escapes text for XML content and attribute values.
pub(crate) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Common presentation attributes of an item.
fn paint_attributes(stroke: &Stroke, fill: Option<&str>) -> String {
    let mut attributes = format!(
        r#"stroke="{}" stroke-width="{}" stroke-linecap="round" stroke-linejoin="round" fill="{}""#,
        stroke.style.color.as_str(),
        dec(stroke.style.width),
        fill.unwrap_or("none"),
    );
    if stroke.opacity < 1.0 {
        let _ = write!(attributes, r#" opacity="{}""#, dec(stroke.opacity));
    }
    attributes
}

/// ` opacity="…"` for a translucent item, nothing for an opaque one.
fn opacity_attribute(stroke: &Stroke) -> String {
    if stroke.opacity < 1.0 {
        format!(r#" opacity="{}""#, dec(stroke.opacity))
    } else {
        String::new()
    }
}

/// The SVG path of a freehand stroke, smoothed like the canvas renderer:
/// quadratic curves through the midpoints of consecutive samples. Strokes
/// with varying pressure become one path per piece, each as wide as the
/// pressure there.
fn freehand_svg(stroke: &Stroke, out: &mut String) {
    let points = &stroke.points;
    let Some(first) = points.first() else {
        return;
    };
    let mid = |a: &Point, b: &Point| ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
    let opacity = opacity_attribute(stroke);
    let color = stroke.style.color.as_str();
    if points.len() == 1 {
        let radius = dec(pressure_width(stroke.style.width, first.pressure) / 2.0);
        let _ = writeln!(
            out,
            r#"<circle cx="{}" cy="{}" r="{radius}" fill="{color}"{opacity}/>"#,
            dec(first.x),
            dec(first.y)
        );
        return;
    }
    let uniform = points.iter().all(|p| p.pressure == first.pressure);
    if uniform {
        let mut d = format!("M{} {}", dec(first.x), dec(first.y));
        for pair in points[1..].windows(2) {
            let (mx, my) = mid(&pair[0], &pair[1]);
            let _ = write!(
                d,
                " Q{} {} {} {}",
                dec(pair[0].x),
                dec(pair[0].y),
                dec(mx),
                dec(my)
            );
        }
        let last = points[points.len() - 1];
        let _ = write!(d, " L{} {}", dec(last.x), dec(last.y));
        let width = dec(pressure_width(stroke.style.width, first.pressure));
        let _ = writeln!(
            out,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}" stroke-linecap="round" stroke-linejoin="round"{opacity}/>"#
        );
        return;
    }
    let _ = writeln!(out, r#"<g{opacity}>"#);
    let mut start = (first.x, first.y);
    for i in 1..points.len() {
        let control = points[i];
        let end = points
            .get(i + 1)
            .map_or((control.x, control.y), |next| mid(&control, next));
        let width = dec(pressure_width(
            stroke.style.width,
            (points[i - 1].pressure + control.pressure) / 2.0,
        ));
        let _ = writeln!(
            out,
            r#"<path d="M{} {} Q{} {} {} {}" fill="none" stroke="{color}" stroke-width="{width}" stroke-linecap="round"/>"#,
            dec(start.0),
            dec(start.1),
            dec(control.x),
            dec(control.y),
            dec(end.0),
            dec(end.1)
        );
        start = end;
    }
    out.push_str("</g>\n");
}

/// The fill of a closed shape; the grey of its placeholder for an image.
pub fn fill_of(stroke: &Stroke) -> Option<&str> {
    match stroke.kind {
        StrokeKind::Image => Some(IMAGE_PLACEHOLDER_FILL),
        _ => stroke.fill.as_ref().map(|fill| fill.as_str()),
    }
}

/// One item as SVG; `image`: the bytes of an image item's image.
fn item_svg(stroke: &Stroke, image: Option<&FileImage>, out: &mut String) {
    let Some(shape) = geometry::shape_box(stroke) else {
        return;
    };
    match stroke.kind {
        StrokeKind::Freehand => freehand_svg(stroke, out),
        StrokeKind::Image if image.is_some_and(|image| image.base64().is_some()) => {
            if let Some(image) = image {
                let _ = writeln!(
                    out,
                    r#"<image href="{}" x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none"{}/>"#,
                    escape_xml(&image.data),
                    dec(shape.min_x),
                    dec(shape.min_y),
                    dec(shape.width()),
                    dec(shape.height()),
                    opacity_attribute(stroke)
                );
            }
        }
        // An image whose bytes are not here is the grey box the browser
        // shows until they arrive.
        StrokeKind::Rectangle | StrokeKind::Image => {
            let _ = writeln!(
                out,
                r#"<rect x="{}" y="{}" width="{}" height="{}" {}/>"#,
                dec(shape.min_x),
                dec(shape.min_y),
                dec(shape.width()),
                dec(shape.height()),
                paint_attributes(stroke, fill_of(stroke))
            );
        }
        StrokeKind::Ellipse => {
            let (cx, cy) = shape.center();
            let _ = writeln!(
                out,
                r#"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" {}/>"#,
                dec(cx),
                dec(cy),
                dec(shape.width() / 2.0),
                dec(shape.height() / 2.0),
                paint_attributes(stroke, stroke.fill.as_ref().map(|f| f.as_str()))
            );
        }
        StrokeKind::Line | StrokeKind::Arrow => {
            let (a, b) = (stroke.points[0], stroke.points[stroke.points.len() - 1]);
            let mut d = format!("M{} {} L{} {}", dec(a.x), dec(a.y), dec(b.x), dec(b.y));
            if stroke.kind == StrokeKind::Arrow {
                for (x, y) in geometry::arrow_head((a.x, a.y), (b.x, b.y), stroke.style.width) {
                    let _ = write!(d, " M{} {} L{} {}", dec(x), dec(y), dec(b.x), dec(b.y));
                }
            }
            let _ = writeln!(out, r#"<path d="{d}" {}/>"#, paint_attributes(stroke, None));
        }
        StrokeKind::Text => {
            let size = stroke.font_size.unwrap_or(16.0);
            let line_height = size * TEXT_LINE_HEIGHT;
            let inset = (line_height - size) / 2.0;
            let opacity = opacity_attribute(stroke);
            let _ = write!(
                out,
                r#"<text font-family="{}" font-size="{}" fill="{}" dominant-baseline="text-before-edge" xml:space="preserve"{opacity}>"#,
                escape_xml(TEXT_FONT),
                dec(size),
                stroke.style.color.as_str(),
            );
            for (i, line) in stroke.text.as_deref().unwrap_or("").split('\n').enumerate() {
                let _ = write!(
                    out,
                    r#"<tspan x="{}" y="{}">{}</tspan>"#,
                    dec(shape.min_x),
                    dec(shape.min_y + inset + i as f32 * line_height),
                    escape_xml(line)
                );
            }
            out.push_str("</text>\n");
        }
    }
}

/// A standalone SVG document of `strokes` (in drawing order) on a white
/// background, showing `area` (world coordinates).
/// The items `strokes` over `area`, as an SVG document; image items show
/// the bytes `images` carries for them (a grey box for those it does not).
pub fn to_svg(strokes: &[&Stroke], area: &Rect, images: &[FileImage]) -> String {
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}">
<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#ffffff"/>
"##,
        x = dec(area.min_x),
        y = dec(area.min_y),
        w = dec(area.width()),
        h = dec(area.height()),
    );
    for stroke in strokes {
        let image = stroke
            .image
            .as_ref()
            .and_then(|id| images.iter().find(|image| image.id == id.as_str()));
        item_svg(stroke, image, &mut out);
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeStyle};

    fn item(id: &str, kind: StrokeKind, points: &[(f32, f32)]) -> Stroke {
        Stroke::new(
            StrokeId::parse(id).unwrap(),
            kind,
            StrokeStyle {
                color: Color::parse("#1971c2").unwrap(),
                width: 4.0,
            },
            points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect(),
        )
    }

    fn every_kind() -> Vec<Stroke> {
        let mut text = item("t", StrokeKind::Text, &[(0.0, 100.0)]);
        text.text = Some("a <b>bold</b> & \"quoted\"\nsecond line".into());
        text.font_size = Some(24.0);
        let mut rectangle = item("r", StrokeKind::Rectangle, &[(0.0, 0.0), (50.0, 40.0)]);
        rectangle.fill = Some(Color::parse("#ffec99").unwrap());
        rectangle.opacity = 0.5;
        vec![
            item(
                "f",
                StrokeKind::Freehand,
                &[(0.0, 0.0), (5.0, 5.0), (9.0, 2.0)],
            ),
            rectangle,
            item("e", StrokeKind::Ellipse, &[(10.0, 10.0), (60.0, 30.0)]),
            item("l", StrokeKind::Line, &[(0.0, 0.0), (80.0, 0.0)]),
            item("a", StrokeKind::Arrow, &[(0.0, 0.0), (80.0, 80.0)]),
            text,
        ]
    }

    #[test]
    fn json_export_and_import_round_trip() {
        let strokes = every_kind();
        let json = BoardFile::new(strokes.clone()).to_json();
        let file = BoardFile::parse(&json).unwrap();
        assert_eq!(file.strokes, strokes);
        let mut counter = 0;
        let imported = file.into_new_strokes(
            || {
                counter += 1;
                StrokeId::parse(&format!("new{counter}")).unwrap()
            },
            10.0,
        );
        assert_eq!(imported.len(), strokes.len());
        for ((new, old), i) in imported.iter().zip(&strokes).zip(1..) {
            assert_eq!(new.id.as_str(), format!("new{i}"));
            assert_eq!(new.z, 10.0 + f64::from(i));
            assert_eq!(
                (&new.points, &new.kind, &new.text),
                (&old.points, &old.kind, &old.text)
            );
        }
    }

    #[test]
    fn imports_refuse_other_files_and_invalid_items() {
        assert!(matches!(
            BoardFile::parse("{"),
            Err(ImportError::NotJson(_))
        ));
        let other = r#"{"format":"excalidraw","version":1,"strokes":[]}"#;
        assert!(matches!(
            BoardFile::parse(other),
            Err(ImportError::WrongFormat(_))
        ));
        let future = r#"{"format":"whiteboard","version":2,"strokes":[]}"#;
        assert_eq!(
            BoardFile::parse(future),
            Err(ImportError::UnsupportedVersion(2))
        );
        let empty = r#"{"format":"whiteboard","version":1,"strokes":[]}"#;
        assert_eq!(BoardFile::parse(empty), Err(ImportError::Empty));
        let mut bad = every_kind();
        bad[2].points.pop();
        let json = BoardFile::new(bad).to_json();
        assert!(matches!(
            BoardFile::parse(&json),
            Err(ImportError::InvalidStroke { index: 2, .. })
        ));
    }

    #[test]
    fn svg_has_every_item_and_escapes_text() {
        let strokes = every_kind();
        let refs: Vec<&Stroke> = strokes.iter().collect();
        let svg = to_svg(
            &refs,
            &Rect::from_corners((-10.0, -10.0), (200.0, 200.0)),
            &[],
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(r#"viewBox="-10 -10 210 210""#));
        assert!(svg.contains("<rect x=\"0\" y=\"0\" width=\"50\" height=\"40\""));
        assert!(svg.contains(r##"fill="#ffec99""##) && svg.contains(r#"opacity="0.5""#));
        assert!(svg.contains("<ellipse cx=\"35\" cy=\"20\" rx=\"25\" ry=\"10\""));
        assert_eq!(svg.matches("<path").count(), 3, "freehand, line, arrow");
        assert!(svg.contains("a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"));
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<tspan").count(), 2);
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    /// A 1×1 PNG as a `data:` URL.
    const PNG_DATA: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

    fn image_item(image: &str) -> Stroke {
        let mut item = item("i", StrokeKind::Image, &[(10.0, 20.0), (70.0, 50.0)]);
        item.image = Some(ImageId::parse(image).unwrap());
        item
    }

    #[test]
    fn a_file_carries_its_images_and_the_svg_shows_them() {
        let (shown, missing) = ("a".repeat(64), "b".repeat(64));
        let mut file = BoardFile::new(vec![image_item(&shown), image_item(&missing)]);
        file.images.push(FileImage {
            id: shown.clone(),
            data: PNG_DATA.to_owned(),
        });
        let parsed = BoardFile::parse(&file.to_json()).expect("a valid file");
        assert_eq!(parsed, file);
        assert!(
            !BoardFile::new(vec![image_item(&shown)])
                .to_json()
                .contains("images"),
            "a file without image bytes says nothing of them"
        );

        let refs: Vec<&Stroke> = file.strokes.iter().collect();
        let area = Rect::from_corners((0.0, 0.0), (100.0, 100.0));
        let svg = to_svg(&refs, &area, &file.images);
        assert_eq!(svg.matches("<image ").count(), 1, "{svg}");
        assert!(svg.contains(&format!(
            r#"<image href="{PNG_DATA}" x="10" y="20" width="60" height="30" preserveAspectRatio="none"/>"#
        )));
        assert!(
            svg.contains(r##"fill="#e9ecef""##),
            "the image without bytes is a grey box: {svg}"
        );
    }

    #[test]
    fn a_file_image_is_an_id_and_base64_bytes() {
        let id = "a".repeat(64);
        let with = |id: &str, data: &str| {
            let mut file = BoardFile::new(vec![image_item(&"a".repeat(64))]);
            file.images.push(FileImage {
                id: id.to_owned(),
                data: data.to_owned(),
            });
            BoardFile::parse(&file.to_json())
        };
        assert!(with(&id, PNG_DATA).is_ok());
        let refused = Err(ImportError::InvalidImage { index: 0 });
        assert_eq!(with("not-an-id", PNG_DATA), refused);
        for data in [
            "https://example.com/a.png",
            "data:text/html;base64,PGI+",
            "data:image/png,raw",
            "data:image/svg+xml;base64,PHN2Zz4=\"><script>",
            "data:image/png;base64,iVBOR w0",
        ] {
            assert_eq!(with(&id, data), refused, "{data}");
        }
    }
}
