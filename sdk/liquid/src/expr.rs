//! Expressions inside tags and outputs: literals, variables with their paths, ranges, filter
//! chains and conditions, parsed from a tag's markup.
//!
//! Depends on `value`, `filters` (to refuse unknown filters when parsing) and `error`.

use crate::error::Error;
use crate::filters::{self, FilterFn};
use crate::value::{Value, parse_number};

/// A lexical piece of markup.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lex {
    Ident(String),
    Str(String),
    Num(Value),
    Dot,
    DotDot,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Pipe,
    Colon,
    Comma,
    Op(CmpOp),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Contains,
}

/// Splits markup into lexical pieces.
pub(crate) fn lex(markup: &str, line: usize) -> Result<Vec<Lex>, Error> {
    let mut out = Vec::new();
    let chars: Vec<char> = markup.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' | '"' => {
                let end = chars[i + 1..].iter().position(|&d| d == c).ok_or_else(|| {
                    Error::syntax(format!("the string in `{markup}` is not closed with {c}"), line)
                })?;
                out.push(Lex::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '.' if chars.get(i + 1) == Some(&'.') => {
                out.push(Lex::DotDot);
                i += 2;
            }
            '.' => {
                out.push(Lex::Dot);
                i += 1;
            }
            '(' => {
                out.push(Lex::Open);
                i += 1;
            }
            ')' => {
                out.push(Lex::Close);
                i += 1;
            }
            '[' => {
                out.push(Lex::OpenBracket);
                i += 1;
            }
            ']' => {
                out.push(Lex::CloseBracket);
                i += 1;
            }
            '|' => {
                out.push(Lex::Pipe);
                i += 1;
            }
            ':' => {
                out.push(Lex::Colon);
                i += 1;
            }
            ',' => {
                out.push(Lex::Comma);
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let (op, len) = match two.as_str() {
                    "==" => (CmpOp::Eq, 2),
                    "!=" | "<>" => (CmpOp::Ne, 2),
                    "<=" => (CmpOp::Le, 2),
                    ">=" => (CmpOp::Ge, 2),
                    _ if c == '<' => (CmpOp::Lt, 1),
                    _ if c == '>' => (CmpOp::Gt, 1),
                    _ => {
                        return Err(Error::syntax(format!("unexpected `{c}` in `{markup}`"), line));
                    }
                };
                out.push(Lex::Op(op));
                i += len;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || (chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let number = parse_number(&text)
                    .ok_or_else(|| Error::syntax(format!("`{text}` is not a number"), line))?;
                out.push(Lex::Num(number));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-') {
                    i += 1;
                }
                if chars.get(i) == Some(&'?') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(if word == "contains" { Lex::Op(CmpOp::Contains) } else { Lex::Ident(word) });
            }
            other => {
                return Err(Error::syntax(format!("unexpected `{other}` in `{markup}`"), line));
            }
        }
    }
    Ok(out)
}

/// One step of a variable's path.
#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Key(String),
    Index(Expr),
}

/// A value-producing expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Literal(Value),
    Variable { root: String, path: Vec<Segment> },
    Range(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The dotted name of a variable (`profile.first_name`, `items[0]`), for reports and errors.
    pub(crate) fn name(&self) -> Option<String> {
        let Expr::Variable { root, path } = self else { return None };
        let mut name = root.clone();
        for segment in path {
            match segment {
                Segment::Key(k) => {
                    name.push('.');
                    name.push_str(k);
                }
                Segment::Index(Expr::Literal(v)) => name.push_str(&format!("[{}]", v.render())),
                Segment::Index(e) => name.push_str(&format!("[{}]", e.name().unwrap_or_default())),
            }
        }
        Some(name)
    }
}

/// A filter applied in a chain.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub name: String,
    pub run: FilterFn,
    pub args: Vec<Expr>,
    pub keywords: Vec<(String, Expr)>,
}

/// An expression and its filters: `{{ a | upcase | append: "!" }}`.
#[derive(Debug, Clone)]
pub(crate) struct Filtered {
    pub expr: Expr,
    pub filters: Vec<Filter>,
}

/// A condition of `if`, `unless` and `elsif`.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    Test(Expr, Option<(CmpOp, Expr)>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

/// A cursor over lexical pieces.
pub(crate) struct Cursor<'m> {
    pieces: Vec<Lex>,
    pos: usize,
    markup: &'m str,
    line: usize,
}

impl<'m> Cursor<'m> {
    pub(crate) fn new(markup: &'m str, line: usize) -> Result<Cursor<'m>, Error> {
        Ok(Cursor { pieces: lex(markup, line)?, pos: 0, markup, line })
    }

    pub(crate) fn peek(&self) -> Option<&Lex> {
        self.pieces.get(self.pos)
    }

    pub(crate) fn peek_at(&self, ahead: usize) -> Option<&Lex> {
        self.pieces.get(self.pos + ahead)
    }

    pub(crate) fn next(&mut self) -> Option<Lex> {
        let piece = self.pieces.get(self.pos).cloned();
        self.pos += 1;
        piece
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.pieces.len()
    }

    pub(crate) fn error(&self, what: &str) -> Error {
        Error::syntax(format!("{what} in `{}`", self.markup), self.line)
    }

    pub(crate) fn expect(&mut self, piece: Lex, what: &str) -> Result<(), Error> {
        if self.next() == Some(piece) { Ok(()) } else { Err(self.error(&format!("expected {what}"))) }
    }

    pub(crate) fn eat(&mut self, piece: &Lex) -> bool {
        if self.peek() == Some(piece) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Lex::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn ident(&mut self, what: &str) -> Result<String, Error> {
        match self.next() {
            Some(Lex::Ident(name)) => Ok(name),
            _ => Err(self.error(&format!("expected {what}"))),
        }
    }

    pub(crate) fn finish(&self) -> Result<(), Error> {
        if self.at_end() { Ok(()) } else { Err(self.error("unexpected text at the end")) }
    }

    /// A literal, a variable or a range.
    pub(crate) fn expr(&mut self) -> Result<Expr, Error> {
        match self.next() {
            Some(Lex::Str(s)) => Ok(Expr::Literal(Value::str(s))),
            Some(Lex::Num(n)) => Ok(Expr::Literal(n)),
            Some(Lex::Open) => {
                let from = self.expr()?;
                self.expect(Lex::DotDot, "`..` in a range")?;
                let to = self.expr()?;
                self.expect(Lex::Close, "`)` closing the range")?;
                Ok(Expr::Range(Box::new(from), Box::new(to)))
            }
            Some(Lex::Ident(word)) => {
                let path = self.path()?;
                if path.is_empty() {
                    match word.as_str() {
                        "true" => return Ok(Expr::Literal(Value::Bool(true))),
                        "false" => return Ok(Expr::Literal(Value::Bool(false))),
                        "nil" | "null" => return Ok(Expr::Literal(Value::Nil)),
                        "empty" => return Ok(Expr::Literal(Value::Empty)),
                        "blank" => return Ok(Expr::Literal(Value::Blank)),
                        _ => {}
                    }
                }
                Ok(Expr::Variable { root: word, path })
            }
            Some(Lex::OpenBracket) => {
                // `["key with spaces"]` at the root.
                let key = self.expr()?;
                self.expect(Lex::CloseBracket, "`]`")?;
                let root = match &key {
                    Expr::Literal(v) => v.render(),
                    _ => return Err(self.error("a root `[...]` must be a literal")),
                };
                Ok(Expr::Variable { root, path: self.path()? })
            }
            _ => Err(self.error("expected a value")),
        }
    }

    fn path(&mut self) -> Result<Vec<Segment>, Error> {
        let mut path = Vec::new();
        loop {
            if self.eat(&Lex::Dot) {
                path.push(Segment::Key(self.ident("a name after `.`")?));
            } else if self.eat(&Lex::OpenBracket) {
                let index = self.expr()?;
                self.expect(Lex::CloseBracket, "`]`")?;
                path.push(Segment::Index(index));
            } else {
                return Ok(path);
            }
        }
    }

    /// An expression followed by `| filter: args` pieces.
    pub(crate) fn filtered(&mut self) -> Result<Filtered, Error> {
        let expr = self.expr()?;
        let filters = self.filters()?;
        Ok(Filtered { expr, filters })
    }

    pub(crate) fn filters(&mut self) -> Result<Vec<Filter>, Error> {
        let mut filters = Vec::new();
        while self.eat(&Lex::Pipe) {
            let name = self.ident("a filter name after `|`")?;
            let Some((run, min, max)) = filters::lookup(&name) else {
                return Err(self.error(&format!("unknown filter `{name}`")));
            };
            let mut args = Vec::new();
            let mut keywords = Vec::new();
            if self.eat(&Lex::Colon) {
                loop {
                    if let (Some(Lex::Ident(key)), Some(Lex::Colon)) = (self.peek(), self.peek_at(1)) {
                        let key = key.clone();
                        self.pos += 2;
                        keywords.push((key, self.expr()?));
                    } else {
                        args.push(self.expr()?);
                    }
                    if !self.eat(&Lex::Comma) {
                        break;
                    }
                }
            }
            if args.len() < min || args.len() > max {
                let wanted = if min == max { format!("{min}") } else { format!("{min} to {max}") };
                return Err(self
                    .error(&format!("the filter `{name}` takes {wanted} argument(s), not {}", args.len())));
            }
            filters.push(Filter { name, run, args, keywords });
        }
        Ok(filters)
    }

    /// `a == b and c or d`: `and` and `or` group from the right, as the reference does.
    pub(crate) fn condition(&mut self) -> Result<Condition, Error> {
        let left = self.expr()?;
        let test = match self.peek() {
            Some(Lex::Op(op)) => {
                let op = *op;
                self.pos += 1;
                Condition::Test(left, Some((op, self.expr()?)))
            }
            _ => Condition::Test(left, None),
        };
        if self.eat_word("and") {
            Ok(Condition::And(Box::new(test), Box::new(self.condition()?)))
        } else if self.eat_word("or") {
            Ok(Condition::Or(Box::new(test), Box::new(self.condition()?)))
        } else {
            Ok(test)
        }
    }
}
