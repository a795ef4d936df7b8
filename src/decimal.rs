//! Numbers written as text for documents and style sheets (SVG exports,
//! CSS lengths): to two decimals, without trailing zeros.
//!
//! Written with integer formatting on purpose. Formatting an `f32` with
//! `{}` brings the standard library's shortest-float code for `f32` into
//! the WebAssembly (about 0.6 KB compressed), and gives the SVG export
//! numbers like `103.87654` where `103.88` draws the same (a hundredth of
//! a world unit is far below a pixel at any zoom the board allows).

use std::fmt;

/// A number shown to two decimals: `Decimal(2.5)` is "2.5", `Decimal(3.0)`
/// "3", `Decimal(-0.004)` "0". Not finite numbers are "0".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decimal(pub f64);

impl From<f32> for Decimal {
    fn from(value: f32) -> Self {
        Decimal(f64::from(value))
    }
}

/// [`Decimal`] of an `f32`, short to write in a format string's arguments.
pub fn dec(value: f32) -> Decimal {
    Decimal::from(value)
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hundredths = (self.0 * 100.0).round();
        if !hundredths.is_finite() || hundredths == 0.0 {
            return f.write_str("0");
        }
        // `as` saturates: beyond ±9.2e16 the text is wrong, and no board
        // coordinate comes near it.
        let hundredths = hundredths as i64;
        let sign = if hundredths < 0 { "-" } else { "" };
        let whole = hundredths.unsigned_abs() / 100;
        let fraction = hundredths.unsigned_abs() % 100;
        match fraction {
            0 => write!(f, "{sign}{whole}"),
            _ if fraction.is_multiple_of(10) => write!(f, "{sign}{whole}.{}", fraction / 10),
            _ => write!(f, "{sign}{whole}.{fraction:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_decimals_without_trailing_zeros() {
        let cases: [(f64, &str); 13] = [
            (0.0, "0"),
            (3.0, "3"),
            (2.5, "2.5"),
            (0.05, "0.05"),
            (103.87654, "103.88"),
            (-7.25, "-7.25"),
            (-0.5, "-0.5"),
            (-0.004, "0"),
            (1e6, "1000000"),
            (12.999, "13"),
            (0.1 + 0.2, "0.3"),
            (f64::NAN, "0"),
            (f64::INFINITY, "0"),
        ];
        for (value, text) in cases {
            assert_eq!(Decimal(value).to_string(), text, "{value}");
        }
        assert_eq!(dec(0.1f32).to_string(), "0.1");
        assert_eq!(dec(-1.005f32).to_string(), "-1");
    }
}
