//! Turns tokens into the tree a template renders from: every standard tag of Shopify's Liquid,
//! with its blocks matched and its markup parsed once.
//!
//! Depends on `lexer`, `expr`, `value` and `error`.

use crate::error::{Error, ErrorKind};
use crate::expr::{Condition, Cursor, Expr, Filtered, Lex};
use crate::lexer::{Token, split_tag};
use crate::value::Value;

/// Blocks nested deeper than this are refused: a template is not a stack-overflow vector.
pub(crate) const MAX_NESTING: usize = 100;

/// A node of a parsed template.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Output(Filtered, usize),
    Assign(String, Filtered, usize),
    Capture(String, Vec<Node>),
    /// `increment` (+1, prints before) and `decrement` (-1, prints after).
    Counter(String, i64),
    If {
        branches: Vec<(Condition, Vec<Node>)>,
        otherwise: Vec<Node>,
        negate_first: bool,
        line: usize,
    },
    Case {
        subject: Expr,
        arms: Vec<CaseArm>,
        line: usize,
    },
    For(Box<Loop>),
    Tablerow(Box<Loop>),
    Break,
    Continue,
    Cycle {
        group: Option<Expr>,
        values: Vec<Expr>,
        key: String,
        line: usize,
    },
    Include(Box<Include>),
    IfChanged(Vec<Node>),
    /// The tags of one `{% liquid %}` tag.
    Group(Vec<Node>),
}

/// A `when` (values) or `else` (none) of a `case`.
#[derive(Debug, Clone)]
pub(crate) struct CaseArm {
    pub values: Option<Vec<Expr>>,
    pub body: Vec<Node>,
}

/// Where a loop starts.
#[derive(Debug, Clone)]
pub(crate) enum Offset {
    At(Expr),
    /// `offset: continue`: where the last loop over the same collection stopped.
    Continue,
}

/// A `for` or `tablerow` loop.
#[derive(Debug, Clone)]
pub(crate) struct Loop {
    pub variable: String,
    pub collection: Expr,
    /// The collection's markup, which names the loop for `offset: continue`.
    pub name: String,
    pub reversed: bool,
    pub limit: Option<Expr>,
    pub offset: Option<Offset>,
    pub cols: Option<Expr>,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
    pub line: usize,
}

/// A `render` (isolated) or `include` (shares the caller's variables).
#[derive(Debug, Clone)]
pub(crate) struct Include {
    pub template: Expr,
    pub isolated: bool,
    /// `with value` or `for values`, and the name it takes (`as alias`).
    pub with: Option<(Expr, bool, Option<String>)>,
    pub args: Vec<(String, Expr)>,
    pub line: usize,
}

#[derive(Debug)]
struct End<'s> {
    name: &'s str,
    markup: &'s str,
    line: usize,
}

struct Parser<'s> {
    tokens: Vec<Token<'s>>,
    pos: usize,
    depth: usize,
}

/// Parses a whole template.
pub(crate) fn parse(tokens: Vec<Token<'_>>) -> Result<Vec<Node>, Error> {
    Parser { tokens, pos: 0, depth: 0 }.body(&[], None).map(|(nodes, _)| nodes)
}

impl<'s> Parser<'s> {
    /// Nodes up to one of the `ends` tags (none: up to the end of the template).
    fn body(
        &mut self,
        ends: &[&str],
        opened: Option<(&str, usize)>,
    ) -> Result<(Vec<Node>, Option<End<'s>>), Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let line = opened.map(|(_, l)| l);
            return Err(Error::new(
                ErrorKind::Limit,
                format!("blocks are nested more than {MAX_NESTING} deep"),
                line,
            ));
        }
        let mut nodes = Vec::new();
        while let Some(token) = self.tokens.get(self.pos).cloned() {
            self.pos += 1;
            match token {
                Token::Text(text) => nodes.push(Node::Text(text.to_string())),
                Token::Output { markup, line } => nodes.push(Node::Output(output(markup, line)?, line)),
                Token::Tag { name, markup, line } => {
                    if ends.contains(&name) {
                        self.depth -= 1;
                        return Ok((nodes, Some(End { name, markup, line })));
                    }
                    if let Some(node) = self.tag(name, markup, line)? {
                        nodes.push(node);
                    }
                }
            }
        }
        if let Some((tag, line)) = opened {
            let end = ends.last().copied().unwrap_or("end");
            return Err(Error::syntax(format!("`{{% {tag} %}}` is not closed with `{{% {end} %}}`"), line));
        }
        self.depth -= 1;
        Ok((nodes, None))
    }

    fn block(&mut self, tag: &str, ends: &[&str], line: usize) -> Result<(Vec<Node>, End<'s>), Error> {
        let (nodes, end) = self.body(ends, Some((tag, line)))?;
        let end = end.ok_or_else(|| Error::syntax(format!("`{{% {tag} %}}` is not closed"), line))?;
        Ok((nodes, end))
    }

    fn tag(&mut self, name: &str, markup: &'s str, line: usize) -> Result<Option<Node>, Error> {
        if markup.is_empty() {
            let needs = match name {
                "if" | "unless" | "elsif" => Some("a condition"),
                "case" | "when" => Some("a value"),
                "for" | "tablerow" => Some("`item in collection`"),
                "assign" => Some("`name = value`"),
                "capture" | "increment" | "decrement" => Some("a variable name"),
                "cycle" => Some("the values to cycle through"),
                "render" | "include" => Some("the snippet's name"),
                _ => None,
            };
            if let Some(needs) = needs {
                return Err(Error::syntax(format!("`{{% {name} %}}` needs {needs}"), line));
            }
        }
        let node = match name {
            "#" => {
                if markup.lines().skip(1).any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
                    return Err(Error::syntax("every line of an inline comment must start with `#`", line));
                }
                return Ok(None);
            }
            "comment" | "doc" => {
                self.skip_comment(name, line)?;
                return Ok(None);
            }
            "echo" => Node::Output(output(markup, line)?, line),
            "assign" => {
                let (target, value) = markup.split_once('=').ok_or_else(|| {
                    Error::syntax(format!("`assign` needs `name = value`, not `{markup}`"), line)
                })?;
                let target = variable_name(target.trim(), "assign", line)?;
                Node::Assign(target, output(value.trim(), line)?, line)
            }
            "capture" => {
                let target = variable_name(markup.trim_matches(|c| c == '"' || c == '\''), "capture", line)?;
                let (body, _) = self.block("capture", &["endcapture"], line)?;
                Node::Capture(target, body)
            }
            "increment" | "decrement" => {
                let target = variable_name(markup, name, line)?;
                Node::Counter(target, if name == "increment" { 1 } else { -1 })
            }
            "if" | "unless" => self.conditional(name, markup, line)?,
            "case" => self.case(markup, line)?,
            "for" | "tablerow" => self.looping(name, markup, line)?,
            "break" => Node::Break,
            "continue" => Node::Continue,
            "cycle" => cycle(markup, line)?,
            "render" | "include" => Node::Include(Box::new(include(name, markup, line)?)),
            "ifchanged" => Node::IfChanged(self.block("ifchanged", &["endifchanged"], line)?.0),
            "liquid" => {
                let tokens = liquid_lines(markup, line);
                let nodes = Parser { tokens, pos: 0, depth: self.depth }.body(&[], None)?.0;
                Node::Group(nodes)
            }
            "raw" | "endraw" => {
                return Err(Error::syntax(
                    format!("`{name}` cannot stand here (inside `liquid`, or with no `raw` to close)"),
                    line,
                ));
            }
            other if other.starts_with("end") || matches!(other, "else" | "elsif" | "when") => {
                return Err(Error::syntax(format!("`{{% {other} %}}` has no block to belong to"), line));
            }
            other => return Err(Error::syntax(format!("unknown tag `{other}`"), line)),
        };
        Ok(Some(node))
    }

    /// Skips a comment's body, nested comments included; tags inside need not parse.
    fn skip_comment(&mut self, tag: &str, line: usize) -> Result<(), Error> {
        let end = format!("end{tag}");
        let mut depth = 1;
        while let Some(token) = self.tokens.get(self.pos) {
            self.pos += 1;
            if let Token::Tag { name, .. } = token {
                if *name == tag {
                    depth += 1;
                } else if *name == end {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
            }
        }
        Err(Error::syntax(format!("`{{% {tag} %}}` is not closed with `{{% {end} %}}`"), line))
    }

    fn conditional(&mut self, tag: &str, markup: &str, line: usize) -> Result<Node, Error> {
        let end = if tag == "if" { "endif" } else { "endunless" };
        let mut branches = Vec::new();
        let mut condition = condition(markup, line)?;
        loop {
            let (body, found) = self.block(tag, &["elsif", "else", end], line)?;
            branches.push((condition, body));
            match found.name {
                "elsif" => condition = self::condition(found.markup, found.line)?,
                "else" => {
                    let (otherwise, _) = self.block(tag, &[end], line)?;
                    return Ok(quiet(Node::If { branches, otherwise, negate_first: tag == "unless", line }));
                }
                _ => {
                    let node =
                        Node::If { branches, otherwise: Vec::new(), negate_first: tag == "unless", line };
                    return Ok(quiet(node));
                }
            }
        }
    }

    fn case(&mut self, markup: &str, line: usize) -> Result<Node, Error> {
        let mut cursor = Cursor::new(markup, line)?;
        let subject = cursor.expr()?;
        cursor.finish()?;
        // Whatever stands before the first `when` is not rendered.
        let (_, mut found) = self.block("case", &["when", "else", "endcase"], line)?;
        let mut arms = Vec::new();
        loop {
            let values = match found.name {
                "when" => Some(when_values(found.markup, found.line)?),
                "else" => None,
                _ => return Ok(quiet(Node::Case { subject, arms, line })),
            };
            let (body, next) = self.block("case", &["when", "else", "endcase"], line)?;
            arms.push(CaseArm { values, body });
            found = next;
        }
    }

    fn looping(&mut self, tag: &str, markup: &str, line: usize) -> Result<Node, Error> {
        let mut cursor = Cursor::new(markup, line)?;
        let variable = cursor.ident("a loop variable")?;
        if !cursor.eat_word("in") {
            return Err(cursor.error(&format!("`{tag}` needs `variable in collection`")));
        }
        let collection = cursor.expr()?;
        let name = markup.split_whitespace().nth(2).unwrap_or_default().to_string();
        let mut lp = Loop {
            variable,
            collection,
            name,
            reversed: false,
            limit: None,
            offset: None,
            cols: None,
            body: Vec::new(),
            otherwise: Vec::new(),
            line,
        };
        lp.reversed = cursor.eat_word("reversed");
        while !cursor.at_end() {
            cursor.eat(&Lex::Comma);
            let key = cursor.ident("`limit:`, `offset:` or `reversed`")?;
            if key == "reversed" {
                lp.reversed = true;
                continue;
            }
            cursor.expect(Lex::Colon, &format!("`:` after `{key}`"))?;
            match key.as_str() {
                "limit" => lp.limit = Some(cursor.expr()?),
                "offset" if cursor.eat_word("continue") => lp.offset = Some(Offset::Continue),
                "offset" => lp.offset = Some(Offset::At(cursor.expr()?)),
                "cols" if tag == "tablerow" => lp.cols = Some(cursor.expr()?),
                other => return Err(cursor.error(&format!("`{tag}` has no parameter `{other}`"))),
            }
        }
        let end = if tag == "for" { "endfor" } else { "endtablerow" };
        let ends: &[&str] = if tag == "for" { &["else", end] } else { &[end] };
        let (body, found) = self.block(tag, ends, line)?;
        lp.body = body;
        if found.name == "else" {
            lp.otherwise = self.block(tag, &[end], line)?.0;
        }
        Ok(if tag == "for" { quiet(Node::For(Box::new(lp))) } else { Node::Tablerow(Box::new(lp)) })
    }
}

fn output(markup: &str, line: usize) -> Result<Filtered, Error> {
    let mut cursor = Cursor::new(markup, line)?;
    if cursor.at_end() {
        // `{{ }}` prints nothing.
        return Ok(Filtered { expr: Expr::Literal(Value::Nil), filters: Vec::new() });
    }
    let filtered = cursor.filtered()?;
    cursor.finish()?;
    Ok(filtered)
}

fn condition(markup: &str, line: usize) -> Result<Condition, Error> {
    let mut cursor = Cursor::new(markup, line)?;
    let condition = cursor.condition()?;
    cursor.finish()?;
    Ok(condition)
}

fn variable_name(text: &str, tag: &str, line: usize) -> Result<String, Error> {
    let ok = !text.is_empty()
        && text.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !text.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(text.to_string())
    } else {
        Err(Error::syntax(format!("`{tag}` needs a variable name, not `{text}`"), line))
    }
}

/// `when a, b` and `when a or b`.
fn when_values(markup: &str, line: usize) -> Result<Vec<Expr>, Error> {
    let mut cursor = Cursor::new(markup, line)?;
    let mut values = vec![cursor.expr()?];
    while cursor.eat(&Lex::Comma) || cursor.eat_word("or") {
        values.push(cursor.expr()?);
    }
    cursor.finish()?;
    Ok(values)
}

fn cycle(markup: &str, line: usize) -> Result<Node, Error> {
    let mut cursor = Cursor::new(markup, line)?;
    let mut group = None;
    if matches!(cursor.peek_at(1), Some(Lex::Colon)) {
        group = Some(cursor.expr()?);
        cursor.next();
    }
    let mut values = vec![cursor.expr()?];
    while cursor.eat(&Lex::Comma) {
        values.push(cursor.expr()?);
    }
    cursor.finish()?;
    let key = match &group {
        Some(_) => String::new(),
        None => markup.split(',').map(str::trim).collect::<Vec<_>>().join(","),
    };
    Ok(Node::Cycle { group, values, key, line })
}

fn include(tag: &str, markup: &str, line: usize) -> Result<Include, Error> {
    let mut cursor = Cursor::new(markup, line)?;
    let template = cursor.expr()?;
    if tag == "render" && !matches!(template, Expr::Literal(Value::Str(_))) {
        return Err(cursor.error("`render` needs the snippet's name as a quoted string"));
    }
    let mut include = Include { template, isolated: tag == "render", with: None, args: Vec::new(), line };
    while !cursor.at_end() {
        if cursor.eat(&Lex::Comma) {
            continue;
        }
        let word = cursor.ident("`with`, `for` or `name: value`")?;
        if (word == "with" || word == "for")
            && include.with.is_none()
            && !matches!(cursor.peek(), Some(Lex::Colon))
        {
            let value = cursor.expr()?;
            let alias = if cursor.eat_word("as") { Some(cursor.ident("a name after `as`")?) } else { None };
            include.with = Some((value, word == "for", alias));
        } else {
            cursor.expect(Lex::Colon, &format!("`:` after `{word}`"))?;
            include.args.push((word, cursor.expr()?));
        }
    }
    Ok(include)
}

/// The lines of a `{% liquid %}` tag as tag tokens: `echo` prints, `#` comments.
fn liquid_lines(markup: &str, line: usize) -> Vec<Token<'_>> {
    markup
        .lines()
        .enumerate()
        .filter_map(|(i, text)| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let (name, rest) = split_tag(text);
            Some(Token::Tag { name, markup: rest, line: line + i })
        })
        .collect()
}

/// As the reference does: a block tag whose every body is whitespace and tags that print nothing
/// (`assign`, `capture`, comments, blocks like it) prints nothing, not even its whitespace.
fn quiet(mut node: Node) -> Node {
    if blank(std::slice::from_ref(&node)) {
        let strip = |body: &mut Vec<Node>| body.retain(|n| !matches!(n, Node::Text(_)));
        match &mut node {
            Node::If { branches, otherwise, .. } => {
                branches.iter_mut().for_each(|(_, body)| strip(body));
                strip(otherwise);
            }
            Node::Case { arms, .. } => arms.iter_mut().for_each(|arm| strip(&mut arm.body)),
            Node::For(lp) => {
                strip(&mut lp.body);
                strip(&mut lp.otherwise);
            }
            _ => {}
        }
    }
    node
}

/// Whether nodes print nothing but whitespace.
fn blank(nodes: &[Node]) -> bool {
    nodes.iter().all(|node| match node {
        Node::Text(text) => text.trim().is_empty(),
        Node::Assign(..) | Node::Capture(..) | Node::Break | Node::Continue => true,
        Node::If { branches, otherwise, .. } => branches.iter().all(|(_, b)| blank(b)) && blank(otherwise),
        Node::Case { arms, .. } => arms.iter().all(|a| blank(&a.body)),
        Node::For(lp) => blank(&lp.body) && blank(&lp.otherwise),
        Node::Group(nodes) | Node::IfChanged(nodes) => blank(nodes),
        _ => false,
    })
}

/// The literal names of the snippets a tree renders or includes.
pub(crate) fn snippet_names(nodes: &[Node], names: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::Include(include) => {
                if let Expr::Literal(Value::Str(name)) = &include.template {
                    names.push(name.to_string());
                }
            }
            Node::Capture(_, body) | Node::IfChanged(body) | Node::Group(body) => snippet_names(body, names),
            Node::If { branches, otherwise, .. } => {
                branches.iter().for_each(|(_, body)| snippet_names(body, names));
                snippet_names(otherwise, names);
            }
            Node::Case { arms, .. } => arms.iter().for_each(|arm| snippet_names(&arm.body, names)),
            Node::For(lp) | Node::Tablerow(lp) => {
                snippet_names(&lp.body, names);
                snippet_names(&lp.otherwise, names);
            }
            _ => {}
        }
    }
}
