//! [`WindowSpec`]: which windows a job uses, parsed from `tumbling:10s`, `hopping:10s,5s` or
//! `session:30s`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// The window family and its sizes, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// Back-to-back windows of `size`.
    Tumbling {
        /// Window length.
        size: i64,
    },
    /// Windows of `size` starting every `slide`; a pair belongs to `size / slide` of them.
    Hopping {
        /// Window length.
        size: i64,
        /// Distance between window starts.
        slide: i64,
    },
    /// Per key, a window that stays open while pairs keep arriving less than `gap` apart.
    Session {
        /// Inactivity that closes a session.
        gap: i64,
    },
}

/// A window spec that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "invalid window `{input}`: {reason} (expected tumbling:SIZE, hopping:SIZE,SLIDE or session:GAP, e.g. tumbling:10s)"
)]
pub struct WindowSpecError {
    input: String,
    reason: String,
}

fn millis(text: &str, input: &str) -> Result<i64, WindowSpecError> {
    let err = |reason: String| WindowSpecError {
        input: input.to_string(),
        reason,
    };
    let duration: Duration = crate::units::parse_duration(text).map_err(err)?;
    let ms = i64::try_from(duration.as_millis()).map_err(|_| err(format!("`{text}` is too long")))?;
    if ms <= 0 {
        return Err(err(format!("`{text}` must be at least 1ms")));
    }
    Ok(ms)
}

impl FromStr for WindowSpec {
    type Err = WindowSpecError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| WindowSpecError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (kind, args) = input.split_once(':').ok_or_else(|| err("missing `:`"))?;
        match kind.trim() {
            "tumbling" => Ok(WindowSpec::Tumbling {
                size: millis(args, input)?,
            }),
            "hopping" | "sliding" => {
                let (size, slide) = args
                    .split_once(',')
                    .ok_or_else(|| err("hopping takes SIZE,SLIDE"))?;
                let (size, slide) = (millis(size, input)?, millis(slide, input)?);
                if slide > size {
                    return Err(err(
                        "the slide must not exceed the size (records between windows would be lost)",
                    ));
                }
                Ok(WindowSpec::Hopping { size, slide })
            }
            "session" => Ok(WindowSpec::Session {
                gap: millis(args, input)?,
            }),
            _ => Err(err("unknown window kind")),
        }
    }
}

impl fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |ms: i64| humantime::format_duration(Duration::from_millis(ms.unsigned_abs()));
        match self {
            WindowSpec::Tumbling { size } => write!(f, "tumbling:{}", d(*size)),
            WindowSpec::Hopping { size, slide } => write!(f, "hopping:{},{}", d(*size), d(*slide)),
            WindowSpec::Session { gap } => write!(f, "session:{}", d(*gap)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!("tumbling:10s".parse(), Ok(WindowSpec::Tumbling { size: 10_000 }));
        assert_eq!(
            "hopping:1m,15s".parse(),
            Ok(WindowSpec::Hopping {
                size: 60_000,
                slide: 15_000
            })
        );
        assert_eq!("session:500ms".parse(), Ok(WindowSpec::Session { gap: 500 }));
    }

    #[test]
    fn refuses_nonsense_with_the_reason() {
        for bad in [
            "tumbling",
            "tumbling:0s",
            "weekly:1d",
            "hopping:10s",
            "hopping:5s,10s",
            "session:soon",
        ] {
            let err = bad.parse::<WindowSpec>().expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn displays_what_it_parses() {
        for text in ["tumbling:10s", "hopping:1m,15s", "session:500ms"] {
            assert_eq!(
                text.parse::<WindowSpec>().map(|s| s.to_string()),
                Ok(text.to_string())
            );
        }
    }
}
