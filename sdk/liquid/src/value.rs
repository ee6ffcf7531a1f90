//! Liquid's values: what variables hold and filters take and return, with Liquid's (Ruby's)
//! truthiness, equality, ordering and printing.
//!
//! Depends on nothing else in the crate.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A Liquid value. Arrays and objects are shared (`Rc`): a loop or an assign copies a pointer.
#[derive(Debug, Clone, Default)]
pub(crate) enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// Text already safe to insert into HTML: the output of `escape`, `raw` or `capture`.
    Safe(Rc<str>),
    Array(Rc<Vec<Value>>),
    Object(Rc<BTreeMap<String, Value>>),
    /// `(first..last)`, both ends included; iterated without being built.
    Range(i64, i64),
    /// The literal `empty`.
    Empty,
    /// The literal `blank`.
    Blank,
}

impl Value {
    /// Converts JSON (the globals) into a value.
    pub(crate) fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::Str(s.as_str().into()),
            serde_json::Value::Array(items) => {
                Value::Array(Rc::new(items.iter().map(Value::from_json).collect()))
            }
            serde_json::Value::Object(map) => {
                Value::Object(Rc::new(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()))
            }
        }
    }

    pub(crate) fn str(text: impl Into<Rc<str>>) -> Value {
        Value::Str(text.into())
    }

    /// Only `nil` and `false` are falsy in Liquid; an empty string is truthy.
    pub(crate) fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Safe(s) => Some(s),
            _ => None,
        }
    }

    /// What `{{ value }}` prints: nil prints nothing, arrays their items joined, objects nothing
    /// useful (Ruby prints the hash; templates never want that, so an empty string).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    pub(crate) fn render_into(&self, out: &mut String) {
        match self {
            Value::Nil | Value::Empty | Value::Blank => {}
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&float_text(*f)),
            Value::Str(s) | Value::Safe(s) => out.push_str(s),
            Value::Array(items) => items.iter().for_each(|v| v.render_into(out)),
            Value::Object(map) => {
                // Ruby's Hash#to_s, as the reference prints it.
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&format!("{k:?}=>"));
                    v.inspect_into(out);
                }
                out.push('}');
            }
            Value::Range(a, b) => out.push_str(&format!("{a}..{b}")),
        }
    }

    fn inspect_into(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("nil"),
            Value::Str(s) | Value::Safe(s) => out.push_str(&format!("{:?}", &**s)),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.inspect_into(out);
                }
                out.push(']');
            }
            other => other.render_into(out),
        }
    }

    /// The items of an array or range; other values are one item (nil none), as filters that
    /// take arrays treat them.
    pub(crate) fn items(&self, limit: usize) -> Result<Vec<Value>, String> {
        Ok(match self {
            Value::Array(items) => items.as_ref().clone(),
            Value::Range(a, b) => {
                let len = range_len(*a, *b);
                if len > limit as u64 {
                    return Err(format!("the range {a}..{b} has more than {limit} items"));
                }
                (*a..=*b).map(Value::Int).collect()
            }
            Value::Nil => Vec::new(),
            Value::Object(map) => vec![Value::Object(map.clone())],
            other => vec![other.clone()],
        })
    }

    /// `size`: characters of a string, items of an array, keys of an object.
    pub(crate) fn size(&self) -> Option<i64> {
        match self {
            Value::Str(s) | Value::Safe(s) => Some(s.chars().count() as i64),
            Value::Array(items) => Some(items.len() as i64),
            Value::Object(map) => Some(map.len() as i64),
            Value::Range(a, b) => Some(range_len(*a, *b) as i64),
            _ => None,
        }
    }

    /// `value.key`, `value[index]`, and the properties `size`, `first` and `last`.
    pub(crate) fn get(&self, key: &Value) -> Option<Value> {
        match (self, key) {
            (Value::Object(map), k) => {
                let name = k.render();
                if let Some(v) = map.get(&name) {
                    return Some(v.clone());
                }
                (name == "size").then(|| Value::Int(map.len() as i64))
            }
            (Value::Array(items), Value::Int(i)) => {
                let i = if *i < 0 { items.len() as i64 + i } else { *i };
                usize::try_from(i).ok().and_then(|i| items.get(i)).cloned()
            }
            (Value::Array(items), Value::Str(k)) => match &**k {
                "size" => Some(Value::Int(items.len() as i64)),
                "first" => items.first().cloned(),
                "last" => items.last().cloned(),
                _ => None,
            },
            (Value::Range(a, b), Value::Str(k)) => match &**k {
                "size" => Some(Value::Int(range_len(*a, *b) as i64)),
                "first" => Some(Value::Int(*a)),
                "last" => Some(Value::Int(*b)),
                _ => None,
            },
            (Value::Str(s) | Value::Safe(s), Value::Str(k)) => match &**k {
                "size" => Some(Value::Int(s.chars().count() as i64)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the value is `empty`: an empty string, array or object.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Value::Str(s) | Value::Safe(s) => s.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            Value::Range(a, b) => range_len(*a, *b) == 0,
            _ => false,
        }
    }

    /// Whether the value is `blank`: nil, false, empty, or text of whitespace alone.
    pub(crate) fn is_blank(&self) -> bool {
        match self {
            Value::Nil | Value::Bool(false) => true,
            Value::Str(s) | Value::Safe(s) => s.trim().is_empty(),
            other => other.is_empty(),
        }
    }

    /// Liquid's `==`.
    pub(crate) fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            // Two special literals compare as nothing (the reference answers nil, so false).
            (Value::Empty | Value::Blank, Value::Empty | Value::Blank) => false,
            (Value::Empty, v) | (v, Value::Empty) => v.is_empty(),
            (Value::Blank, v) | (v, Value::Blank) => v.is_blank(),
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                self.number() == other.number()
            }
            (Value::Str(a) | Value::Safe(a), Value::Str(b) | Value::Safe(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.equals(vb))
            }
            (Value::Range(a1, b1), Value::Range(a2, b2)) => a1 == a2 && b1 == b2,
            _ => false,
        }
    }

    /// Liquid's `<`, `>`, ...: numbers with numbers, text with text; anything else has no
    /// order (the reference raises "comparison of X with Y failed").
    pub(crate) fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                self.number()?.partial_cmp(&other.number()?)
            }
            (Value::Str(a) | Value::Safe(a), Value::Str(b) | Value::Safe(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// `contains`: a substring of text, an item of an array, a key of an object.
    pub(crate) fn contains(&self, needle: &Value) -> bool {
        if !needle.truthy() {
            return false;
        }
        match self {
            Value::Str(s) | Value::Safe(s) => match needle {
                Value::Nil => false,
                n => s.contains(n.render().as_str()),
            },
            Value::Array(items) => items.iter().any(|v| v.equals(needle)),
            Value::Object(map) => map.contains_key(&needle.render()),
            Value::Range(a, b) => matches!(needle, Value::Int(i) if a <= i && i <= b),
            _ => false,
        }
    }

    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A value as a number the way arithmetic filters read it: numbers as they are, numeric
    /// text parsed, anything else 0.
    pub(crate) fn to_number(&self) -> Value {
        match self {
            Value::Int(_) | Value::Float(_) => self.clone(),
            Value::Str(s) | Value::Safe(s) => parse_number(s.trim()).unwrap_or(Value::Int(0)),
            _ => Value::Int(0),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.equals(other)
    }
}

/// Parses Liquid number text: an integer, or a decimal with a point.
pub(crate) fn parse_number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Int(i));
    }
    let numeric = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if numeric { text.parse::<f64>().ok().map(Value::Float) } else { None }
}

fn range_len(a: i64, b: i64) -> u64 {
    if b < a { 0 } else { (b as i128 - a as i128 + 1) as u64 }
}

/// Ruby's `Float#to_s`: always a point (`3.0`), exponent form past 1e16.
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if f.abs() >= 1e16 || (f != 0.0 && f.abs() < 1e-4) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let text = f.to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_ruby_prints_them() {
        assert_eq!(float_text(3.0), "3.0");
        assert_eq!(float_text(42.5), "42.5");
        assert_eq!(float_text(-0.5), "-0.5");
        assert_eq!(float_text(1e20), "1.0e+20");
        assert_eq!(float_text(0.00001), "1.0e-05");
    }

    #[test]
    fn only_nil_and_false_are_falsy() {
        assert!(Value::str("").truthy());
        assert!(Value::Int(0).truthy());
        assert!(!Value::Nil.truthy());
        assert!(!Value::Bool(false).truthy());
    }

    #[test]
    fn blank_and_empty_compare_as_the_reference_does() {
        assert!(!Value::Blank.equals(&Value::Empty));
        assert!(Value::str("").equals(&Value::Empty));
        assert!(Value::str("  ").equals(&Value::Blank));
        assert!(!Value::str("  ").equals(&Value::Empty));
        assert!(Value::Nil.equals(&Value::Blank));
        assert!(!Value::Nil.equals(&Value::Empty));
    }
}
