//! HTTP-level errors and their responses, in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

use crate::protocol::ProtocolError;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("invalid board id: {0}")]
    InvalidBoardId(ProtocolError),
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::InvalidBoardId(_) => StatusCode::BAD_REQUEST,
            AppError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (status, self.to_string()).into_response()
    }
}
