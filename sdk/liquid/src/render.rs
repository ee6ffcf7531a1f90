//! Renders a parsed template: scopes as the reference keeps them (assign writes the outermost),
//! loops with `forloop`, counters, cycles, snippets, and every limit checked as it goes.
//!
//! Depends on `parse`, `expr`, `value`, `filters`, `error` and the crate's `Context`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use crate::Context;
use crate::error::{Error, ErrorKind};
use crate::expr::{CmpOp, Condition, Expr, Filtered, Segment};
use crate::parse::{Include, Loop, Node, Offset};
use crate::value::Value;

/// What stopped a block early.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The state of one render.
pub(crate) struct Renderer<'c> {
    pub(crate) context: &'c Context,
    globals: Rc<BTreeMap<String, Value>>,
    /// Outermost first: `assign` and `capture` write `scopes[0]`.
    scopes: Vec<HashMap<String, Value>>,
    counters: HashMap<String, i64>,
    cycles: HashMap<String, usize>,
    offsets: HashMap<String, i64>,
    last_changed: Option<String>,
    /// Inside `render`: the caller's globals and variables are out of sight.
    isolated: bool,
    depth: usize,
    iterations: u64,
    pub(crate) used: BTreeSet<String>,
    pub(crate) undefined: BTreeSet<String>,
}

type Result<T> = std::result::Result<T, Error>;

impl<'c> Renderer<'c> {
    pub(crate) fn new(context: &'c Context, globals: Rc<BTreeMap<String, Value>>) -> Renderer<'c> {
        Renderer {
            context,
            globals,
            scopes: vec![HashMap::new()],
            counters: HashMap::new(),
            cycles: HashMap::new(),
            offsets: HashMap::new(),
            last_changed: None,
            isolated: false,
            depth: 0,
            iterations: 0,
            used: BTreeSet::new(),
            undefined: BTreeSet::new(),
        }
    }

    /// Renders nodes into `out`. A `break` outside any loop ends the render, as in the reference.
    pub(crate) fn render(&mut self, nodes: &[Node], out: &mut String) -> Result<()> {
        self.block(nodes, out).map(|_| ())
    }

    fn push(&self, out: &mut String, text: &str) -> Result<()> {
        out.push_str(text);
        if out.len() > self.context.max_output_bytes {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "the output is over {} bytes; the template builds too much",
                    self.context.max_output_bytes
                ),
                None,
            ));
        }
        Ok(())
    }

    fn block(&mut self, nodes: &[Node], out: &mut String) -> Result<Flow> {
        for node in nodes {
            let flow = self.node(node, out)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, node: &Node, out: &mut String) -> Result<Flow> {
        match node {
            Node::Text(text) => self.push(out, text)?,
            Node::Output(filtered, line) => {
                let value = self.filtered(filtered).map_err(|e| e.at(*line))?;
                let text = value.render();
                if self.context.escape_html && !matches!(value, Value::Safe(_)) {
                    self.push(out, &crate::filters::escape_html(&text))?;
                } else {
                    self.push(out, &text)?;
                }
            }
            Node::Assign(name, filtered, line) => {
                let value = self.filtered(filtered).map_err(|e| e.at(*line))?;
                self.scopes[0].insert(name.clone(), value);
            }
            Node::Capture(name, body) => {
                let mut captured = String::new();
                self.block(body, &mut captured)?;
                self.scopes[0].insert(name.clone(), Value::Safe(captured.into()));
            }
            Node::Counter(name, step) => {
                let counter = self.counters.entry(name.clone()).or_insert(0);
                let shown = if *step > 0 { *counter } else { *counter + step };
                *counter += step;
                self.push(out, &shown.to_string())?;
            }
            Node::If { branches, otherwise, negate_first, line } => {
                for (i, (condition, body)) in branches.iter().enumerate() {
                    let holds = self.condition(condition).map_err(|e| e.at(*line))?;
                    if holds != (i == 0 && *negate_first) {
                        return self.block(body, out);
                    }
                }
                return self.block(otherwise, out);
            }
            Node::Case { subject, arms, line } => {
                let subject = self.eval(subject).map_err(|e| e.at(*line))?;
                let mut matched = false;
                for arm in arms {
                    // Each matching value renders the body, as the reference does.
                    let runs = match &arm.values {
                        Some(values) => {
                            let mut matches = 0;
                            for value in values {
                                if self.eval(value).map_err(|e| e.at(*line))?.equals(&subject) {
                                    matches += 1;
                                }
                            }
                            matches
                        }
                        None => usize::from(!matched),
                    };
                    if arm.values.is_some() && runs > 0 {
                        matched = true;
                    }
                    for _ in 0..runs {
                        let flow = self.block(&arm.body, out)?;
                        if flow != Flow::Normal {
                            return Ok(flow);
                        }
                    }
                }
            }
            Node::For(lp) => return self.for_loop(lp, out),
            Node::Tablerow(lp) => return self.tablerow(lp, out),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Cycle { group, values, key, line } => {
                let key = match group {
                    Some(group) => self.eval(group).map_err(|e| e.at(*line))?.render(),
                    None => key.clone(),
                };
                let at = self.cycles.entry(key).or_insert(0);
                let index = *at % values.len();
                *at += 1;
                let value = self.eval(&values[index]).map_err(|e| e.at(*line))?;
                self.push(out, &value.render())?;
            }
            Node::Include(include) => self.include(include, out).map_err(|e| e.at(include.line))?,
            Node::IfChanged(body) => {
                let mut rendered = String::new();
                self.block(body, &mut rendered)?;
                if self.last_changed.as_deref() != Some(rendered.as_str()) {
                    self.push(out, &rendered)?;
                    self.last_changed = Some(rendered);
                }
            }
            Node::Group(nodes) => return self.block(nodes, out),
        }
        Ok(Flow::Normal)
    }

    fn count_iteration(&mut self, line: usize) -> Result<()> {
        self.iterations += 1;
        if self.iterations > self.context.max_loop_iterations {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("loops ran more than {} times in one render", self.context.max_loop_iterations),
                Some(line),
            ));
        }
        Ok(())
    }

    /// The slice of a loop's collection that it walks, after `offset`, `limit` and `reversed`.
    fn loop_items(&mut self, lp: &Loop) -> Result<Vec<Value>> {
        let collection = self.eval(&lp.collection)?;
        let len = match &collection {
            Value::Array(items) => items.len() as i64,
            Value::Range(a, b) => {
                if b < a {
                    0
                } else {
                    b - a + 1
                }
            }
            Value::Object(map) => map.len() as i64,
            Value::Str(s) | Value::Safe(s) if !s.is_empty() => 1,
            _ => 0,
        };
        let key = format!("{}-{}", lp.variable, lp.name);
        let from = match &lp.offset {
            None => 0,
            Some(Offset::Continue) => self.offsets.get(&key).copied().unwrap_or(0),
            Some(Offset::At(e)) => loop_number(&self.eval(e)?, "offset")?.unwrap_or(0),
        }
        .clamp(0, len);
        let to = match &lp.limit {
            None => len,
            Some(e) => match loop_number(&self.eval(e)?, "limit")? {
                Some(limit) => (from + limit.max(0)).min(len),
                None => len,
            },
        };
        self.offsets.insert(key, to);
        let wanted = (to - from).max(0) as u64;
        if wanted > self.context.max_loop_iterations {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "a loop over {wanted} items is more than {} iterations",
                    self.context.max_loop_iterations
                ),
                Some(lp.line),
            ));
        }
        let (from, to) = (from as usize, to as usize);
        let mut items: Vec<Value> = match collection {
            Value::Array(items) => items[from..to].to_vec(),
            Value::Range(a, _) => (from..to).map(|i| Value::Int(a + i as i64)).collect(),
            Value::Object(map) => map
                .iter()
                .skip(from)
                .take(to - from)
                .map(|(k, v)| Value::Array(Rc::new(vec![Value::str(k.as_str()), v.clone()])))
                .collect(),
            other if to > from => vec![other],
            _ => Vec::new(),
        };
        if lp.reversed {
            items.reverse();
        }
        Ok(items)
    }

    fn for_loop(&mut self, lp: &Loop, out: &mut String) -> Result<Flow> {
        let items = self.loop_items(lp).map_err(|e| e.at(lp.line))?;
        if items.is_empty() {
            return self.block(&lp.otherwise, out);
        }
        let parent = self.lookup_local("forloop");
        let name = Value::str(format!("{}-{}", lp.variable, lp.name));
        self.scopes.push(HashMap::new());
        let length = items.len();
        let result = (|| {
            for (i, item) in items.into_iter().enumerate() {
                self.count_iteration(lp.line)?;
                let scope = self.innermost();
                scope.insert(lp.variable.clone(), item);
                scope.insert(
                    "forloop".into(),
                    forloop(i, length, parent.clone(), Some(&[("name", name.clone())])),
                );
                if self.block(&lp.body, out)? == Flow::Break {
                    break;
                }
            }
            Ok(Flow::Normal)
        })();
        self.scopes.pop();
        result
    }

    fn tablerow(&mut self, lp: &Loop, out: &mut String) -> Result<Flow> {
        let items = self.loop_items(lp).map_err(|e| e.at(lp.line))?;
        let length = items.len();
        let cols = match &lp.cols {
            Some(e) => integer(&self.eval(e)?).filter(|c| *c > 0).map(|c| c as usize),
            None => None,
        }
        .unwrap_or(length.max(1));
        self.push(out, "<tr class=\"row1\">\n")?;
        self.scopes.push(HashMap::new());
        let result = (|| {
            for (i, item) in items.into_iter().enumerate() {
                self.count_iteration(lp.line)?;
                let (row, col) = (i / cols, i % cols);
                let table = [
                    ("col", Value::Int(col as i64 + 1)),
                    ("col0", Value::Int(col as i64)),
                    ("col_first", Value::Bool(col == 0)),
                    ("col_last", Value::Bool(col + 1 == cols)),
                    ("row", Value::Int(row as i64 + 1)),
                ];
                let scope = self.innermost();
                scope.insert(lp.variable.clone(), item);
                scope.insert("tablerowloop".into(), forloop(i, length, None, Some(&table)));
                self.push(out, &format!("<td class=\"col{}\">", col + 1))?;
                let flow = self.block(&lp.body, out)?;
                self.push(out, "</td>")?;
                if col + 1 == cols && i + 1 != length {
                    self.push(out, &format!("</tr>\n<tr class=\"row{}\">", row + 2))?;
                }
                if flow == Flow::Break {
                    break;
                }
            }
            Ok(Flow::Normal)
        })();
        self.scopes.pop();
        self.push(out, "</tr>\n")?;
        result
    }

    fn include(&mut self, include: &Include, out: &mut String) -> Result<()> {
        let name = self.eval(&include.template)?.render();
        let nodes = self.context.snippet(&name)?;
        if self.depth >= crate::parse::MAX_NESTING {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("snippets include each other more than {} deep", crate::parse::MAX_NESTING),
                None,
            ));
        }
        let mut args = HashMap::new();
        for (key, expr) in &include.args {
            args.insert(key.clone(), self.eval(expr)?);
        }
        // The variable a snippet sees its `with`/`for` value as: the alias, or the snippet's name.
        let alias = |given: &Option<String>| {
            given.clone().unwrap_or_else(|| name.rsplit('/').next().unwrap_or(&name).to_string())
        };
        let runs: Vec<HashMap<String, Value>> = match &include.with {
            Some((expr, true, given)) => {
                let values = self.eval(expr)?;
                let items = values
                    .items(self.context.max_loop_iterations as usize)
                    .map_err(|m| Error::new(ErrorKind::Limit, m, None))?;
                let length = items.len();
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut scope = args.clone();
                        scope.insert(alias(given), item);
                        if include.isolated {
                            scope.insert("forloop".into(), forloop(i, length, None, None));
                        }
                        scope
                    })
                    .collect()
            }
            Some((expr, false, given)) => {
                let mut scope = args.clone();
                scope.insert(alias(given), self.eval(expr)?);
                vec![scope]
            }
            None => vec![args],
        };
        for scope in runs {
            self.depth += 1;
            let result = if include.isolated {
                let saved = (
                    std::mem::replace(&mut self.scopes, vec![scope]),
                    std::mem::take(&mut self.counters),
                    std::mem::replace(&mut self.isolated, true),
                );
                let result = self.block(&nodes, out);
                (self.scopes, self.counters, self.isolated) = saved;
                result
            } else {
                self.scopes.push(scope);
                let result = self.block(&nodes, out);
                self.scopes.pop();
                result
            };
            self.depth -= 1;
            result?;
        }
        Ok(())
    }

    /// The innermost scope (there is always the outermost one).
    fn innermost(&mut self) -> &mut HashMap<String, Value> {
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn lookup_local(&self, name: &str) -> Option<Value> {
        self.scopes.iter().rev().find_map(|scope| scope.get(name).cloned())
    }

    fn lookup_root(&self, name: &str) -> Option<Value> {
        if let Some(value) = self.lookup_local(name) {
            return Some(value);
        }
        if let Some(counter) = self.counters.get(name) {
            return Some(Value::Int(*counter));
        }
        if self.isolated { None } else { self.globals.get(name).cloned() }
    }

    /// A variable's value; `None` when it (or a step of its path) is not set.
    fn variable(&mut self, root: &str, path: &[Segment]) -> Result<Option<Value>> {
        let Some(mut value) = self.lookup_root(root) else { return Ok(None) };
        for segment in path {
            let key = match segment {
                Segment::Key(k) => Value::str(k.as_str()),
                Segment::Index(e) => self.eval(e)?,
            };
            match value.get(&key) {
                Some(next) => value = next,
                None => return Ok(None),
            }
        }
        Ok(Some(value))
    }

    fn eval_lax(&mut self, expr: &Expr, lax: bool) -> Result<Value> {
        match expr {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Range(a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let bound = |v: &Value| integer(v).unwrap_or(0);
                Ok(Value::Range(bound(&a), bound(&b)))
            }
            Expr::Variable { root, path } => {
                let found = self.variable(root, path)?;
                let name = || expr.name().unwrap_or_default();
                match found {
                    Some(v) => {
                        // Only a report wants the names: building them costs every lookup.
                        if self.context.report_variables {
                            self.used.insert(name());
                        }
                        Ok(v)
                    }
                    None => {
                        if self.context.strict && !lax {
                            return Err(Error::new(
                                ErrorKind::Undefined,
                                format!("`{}` is not set", name()),
                                None,
                            ));
                        }
                        if self.context.report_variables {
                            self.undefined.insert(name());
                        }
                        Ok(Value::Nil)
                    }
                }
            }
        }
    }

    fn eval(&mut self, expr: &Expr) -> Result<Value> {
        self.eval_lax(expr, false)
    }

    fn filtered(&mut self, filtered: &Filtered) -> Result<Value> {
        // `default` is how a template says a variable may be missing, so strict mode lets it.
        let lax = filtered.filters.first().is_some_and(|f| f.name == "default");
        let mut value = self.eval_lax(&filtered.expr, lax)?;
        for filter in &filtered.filters {
            let mut args = Vec::with_capacity(filter.args.len());
            for arg in &filter.args {
                args.push(self.eval(arg)?);
            }
            let mut keywords = Vec::with_capacity(filter.keywords.len());
            for (key, arg) in &filter.keywords {
                keywords.push((key.clone(), self.eval(arg)?));
            }
            value = (filter.run)(self.context, value, &args, &keywords).map_err(|message| {
                let kind = if message.contains("more than") { ErrorKind::Limit } else { ErrorKind::Render };
                Error::new(kind, format!("`{}`: {message}", filter.name), None)
            })?;
        }
        Ok(value)
    }

    fn condition(&mut self, condition: &Condition) -> Result<bool> {
        match condition {
            Condition::Test(left, None) => Ok(self.eval(left)?.truthy()),
            Condition::Test(left, Some((op, right))) => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                Ok(compare(&left, *op, &right))
            }
            Condition::And(a, b) => Ok(self.condition(a)? && self.condition(b)?),
            Condition::Or(a, b) => Ok(self.condition(a)? || self.condition(b)?),
        }
    }
}

fn compare(left: &Value, op: CmpOp, right: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => left.equals(right),
        CmpOp::Ne => !left.equals(right),
        CmpOp::Contains => left.contains(right),
        CmpOp::Lt => left.compare(right) == Some(Less),
        CmpOp::Gt => left.compare(right) == Some(Greater),
        CmpOp::Le => matches!(left.compare(right), Some(Less | Equal)),
        CmpOp::Ge => matches!(left.compare(right), Some(Greater | Equal)),
    }
}

/// A loop's `limit` or `offset`: a number, numeric text, or nil (none); anything else is a
/// mistake worth naming.
fn loop_number(value: &Value, what: &str) -> Result<Option<i64>> {
    match value {
        Value::Nil => Ok(None),
        Value::Int(_) | Value::Float(_) => Ok(integer(value)),
        Value::Str(s) | Value::Safe(s) if crate::value::parse_number(s.trim()).is_some() => {
            Ok(integer(value))
        }
        other => Err(Error::new(
            ErrorKind::Render,
            format!("`{what}` must be a number, not `{}`", other.render()),
            None,
        )),
    }
}

/// An integer from a number or numeric text.
pub(crate) fn integer(value: &Value) -> Option<i64> {
    match value.to_number() {
        Value::Int(i) if !matches!(value, Value::Nil) => Some(i),
        Value::Float(f) => Some(f as i64),
        _ => None,
    }
}

/// The `forloop` (or `tablerowloop`) object of the `index`-th of `length` items.
fn forloop(index: usize, length: usize, parent: Option<Value>, extra: Option<&[(&str, Value)]>) -> Value {
    let (i, n) = (index as i64, length as i64);
    let mut map = BTreeMap::new();
    map.insert("name".into(), Value::Nil);
    map.insert("length".into(), Value::Int(n));
    map.insert("index".into(), Value::Int(i + 1));
    map.insert("index0".into(), Value::Int(i));
    map.insert("rindex".into(), Value::Int(n - i));
    map.insert("rindex0".into(), Value::Int(n - i - 1));
    map.insert("first".into(), Value::Bool(index == 0));
    map.insert("last".into(), Value::Bool(index + 1 == length));
    map.insert("parentloop".into(), parent.unwrap_or(Value::Nil));
    for (key, value) in extra.unwrap_or_default() {
        map.insert((*key).into(), value.clone());
    }
    Value::Object(Rc::new(map))
}
