//! Printing an error for people: the error and each of its causes, on one line.
//!
//! Library errors keep their cause as a `#[source]` and do not repeat it in their own message,
//! so printing only the outermost message would lose the cause. Every command line prints an
//! error through [`one_line`] (or anyhow's `{:#}`, which walks the same chain).

use std::error::Error;

/// The error and its causes, outermost first, joined by `": "`, with each message's runs of
/// whitespace (a runtime's multi-line message) collapsed to one space. A cause whose message
/// the line already ends with is not repeated.
pub fn one_line(e: &dyn Error) -> String {
    let mut line = collapse(&e.to_string());
    let mut cause = e.source();
    while let Some(c) = cause {
        let msg = collapse(&c.to_string());
        if !msg.is_empty() && !line.ends_with(&msg) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&msg);
        }
        cause = c.source();
    }
    line
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A boxed cause of any type, as the error variants whose cause comes from several libraries
/// (ONNX Runtime, tract, a message of our own) keep it.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: cannot load")]
    struct Outer {
        path: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn prints_every_cause_once_on_one_line() {
        let e = Outer {
            path: "m.onnx",
            source: std::io::Error::other("bad\n  header"),
        };
        assert_eq!(one_line(&e), "m.onnx: cannot load: bad header");
        let boxed: BoxError = "already said".into();
        #[derive(Debug, thiserror::Error)]
        #[error("x: already said")]
        struct Repeats(#[source] BoxError);
        assert_eq!(one_line(&Repeats(boxed)), "x: already said");
    }
}
