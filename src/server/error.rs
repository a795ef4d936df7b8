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
    #[error("the image is larger than this server takes ({0} bytes at most)")]
    ImageTooLarge(usize),
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
