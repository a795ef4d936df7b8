//! Images on a board: what an image's name is, and which files are images.
//!
//! An image's bytes are stored once, under their SHA-256 ([`ImageId`], 64
//! lowercase hex digits), and served at `/images/{id}` (see
//! `docs/protocol.md`, "Images"). Only raster formats every browser draws
//! are taken, recognised by their first bytes ([`ImageType::sniff`]), never
//! by a file name or a declared type. SVG is refused: an SVG file is a
//! document that can carry scripts and links, and served from this origin
//! it could run them.
//!
//! Shared: the server checks uploads with it, and image items on the board
//! name their image by [`ImageId`].

use std::fmt;

/// The name of an image's bytes: their SHA-256, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(String);

/// Hex digits in an [`ImageId`].
pub const IMAGE_ID_LEN: usize = 64;

impl ImageId {
    /// Checks that `text` is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, InvalidImageId> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        match text.len() == IMAGE_ID_LEN && text.bytes().all(hex) {
            true => Ok(Self(text.to_owned())),
            false => Err(InvalidImageId),
        }
    }

    /// An id read off the wire, to be checked with [`ImageId::parse`]
    /// before it is trusted (`Stroke::validate` does): reading it as text
    /// and checking it there costs the browser's WebAssembly less than a
    /// decoder of its own.
    pub fn unchecked(text: String) -> Self {
        Self(text)
    }

    /// The id of a SHA-256 digest.
    pub fn from_digest(digest: &[u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let text = digest
            .iter()
            .flat_map(|byte| [HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]])
            .map(char::from)
            .collect();
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where its bytes are served (`GET /images/{id}`, immutable).
    pub fn path(&self) -> String {
        ["/images/", self.as_str()].concat()
    }
}

/// Written as its text.
impl serde::Serialize for ImageId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Not an [`ImageId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an image id is the SHA-256 of its bytes: 64 lowercase hex digits")]
pub struct InvalidImageId;

/// The image formats a board takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageType {
    /// Every type taken, for messages and lists.
    pub const ALL: [ImageType; 4] = [Self::Png, Self::Jpeg, Self::Webp, Self::Gif];

    /// The type of `bytes` by their signature (magic bytes), or why they
    /// are refused.
    pub fn sniff(bytes: &[u8]) -> Result<Self, ImageRefusal> {
        let starts = |signature: &[u8]| bytes.starts_with(signature);
        if bytes.is_empty() {
            Err(ImageRefusal::Empty)
        } else if starts(b"\x89PNG\r\n\x1a\n") {
            Ok(Self::Png)
        } else if starts(b"\xff\xd8\xff") {
            Ok(Self::Jpeg)
        } else if starts(b"GIF87a") || starts(b"GIF89a") {
            Ok(Self::Gif)
        } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Ok(Self::Webp)
        } else if looks_like_svg(bytes) {
            Err(ImageRefusal::Svg)
        } else {
            Err(ImageRefusal::NotAnImage)
        }
    }

    /// The media type it is served with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    /// The type a media type names, if it is one of ours.
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.mime() == mime)
    }
}

/// Why a file is not taken as an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefusal {
    #[error("the file is empty")]
    Empty,
    #[error("SVG images are not taken (they can carry scripts): use PNG, JPEG, WebP or GIF")]
    Svg,
    #[error("this is not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    #[error("the image's size cannot be read: the file is damaged")]
    Unreadable,
    #[error("the image is larger than {MAX_IMAGE_SIDE} pixels on a side")]
    TooManyPixels,
}

/// The most pixels an image may have on a side: a browser decodes every
/// pixel of what it draws (4 bytes each), whatever the file weighs.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Whether `bytes` start like an SVG document: after any byte order mark
/// and white space, an XML declaration, a comment, a doctype or `<svg`
/// within the first kilobyte. Only to give SVG its own message: anything
/// that is not one of the four signatures is refused anyway.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start();
    text.starts_with('<') && text.contains("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_formats_are_known_by_their_first_bytes() {
        let cases: [(&[u8], ImageType); 5] = [
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", ImageType::Png),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", ImageType::Jpeg),
            (b"GIF89a\x01\0\x01\0", ImageType::Gif),
            (b"GIF87a\x01\0\x01\0", ImageType::Gif),
            (b"RIFF\x24\0\0\0WEBPVP8 ", ImageType::Webp),
        ];
        for (bytes, kind) in cases {
            assert_eq!(ImageType::sniff(bytes), Ok(kind));
            assert_eq!(ImageType::from_mime(kind.mime()), Some(kind));
        }
    }

    #[test]
    fn svg_and_disguised_files_are_refused_with_their_reason() {
        let svg = b"\xef\xbb\xbf  <?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        assert_eq!(ImageType::sniff(svg), Err(ImageRefusal::Svg));
        assert_eq!(
            ImageType::sniff(b"<SVG onload=alert(1)>"),
            Err(ImageRefusal::Svg)
        );
        // An HTML page, a truncated PNG signature, a RIFF that is not WebP.
        for bytes in [
            &b"<!doctype html><script>alert(1)</script>"[..],
            b"\x89PNG\r\n",
            b"RIFF\x24\0\0\0WAVEfmt ",
        ] {
            assert_eq!(ImageType::sniff(bytes), Err(ImageRefusal::NotAnImage));
        }
        assert_eq!(ImageType::sniff(b""), Err(ImageRefusal::Empty));
        assert_eq!(ImageType::from_mime("image/svg+xml"), None);
    }

    #[test]
    fn ids_are_sha256_in_lowercase_hex() {
        let id = ImageId::from_digest(&[0xab; 32]);
        assert_eq!(id.as_str(), "ab".repeat(32));
        assert_eq!(ImageId::parse(id.as_str()), Ok(id));
        for bad in ["", &"AB".repeat(32), &"ab".repeat(31), &"zz".repeat(32)] {
            assert_eq!(ImageId::parse(bad), Err(InvalidImageId), "{bad}");
        }
    }
}
