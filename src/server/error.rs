//! HTTP-level errors and their responses, in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::image::{ImageRefusal, InvalidImageId};
use crate::protocol::ProtocolError;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("invalid board id: {0}")]
    InvalidBoardId(ProtocolError),
    #[error("random number generator failed: {0}")]
    Random(String),
    #[error("too many connections from this address (at most {0})")]
    TooManyConnections(u32),
    #[error("too many requests for links from this address; try again in a minute")]
    TooManyLinkRequests,
    #[error("this page's origin may not open a board here (see --allowed-origins)")]
    ForeignOrigin,
    #[error("this edit link was replaced; ask someone on the board for the new one")]
    StaleEditLink,
    #[error("the board's links were being changed elsewhere at the same time; try again")]
    AccessContended,
    #[error("too many image uploads from this address; try again in a minute")]
    TooManyImageUploads,
    #[error("the image is larger than this server takes ({0} at most)")]
    ImageTooLarge(ByteSize),
    #[error("{0}")]
    ImageRefused(ImageRefusal),
    #[error("the upload broke off: {0}")]
    UploadBrokenOff(String),
    #[error("{0}")]
    InvalidImageId(InvalidImageId),
    #[error("no image has this id")]
    ImageNotFound,
    #[error("the store failed: {0}")]
    Store(String),
}

/// A number of bytes as people read it: "10 MiB", "64 KiB", or "1000
/// bytes" when it is not a whole number of either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const KIB: usize = 1024;
        const MIB: usize = 1024 * KIB;
        match self.0 {
            0 => f.write_str("0 bytes"),
            1 => f.write_str("1 byte"),
            bytes if bytes % MIB == 0 => write!(f, "{} MiB", bytes / MIB),
            bytes if bytes % KIB == 0 => write!(f, "{} KiB", bytes / KIB),
            bytes => write!(f, "{bytes} bytes"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::InvalidBoardId(_) => StatusCode::BAD_REQUEST,
            AppError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::TooManyConnections(_)
            | AppError::TooManyLinkRequests
            | AppError::TooManyImageUploads => StatusCode::TOO_MANY_REQUESTS,
            AppError::ImageTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::ImageRefused(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::UploadBrokenOff(_) | AppError::InvalidImageId(_) => StatusCode::BAD_REQUEST,
            AppError::ImageNotFound => StatusCode::NOT_FOUND,
            AppError::ForeignOrigin => StatusCode::FORBIDDEN,
            AppError::StaleEditLink => StatusCode::FORBIDDEN,
            AppError::AccessContended => StatusCode::CONFLICT,
            AppError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (status, self.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_said_in_the_largest_whole_unit() {
        let said = |bytes| ByteSize(bytes).to_string();
        assert_eq!(said(10 * 1024 * 1024), "10 MiB");
        assert_eq!(said(64 * 1024), "64 KiB");
        assert_eq!(said(1_536 * 1024), "1536 KiB");
        assert_eq!(said(1_000_000), "1000000 bytes");
        assert_eq!(said(1), "1 byte");
        assert_eq!(
            AppError::ImageTooLarge(ByteSize(10 * 1024 * 1024)).to_string(),
            "the image is larger than this server takes (10 MiB at most)"
        );
    }
}
