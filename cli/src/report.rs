//! Renderings of a view: terminal tables and markdown ([`text`]), one HTML file ([`html`]).

pub mod html;
pub mod table;
pub mod text;
