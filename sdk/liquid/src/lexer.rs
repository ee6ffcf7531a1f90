//! Splits template source into text, `{{ output }}` and `{% tag %}` tokens, applying whitespace
//! control (`{{-`, `-}}`, `{%-`, `-%}`) and keeping `{% raw %}` bodies verbatim.
//!
//! Depends on `error` only.

use crate::error::{Error, ErrorKind};

/// A piece of template source.
#[derive(Debug, Clone)]
pub(crate) enum Token<'s> {
    Text(&'s str),
    Output { markup: &'s str, line: usize },
    Tag { name: &'s str, markup: &'s str, line: usize },
}

struct Pending<'s> {
    token: Token<'s>,
    /// `{{-` / `{%-`: strip the whitespace of the text before.
    trim_before: bool,
    /// `-}}` / `-%}`: strip the whitespace of the text after.
    trim_after: bool,
}

/// Tokenizes a template.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token<'_>>, Error> {
    let mut pieces: Vec<Pending<'_>> = Vec::new();
    let mut rest = source;
    let mut offset = 0usize;
    // Lines counted as the scan goes, not from the start for every tag.
    let (mut counted_to, mut line) = (0usize, 1usize);
    let mut line_at = |at: usize| {
        line += source.as_bytes()[counted_to..at].iter().filter(|&&b| b == b'\n').count();
        counted_to = at;
        line
    };
    while !rest.is_empty() {
        let Some(start) = find_open(rest) else {
            pieces.push(text(rest));
            break;
        };
        if start > 0 {
            pieces.push(text(&rest[..start]));
        }
        let line = line_at(offset + start);
        let is_output = rest.as_bytes()[start + 1] == b'{';
        let close = if is_output { "}}" } else { "%}" };
        let inner_start = start + 2;
        let Some(len) = rest[inner_start..].find(close) else {
            let opener = if is_output { "{{" } else { "{%" };
            return Err(Error::new(
                ErrorKind::Syntax,
                format!("`{opener}` is not closed with `{close}`"),
                Some(line),
            ));
        };
        let mut inner = &rest[inner_start..inner_start + len];
        let trim_before = inner.starts_with('-');
        if trim_before {
            inner = &inner[1..];
        }
        let trim_after = inner.ends_with('-');
        if trim_after {
            inner = &inner[..inner.len() - 1];
        }
        let mut consumed = inner_start + len + 2;
        let token = if is_output {
            Token::Output { markup: inner.trim(), line }
        } else {
            let markup = inner.trim();
            let (name, markup) = split_tag(markup);
            if name == "raw" {
                // The body up to `{% endraw %}`, untouched.
                let body_start = consumed;
                let Some((body_len, end_len, end_trim)) = find_endraw(&rest[body_start..]) else {
                    return Err(Error::new(
                        ErrorKind::Syntax,
                        "`{% raw %}` is not closed with `{% endraw %}`".into(),
                        Some(line),
                    ));
                };
                pieces.push(Pending { token: Token::Text(""), trim_before, trim_after: false });
                pieces.push(Pending {
                    token: Token::Text(&rest[body_start..body_start + body_len]),
                    trim_before: false,
                    trim_after: false,
                });
                // Marks the raw body as text that whitespace control must not touch.
                pieces.push(Pending { token: Token::Text(""), trim_before: false, trim_after: end_trim });
                consumed = body_start + body_len + end_len;
                offset += consumed;
                rest = &rest[consumed..];
                continue;
            }
            Token::Tag { name, markup, line }
        };
        pieces.push(Pending { token, trim_before, trim_after });
        offset += consumed;
        rest = &rest[consumed..];
    }
    Ok(apply_whitespace_control(pieces))
}

fn text(s: &str) -> Pending<'_> {
    Pending { token: Token::Text(s), trim_before: false, trim_after: false }
}

/// The first `{{` or `{%`.
fn find_open(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find('{') {
        let at = from + i;
        match bytes.get(at + 1) {
            Some(b'{') | Some(b'%') => return Some(at),
            Some(_) => from = at + 1,
            None => return None,
        }
    }
    None
}

/// A tag's name and the rest of its markup; `{% # note %}` is the tag `#`.
pub(crate) fn split_tag(markup: &str) -> (&str, &str) {
    if let Some(rest) = markup.strip_prefix('#') {
        return ("#", rest);
    }
    let end = markup.find(|c: char| c.is_whitespace()).unwrap_or(markup.len());
    (&markup[..end], markup[end..].trim())
}

/// Where `{% endraw %}` starts in `s`, its length, and whether it ends with `-%}`.
fn find_endraw(s: &str) -> Option<(usize, usize, bool)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{%") {
        let at = from + i;
        let after = &s[at + 2..];
        let close = after.find("%}")?;
        let inner = &after[..close];
        let trimmed = inner.trim_start_matches('-').trim_end_matches('-').trim();
        if trimmed == "endraw" {
            return Some((at, 2 + close + 2, inner.ends_with('-')));
        }
        from = at + 2;
    }
    None
}

/// Strips whitespace next to markup that asked for it, and drops the markers.
fn apply_whitespace_control(mut pieces: Vec<Pending<'_>>) -> Vec<Token<'_>> {
    for i in 0..pieces.len() {
        if !matches!(pieces[i].token, Token::Text(_)) {
            continue;
        }
        let strip_start = i > 0 && pieces[i - 1].trim_after;
        let strip_end = pieces.get(i + 1).is_some_and(|p| p.trim_before);
        if let Token::Text(t) = &mut pieces[i].token {
            if strip_start {
                *t = t.trim_start();
            }
            if strip_end {
                *t = t.trim_end();
            }
        }
    }
    pieces.into_iter().map(|p| p.token).filter(|t| !matches!(t, Token::Text(s) if s.is_empty())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_control_strips_both_sides() {
        let tokens = tokenize("a  {%- if x -%}  b \n{{- y }}").unwrap();
        let texts: Vec<_> =
            tokens.iter().filter_map(|t| if let Token::Text(s) = t { Some(*s) } else { None }).collect();
        assert_eq!(texts, ["a", "b"]);
    }

    #[test]
    fn raw_bodies_are_kept() {
        let tokens = tokenize("{% raw %} {{ x }} {%- if -%} {% endraw %}!").unwrap();
        assert!(matches!(tokens[0], Token::Text(" {{ x }} {%- if -%} ")));
        assert!(matches!(tokens[1], Token::Text("!")));
    }

    #[test]
    fn an_unclosed_tag_names_its_line() {
        let err = tokenize("a\n\n{{ x").unwrap_err();
        assert_eq!(err.to_string(), "line 3: `{{` is not closed with `}}`");
    }
}
