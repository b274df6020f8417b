//! The subset of Go's `text/template` that exporter configuration uses: literal text and
//! `{{ .Field }}` actions (the spaces are optional). No crate fitted: the Go-template crates
//! render from a dynamic value tree and only find an unknown field while rendering, where we
//! must refuse it at registration; this subset is a list of segments.
//!
//! A template is compiled once, against the field names it may use, so that a syntax error or an
//! unknown field is refused at registration with its line and column, never at export time.

use std::fmt;

/// A compiled template: literal text and field references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    /// An index into the field names the template was compiled against.
    Field(usize),
}

/// Why a template was refused, and where (1-based line and column, in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {}, column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Compiles `text`, whose actions may name the fields in `fields` (Go spelling, without the
    /// dot: `"UserKey"`).
    pub fn parse(text: &str, fields: &[&str]) -> Result<Template, TemplateError> {
        let error = |offset: usize, message: String| {
            let before = &text[..offset];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            TemplateError {
                message,
                line: before.matches('\n').count() + 1,
                column: before[line_start..].chars().count() + 1,
            }
        };
        let mut segments = Vec::new();
        let mut pos = 0;
        while let Some(found) = text[pos..].find("{{") {
            let open = pos + found;
            if open > pos {
                segments.push(Segment::Text(text[pos..open].to_string()));
            }
            let inner_start = open + 2;
            let Some(inner_len) = text[inner_start..].find("}}") else {
                return Err(error(open, "unclosed action: `{{` without `}}`".into()));
            };
            let inner = &text[inner_start..inner_start + inner_len];
            let name_offset = inner_start + (inner.len() - inner.trim_start().len());
            let action = inner.trim();
            if action.is_empty() {
                return Err(error(open, "empty action `{{}}`".into()));
            }
            let name = action.strip_prefix('.').unwrap_or("");
            let name_len = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            if name_len == 0 {
                return Err(error(
                    name_offset,
                    format!("unsupported action `{action}`: only fields such as `{{{{ .Key }}}}` are supported"),
                ));
            }
            if name_len < name.len() {
                return Err(error(
                    name_offset + 1 + name_len,
                    format!(
                        "unexpected `{}` after `.{}`: only fields such as `{{{{ .Key }}}}` are supported",
                        &name[name_len..],
                        &name[..name_len]
                    ),
                ));
            }
            let Some(index) = fields.iter().position(|f| *f == name) else {
                let known: Vec<String> = fields.iter().map(|f| format!(".{f}")).collect();
                return Err(error(
                    name_offset,
                    format!("unknown field `.{name}` (known: {})", known.join(", ")),
                ));
            };
            segments.push(Segment::Field(index));
            pos = inner_start + inner_len + 2;
        }
        if pos < text.len() {
            segments.push(Segment::Text(text[pos..].to_string()));
        }
        Ok(Template { segments })
    }

    /// Appends the rendered text to `out`; `field(index, out)` appends the value of field
    /// `fields[index]`.
    pub fn render(&self, out: &mut String, mut field: impl FnMut(usize, &mut String)) {
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Field(index) => field(*index, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 3] = ["Kind", "UserKey", "Value"];

    fn render(text: &str) -> String {
        let template = Template::parse(text, &FIELDS).unwrap();
        let mut out = String::new();
        template.render(&mut out, |i, out| out.push_str(["feature", "u-1", "on"][i]));
        out
    }

    fn error(text: &str) -> String {
        Template::parse(text, &FIELDS).unwrap_err().to_string()
    }

    #[test]
    fn fields_render_with_or_without_spaces() {
        assert_eq!(
            render("{{.Kind}}|{{ .UserKey}}|{{.Value }}|{{  .Kind\t}}"),
            "feature|u-1|on|feature"
        );
    }

    #[test]
    fn literal_text_is_kept_as_it_is() {
        assert_eq!(render(""), "");
        assert_eq!(
            render("no actions; \"quotes\", é, }} and { alone\n"),
            "no actions; \"quotes\", é, }} and { alone\n"
        );
        assert_eq!(
            render("[{{ .Kind}}] user=\"{{ .UserKey}}\"\n"),
            "[feature] user=\"u-1\"\n"
        );
        assert_eq!(render("{{ .Kind}}{{ .Kind}}"), "featurefeature");
        assert_eq!(render("{{ .Kind}}}"), "feature}");
    }

    #[test]
    fn syntax_errors_name_their_position() {
        assert_eq!(
            error("ab{{ .Kind"),
            "unclosed action: `{{` without `}}` at line 1, column 3"
        );
        assert_eq!(error("a\nbé{{ }}"), "empty action `{{}}` at line 2, column 3");
        assert_eq!(
            error("{{ Kind }}"),
            "unsupported action `Kind`: only fields such as `{{ .Key }}` are supported at line 1, column 4"
        );
        assert_eq!(
            error("{{ . }}"),
            "unsupported action `.`: only fields such as `{{ .Key }}` are supported at line 1, column 4"
        );
        assert_eq!(
            error("x\n\n  {{- .Kind }}"),
            "unsupported action `- .Kind`: only fields such as `{{ .Key }}` are supported at line 3, column 5"
        );
        assert_eq!(
            error("{{ .Kind | upper }}"),
            "unexpected ` | upper` after `.Kind`: only fields such as `{{ .Key }}` are supported at line 1, column 9"
        );
        assert_eq!(
            error("{{.Value.a}}"),
            "unexpected `.a` after `.Value`: only fields such as `{{ .Key }}` are supported at line 1, column 9"
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_the_known_ones() {
        assert_eq!(
            error("ok {{ .Kind }} {{ .userKey }}"),
            "unknown field `.userKey` (known: .Kind, .UserKey, .Value) at line 1, column 19"
        );
    }
}
