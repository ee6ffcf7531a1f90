//! Every standard filter of Shopify's Liquid, with the reference implementation's edge cases
//! (nil input, numeric text, integer against float arithmetic), plus Baton's few additions:
//! `raw`, `json` and `local_date`.
//!
//! Depends on `value`, `date` and the crate's `Context`.

use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use crate::Context;
use crate::value::Value;

/// A filter: the context, the input, positional arguments and keyword arguments.
pub(crate) type FilterFn = fn(&Context, Value, &[Value], &[(String, Value)]) -> Result<Value, String>;

/// A filter by name, with its smallest and largest number of positional arguments.
pub(crate) fn lookup(name: &str) -> Option<(FilterFn, usize, usize)> {
    let found: (FilterFn, usize, usize) = match name {
        "abs" => (abs, 0, 0),
        "append" => (append, 1, 1),
        "at_least" => (at_least, 1, 1),
        "at_most" => (at_most, 1, 1),
        "base64_decode" => (base64_decode, 0, 0),
        "base64_encode" => (base64_encode, 0, 0),
        "base64_url_safe_decode" => (base64_url_safe_decode, 0, 0),
        "base64_url_safe_encode" => (base64_url_safe_encode, 0, 0),
        "capitalize" => (capitalize, 0, 0),
        "ceil" => (ceil, 0, 0),
        "compact" => (compact, 0, 1),
        "concat" => (concat, 1, 1),
        "date" => (date, 0, 1),
        "default" => (default, 1, 1),
        "divided_by" => (divided_by, 1, 1),
        "downcase" => (downcase, 0, 0),
        "escape" | "h" => (escape, 0, 0),
        "escape_once" => (escape_once, 0, 0),
        "find" => (find, 1, 2),
        "find_index" => (find_index, 1, 2),
        "first" => (first, 0, 0),
        "floor" => (floor, 0, 0),
        "has" => (has, 1, 2),
        "join" => (join, 0, 1),
        "json" => (json, 0, 0),
        "last" => (last, 0, 0),
        "local_date" => (local_date, 0, 2),
        "lstrip" => (lstrip, 0, 0),
        "map" => (map, 1, 1),
        "minus" => (minus, 1, 1),
        "modulo" => (modulo, 1, 1),
        "newline_to_br" => (newline_to_br, 0, 0),
        "plus" => (plus, 1, 1),
        "prepend" => (prepend, 1, 1),
        "raw" => (raw, 0, 0),
        "reject" => (reject, 1, 2),
        "remove" => (remove, 1, 1),
        "remove_first" => (remove_first, 1, 1),
        "remove_last" => (remove_last, 1, 1),
        "replace" => (replace, 1, 2),
        "replace_first" => (replace_first, 1, 2),
        "replace_last" => (replace_last, 2, 2),
        "reverse" => (reverse, 0, 0),
        "round" => (round, 0, 1),
        "rstrip" => (rstrip, 0, 0),
        "size" => (size, 0, 0),
        "slice" => (slice, 1, 2),
        "sort" => (sort, 0, 1),
        "sort_natural" => (sort_natural, 0, 1),
        "split" => (split, 1, 1),
        "strip" => (strip, 0, 0),
        "strip_html" => (strip_html, 0, 0),
        "strip_newlines" => (strip_newlines, 0, 0),
        "sum" => (sum, 0, 1),
        "times" => (times, 1, 1),
        "truncate" => (truncate, 0, 2),
        "truncatewords" => (truncatewords, 0, 2),
        "uniq" => (uniq, 0, 1),
        "upcase" => (upcase, 0, 0),
        "url_decode" => (url_decode, 0, 0),
        "url_encode" => (url_encode, 0, 0),
        "where" => (where_, 1, 2),
        _ => return None,
    };
    Some(found)
}

type R = Result<Value, String>;
type Kw<'a> = &'a [(String, Value)];

fn text(v: &Value) -> String {
    v.render()
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Nil)
}

/// Text in, text out; nil stays nil (as the reference's string filters do).
fn map_text(input: Value, f: impl FnOnce(&str) -> String) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    Ok(Value::str(f(&text(&input))))
}

/// The items an array filter works on: arrays flattened, nil none, anything else itself.
fn list(context: &Context, input: &Value) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    flatten_into(input.items(context.max_loop_iterations as usize)?, &mut out);
    Ok(out)
}

fn flatten_into(items: Vec<Value>, out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) => flatten_into(inner.as_ref().clone(), out),
            other => out.push(other),
        }
    }
}

fn array(items: Vec<Value>) -> Value {
    Value::Array(Rc::new(items))
}

fn property(item: &Value, key: &Value) -> Value {
    match item {
        Value::Object(_) => item.get(key).unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

/// Escapes `& < > " '` as Ruby's `CGI.escapeHTML` does.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- text

fn append(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&input) + &text(&arg(args, 0))))
}

fn prepend(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&arg(args, 0)) + &text(&input)))
}

fn capitalize(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| {
        let mut chars = s.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars.as_str().to_lowercase().chars()).collect(),
            None => String::new(),
        }
    })
}

fn downcase(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.to_lowercase())
}

fn upcase(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.to_uppercase())
}

fn escape(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    Ok(Value::Safe(escape_html(&text(&input)).into()))
}

fn escape_once(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let s = text(&input);
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '&' {
            let entity = rest[1..].find(';').map(|end| &rest[1..1 + end]).filter(|name| {
                !name.is_empty()
                    && (name.chars().all(|c| c.is_ascii_alphabetic())
                        || name
                            .strip_prefix('#')
                            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())))
            });
            if entity.is_some() {
                out.push('&');
            } else {
                out.push_str("&amp;");
            }
        } else {
            out.push_str(&escape_html(&c.to_string()));
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(Value::Safe(out.into()))
}

fn raw(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(match input {
        Value::Str(s) => Value::Safe(s),
        Value::Nil => Value::Nil,
        other @ (Value::Safe(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) => other,
        other => Value::Safe(other.render().into()),
    })
}

fn lstrip(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.trim_start().to_string())
}

fn rstrip(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.trim_end().to_string())
}

fn strip(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.trim().to_string())
}

fn strip_newlines(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.replace(['\r', '\n'], ""))
}

fn newline_to_br(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| s.replace("\r\n", "\n").replace('\n', "<br />\n"))
}

fn strip_html(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| {
        let mut s = s.to_string();
        for (open, close) in [("<script", "</script>"), ("<!--", "-->"), ("<style", "</style>")] {
            s = remove_between(&s, open, close);
        }
        remove_between(&s, "<", ">")
    })
}

/// Removes every `open ... close` span (case-insensitive on the markers).
fn remove_between(s: &str, open: &str, close: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find(open) {
        let start = at + i;
        let Some(j) = lower[start + open.len()..].find(close) else { break };
        out.push_str(&s[at..start]);
        at = start + open.len() + j + close.len();
    }
    out.push_str(&s[at..]);
    out
}

fn remove(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&input).replace(&text(&arg(args, 0)), "")))
}

fn remove_first(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&input).replacen(&text(&arg(args, 0)), "", 1)))
}

fn remove_last(c: &Context, input: Value, args: &[Value], k: Kw) -> R {
    replace_last(c, input, &[arg(args, 0), Value::str("")], k)
}

fn replace(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&input).replace(&text(&arg(args, 0)), &text(&arg(args, 1)))))
}

fn replace_first(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::str(text(&input).replacen(&text(&arg(args, 0)), &text(&arg(args, 1)), 1)))
}

fn replace_last(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let (s, from, to) = (text(&input), text(&arg(args, 0)), text(&arg(args, 1)));
    Ok(Value::str(match s.rfind(&from) {
        Some(i) => format!("{}{to}{}", &s[..i], &s[i + from.len()..]),
        None => s,
    }))
}

fn size(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::Int(input.size().unwrap_or(0)))
}

fn slice(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let offset = crate::render::integer(&arg(args, 0)).ok_or("the offset must be a number")?;
    let length = match args.get(1) {
        Some(Value::Nil) | None => 1,
        Some(v) => crate::render::integer(v).ok_or("the length must be a number")?,
    };
    let window = |len: usize| -> Option<(usize, usize)> {
        let len = len as i64;
        let start = if offset < 0 { len + offset } else { offset };
        if start < 0 || start > len || length < 0 {
            return None;
        }
        Some((start as usize, (start + length).min(len) as usize))
    };
    Ok(match &input {
        Value::Array(items) => match window(items.len()) {
            Some((a, b)) => array(items[a..b].to_vec()),
            None => array(Vec::new()),
        },
        other => {
            let chars: Vec<char> = text(other).chars().collect();
            match window(chars.len()) {
                Some((a, b)) => Value::str(chars[a..b].iter().collect::<String>()),
                None => Value::str(""),
            }
        }
    })
}

fn split(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let (s, pattern) = (text(&input), text(&arg(args, 0)));
    let mut parts: Vec<Value> = if pattern == " " {
        s.split_whitespace().map(Value::str).collect()
    } else if pattern.is_empty() {
        s.chars().map(|c| Value::str(c.to_string())).collect()
    } else {
        s.split(pattern.as_str()).map(Value::str).collect()
    };
    // Ruby's `split` drops trailing empty strings.
    while parts.last().is_some_and(|p| p.as_str() == Some("")) {
        parts.pop();
    }
    Ok(array(parts))
}

fn truncate(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let length = args.first().and_then(crate::render::integer).unwrap_or(50).max(0) as usize;
    let ellipsis = args.get(1).map_or("...".to_string(), text);
    let chars: Vec<char> = text(&input).chars().collect();
    if chars.len() <= length {
        return Ok(input);
    }
    let keep = length.saturating_sub(ellipsis.chars().count());
    Ok(Value::str(chars[..keep].iter().collect::<String>() + &ellipsis))
}

fn truncatewords(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let words = args.first().and_then(crate::render::integer).unwrap_or(15).max(1) as usize;
    let ellipsis = args.get(1).map_or("...".to_string(), text);
    let s = text(&input);
    let list: Vec<&str> = s.split_whitespace().collect();
    if list.len() <= words {
        return Ok(input);
    }
    Ok(Value::str(list[..words].join(" ") + &ellipsis))
}

fn url_encode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    map_text(input, |s| {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    })
}

fn url_decode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let s = text(&input);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high * 16 + low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map(Value::str).map_err(|_| "the decoded text is not UTF-8".into())
}

fn base64_encode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::str(STANDARD.encode(text(&input))))
}

fn base64_url_safe_encode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::str(URL_SAFE.encode(text(&input))))
}

fn decode_with(engine: &impl Engine, input: &Value, filter: &str) -> R {
    // Padding is optional on the way in, as Ruby's decoders accept.
    let bare = text(input).trim_end_matches('=').to_string();
    let padded = format!("{bare}{}", "=".repeat((4 - bare.len() % 4) % 4));
    let bytes = engine.decode(padded).map_err(|_| format!("invalid base64 provided to {filter}"))?;
    String::from_utf8(bytes)
        .map(Value::str)
        .map_err(|_| format!("{filter}: the decoded bytes are not UTF-8 text"))
}

fn base64_decode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    decode_with(&STANDARD, &input, "base64_decode")
}

fn base64_url_safe_decode(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    decode_with(&URL_SAFE, &input, "base64_url_safe_decode")
}

fn json(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::str(to_json(&input).to_string()))
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Nil | Value::Empty | Value::Blank => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
        Value::Str(s) | Value::Safe(s) => s.to_string().into(),
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
        Value::Range(a, b) => (*a..=*b).take(10_000).map(serde_json::Value::from).collect(),
    }
}

// ---------------------------------------------------------------- numbers

/// Arithmetic the reference's way: integers stay integers; a float anywhere makes the operation
/// decimal (the reference computes floats as `BigDecimal`), so `183.357 | modulo: 12` is `3.357`,
/// not the binary `3.3569999999999993`.
fn arithmetic(
    input: &Value,
    operand: &Value,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> R {
    arithmetic_places(input, operand, int, float, |a, b| a.max(b))
}

fn arithmetic_places(
    input: &Value,
    operand: &Value,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
    places: fn(usize, usize) -> usize,
) -> R {
    match (input.to_number(), operand.to_number()) {
        (Value::Int(a), Value::Int(b)) => {
            int(a, b).map(Value::Int).ok_or_else(|| "the result is too large".into())
        }
        (a, b) => {
            let (x, y) = (a.number().unwrap_or(0.0), b.number().unwrap_or(0.0));
            let result = float(x, y);
            Ok(Value::Float(match (decimals(&a), decimals(&b)) {
                (Some(p), Some(q)) if places(p, q) <= 15 && result.is_finite() && result.abs() < 1e15 => {
                    format!("{:.*}", places(p, q), result).parse().unwrap_or(result)
                }
                _ => result,
            }))
        }
    }
}

/// The decimal places a number is written with (`3.25` has 2), when it is written plainly.
fn decimals(v: &Value) -> Option<usize> {
    match v {
        Value::Int(_) => Some(0),
        Value::Float(f) => {
            let text = crate::value::float_text(*f);
            if text.contains('e') {
                return None;
            }
            Some(text.split_once('.').map_or(0, |(_, d)| if d == "0" { 0 } else { d.len() }))
        }
        _ => None,
    }
}

fn plus(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    arithmetic(&input, &arg(args, 0), i64::checked_add, |a, b| a + b)
}

fn minus(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    arithmetic(&input, &arg(args, 0), i64::checked_sub, |a, b| a - b)
}

fn times(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    arithmetic_places(&input, &arg(args, 0), i64::checked_mul, |a, b| a * b, |p, q| p + q)
}

fn divided_by(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let divisor = arg(args, 0).to_number();
    if divisor.number() == Some(0.0) {
        return Err("divided by 0".into());
    }
    arithmetic_places(&input, &divisor, floor_div, |a, b| a / b, |_, _| 16)
}

/// Integer division rounding down, as Ruby's `Integer#/`.
fn floor_div(a: i64, b: i64) -> Option<i64> {
    let q = a.checked_div(b)?;
    Some(if a % b != 0 && ((a < 0) != (b < 0)) { q - 1 } else { q })
}

fn modulo(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let divisor = arg(args, 0).to_number();
    if divisor.number() == Some(0.0) {
        return Err("divided by 0".into());
    }
    // Ruby's `%` takes the divisor's sign.
    arithmetic(
        &input,
        &divisor,
        |a, b| a.checked_rem(b).map(|r| if r != 0 && (r < 0) != (b < 0) { r + b } else { r }),
        |a, b| {
            let r = a % b;
            if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
        },
    )
}

fn abs(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(match input.to_number() {
        Value::Int(i) => Value::Int(i.saturating_abs()),
        Value::Float(f) => Value::Float(f.abs()),
        other => other,
    })
}

fn ceil(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::Int(input.to_number().number().unwrap_or(0.0).ceil() as i64))
}

fn floor(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(Value::Int(input.to_number().number().unwrap_or(0.0).floor() as i64))
}

fn round(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let digits = args.first().and_then(crate::render::integer).unwrap_or(0);
    Ok(match input.to_number() {
        Value::Int(i) => Value::Int(i),
        Value::Float(f) if digits == 0 => Value::Int(f.round() as i64),
        Value::Float(f) if digits < 0 => {
            let factor = 10f64.powi((-digits).min(18) as i32);
            Value::Int(((f / factor).round() * factor) as i64)
        }
        Value::Float(f) => {
            let factor = 10f64.powi(digits.clamp(-15, 15) as i32);
            // Through the decimal text, so 2.675 rounds as it reads, not as it is stored.
            let rounded = format!("{:.*}", digits.clamp(0, 15) as usize, (f * factor).round() / factor);
            Value::Float(rounded.parse().unwrap_or(f))
        }
        other => other,
    })
}

fn at_least(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let (a, b) = (input.to_number(), arg(args, 0).to_number());
    Ok(if a.number() >= b.number() { a } else { b })
}

fn at_most(_: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let (a, b) = (input.to_number(), arg(args, 0).to_number());
    Ok(if a.number() <= b.number() { a } else { b })
}

// ---------------------------------------------------------------- arrays

fn join(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let glue = args.first().map_or(" ".to_string(), text);
    Ok(Value::str(list(c, &input)?.iter().map(text).collect::<Vec<_>>().join(&glue)))
}

fn pair(entry: Option<(&String, &Value)>) -> Value {
    entry.map_or(Value::Nil, |(k, v)| array(vec![Value::str(k.as_str()), v.clone()]))
}

fn first(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(match &input {
        Value::Array(items) => items.first().cloned().unwrap_or(Value::Nil),
        Value::Object(map) => pair(map.iter().next()),
        Value::Range(a, b) if a <= b => Value::Int(*a),
        _ => Value::Nil,
    })
}

fn last(_: &Context, input: Value, _: &[Value], _: Kw) -> R {
    Ok(match &input {
        Value::Array(items) => items.last().cloned().unwrap_or(Value::Nil),
        Value::Range(a, b) if a <= b => Value::Int(*b),
        _ => Value::Nil,
    })
}

fn reverse(c: &Context, input: Value, _: &[Value], _: Kw) -> R {
    let mut items = list(c, &input)?;
    items.reverse();
    Ok(array(items))
}

fn concat(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let other = arg(args, 0);
    if !matches!(other, Value::Array(_) | Value::Range(..)) {
        return Err("concat needs an array argument".into());
    }
    let mut items = list(c, &input)?;
    items.extend(list(c, &other)?);
    Ok(array(items))
}

fn compact(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let items = list(c, &input)?;
    Ok(array(match args.first() {
        Some(key) => items.into_iter().filter(|i| !property(i, key).is_nil()).collect(),
        None => items.into_iter().filter(|i| !i.is_nil()).collect(),
    }))
}

fn map(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let key = arg(args, 0);
    Ok(array(list(c, &input)?.iter().map(|i| property(i, &key)).collect()))
}

fn uniq(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let mut seen: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    for item in list(c, &input)? {
        let key = match args.first() {
            Some(k) => property(&item, k),
            None => item.clone(),
        };
        if !seen.iter().any(|s| s.equals(&key) && std::mem::discriminant(s) == std::mem::discriminant(&key)) {
            seen.push(key);
            out.push(item);
        }
    }
    Ok(array(out))
}

fn sum(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let mut total = Value::Int(0);
    for item in list(c, &input)? {
        let value = match args.first() {
            Some(k) => property(&item, k),
            None => item,
        };
        let value = match value {
            Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Safe(_) => value.to_number(),
            _ => Value::Int(0),
        };
        total = arithmetic(&total, &value, i64::checked_add, |a, b| a + b)?;
    }
    Ok(total)
}

/// Orders two sort keys: numbers, then text, with nil last.
fn order(a: &Value, b: &Value, natural: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nil(), b.is_nil()) {
        (true, true) => return Equal,
        (true, false) => return Greater,
        (false, true) => return Less,
        _ => {}
    }
    if natural {
        if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
            return x.to_lowercase().cmp(&y.to_lowercase());
        }
    }
    a.compare(b).unwrap_or_else(|| text(a).cmp(&text(b)))
}

fn sort_by(c: &Context, input: Value, args: &[Value], natural: bool) -> R {
    let mut items = list(c, &input)?;
    match args.first().filter(|k| !k.is_nil()) {
        Some(key) => items.sort_by(|a, b| order(&property(a, key), &property(b, key), natural)),
        None => items.sort_by(|a, b| order(a, b, natural)),
    }
    Ok(array(items))
}

fn sort(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    sort_by(c, input, args, false)
}

fn sort_natural(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    sort_by(c, input, args, true)
}

/// Whether an item matches `where`/`reject`/`find`: its property equals the target, or is
/// truthy when no target is given.
fn matches(item: &Value, args: &[Value]) -> bool {
    let value = property(item, &arg(args, 0));
    match args.get(1) {
        Some(target) if !target.is_nil() => value.equals(target),
        _ => value.truthy(),
    }
}

fn where_(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(array(list(c, &input)?.into_iter().filter(|i| matches(i, args)).collect()))
}

fn reject(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(array(list(c, &input)?.into_iter().filter(|i| !matches(i, args)).collect()))
}

fn find(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(list(c, &input)?.into_iter().find(|i| matches(i, args)).unwrap_or(Value::Nil))
}

fn find_index(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(list(c, &input)?.iter().position(|i| matches(i, args)).map_or(Value::Nil, |i| Value::Int(i as i64)))
}

fn has(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    Ok(Value::Bool(list(c, &input)?.iter().any(|i| matches(i, args))))
}

// ---------------------------------------------------------------- other

fn default(_: &Context, input: Value, args: &[Value], keywords: Kw) -> R {
    let allow_false = keywords.iter().any(|(k, v)| k == "allow_false" && v.truthy());
    let missing = match &input {
        Value::Bool(false) => !allow_false,
        Value::Nil => true,
        other => other.is_empty(),
    };
    Ok(if missing { arg(args, 0) } else { input })
}

fn date(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let format = args.first().map(text).unwrap_or_default();
    if format.is_empty() {
        return Ok(input);
    }
    Ok(match crate::date::parse(c, &input) {
        Some(time) => Value::str(crate::date::format(&time, &format, "en")),
        None => input,
    })
}

/// `{{ when | local_date: "long" }}`: a date in the reader's locale (`short`, `medium`, `long`,
/// `full`, or a strftime format whose names are translated), optionally for another locale.
fn local_date(c: &Context, input: Value, args: &[Value], _: Kw) -> R {
    let style = args.first().map_or("medium".to_string(), text);
    let locale = args.get(1).map(text).unwrap_or_else(|| c.locale.clone());
    Ok(match crate::date::parse(c, &input) {
        Some(time) => Value::str(crate::date::format_local(&time, &style, &locale)),
        None => input,
    })
}
