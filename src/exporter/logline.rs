//! The `"type": "log"` sink: each event becomes one line rendered from a template, handed to the
//! process's log callback at INFO (so that each binding routes it to its own logging) or written
//! to standard error. Line breaks inside field values are escaped, so one event is one line.

use super::record::{self, Escape};
use super::template::Template;
use crate::log::{self, Level};
use std::io::Write;

pub const DEFAULT_TEMPLATE: &str =
    r#"[{{ .FormattedDate}}] user="{{ .UserKey}}", flag="{{ .Key}}", value="{{ .Value}}""#;

/// Where the lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The log callback (`sluice_set_log_callback`), at INFO; nowhere when it takes no INFO lines.
    Callback,
    /// Standard error, one line per event.
    Stderr,
}

pub struct LogLineSink {
    template: Template,
    target: LogTarget,
    line: String,
    scratch: String,
}

impl LogLineSink {
    /// `template` is compiled against [`record::TEMPLATE_FIELDS`].
    pub fn new(template: Template, target: LogTarget) -> LogLineSink {
        LogLineSink {
            template,
            target,
            line: String::new(),
            scratch: String::new(),
        }
    }
}

impl super::Sink for LogLineSink {
    fn export(&mut self, batch: &[u8], event_count: usize) -> Result<(), String> {
        if self.target == LogTarget::Callback && !log::enabled(Level::Info) {
            return Ok(());
        }
        self.line.clear();
        let records = record::records(batch, event_count)?;
        for record in records {
            let start = self.line.len();
            record.render(&self.template, Escape::Line, &mut self.line, &mut self.scratch);
            if self.target == LogTarget::Callback {
                log::log(Level::Info, &self.line[start..]);
                self.line.truncate(start);
            } else {
                self.line.push('\n');
            }
        }
        if self.target == LogTarget::Stderr {
            let mut stderr = std::io::stderr().lock();
            stderr
                .write_all(self.line.as_bytes())
                .map_err(|e| format!("log exporter: cannot write to standard error: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::Sink;

    #[test]
    fn the_default_template_renders_one_line_per_event() {
        let template = Template::parse(DEFAULT_TEMPLATE, &record::TEMPLATE_FIELDS).unwrap();
        let mut sink = LogLineSink::new(template, LogTarget::Stderr);
        sink.export(
            b"{\"creationDate\":1700000000,\"userKey\":\"u\\n1\",\"key\":\"f\",\"value\":{\"a\":1}}\n{\"creationDate\":0,\"key\":\"g\",\"value\":\"x\"}\n",
            2,
        )
        .unwrap();
        assert_eq!(
            sink.line,
            "[2023-11-14T22:13:20Z] user=\"u\\n1\", flag=\"f\", value=\"{\"a\":1}\"\n[1970-01-01T00:00:00Z] user=\"\", flag=\"g\", value=\"x\"\n"
        );
    }
}
