//! Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e6") in the platform's fixed units:
//! CPU in millicores, memory in MiB (rounded up), counts (pods, GPUs) as integers.
//!
//! Parsing is exact: the number is kept as a decimal mantissa and a power of ten, and scaled with
//! 128-bit integers, so "0.1" CPU is 100 millicores and not 99. Values that would not fit an i64
//! saturate; malformed quantities are an error.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid quantity {0:?}")]
pub struct InvalidQuantity(pub String);

/// A parsed quantity: `mantissa * 10^exp10 * 2^exp2`, sign included in the mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
}

/// Digits beyond this are dropped (they cannot matter at the platform's units).
const MAX_DIGITS: usize = 30;

fn parse(input: &str) -> Result<Parsed, InvalidQuantity> {
    let invalid = || InvalidQuantity(input.to_owned());
    let text = input.trim();
    if text.is_empty() {
        return Err(invalid());
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    // The number: digits with at most one decimal point.
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(invalid());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    for c in int_part.chars() {
        let digit = i128::from(c.to_digit(10).ok_or_else(invalid)?);
        if digits < MAX_DIGITS {
            mantissa = mantissa * 10 + digit;
            if mantissa != 0 {
                digits += 1;
            }
        } else {
            exp10 += 1;
        }
    }
    for c in frac_part.chars() {
        let digit = i128::from(c.to_digit(10).ok_or_else(invalid)?);
        if digits < MAX_DIGITS {
            mantissa = mantissa * 10 + digit;
            exp10 -= 1;
            if mantissa != 0 {
                digits += 1;
            }
        }
    }
    if negative {
        mantissa = -mantissa;
    }

    let (extra10, exp2) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        exponent if exponent.starts_with(['e', 'E']) => {
            let value: i32 = exponent[1..].parse().map_err(|_| invalid())?;
            if !(-100..=100).contains(&value) {
                return Err(invalid());
            }
            (value, 0)
        }
        _ => return Err(invalid()),
    };
    Ok(Parsed {
        mantissa,
        exp10: exp10 + extra10,
        exp2,
    })
}

/// `ceil(parsed * 10^scale10 / 2^div2)`, saturated to i64.
fn scale_ceil(parsed: Parsed, scale10: i32, div2: u32) -> i64 {
    let Parsed {
        mantissa,
        exp10,
        exp2,
    } = parsed;
    if mantissa == 0 {
        return 0;
    }
    let mut numerator = mantissa;
    let mut denominator: i128 = 1;
    let total10 = exp10 + scale10;
    let saturated = if mantissa > 0 { i64::MAX } else { i64::MIN };
    if total10 >= 0 {
        for _ in 0..total10 {
            match numerator.checked_mul(10) {
                Some(value) => numerator = value,
                None => return saturated,
            }
        }
    } else {
        for _ in 0..(-total10) {
            match denominator.checked_mul(10) {
                Some(value) => denominator = value,
                // The value is far below one unit.
                None => return if mantissa > 0 { 1 } else { 0 },
            }
        }
    }
    // Powers of two: multiply by 2^exp2, divide by 2^div2.
    let shift = i64::from(exp2) - i64::from(div2);
    if shift >= 0 {
        for _ in 0..shift {
            match numerator.checked_mul(2) {
                Some(value) => numerator = value,
                None => return saturated,
            }
        }
    } else {
        for _ in 0..(-shift) {
            match denominator.checked_mul(2) {
                Some(value) => denominator = value,
                None => return if mantissa > 0 { 1 } else { 0 },
            }
        }
    }
    let quotient = numerator.div_euclid(denominator);
    let ceil = if numerator.rem_euclid(denominator) == 0 {
        quotient
    } else {
        quotient + 1
    };
    i64::try_from(ceil).unwrap_or(saturated)
}

/// CPU in millicores, rounded up: "100m" -> 100, "1.5" -> 1500, "250000000n" -> 250, "2k" -> 2000000.
pub fn cpu_millis(quantity: &str) -> Result<i64, InvalidQuantity> {
    Ok(scale_ceil(parse(quantity)?, 3, 0))
}

/// Memory in MiB, rounded up: "128Mi" -> 128, "1Gi" -> 1024, "1G" -> 954, "1e6" -> 1.
pub fn memory_mib(quantity: &str) -> Result<i64, InvalidQuantity> {
    Ok(scale_ceil(parse(quantity)?, 0, 20))
}

/// Memory in bytes, rounded up: "1Ki" -> 1024, "1.5k" -> 1500.
pub fn memory_bytes(quantity: &str) -> Result<i64, InvalidQuantity> {
    Ok(scale_ceil(parse(quantity)?, 0, 0))
}

/// Bytes as MiB, rounded up.
pub fn bytes_to_mib(bytes: i64) -> i64 {
    let mib = 1 << 20;
    bytes.div_euclid(mib) + i64::from(bytes.rem_euclid(mib) != 0)
}

/// A count (pods, nvidia.com/gpu), rounded up: "110" -> 110, "1k" -> 1000.
pub fn count(quantity: &str) -> Result<i64, InvalidQuantity> {
    Ok(scale_ceil(parse(quantity)?, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu() {
        assert_eq!(cpu_millis("100m"), Ok(100));
        assert_eq!(cpu_millis("1"), Ok(1000));
        assert_eq!(cpu_millis("1.5"), Ok(1500));
        assert_eq!(cpu_millis("0.1"), Ok(100));
        assert_eq!(cpu_millis("250000000n"), Ok(250));
        assert_eq!(cpu_millis("1n"), Ok(1));
        assert_eq!(cpu_millis("1500u"), Ok(2));
        assert_eq!(cpu_millis("2k"), Ok(2_000_000));
        assert_eq!(cpu_millis("0"), Ok(0));
        assert_eq!(cpu_millis("3890m"), Ok(3890));
        assert_eq!(cpu_millis("1e3"), Ok(1_000_000));
        assert_eq!(cpu_millis(" 2 "), Ok(2000));
        assert_eq!(cpu_millis("+2"), Ok(2000));
        assert_eq!(cpu_millis(".5"), Ok(500));
    }

    #[test]
    fn memory() {
        assert_eq!(memory_mib("128Mi"), Ok(128));
        assert_eq!(memory_mib("1Gi"), Ok(1024));
        assert_eq!(memory_mib("1G"), Ok(954));
        assert_eq!(memory_mib("1000000"), Ok(1));
        assert_eq!(memory_mib("1e6"), Ok(1));
        assert_eq!(memory_mib("1E6"), Ok(1));
        assert_eq!(memory_mib("512k"), Ok(1));
        assert_eq!(memory_mib("512Ki"), Ok(1));
        assert_eq!(memory_mib("1048576"), Ok(1));
        assert_eq!(memory_mib("1048577"), Ok(2));
        assert_eq!(memory_mib("1.5Gi"), Ok(1536));
        assert_eq!(memory_mib("15950364Ki"), Ok(15577));
        assert_eq!(memory_mib("0"), Ok(0));
        assert_eq!(memory_mib("1Ti"), Ok(1024 * 1024));
        assert_eq!(memory_mib("1Ei"), Ok(1 << 40));
    }

    #[test]
    fn bytes() {
        assert_eq!(memory_bytes("1Ki"), Ok(1024));
        assert_eq!(memory_bytes("1.5k"), Ok(1500));
        assert_eq!(memory_bytes("64Mi"), Ok(64 << 20));
        assert_eq!(bytes_to_mib(0), 0);
        assert_eq!(bytes_to_mib(1), 1);
        assert_eq!(bytes_to_mib(1 << 20), 1);
        assert_eq!(bytes_to_mib((1 << 20) + 1), 2);
    }

    #[test]
    fn counts() {
        assert_eq!(count("110"), Ok(110));
        assert_eq!(count("1"), Ok(1));
        assert_eq!(count("1k"), Ok(1000));
        assert_eq!(count("0"), Ok(0));
        assert_eq!(count("500m"), Ok(1));
    }

    #[test]
    fn saturation_and_negative() {
        assert_eq!(
            memory_mib("99999999999999999999999999999999Ei"),
            Ok(i64::MAX)
        );
        assert_eq!(cpu_millis("1e100"), Ok(i64::MAX));
        assert_eq!(cpu_millis("1e-100"), Ok(1));
        assert_eq!(cpu_millis("-1"), Ok(-1000));
        assert_eq!(cpu_millis("-1.5m"), Ok(-1));
    }

    #[test]
    fn invalid() {
        for input in [
            "", " ", "m", "Mi", "1.2.3", "abc", "1x", "1mi", "1e", "1e1000", "--1", "1 Mi", ".",
        ] {
            assert!(cpu_millis(input).is_err(), "{input:?} should be invalid");
            assert!(memory_mib(input).is_err(), "{input:?} should be invalid");
        }
    }
}
