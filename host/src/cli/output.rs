//! How `baton` prints the data a command returns: for people by default (an array of objects as
//! an aligned table, an object as `key: value` lines, a scalar as itself), or as the JSON scripts
//! read with `--output json`. Long cells are cut only on a terminal, and colour appears only on a
//! terminal with `NO_COLOR` unset.
//!
//! The renderer is generic over the serialized value: a command run on a data directory and the
//! same command run through a server (whose answer arrives as JSON text) go through the same
//! code. It keeps keys in the order they were written (struct field order, or the server's
//! order), which `serde_json::Value` would sort. Depends on serde, serde_json and the terminal
//! only.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt;
use std::io::{IsTerminal, Write};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::remote::Answer;

/// What `--output` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables and `key: value` lines, for people.
    Table,
    /// Pretty-printed JSON, for scripts (the same as before tables existed).
    Json,
}

/// What the reader of standard output can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Standard output is a terminal: a person reads it, so overlong cells are cut.
    pub terminal: bool,
    /// Colour (a bold table header) is welcome.
    pub colour: bool,
}

/// Where a command's data goes: the format asked for and the style standard output allows.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    format: Format,
    style: Style,
}

impl Output {
    /// Prints in `format` to this process's standard output, styled for what it is.
    pub fn new(format: Format) -> Self {
        let stdout = std::io::stdout();
        Output { format, style: Style { terminal: stdout.is_terminal(), colour: colours(&stdout) } }
    }

    /// Prints data a command computed here.
    pub fn print(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        match self.format {
            Format::Json => write_stdout(&serde_json::to_string_pretty(value)?),
            Format::Table => self.table(&serde_json::to_string(value)?),
        }
    }

    /// Prints a server's answer: as JSON the parsed value (as before tables existed), as a
    /// table the text in the server's key order, so that it reads as the same command run here.
    pub fn print_answer(&self, answer: &Answer) -> anyhow::Result<()> {
        match self.format {
            Format::Json => write_stdout(&serde_json::to_string_pretty(answer.value())?),
            Format::Table => self.table(answer.text()),
        }
    }

    /// Prints a campaign's results: for people, what counted as a conversion, a table of the
    /// groups, then each comparison's verdict and the notes, each on its own line; as JSON, the
    /// whole.
    pub fn print_results(&self, results: &serde_json::Value) -> anyhow::Result<()> {
        if self.format == Format::Json {
            return write_stdout(&serde_json::to_string_pretty(results)?);
        }
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let list = |key: &str| results[key].as_array().cloned().unwrap_or_default();
        let percent =
            |v: &serde_json::Value| v.as_f64().map_or("-".to_owned(), |r| format!("{:.2}%", r * 100.0));
        let money = |v: &serde_json::Value| v.as_f64().map_or("-".to_owned(), |r| format!("{r:.2}"));
        /// One group as a row, columns in this order.
        #[derive(serde::Serialize)]
        struct Row {
            group: String,
            recipients: u64,
            converted: u64,
            rate: String,
            #[serde(rename = "95% interval")]
            interval: String,
            revenue: String,
            #[serde(rename = "per recipient")]
            per_recipient: String,
        }
        let rows: Vec<Row> = list("groups")
            .iter()
            .map(|g| Row {
                group: text(&g["group"]),
                recipients: g["recipients"].as_u64().unwrap_or_default(),
                converted: g["converted"].as_u64().unwrap_or_default(),
                rate: percent(&g["conversion_rate"]),
                interval: g["conversion_rate_interval"]
                    .as_array()
                    .map_or("-".to_owned(), |i| format!("{} to {}", percent(&i[0]), percent(&i[1]))),
                revenue: money(&g["revenue"]),
                per_recipient: money(&g["revenue_per_recipient"]),
            })
            .collect();
        let mut lines =
            vec![format!("{}: {}", text(&results["campaign"]), text(&results["definition"])), String::new()];
        lines.push(render(&serde_json::from_str(&serde_json::to_string(&rows)?)?, self.style));
        for comparison in list("comparisons") {
            lines.push(text(&comparison["verdict"]));
        }
        for note in list("notes") {
            lines.push(format!("Note: {}", text(&note)));
        }
        write_stdout(lines.join("\n").trim_end())
    }

    fn table(&self, json: &str) -> anyhow::Result<()> {
        let node: Node = serde_json::from_str(json)?;
        write_stdout(&render(&node, self.style))
    }
}

/// Writes `text` and a newline to standard output. A reader that stops early
/// (`baton trait list | head`) is not an error: the output simply ends, as with any Unix tool,
/// instead of `println!`'s panic.
pub(super) fn write_stdout(text: &str) -> anyhow::Result<()> {
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Whether to colour what goes to `stream`: only a terminal, and only without `NO_COLOR`.
pub fn colours(stream: &impl IsTerminal) -> bool {
    colour_wanted(stream.is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// The rule behind [`colours`]: a terminal, and `NO_COLOR` unset or empty (as no-color.org
/// defines it, and as `tracing-subscriber` reads it).
fn colour_wanted(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

/// A JSON value with its object keys in the order they were written.
#[derive(Debug, PartialEq)]
pub enum Node {
    /// A string, number, boolean or null.
    Scalar(serde_json::Value),
    /// An array.
    Array(Vec<Node>),
    /// An object, keys in written order.
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(serde_json::Value::Null))
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(serde_json::Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::new();
        while let Some(field) = map.next_entry::<String, Node>()? {
            fields.push(field);
        }
        Ok(Node::Object(fields))
    }
}

/// What an empty list prints as, so that "nothing" is not an empty screen.
const NONE: &str = "(none)";

/// How wide a text cell may be on a terminal, in columns, before it is cut with `…`: wide
/// enough for a content hash (`sha256:` and 64 hex digits, 71 columns), which people copy
/// whole from `plugin list`.
const TEXT_WIDTH: usize = 72;

/// How wide a nested array or object may be in a table on a terminal: a glimpse, since the
/// command's `show` (or `--output json`) has all of it.
const NESTED_WIDTH: usize = 40;

/// Two spaces indent a nested object or table under its key, and separate table columns.
const GAP: &str = "  ";

/// `node` for people, without a final newline.
pub fn render(node: &Node, style: Style) -> String {
    let mut lines = Vec::new();
    match node {
        Node::Array(items) if items.is_empty() => lines.push(NONE.to_owned()),
        Node::Array(items) => match objects(items) {
            Some(rows) => table(&rows, "", style, &mut lines),
            None => lines.extend(items.iter().map(inline)),
        },
        Node::Object(fields) if fields.is_empty() => lines.push(NONE.to_owned()),
        Node::Object(fields) => object(fields, "", style, &mut lines),
        Node::Scalar(_) => lines.push(inline(node)),
    }
    lines.join("\n")
}

/// The rows of a non-empty array whose items are all objects (a table), else none.
fn objects(items: &[Node]) -> Option<Vec<&[(String, Node)]>> {
    if items.is_empty() {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Node::Object(fields) => Some(fields.as_slice()),
            _ => None,
        })
        .collect()
}

/// An object as `key: value` lines, values aligned; a nested object or table goes under its
/// key, indented.
fn object(fields: &[(String, Node)], indent: &str, style: Style, lines: &mut Vec<String>) {
    let label_width = fields
        .iter()
        .filter(|(_, value)| block(value).is_none())
        .map(|(key, _)| printable(key).width() + 1)
        .max()
        .unwrap_or(0);
    let nested = format!("{indent}{GAP}");
    for (key, value) in fields {
        let key = printable(key);
        match block(value) {
            Some(Block::Object(fields)) => {
                lines.push(format!("{indent}{key}:"));
                object(fields, &nested, style, lines);
            }
            Some(Block::Table(rows)) => {
                lines.push(format!("{indent}{key}:"));
                table(&rows, &nested, style, lines);
            }
            None => {
                let label = pad(&format!("{key}:"), label_width);
                lines.push(format!("{indent}{label} {}", inline(value)));
            }
        }
    }
}

/// A value an object shows under its key rather than beside it.
enum Block<'a> {
    Object(&'a [(String, Node)]),
    Table(Vec<&'a [(String, Node)]>),
}

fn block(value: &Node) -> Option<Block<'_>> {
    match value {
        Node::Object(fields) if !fields.is_empty() => Some(Block::Object(fields)),
        Node::Array(items) => objects(items).map(Block::Table),
        _ => None,
    }
}

/// Objects as an aligned table: a column per key in first-seen order, headed by the key in
/// upper case (bold on a colour terminal); a row without a key leaves its cell empty.
fn table(rows: &[&[(String, Node)]], indent: &str, style: Style, lines: &mut Vec<String>) {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for (key, _) in *row {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let header: Vec<String> = columns.iter().map(|c| printable(c).to_uppercase()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| match row.iter().find(|(key, _)| key == column) {
                    Some((_, value)) => cell(value, style),
                    None => String::new(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| cells.iter().map(|row| row[i].width()).chain([header[i].width()]).max().unwrap_or(0))
        .collect();
    let line = |row: &[String]| {
        let padded: Vec<String> = row.iter().zip(&widths).map(|(text, width)| pad(text, *width)).collect();
        padded.join(GAP).trim_end().to_owned()
    };
    let head = line(&header);
    lines.push(if style.colour {
        format!("{indent}\x1b[1m{head}\x1b[0m")
    } else {
        format!("{indent}{head}")
    });
    lines.extend(cells.iter().map(|row| format!("{indent}{}", line(row))));
}

/// A table cell: the value on one line, cut on a terminal to [`TEXT_WIDTH`] (a scalar) or
/// [`NESTED_WIDTH`] (an array or object).
fn cell(value: &Node, style: Style) -> String {
    let text = inline(value);
    let limit = if matches!(value, Node::Scalar(_)) { TEXT_WIDTH } else { NESTED_WIDTH };
    if !style.terminal || text.width() <= limit {
        return text;
    }
    let mut cut = String::new();
    let mut width = 0;
    for c in text.chars() {
        width += c.width().unwrap_or(0);
        if width >= limit {
            break;
        }
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// A value on one line: a string unquoted, null as `-`, an empty array or object as `-`, an
/// array of scalars as `a, b`, anything deeper as compact JSON.
fn inline(value: &Node) -> String {
    match value {
        Node::Scalar(serde_json::Value::Null) => "-".to_owned(),
        Node::Scalar(serde_json::Value::String(text)) => printable(text).into_owned(),
        Node::Scalar(other) => other.to_string(),
        Node::Array(items) if items.is_empty() => "-".to_owned(),
        Node::Object(fields) if fields.is_empty() => "-".to_owned(),
        Node::Array(items) if items.iter().all(|item| matches!(item, Node::Scalar(_))) => {
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        }
        nested => printable(&compact(nested)).into_owned(),
    }
}

/// `node` as compact JSON, keys in written order.
fn compact(node: &Node) -> String {
    match node {
        Node::Scalar(value) => value.to_string(),
        Node::Array(items) => format!("[{}]", items.iter().map(compact).collect::<Vec<_>>().join(",")),
        Node::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!("{}:{}", serde_json::Value::from(key.as_str()), compact(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

/// `text` with control characters escaped: a newline would break a table's row, and data
/// (a customer's name, a trait's name, an event property) must not reach the terminal as escape
/// sequences.
fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` padded with spaces to `width` display columns.
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(json: &str, style: Style) -> String {
        render(&serde_json::from_str(json).unwrap(), style)
    }

    const PIPE: Style = Style { terminal: false, colour: false };
    const TERMINAL: Style = Style { terminal: true, colour: true };

    #[test]
    fn an_array_of_objects_is_a_table_with_columns_in_first_seen_order() {
        let json = r#"[
            {"id": "edefa67ec83a", "name": "root", "role": "admin", "revoked_at": null},
            {"id": "0b1c", "name": "ci-ingest", "role": "connector", "revoked_at": 1750000000000, "note": true}
        ]"#;
        assert_eq!(
            shown(json, PIPE),
            "ID            NAME       ROLE       REVOKED_AT     NOTE\n\
             edefa67ec83a  root       admin      -\n\
             0b1c          ci-ingest  connector  1750000000000  true"
        );
    }

    #[test]
    fn nested_values_in_a_table_are_compact_and_cut_only_on_a_terminal() {
        let hash = format!("sha256:{}", "7b01".repeat(16));
        let hosts: Vec<String> = (0..9).map(|i| format!("h{i}.example.com")).collect();
        let json = serde_json::json!(hosts).to_string();
        let json = format!(
            r#"[{{"hash": "{hash}", "trigger": {{"type": "batch", "every_ms": null}}, "hosts": {json}, "none": []}}]"#
        );
        let joined = hosts.join(", ");
        let piped = shown(&json, PIPE);
        let lines: Vec<&str> = piped.lines().collect();
        assert_eq!(lines[1], format!(r#"{hash}  {{"type":"batch","every_ms":null}}  {joined}  -"#));
        let on_terminal = shown(&json, TERMINAL);
        let lines: Vec<&str> = on_terminal.lines().collect();
        assert_eq!(
            lines,
            [
                format!(
                    "\x1b[1mHASH{}  TRIGGER                           HOSTS{}  NONE\x1b[0m",
                    " ".repeat(hash.len() - 4),
                    " ".repeat(NESTED_WIDTH - 5)
                ),
                format!(r#"{hash}  {{"type":"batch","every_ms":null}}  {}…  -"#, &joined[..NESTED_WIDTH - 1]),
            ]
        );
    }

    #[test]
    fn written_key_order_is_kept() {
        let node: Node = serde_json::from_str(r#"{"zeta": 1, "alpha": {"b": 2, "a": [3]}}"#).unwrap();
        assert_eq!(compact(&node), r#"{"zeta":1,"alpha":{"b":2,"a":[3]}}"#);
        assert_eq!(render(&node, PIPE), "zeta: 1\nalpha:\n  b: 2\n  a: 3");
    }

    #[test]
    fn an_object_is_key_value_lines_with_nested_objects_and_tables_indented() {
        let json = r#"{
            "hash": "sha256:7b01",
            "name": "segment-conditions",
            "attributes": ["*"],
            "allowed_hosts": [],
            "event_window_ms": null,
            "quarantine": {"failures": 3, "since": 1750000000000},
            "bindings": [{"campaign": "welcome", "slot": "segment"}, {"campaign": "win-back", "slot": "segment"}],
            "data": {}
        }"#;
        assert_eq!(
            shown(json, TERMINAL),
            "hash:            sha256:7b01\n\
             name:            segment-conditions\n\
             attributes:      *\n\
             allowed_hosts:   -\n\
             event_window_ms: -\n\
             quarantine:\n\
             \x20 failures: 3\n\
             \x20 since:    1750000000000\n\
             bindings:\n\
             \x20 \x1b[1mCAMPAIGN  SLOT\x1b[0m\n\
             \x20 welcome   segment\n\
             \x20 win-back  segment\n\
             data:            -"
        );
    }

    #[test]
    fn empty_lists_scalars_and_lists_of_scalars_print_plainly() {
        assert_eq!(shown("[]", TERMINAL), "(none)");
        assert_eq!(shown("{}", PIPE), "(none)");
        assert_eq!(shown(r#""sha256:7b01""#, PIPE), "sha256:7b01");
        assert_eq!(shown("42", PIPE), "42");
        assert_eq!(shown("null", PIPE), "-");
        assert_eq!(shown(r#"["a", 1, null, [2, 3], {"b": [4]}]"#, PIPE), "a\n1\n-\n2, 3\n{\"b\":[4]}");
        assert_eq!(shown(r#"{"mixed": [1, {"a": [2]}]}"#, PIPE), r#"mixed: [1,{"a":[2]}]"#);
    }

    #[test]
    fn control_characters_in_data_never_reach_the_terminal() {
        let json = r#"[{"name": "Ada\u001b[31m\nLovelace\t"}]"#;
        assert_eq!(shown(json, PIPE), "NAME\nAda\\u{1b}[31m\\nLovelace\\t");
        assert_eq!(shown(r#"{"note": "a\u0007b"}"#, PIPE), "note: a\\u{7}b");
        assert_eq!(shown(r#"{"x\u001b[2J": {"y\n": 1}}"#, PIPE), "x\\u{1b}[2J:\n  y\\n: 1");
        assert_eq!(shown(r#"[{"x\u001b[2J": 1}]"#, PIPE), "X\\U{1B}[2J\n1");
    }

    #[test]
    fn wide_characters_are_aligned_by_display_width() {
        let json = r#"[{"name": "夏のセール", "state": "draft"}, {"name": "Soldes", "state": "active"}]"#;
        assert_eq!(
            shown(json, PIPE),
            "NAME        STATE\n\
             夏のセール  draft\n\
             Soldes      active"
        );
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }
}
