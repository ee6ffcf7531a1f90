//! Liquid templates with the reference semantics of Shopify's Liquid: every standard tag and
//! filter, whitespace control, ranges, `render`/`include` of snippets; lax by default (a variable
//! that is not set renders empty) with a strict mode that names it; HTML escaping on request; and
//! dates in the reader's time zone and locale.
//!
//! A template is parsed once ([`Template::parse`]) and rendered many times; parsing refuses
//! unknown tags and filters and wrong argument counts with the line at fault, so a typo fails
//! when a template is saved, not when a customer's message is sent. Rendering is bounded by
//! explicit limits ([`Context::max_output_bytes`], [`Context::max_loop_iterations`], nesting).
//!
//! ```
//! use baton_liquid::{Context, Template};
//! let template = Template::parse("Hi {{ name | default: 'friend' }}!").unwrap();
//! let out = template.render(&serde_json::json!({"name": "Ada"}), &Context::default()).unwrap();
//! assert_eq!(out, "Hi Ada!");
//! ```
//!
//! Modules: `lexer` → `expr` → `parse` → `render` (with `filters`, `date`, `value`).

mod date;
mod error;
mod expr;
mod filters;
mod lexer;
mod parse;
mod render;
mod value;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

pub use error::{Error, ErrorKind};
pub use filters::escape_html;

use crate::parse::Node;
use crate::value::Value;

/// A parsed template, ready to render many times.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Rc<Vec<Node>>,
}

/// What one render produced, and which variables it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text.
    pub output: String,
    /// Variables the template read that were set, as written (`profile.first_name`), when the
    /// context asks for them ([`Context::report_variables`]).
    pub used: Vec<String>,
    /// Variables the template read that were not set (rendered empty in lax mode), when the
    /// context asks for them.
    pub undefined: Vec<String>,
}

impl Template {
    /// Parses a template; a syntax error names its line.
    pub fn parse(source: &str) -> Result<Template, Error> {
        let tokens = lexer::tokenize(source)?;
        Ok(Template { nodes: Rc::new(parse::parse(tokens)?) })
    }

    /// Renders with `globals` (a JSON object: its keys are the template's top-level variables).
    pub fn render(&self, globals: &serde_json::Value, context: &Context) -> Result<String, Error> {
        self.render_report(globals, context).map(|r| r.output)
    }

    /// Renders, and reports which variables were read and which were not set.
    pub fn render_report(&self, globals: &serde_json::Value, context: &Context) -> Result<Rendered, Error> {
        let globals = Globals::new(globals);
        self.render_with(&globals, context)
    }

    /// Renders with globals converted once ([`Globals::new`]), for several templates over the
    /// same data (a message's subject, body and HTML).
    pub fn render_with(&self, globals: &Globals, context: &Context) -> Result<Rendered, Error> {
        let mut renderer = render::Renderer::new(context, globals.0.clone());
        let mut output = String::new();
        renderer.render(&self.nodes, &mut output)?;
        Ok(Rendered {
            output,
            used: renderer.used.into_iter().collect(),
            undefined: renderer.undefined.into_iter().collect(),
        })
    }

    /// The names of the snippets this template renders or includes by a literal name.
    pub fn snippets(&self) -> Vec<String> {
        let mut names = Vec::new();
        parse::snippet_names(&self.nodes, &mut names);
        names.sort();
        names.dedup();
        names
    }
}

/// Template variables converted once for several renders.
#[derive(Debug, Clone)]
pub struct Globals(Rc<BTreeMap<String, Value>>);

impl Globals {
    /// Converts a JSON object (anything else gives no variables).
    pub fn new(json: &serde_json::Value) -> Globals {
        match Value::from_json(json) {
            Value::Object(map) => Globals(map),
            _ => Globals(Rc::new(BTreeMap::new())),
        }
    }
}

/// How to render: strictness, escaping, snippets, the reader's time zone and locale, and limits.
/// Built with chained calls from [`Context::default`].
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) strict: bool,
    pub(crate) escape_html: bool,
    partials: HashMap<String, String>,
    parsed: RefCell<HashMap<String, Rc<Vec<Node>>>>,
    pub(crate) time_zone: jiff::tz::TimeZone,
    pub(crate) locale: String,
    pub(crate) now_ms: i64,
    pub(crate) max_output_bytes: usize,
    pub(crate) max_loop_iterations: u64,
    pub(crate) report_variables: bool,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            strict: false,
            escape_html: false,
            partials: HashMap::new(),
            parsed: RefCell::new(HashMap::new()),
            time_zone: jiff::tz::TimeZone::UTC,
            locale: "en".into(),
            now_ms: 0,
            max_output_bytes: 1 << 20,
            max_loop_iterations: 100_000,
            report_variables: false,
        }
    }
}

impl Context {
    /// A variable that is not set fails the render, naming it (except as the input of
    /// `default`, which is how a template says it may be missing).
    pub fn strict(mut self, strict: bool) -> Context {
        self.strict = strict;
        self
    }

    /// `{{ }}` output is HTML-escaped unless it passes through `raw` (or `escape`, or is a
    /// `capture`); for the HTML part of a message.
    pub fn escape_html(mut self, escape: bool) -> Context {
        self.escape_html = escape;
        self
    }

    /// A snippet that `{% render 'name' %}` and `{% include 'name' %}` find.
    pub fn partial(mut self, name: &str, source: &str) -> Context {
        self.partials.insert(name.to_string(), source.to_string());
        self.parsed.borrow_mut().remove(name);
        self
    }

    /// The reader's IANA time zone for `date` and `local_date` (UTC by default; an unknown
    /// name keeps UTC).
    pub fn time_zone(mut self, name: &str) -> Context {
        if let Ok(tz) = jiff::tz::TimeZone::get(name) {
            self.time_zone = tz;
        }
        self
    }

    /// The reader's locale (`fr`, `pt-BR`) for `local_date`.
    pub fn locale(mut self, locale: &str) -> Context {
        self.locale = locale.to_string();
        self
    }

    /// What `"now"` means to `date`, in milliseconds since the Unix epoch.
    pub fn now(mut self, now_ms: i64) -> Context {
        self.now_ms = now_ms;
        self
    }

    /// The largest output in bytes (1 MiB by default).
    pub fn max_output_bytes(mut self, bytes: usize) -> Context {
        self.max_output_bytes = bytes;
        self
    }

    /// The most loop iterations in one render, all loops together (100,000 by default).
    pub fn max_loop_iterations(mut self, iterations: u64) -> Context {
        self.max_loop_iterations = iterations;
        self
    }

    /// Records the variables each render reads and those not set ([`Rendered::used`],
    /// [`Rendered::undefined`]); off by default, since naming them costs every lookup.
    pub fn report_variables(mut self, report: bool) -> Context {
        self.report_variables = report;
        self
    }

    /// A snippet, parsed once per context.
    pub(crate) fn snippet(&self, name: &str) -> Result<Rc<Vec<Node>>, Error> {
        if let Some(nodes) = self.parsed.borrow().get(name) {
            return Ok(nodes.clone());
        }
        let source = self.partials.get(name).ok_or_else(|| {
            Error::new(ErrorKind::Render, format!("there is no snippet named `{name}`"), None)
        })?;
        let template = Template::parse(source)
            .map_err(|e| Error::new(e.kind, format!("in snippet `{name}`: {e}"), None))?;
        self.parsed.borrow_mut().insert(name.to_string(), template.nodes.clone());
        Ok(template.nodes)
    }
}
