//! The two pages: the landing page and a board.

pub mod board;
pub mod home;
mod icons;
