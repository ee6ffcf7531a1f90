//! The documented examples of Shopify's Liquid reference, one test per tag and per filter.
//!
//! Sources: the "Basics", "Tags" and "Filters" pages of <https://shopify.github.io/liquid/>, and for
//! the filters documented only at <https://shopify.dev/docs/api/liquid/filters> (`base64_*`, `find`,
//! `find_index`, `has`, `reject`) the examples there. Every expected output is the one the reference
//! implementation (Shopify/liquid) renders for that source and data. Multi-line doc examples mostly
//! appear as single-line equivalents with the same semantics, so the whitespace to expect is plain;
//! a few keep the documented layout, where whitespace is the point. Where an example relies on store
//! objects (`product`, `collection`, `site.pages`), the globals supply equivalent JSON data.

use baton_liquid::{Context, ErrorKind, Template};
use serde_json::{Value, json};

/// Renders `source` with `globals` and the default context; panics on a parse or render error.
fn render(source: &str, globals: Value) -> String {
    render_with(source, globals, &Context::default())
}

/// Renders `source` with `globals` in `context`; panics on a parse or render error.
fn render_with(source: &str, globals: Value, context: &Context) -> String {
    Template::parse(source)
        .unwrap_or_else(|e| panic!("parse {source:?}: {e}"))
        .render(&globals, context)
        .unwrap_or_else(|e| panic!("render {source:?}: {e}"))
}

/// The `collection.products` of the for-loop examples.
fn hat_shirt_pants() -> Value {
    json!({"collection": {"products": [{"title": "hat"}, {"title": "shirt"}, {"title": "pants"}]}})
}

/// The `site.pages` of the `map` and `compact` examples; two pages have no category.
fn site_pages() -> Value {
    json!({
        "site": {
            "pages": [
                {"title": "Big deal", "category": "business"},
                {"title": "Stars", "category": "celebrities"},
                {"title": "About"},
                {"title": "Living", "category": "lifestyle"},
                {"title": "Scores", "category": "sports"},
                {"title": "Contact"},
                {"title": "Gadgets", "category": "technology"}
            ]
        }
    })
}

/// The `collection.products` of the `sort` and `sort_natural` examples.
fn priced_products() -> Value {
    json!({
        "collection": {
            "products": [
                {"title": "Vacuum", "price": 300, "company": "brightco"},
                {"title": "Spatula", "price": 12, "company": "Acme"},
                {"title": "Television", "price": 500, "company": "Zenith"},
                {"title": "Garlic press", "price": 25, "company": "acme kitchen"}
            ]
        }
    })
}

/// The `collection.products` of shopify.dev's array-filter examples (its first eight).
fn potions() -> Value {
    json!({
        "collection": {
            "products": [
                {"title": "Blue Mountain Flower", "vendor": "Polina's Potent Potions"},
                {"title": "Charcoal", "vendor": "Ted's Apothecary Supply"},
                {"title": "Crocodile tears", "vendor": "Polina's Potent Potions"},
                {"title": "Dandelion milk", "vendor": "Clover's Apothecary"},
                {"title": "Draught of Immortality", "vendor": "Polina's Potent Potions"},
                {"title": "Dried chamomile", "vendor": "Clover's Apothecary"},
                {"title": "Forest mushroom", "vendor": "Clover's Apothecary"},
                {"title": "Gift Card", "vendor": "Polina's Potent Potions"}
            ]
        }
    })
}

// ------------------------------ Basics ------------------------------

/// Basics / Operators: comparison, `and`/`or`, `contains`, right-to-left evaluation.
#[test]
fn basics_operators() {
    let source = r#"{% if product.title == "Awesome Shoes" %}These shoes are awesome!{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Awesome Shoes"}})), "These shoes are awesome!");
    let source = "{% if 1 == 1 %}a{% endif %}{% if 1 != 2 %}b{% endif %}{% if 2 > 1 %}c{% endif %}{% if 1 < 2 %}d{% endif %}{% if 2 >= 2 %}e{% endif %}{% if 2 <= 2 %}f{% endif %}{% if 2 <= 1 %}g{% endif %}{% if 1 > 2 %}h{% endif %}";
    assert_eq!(render(source, json!({})), "abcdef");
    let source = r#"{% if product.type == "Shirt" or product.type == "Shoes" %}This is a shirt or a pair of shoes.{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"type": "Shoes"}})), "This is a shirt or a pair of shoes.");
    let source =
        r#"{% if product.type == "Shirt" and product.type == "Shoes" %}both{% else %}not both{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"type": "Shoes"}})), "not both");
    let source =
        r#"{% if product.title contains "Pack" %}This product's title contains the word Pack.{% endif %}"#;
    let globals = json!({"product": {"title": "Awesome Pack"}});
    assert_eq!(render(source, globals), "This product's title contains the word Pack.");
    let source = r#"{% if product.title contains "Pack" %}yes{% else %}no{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Awesome Shoes"}})), "no");
    let source =
        r#"{% if product.tags contains "Hello" %}This product has been tagged with "Hello".{% endif %}"#;
    let globals = json!({"product": {"tags": ["Hello", "World"]}});
    assert_eq!(render(source, globals), r#"This product has been tagged with "Hello"."#);
    let source = "{% if true or false and false %}This evaluates to true, since the `and` condition is checked first.{% endif %}";
    let expected = "This evaluates to true, since the `and` condition is checked first.";
    assert_eq!(render(source, json!({})), expected);
    let source = "{% if true and false and false or true %}true{% else %}false{% endif %}";
    assert_eq!(render(source, json!({})), "false");
}

/// Basics / Truthy and falsy: only `nil` and `false` are falsy.
#[test]
fn basics_truthy_and_falsy() {
    let source = r#"{% assign name = "Tobi" %}{% if name %}This text will always appear since "name" is defined.{% endif %}"#;
    assert_eq!(render(source, json!({})), r#"This text will always appear since "name" is defined."#);
    let source = "{% if page.category %}<h1>{{ page.category }}</h1>{% endif %}";
    assert_eq!(render(source, json!({"page": {"category": ""}})), "<h1></h1>");
    let source = r#"{% if true %}true {% endif %}{% if false %}false {% endif %}{% if nil %}nil {% endif %}{% if "" %}empty-string {% endif %}{% if 0 %}0 {% endif %}{% if 1 %}integer {% endif %}{% if 1.5 %}float {% endif %}{% if list %}array {% endif %}{% if none %}empty-array{% endif %}"#;
    let globals = json!({"list": [1], "none": []});
    assert_eq!(render(source, globals), "true empty-string 0 integer float array empty-array");
    assert_eq!(render("{% if missing %}yes{% else %}no{% endif %}", json!({})), "no");
}

/// Basics / Types: strings, numbers, booleans, nil, arrays and `empty`.
#[test]
fn basics_types() {
    let source = r#"{% assign my_string = "Hello World!" %}{{ my_string }}"#;
    assert_eq!(render(source, json!({})), "Hello World!");
    assert_eq!(render("{% assign my_string = 'Hello World!' %}{{ my_string }}", json!({})), "Hello World!");
    assert_eq!(render(r#"{{ "Hello\nWorld" }}"#, json!({})), r#"Hello\nWorld"#);
    let source = "{% assign my_int = 25 %}{% assign my_float = -39.756 %}{{ my_int }} {{ my_float }}";
    assert_eq!(render(source, json!({})), "25 -39.756");
    let source = "{% assign foo = true %}{% assign bar = false %}{{ foo }} {{ bar }}";
    assert_eq!(render(source, json!({})), "true false");
    assert_eq!(render("{% if user %}Hello {{ user.name }}!{% endif %}", json!({})), "");
    assert_eq!(render("The current user is {{ user.name }}", json!({})), "The current user is ");
    let source = "{% for user in site.users %}{{ user }} {% endfor %}";
    let globals = json!({"site": {"users": ["Tobi", "Laura", "Tetsuro", "Adam"]}});
    assert_eq!(render(source, globals), "Tobi Laura Tetsuro Adam ");
    let source = "{{ site.users[0] }} {{ site.users[1] }} {{ site.users[-1] }}";
    let globals = json!({"site": {"users": ["Tobi", "Laura", "Tetsuro", "Adam"]}});
    assert_eq!(render(source, globals), "Tobi Laura Adam");
    let source = r#"{% assign variable = "hello" %}[{{ pages[variable] }}][{{ pages["does-not-exist"] }}][{{ pages.this-handle-does-not-exist }}]"#;
    assert_eq!(render(source, json!({"pages": {}})), "[][][]");
    let source = "{% unless pages == empty %}<h1>{{ pages.frontpage.title }}</h1>{% endunless %}";
    assert_eq!(render(source, json!({"pages": {"frontpage": {"title": "Welcome"}}})), "<h1>Welcome</h1>");
    let source =
        "{% if s == empty %}a{% endif %}{% if list == empty %}b{% endif %}{% if full == empty %}c{% endif %}";
    assert_eq!(render(source, json!({"s": "", "list": [], "full": "x"})), "ab");
}

/// Basics / Whitespace control: `{%-`, `-%}`, `{{-` and `-}}`.
#[test]
fn basics_whitespace_control() {
    let source = r#"{% assign my_variable = "tomato" %}
{{ my_variable }}"#;
    assert_eq!(render(source, json!({})), "\ntomato");
    let source = r#"{% assign my_variable = "tomato" -%}
{{ my_variable }}"#;
    assert_eq!(render(source, json!({})), "tomato");
    let source = r#"{% assign username = "John G. Chalmers-Smith" %}
{% if username and username.size > 10 %}
  Wow, {{ username }} , you have a long name!
{% else %}
  Hello there!
{% endif %}
"#;
    assert_eq!(render(source, json!({})), "\n\n  Wow, John G. Chalmers-Smith , you have a long name!\n\n");
    let source = r#"{% assign username = "John G. Chalmers-Smith" -%}
{%- if username and username.size > 10 -%}
  Wow, {{ username -}} , you have a long name!
{%- else -%}
  Hello there!
{%- endif %}
"#;
    assert_eq!(render(source, json!({})), "Wow, John G. Chalmers-Smith, you have a long name!\n");
    assert_eq!(render("a  \n {{- \"b\" -}} \n  c", json!({})), "abc");
    assert_eq!(render("[ {%- if true -%} x {%- endif -%} ]", json!({})), "[x]");
}

// ------------------------------ Tags ------------------------------

/// Tags / Template / comment: nothing inside is rendered or executed.
#[test]
fn tag_comment() {
    let source = r#"{% assign verb = "turned" %}
{% comment %}
{% assign verb = "converted" %}
{% endcomment %}
Anything you put between {% comment %} and {% endcomment %} tags
is {{ verb }} into a comment."#;
    assert_eq!(render(source, json!({})), "\n\nAnything you put between  tags\nis turned into a comment.");
    assert_eq!(render(r#"a{% comment %}{{ "not output" }}{% endcomment %}b"#, json!({})), "ab");
    let source = "{% comment %}{% comment %}nested{% endcomment %}still a comment{% endcomment %}x";
    assert_eq!(render(source, json!({})), "x");
}

/// Tags / Template / inline comments `{% # ... %}`, also inside `liquid`.
#[test]
fn tag_inline_comment() {
    let source = "{% # for i in (1..3) -%}
  {{ i }}
{% # endfor %}

{%
  ###############################
  # This is a comment
  # across multiple lines
  ###############################
%}
";
    assert_eq!(render(source, json!({})), "\n\n\n\n");
    assert_eq!(render("a{% # a comment %}b", json!({})), "ab");
    let source = "{% liquid
  # this is a comment
  assign topic = 'Learning about comments!'
  echo topic
%}";
    assert_eq!(render(source, json!({})), "Learning about comments!");
}

/// Tags / Template / raw: tag processing is disabled inside.
#[test]
fn tag_raw() {
    let source =
        "{% raw %}In Handlebars, {{ this }} will be HTML-escaped, but {{{ that }}} will not.{% endraw %}";
    let expected = "In Handlebars, {{ this }} will be HTML-escaped, but {{{ that }}} will not.";
    assert_eq!(render(source, json!({})), expected);
    let source = r#"{{ "%7B%25+raw+%25%7D" | url_decode }}{% raw %}
In Handlebars, {{ this }} will be HTML-escaped, but {{{ that }}} will not.
{% endraw %}{{ "%7B%25+endraw+%25%7D" | url_decode }}"#;
    let expected =
        "{% raw %}\nIn Handlebars, {{ this }} will be HTML-escaped, but {{{ that }}} will not.\n{% endraw %}";
    assert_eq!(render(source, json!({})), expected);
    assert_eq!(render("{% raw %}{% if x %}{% endraw %}", json!({})), "{% if x %}");
}

/// Tags / Template / liquid: several tags in one delimiter, one per line.
#[test]
fn tag_liquid() {
    let source = "{% liquid
case section.blocks.size
when 1
  assign column_size = ''
when 2
  assign column_size = 'one-half'
when 3
  assign column_size = 'one-third'
else
  assign column_size = 'one-quarter'
endcase %}[{{ column_size }}]";
    assert_eq!(render(source, json!({"section": {"blocks": [1]}})), "[]");
    assert_eq!(render(source, json!({"section": {"blocks": [1, 2]}})), "[one-half]");
    assert_eq!(render(source, json!({"section": {"blocks": [1, 2, 3]}})), "[one-third]");
    assert_eq!(render(source, json!({"section": {"blocks": [1, 2, 3, 4, 5]}})), "[one-quarter]");
    let source = "{% liquid
assign n = 3
if n > 2
  echo 'big'
else
  echo 'small'
endif
%}";
    assert_eq!(render(source, json!({})), "big");
}

/// Tags / Template / echo: outputs an expression, with filters, also inside `liquid`.
#[test]
fn tag_echo() {
    let source = "{% liquid
for product in collection.products
  echo product.title | capitalize
endfor %}";
    assert_eq!(render(source, hat_shirt_pants()), "HatShirtPants");
    assert_eq!(render(r#"{% echo "hello" | upcase %}"#, json!({})), "HELLO");
    assert_eq!(render("{% assign x = 5 %}{% echo x | plus: 1 %} {{ x | plus: 1 }}", json!({})), "6 6");
}

/// Tags / Template / render: snippets, parameters, `with ... as`, `for ... as`, isolated scope.
#[test]
fn tag_render() {
    let context = Context::default()
        .partial("template-name", "rendered content")
        .partial("name", "{{ my_variable }} and {{ my_other_variable }}")
        .partial("product", "Product: {{ product.title }}")
        .partial("product_variant", "{{ forloop.index }}/{{ forloop.length }} {{ variant.title }}{% unless forloop.last %}, {% endunless %}")
        .partial("snippet", "[{{ secret }}]")
        .partial("setter", "{% assign inner = 'set inside' %}");
    assert_eq!(render_with(r#"{% render "template-name" %}"#, json!({}), &context), "rendered content");
    let source = r#"{% assign my_variable = "apples" %}{% render "name", my_variable: my_variable, my_other_variable: "oranges" %}"#;
    assert_eq!(render_with(source, json!({}), &context), "apples and oranges");
    let source = r#"{% assign featured_product = all_products["product_handle"] %}{% render "product", product: featured_product %}"#;
    let globals = json!({"all_products": {"product_handle": {"title": "Awesome Shoes"}}});
    assert_eq!(render_with(source, globals, &context), "Product: Awesome Shoes");
    let source = r#"{% assign featured_product = all_products["product_handle"] %}{% render "product" with featured_product as product %}"#;
    let globals = json!({"all_products": {"product_handle": {"title": "Awesome Shoes"}}});
    assert_eq!(render_with(source, globals, &context), "Product: Awesome Shoes");
    let source = r#"{% render "product" with featured %}"#;
    assert_eq!(render_with(source, json!({"featured": {"title": "Hat"}}), &context), "Product: Hat");
    let source =
        r#"{% assign variants = product.variants %}{% render "product_variant" for variants as variant %}"#;
    let globals = json!({
        "product": {"variants": [{"title": "Small"}, {"title": "Medium"}, {"title": "Large"}]}
    });
    assert_eq!(render_with(source, globals, &context), "1/3 Small, 2/3 Medium, 3/3 Large");
    let source = r#"{% assign secret = "outer" %}{% render "snippet" %}"#;
    assert_eq!(render_with(source, json!({}), &context), "[]");
    assert_eq!(render_with(r#"{% render "setter" %}[{{ inner }}]"#, json!({}), &context), "[]");
}

/// Tags / Template / include (deprecated): the snippet shares the parent's variables.
#[test]
fn tag_include() {
    let context = Context::default()
        .partial("template-name", "rendered content")
        .partial("show", "color: {{ color }}")
        .partial("paint", "{% assign color = 'blue' %}");
    assert_eq!(render_with(r#"{% include "template-name" %}"#, json!({}), &context), "rendered content");
    let source = r#"{% assign color = "red" %}{% include "show" %}"#;
    assert_eq!(render_with(source, json!({}), &context), "color: red");
    let source = r#"{% assign color = "red" %}{% include "paint" %}{{ color }}"#;
    assert_eq!(render_with(source, json!({}), &context), "blue");
    assert_eq!(render_with(r#"{% include "show" %}"#, json!({"color": "green"}), &context), "color: green");
}

/// Tags / Variable / assign.
#[test]
fn tag_assign() {
    let source =
        "{% assign my_variable = false %}{% if my_variable != true %}This statement is valid.{% endif %}";
    assert_eq!(render(source, json!({})), "This statement is valid.");
    assert_eq!(render(r#"{% assign foo = "bar" %}{{ foo }}"#, json!({})), "bar");
    assert_eq!(render(r#"{% assign foo = "bar" | upcase %}{{ foo }}"#, json!({})), "BAR");
    assert_eq!(render("{% assign a = b %}{{ a.c }}", json!({"b": {"c": "copied"}})), "copied");
}

/// Tags / Variable / capture: captured text is stored as a string.
#[test]
fn tag_capture() {
    let source = "{% capture my_variable %}I am being captured.{% endcapture %}{{ my_variable }}";
    assert_eq!(render(source, json!({})), "I am being captured.");
    let source = r#"{% assign favorite_food = "pizza" %}{% assign age = 35 %}{% capture about_me %}I am {{ age }} and my favorite food is {{ favorite_food }}.{% endcapture %}{{ about_me }}"#;
    assert_eq!(render(source, json!({})), "I am 35 and my favorite food is pizza.");
    let source = r#"{% assign favorite_food = "pizza" %}
{% assign age = 35 %}

{% capture about_me %}
I am {{ age }} and my favorite food is {{ favorite_food }}.
{% endcapture %}

{{ about_me }}"#;
    assert_eq!(render(source, json!({})), "\n\n\n\n\n\nI am 35 and my favorite food is pizza.\n");
    let source = r#"{% capture n %}{{ 1 | plus: 2 }}{% endcapture %}{{ n | append: "!" }}"#;
    assert_eq!(render(source, json!({})), "3!");
}

/// Tags / Variable / increment: starts at 0, independent of `assign`.
#[test]
fn tag_increment() {
    let source = "{% increment my_counter %} {% increment my_counter %} {% increment my_counter %}";
    assert_eq!(render(source, json!({})), "0 1 2");
    let source = "{% assign var = 10 %}{% increment var %} {% increment var %} {% increment var %} {{ var }}";
    assert_eq!(render(source, json!({})), "0 1 2 10");
    assert_eq!(render("{% increment a %}{% increment b %}{% increment a %}", json!({})), "001");
}

/// Tags / Variable / decrement: starts at -1, independent of `assign`.
#[test]
fn tag_decrement() {
    let source = "{% decrement variable %} {% decrement variable %} {% decrement variable %}";
    assert_eq!(render(source, json!({})), "-1 -2 -3");
    let source = "{% assign var = 10 %}{% decrement var %} {% decrement var %} {{ var }}";
    assert_eq!(render(source, json!({})), "-1 -2 10");
}

/// Tags / Control flow / if.
#[test]
fn tag_if() {
    let source = r#"{% if product.title == "Awesome Shoes" %}These shoes are awesome!{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Awesome Shoes"}})), "These shoes are awesome!");
    assert_eq!(render(source, json!({"product": {"title": "Boring Shoes"}})), "");
    let source = r#"{% if product.title == "Awesome Shoes" %}
  These shoes are awesome!
{% endif %}"#;
    let globals = json!({"product": {"title": "Awesome Shoes"}});
    assert_eq!(render(source, globals), "\n  These shoes are awesome!\n");
}

/// Tags / Control flow / unless: the opposite of `if`.
#[test]
fn tag_unless() {
    let source =
        r#"{% unless product.title == "Awesome Shoes" %}These shoes are not awesome.{% endunless %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Boring Shoes"}})), "These shoes are not awesome.");
    let source = r#"{% if product.title != "Awesome Shoes" %}These shoes are not awesome.{% endif %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Boring Shoes"}})), "These shoes are not awesome.");
    let source =
        r#"{% unless product.title == "Awesome Shoes" %}These shoes are not awesome.{% endunless %}"#;
    assert_eq!(render(source, json!({"product": {"title": "Awesome Shoes"}})), "");
    assert_eq!(render("{% unless x %}no x{% else %}x{% endunless %}", json!({"x": 1})), "x");
}

/// Tags / Control flow / elsif and else.
#[test]
fn tag_elsif_else() {
    let source = r#"{% if customer.name == "kevin" %}Hey Kevin!{% elsif customer.name == "anonymous" %}Hey Anonymous!{% else %}Hi Stranger!{% endif %}"#;
    assert_eq!(render(source, json!({"customer": {"name": "anonymous"}})), "Hey Anonymous!");
    assert_eq!(render(source, json!({"customer": {"name": "kevin"}})), "Hey Kevin!");
    assert_eq!(render(source, json!({"customer": {"name": "tobi"}})), "Hi Stranger!");
    let source = "{% unless a %}A{% elsif b %}B{% else %}C{% endunless %}";
    assert_eq!(render(source, json!({"a": true, "b": true})), "B");
}

/// Tags / Control flow / case/when, with `when a, b`, `when a or b` and else.
#[test]
fn tag_case_when() {
    let source = r#"{% assign handle = "cake" %}{% case handle %}{% when "cake" %}This is a cake{% when "cookie", "biscuit" %}This is a cookie{% else %}This is not a cake nor a cookie{% endcase %}"#;
    assert_eq!(render(source, json!({})), "This is a cake");
    let source = r#"{% case handle %}{% when "cake" %}This is a cake{% when "cookie", "biscuit" %}This is a cookie{% else %}This is not a cake nor a cookie{% endcase %}"#;
    assert_eq!(render(source, json!({"handle": "cookie"})), "This is a cookie");
    assert_eq!(render(source, json!({"handle": "biscuit"})), "This is a cookie");
    assert_eq!(render(source, json!({"handle": "bread"})), "This is not a cake nor a cookie");
    let source = r#"{% case handle %}{% when "cake" %}This is a cake{% when "cookie" or "biscuit" %}This is a cookie{% else %}This is not a cake nor a cookie{% endcase %}"#;
    assert_eq!(render(source, json!({"handle": "biscuit"})), "This is a cookie");
    assert_eq!(render(source, json!({"handle": "bread"})), "This is not a cake nor a cookie");
    let source = r#"{% assign handle = "cake" %}
{% case handle %}
  {% when "cake" %}
     This is a cake
  {% when "cookie", "biscuit" %}
     This is a cookie
  {% else %}
     This is not a cake nor a cookie
{% endcase %}"#;
    assert_eq!(render(source, json!({})), "\n\n     This is a cake\n  ");
    assert_eq!(render("{% case n %}{% when 1 %}one{% when 2 %}two{% endcase %}", json!({"n": 2})), "two");
}

/// Tags / Iteration / for, with else, break and continue.
#[test]
fn tag_for() {
    let source = "{% for product in collection.products %}{{ product.title }} {% endfor %}";
    assert_eq!(render(source, hat_shirt_pants()), "hat shirt pants ");
    let source = "{% for product in collection.products %}
  {{ product.title }}
{% endfor %}";
    assert_eq!(render(source, hat_shirt_pants()), "\n  hat\n\n  shirt\n\n  pants\n");
    let source = "{% for product in collection.products %}{{ product.title }}{% else %}The collection is empty.{% endfor %}";
    assert_eq!(render(source, json!({"collection": {"products": []}})), "The collection is empty.");
    assert_eq!(render(source, json!({})), "The collection is empty.");
    let source = "{% for i in (1..5) %}{% if i == 4 %}{% break %}{% else %}{{ i }} {% endif %}{% endfor %}";
    assert_eq!(render(source, json!({})), "1 2 3 ");
    let source =
        "{% for i in (1..5) %}{% if i == 4 %}{% continue %}{% else %}{{ i }} {% endif %}{% endfor %}";
    assert_eq!(render(source, json!({})), "1 2 3 5 ");
    let source = "{% for i in (1..5) %}
  {% if i == 4 %}
    {% break %}
  {% else %}
    {{ i }}
  {% endif %}
{% endfor %}";
    assert_eq!(render(source, json!({})), "\n  \n    1\n  \n\n  \n    2\n  \n\n  \n    3\n  \n\n  \n    ");
}

/// Tags / Iteration / for (parameters): limit, offset, offset: continue, range, reversed.
#[test]
fn tag_for_parameters() {
    let source = "{% for item in array limit:2 %}{{ item }} {% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "1 2 ");
    let source = "{% for item in array offset:2 %}{{ item }} {% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "3 4 5 6 ");
    let source = "{% for item in array limit: 3 %}{{ item }} {% endfor %}|{% for item in array limit: 3 offset: continue %}{{ item }} {% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "1 2 3 |4 5 6 ");
    assert_eq!(render("{% for i in (3..5) %}{{ i }} {% endfor %}", json!({})), "3 4 5 ");
    let source = "{% assign num = 4 %}{% assign range = (1..num) %}{% for i in range %}{{ i }} {% endfor %}";
    assert_eq!(render(source, json!({})), "1 2 3 4 ");
    assert_eq!(render("{% for i in (1..num) %}{{ i }}{% endfor %}", json!({"num": 3})), "123");
    let source = "{% for item in array reversed %}{{ item }} {% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "6 5 4 3 2 1 ");
    let source = "{% for item in array reversed limit:2 offset:1 %}{{ item }}{% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "32");
}

/// Tags / Iteration / forloop: index, index0, rindex, rindex0, first, last, length, parentloop.
#[test]
fn tag_forloop_object() {
    let source = r#"{% assign smoothie_flavors = "orange, strawberry, banana" | split: ", " %}

{% for flavor in smoothie_flavors -%}
  {%- if forloop.length > 0 -%}
    {{ flavor }}{% unless forloop.last %}-{% endunless -%}
  {%- endif -%}
{% endfor %}"#;
    assert_eq!(render(source, json!({})), "\n\norange-strawberry-banana");
    let source = "{% for i in (1..3) %}{{ forloop.index }},{{ forloop.index0 }},{{ forloop.rindex }},{{ forloop.rindex0 }},{{ forloop.first }},{{ forloop.last }},{{ forloop.length }};{% endfor %}";
    assert_eq!(render(source, json!({})), "1,0,3,2,true,false,3;2,1,2,1,false,false,3;3,2,1,0,false,true,3;");
    let source = "{% for i in (1..2) %}{% for j in (1..2) %}{{ forloop.parentloop.index }}.{{ forloop.index }} {% endfor %}{% endfor %}";
    assert_eq!(render(source, json!({})), "1.1 1.2 2.1 2.2 ");
    assert_eq!(render("{% for i in (1..1) %}[{{ forloop.parentloop }}]{% endfor %}", json!({})), "[]");
    let source = "{% for x in array limit:2 %}{{ forloop.length }}{% endfor %}";
    assert_eq!(render(source, json!({"array": [1, 2, 3, 4, 5, 6]})), "22");
}

/// Tags / Iteration / cycle, with and without group names.
#[test]
fn tag_cycle() {
    let source = r#"{% cycle "one", "two", "three" %}
{% cycle "one", "two", "three" %}
{% cycle "one", "two", "three" %}
{% cycle "one", "two", "three" %}"#;
    assert_eq!(render(source, json!({})), "one\ntwo\nthree\none");
    let source = r#"{% cycle "first": "one", "two", "three" %}
{% cycle "second": "one", "two", "three" %}
{% cycle "second": "one", "two", "three" %}
{% cycle "first": "one", "two", "three" %}"#;
    assert_eq!(render(source, json!({})), "one\none\ntwo\ntwo");
    let source = r#"{% for i in (1..5) %}<tr class="{% cycle "odd", "even" %}">{% endfor %}"#;
    let expected = r#"<tr class="odd"><tr class="even"><tr class="odd"><tr class="even"><tr class="odd">"#;
    assert_eq!(render(source, json!({})), expected);
}

/// Tags / Iteration / tablerow: rows and cells, with cols, limit, offset and ranges.
#[test]
fn tag_tablerow() {
    let data = json!({
        "collection": {
            "products": [
                {"title": "Cool Shirt"},
                {"title": "Alien Poster"},
                {"title": "Batman Poster"},
                {"title": "Bullseye Shirt"},
                {"title": "Another Classic Vinyl"},
                {"title": "Awesome Jeans"}
            ]
        }
    });
    let source = "<table>
{% tablerow product in collection.products %}{{ product.title }}{% endtablerow %}
</table>";
    let expected = "<table>\n<tr class=\"row1\">\n<td class=\"col1\">Cool Shirt</td><td class=\"col2\">Alien Poster</td><td class=\"col3\">Batman Poster</td><td class=\"col4\">Bullseye Shirt</td><td class=\"col5\">Another Classic Vinyl</td><td class=\"col6\">Awesome Jeans</td></tr>\n\n</table>";
    assert_eq!(render(source, data.clone()), expected);
    let source = "{% tablerow product in collection.products cols:2 %}{{ product.title }}{% endtablerow %}";
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">Cool Shirt</td><td class=\"col2\">Alien Poster</td></tr>\n<tr class=\"row2\"><td class=\"col1\">Batman Poster</td><td class=\"col2\">Bullseye Shirt</td></tr>\n<tr class=\"row3\"><td class=\"col1\">Another Classic Vinyl</td><td class=\"col2\">Awesome Jeans</td></tr>\n";
    assert_eq!(render(source, data.clone()), expected);
    let source =
        "{% tablerow product in collection.products cols:2 limit:3 %}{{ product.title }}{% endtablerow %}";
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">Cool Shirt</td><td class=\"col2\">Alien Poster</td></tr>\n<tr class=\"row2\"><td class=\"col1\">Batman Poster</td></tr>\n";
    assert_eq!(render(source, data.clone()), expected);
    let source =
        "{% tablerow product in collection.products cols:2 offset:3 %}{{ product.title }}{% endtablerow %}";
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">Bullseye Shirt</td><td class=\"col2\">Another Classic Vinyl</td></tr>\n<tr class=\"row2\"><td class=\"col1\">Awesome Jeans</td></tr>\n";
    assert_eq!(render(source, data.clone()), expected);
    let source = "{% assign num = 4 %}<table>{% tablerow i in (1..num) %}{{ i }}{% endtablerow %}</table>";
    let expected = "<table><tr class=\"row1\">\n<td class=\"col1\">1</td><td class=\"col2\">2</td><td class=\"col3\">3</td><td class=\"col4\">4</td></tr>\n</table>";
    assert_eq!(render(source, json!({})), expected);
    let source = "<table>{% tablerow i in (3..5) %}{{ i }}{% endtablerow %}</table>";
    let expected = "<table><tr class=\"row1\">\n<td class=\"col1\">3</td><td class=\"col2\">4</td><td class=\"col3\">5</td></tr>\n</table>";
    assert_eq!(render(source, json!({})), expected);
    let source = "{% tablerow product in collection.products cols:2 %}
  {{ product.title }}
{% endtablerow %}";
    let globals = json!({"collection": {"products": [{"title": "Cool Shirt"}, {"title": "Alien Poster"}]}});
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">\n  Cool Shirt\n</td><td class=\"col2\">\n  Alien Poster\n</td></tr>\n";
    assert_eq!(render(source, globals), expected);
}

/// Tags / Iteration / tablerowloop: col, col0, col_first, col_last, row and the forloop fields.
#[test]
fn tag_tablerowloop_object() {
    let source = "{% tablerow i in (1..5) cols:2 %}{{ tablerowloop.col }}{{ tablerowloop.col0 }}{{ tablerowloop.row }}{% if tablerowloop.col_first %}F{% endif %}{% if tablerowloop.col_last %}L{% endif %}{% endtablerow %}";
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">101F</td><td class=\"col2\">211L</td></tr>\n<tr class=\"row2\"><td class=\"col1\">102F</td><td class=\"col2\">212L</td></tr>\n<tr class=\"row3\"><td class=\"col1\">103F</td></tr>\n";
    assert_eq!(render(source, json!({})), expected);
    let source = "{% tablerow i in (1..3) %}{{ tablerowloop.index }}{{ tablerowloop.index0 }}{{ tablerowloop.rindex }}{{ tablerowloop.rindex0 }}{{ tablerowloop.length }}{{ tablerowloop.first }}{{ tablerowloop.last }}{% endtablerow %}";
    let expected = "<tr class=\"row1\">\n<td class=\"col1\">10323truefalse</td><td class=\"col2\">21213falsefalse</td><td class=\"col3\">32103falsetrue</td></tr>\n";
    assert_eq!(render(source, json!({})), expected);
}

// ------------------------------ Filters ------------------------------

/// Filters / abs.
#[test]
fn filter_abs() {
    assert_eq!(render("{{ -17 | abs }}", json!({})), "17");
    assert_eq!(render("{{ 4 | abs }}", json!({})), "4");
    assert_eq!(render(r#"{{ "-19.86" | abs }}"#, json!({})), "19.86");
}

/// Filters / append.
#[test]
fn filter_append() {
    assert_eq!(render(r#"{{ "/my/fancy/url" | append: ".html" }}"#, json!({})), "/my/fancy/url.html");
    let source = r#"{% assign filename = "/index.html" %}{{ "website.com" | append: filename }}"#;
    assert_eq!(render(source, json!({})), "website.com/index.html");
}

/// Filters / at_least.
#[test]
fn filter_at_least() {
    assert_eq!(render("{{ 4 | at_least: 5 }}", json!({})), "5");
    assert_eq!(render("{{ 4 | at_least: 3 }}", json!({})), "4");
}

/// Filters / at_most.
#[test]
fn filter_at_most() {
    assert_eq!(render("{{ 4 | at_most: 5 }}", json!({})), "4");
    assert_eq!(render("{{ 4 | at_most: 3 }}", json!({})), "3");
}

/// Filters / base64_decode.
#[test]
fn filter_base64_decode() {
    assert_eq!(render("{{ 'b25lIHR3byB0aHJlZQ==' | base64_decode }}", json!({})), "one two three");
    assert_eq!(render("{{ '4pyF' | base64_decode }}", json!({})), "\u{2705}");
}

/// Filters / base64_encode.
#[test]
fn filter_base64_encode() {
    assert_eq!(render("{{ 'one two three' | base64_encode }}", json!({})), "b25lIHR3byB0aHJlZQ==");
    assert_eq!(render("{{ '???' | base64_encode }}", json!({})), "Pz8/");
}

/// Filters / base64_url_safe_decode.
#[test]
fn filter_base64_url_safe_decode() {
    assert_eq!(render("{{ 'b25lIHR3byB0aHJlZQ==' | base64_url_safe_decode }}", json!({})), "one two three");
    let source = "{{ s | base64_url_safe_decode }}";
    let globals = json!({
        "s": "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXogQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVogMTIzNDU2Nzg5MCAhQCMkJV4mKigpLT1fKy8_Ljo7W117fVx8"
    });
    let expected =
        r#"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 !@#$%^&*()-=_+/?.:;[]{}\|"#;
    assert_eq!(render(source, globals), expected);
}

/// Filters / base64_url_safe_encode.
#[test]
fn filter_base64_url_safe_encode() {
    assert_eq!(render("{{ 'one two three' | base64_url_safe_encode }}", json!({})), "b25lIHR3byB0aHJlZQ==");
    let source = "{{ s | base64_url_safe_encode }}";
    let globals = json!({
        "s": "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 !@#$%^&*()-=_+/?.:;[]{}\\|"
    });
    let expected = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXogQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVogMTIzNDU2Nzg5MCAhQCMkJV4mKigpLT1fKy8_Ljo7W117fVx8";
    assert_eq!(render(source, globals), expected);
    assert_eq!(render("{{ '???' | base64_url_safe_encode }}", json!({})), "Pz8_");
}

/// Filters / capitalize.
#[test]
fn filter_capitalize() {
    assert_eq!(render(r#"{{ "title" | capitalize }}"#, json!({})), "Title");
    assert_eq!(render(r#"{{ "my GREAT title" | capitalize }}"#, json!({})), "My great title");
}

/// Filters / ceil.
#[test]
fn filter_ceil() {
    assert_eq!(render("{{ 1.2 | ceil }}", json!({})), "2");
    assert_eq!(render("{{ 2.0 | ceil }}", json!({})), "2");
    assert_eq!(render("{{ 183.357 | ceil }}", json!({})), "184");
    assert_eq!(render(r#"{{ "3.5" | ceil }}"#, json!({})), "4");
}

/// Filters / compact.
#[test]
fn filter_compact() {
    let source = "{% assign site_categories = site.pages | map: \"category\" %}{% for category in site_categories %}- {{ category }}\n{% endfor %}";
    let expected = "- business\n- celebrities\n- \n- lifestyle\n- sports\n- \n- technology\n";
    assert_eq!(render(source, site_pages()), expected);
    let source = "{% assign site_categories = site.pages | map: \"category\" | compact %}{% for category in site_categories %}- {{ category }}\n{% endfor %}";
    let expected = "- business\n- celebrities\n- lifestyle\n- sports\n- technology\n";
    assert_eq!(render(source, site_pages()), expected);
}

/// Filters / concat.
#[test]
fn filter_concat() {
    let source = "{% assign fruits = \"apples, oranges, peaches\" | split: \", \" %}{% assign vegetables = \"carrots, turnips, potatoes\" | split: \", \" %}{% assign everything = fruits | concat: vegetables %}{% for item in everything %}- {{ item }}\n{% endfor %}";
    let expected = "- apples\n- oranges\n- peaches\n- carrots\n- turnips\n- potatoes\n";
    assert_eq!(render(source, json!({})), expected);
    let source = r#"{% assign fruits = "apples, oranges, peaches" | split: ", " %}{% assign vegetables = "carrots, turnips, potatoes" | split: ", " %}{% assign furniture = "chairs, tables, shelves" | split: ", " %}{% assign everything = fruits | concat: vegetables | concat: furniture %}{{ everything | join: ", " }}"#;
    let expected = "apples, oranges, peaches, carrots, turnips, potatoes, chairs, tables, shelves";
    assert_eq!(render(source, json!({})), expected);
}

/// Filters / date.
#[test]
fn filter_date() {
    let source = r#"{{ article.published_at | date: "%a, %b %d, %y" }}"#;
    let globals = json!({"article": {"published_at": "2015-07-17T15:00:00Z"}});
    assert_eq!(render(source, globals), "Fri, Jul 17, 15");
    let source = r#"{{ article.published_at | date: "%Y" }}"#;
    assert_eq!(render(source, json!({"article": {"published_at": "2015-07-17T15:00:00Z"}})), "2015");
    assert_eq!(render(r#"{{ "March 14, 2016" | date: "%b %d, %y" }}"#, json!({})), "Mar 14, 16");
    let source = r#"{{ t | date: "%Y-%m-%d %H:%M:%S" }}"#;
    assert_eq!(render(source, json!({"t": 1437145200})), "2015-07-17 15:00:00");
    let source = r#"{{ "2015-07-17T15:00:00Z" | date: "%A %B %e %I:%M %p %j" }}"#;
    assert_eq!(render(source, json!({})), "Friday July 17 03:00 PM 198");
    let context = Context::default().now(1_700_000_000_000);
    let source = r#"This page was last updated at {{ "now" | date: "%Y-%m-%d %H:%M" }}."#;
    assert_eq!(render_with(source, json!({}), &context), "This page was last updated at 2023-11-14 22:13.");
    assert_eq!(render_with(r#"{{ "today" | date: "%Y-%m-%d" }}"#, json!({}), &context), "2023-11-14");
    let context = Context::default().time_zone("America/New_York").now(1_700_000_000_000);
    let source = r#"{{ "now" | date: "%Y-%m-%d %H:%M" }}"#;
    assert_eq!(render_with(source, json!({}), &context), "2023-11-14 17:13");
    let context = Context::default().time_zone("America/New_York");
    let source = r#"{{ t | date: "%Y-%m-%d %H:%M" }}"#;
    assert_eq!(render_with(source, json!({"t": 1437145200}), &context), "2015-07-17 11:00");
    let source = r#"{{ article.published_at | date: "%Y-%m-%d %H:%M" }}"#;
    let globals = json!({"article": {"published_at": "2015-07-17T15:00:00Z"}});
    assert_eq!(render_with(source, globals, &context), "2015-07-17 11:00");
}

/// Filters / default.
#[test]
fn filter_default() {
    assert_eq!(render("{{ product_price | default: 2.99 }}", json!({})), "2.99");
    let source = "{% assign product_price = 4.99 %}{{ product_price | default: 2.99 }}";
    assert_eq!(render(source, json!({})), "4.99");
    let source = r#"{% assign product_price = "" %}{{ product_price | default: 2.99 }}"#;
    assert_eq!(render(source, json!({})), "2.99");
    let source = "{% assign display_price = false %}{{ display_price | default: true, allow_false: true }}";
    assert_eq!(render(source, json!({})), "false");
    let source = "{% assign display_price = false %}{{ display_price | default: true }}";
    assert_eq!(render(source, json!({})), "true");
    assert_eq!(render(r#"{{ list | default: "none" }}"#, json!({"list": []})), "none");
}

/// Filters / divided_by.
#[test]
fn filter_divided_by() {
    assert_eq!(render("{{ 16 | divided_by: 4 }}", json!({})), "4");
    assert_eq!(render("{{ 5 | divided_by: 3 }}", json!({})), "1");
    assert_eq!(render("{{ 20 | divided_by: 7 }}", json!({})), "2");
    assert_eq!(render("{{ 20 | divided_by: 7.0 }}", json!({})), "2.857142857142857");
    assert_eq!(render("{% assign my_integer = 7 %}{{ 20 | divided_by: my_integer }}", json!({})), "2");
    let source = "{% assign my_integer = 7 %}{% assign my_float = my_integer | times: 1.0 %}{{ 20 | divided_by: my_float }}";
    assert_eq!(render(source, json!({})), "2.857142857142857");
}

/// Filters / downcase.
#[test]
fn filter_downcase() {
    assert_eq!(render(r#"{{ "Parker Moore" | downcase }}"#, json!({})), "parker moore");
    assert_eq!(render(r#"{{ "apple" | downcase }}"#, json!({})), "apple");
}

/// Filters / escape.
#[test]
fn filter_escape() {
    let source = r#"{{ "Have you read 'James & the Giant Peach'?" | escape }}"#;
    assert_eq!(render(source, json!({})), "Have you read &#39;James &amp; the Giant Peach&#39;?");
    assert_eq!(render(r#"{{ "Tetsuro Takara" | escape }}"#, json!({})), "Tetsuro Takara");
    assert_eq!(render(r#"{{ '<p class="x">' | escape }}"#, json!({})), "&lt;p class=&quot;x&quot;&gt;");
}

/// Filters / escape_once.
#[test]
fn filter_escape_once() {
    assert_eq!(render(r#"{{ "1 < 2 & 3" | escape_once }}"#, json!({})), "1 &lt; 2 &amp; 3");
    assert_eq!(render(r#"{{ "1 &lt; 2 &amp; 3" | escape_once }}"#, json!({})), "1 &lt; 2 &amp; 3");
}

/// Filters / find.
#[test]
fn filter_find() {
    let source = r#"{% assign product = collection.products | find: 'vendor', "Polina's Potent Potions" %}{{ product.title }}"#;
    assert_eq!(render(source, potions()), "Blue Mountain Flower");
    let source = r#"{% assign product = collection.products | find: 'vendor', "Clover's Apothecary" %}{{ product.title }}"#;
    assert_eq!(render(source, potions()), "Dandelion milk");
    let source = "{% assign product = collection.products | find: 'vendor', 'Nobody' %}{% unless product %}Product not found.{% endunless %}";
    assert_eq!(render(source, potions()), "Product not found.");
}

/// Filters / find_index.
#[test]
fn filter_find_index() {
    let source = r#"{% assign index = collection.products | find_index: 'vendor', "Polina's Potent Potions" %}{{ index }}"#;
    assert_eq!(render(source, potions()), "0");
    let source = r#"{{ collection.products | find_index: 'vendor', "Ted's Apothecary Supply" }}"#;
    assert_eq!(render(source, potions()), "1");
    let source = "{% assign index = collection.products | find_index: 'vendor', 'Nobody' %}{% unless index %}Index not found.{% endunless %}";
    assert_eq!(render(source, potions()), "Index not found.");
}

/// Filters / first.
#[test]
fn filter_first() {
    assert_eq!(render(r#"{{ "Ground control to Major Tom." | split: " " | first }}"#, json!({})), "Ground");
    let source =
        r#"{% assign my_array = "zebra, octopus, giraffe, tiger" | split: ", " %}{{ my_array.first }}"#;
    assert_eq!(render(source, json!({})), "zebra");
    let source = r#"{% assign my_array = "zebra, octopus, giraffe, tiger" | split: ", " %}{% if my_array.first == "zebra" %}Here comes a zebra!{% endif %}"#;
    assert_eq!(render(source, json!({})), "Here comes a zebra!");
}

/// Filters / floor.
#[test]
fn filter_floor() {
    assert_eq!(render("{{ 1.2 | floor }}", json!({})), "1");
    assert_eq!(render("{{ 2.0 | floor }}", json!({})), "2");
    assert_eq!(render("{{ 183.357 | floor }}", json!({})), "183");
    assert_eq!(render(r#"{{ "3.5" | floor }}"#, json!({})), "3");
}

/// Filters / has.
#[test]
fn filter_has() {
    let source = r#"{% assign has_potent_potions = collection.products | has: 'vendor', "Polina's Potent Potions" %}{{ has_potent_potions }}"#;
    assert_eq!(render(source, potions()), "true");
    assert_eq!(render("{{ collection.products | has: 'vendor', 'Nobody' }}", potions()), "false");
}

/// Filters / join.
#[test]
fn filter_join() {
    let source =
        r#"{% assign beatles = "John, Paul, George, Ringo" | split: ", " %}{{ beatles | join: " and " }}"#;
    assert_eq!(render(source, json!({})), "John and Paul and George and Ringo");
}

/// Filters / last.
#[test]
fn filter_last() {
    assert_eq!(render(r#"{{ "Ground control to Major Tom." | split: " " | last }}"#, json!({})), "Tom.");
    let source =
        r#"{% assign my_array = "zebra, octopus, giraffe, tiger" | split: ", " %}{{ my_array.last }}"#;
    assert_eq!(render(source, json!({})), "tiger");
    let source = r#"{% assign my_array = "zebra, octopus, giraffe, tiger" | split: ", " %}{% if my_array.last == "tiger" %}There goes a tiger!{% endif %}"#;
    assert_eq!(render(source, json!({})), "There goes a tiger!");
}

/// Filters / lstrip.
#[test]
fn filter_lstrip() {
    let source = r#"{{ "          So much room for activities          " | lstrip }}!"#;
    assert_eq!(render(source, json!({})), "So much room for activities          !");
}

/// Filters / map.
#[test]
fn filter_map() {
    let source = "{% assign all_categories = site.pages | map: \"category\" %}{% for item in all_categories %}- {{ item }}\n{% endfor %}";
    let globals = json!({
        "site": {
            "pages": [
                {"category": "business"},
                {"category": "celebrities"},
                {"category": "lifestyle"},
                {"category": "sports"},
                {"category": "technology"}
            ]
        }
    });
    assert_eq!(render(source, globals), "- business\n- celebrities\n- lifestyle\n- sports\n- technology\n");
    let source = r#"{{ site.pages | map: "title" | join: ", " }}"#;
    assert_eq!(render(source, site_pages()), "Big deal, Stars, About, Living, Scores, Contact, Gadgets");
}

/// Filters / minus.
#[test]
fn filter_minus() {
    assert_eq!(render("{{ 4 | minus: 2 }}", json!({})), "2");
    assert_eq!(render("{{ 16 | minus: 4 }}", json!({})), "12");
    assert_eq!(render("{{ 183.357 | minus: 12 }}", json!({})), "171.357");
}

/// Filters / modulo.
#[test]
fn filter_modulo() {
    assert_eq!(render("{{ 3 | modulo: 2 }}", json!({})), "1");
    assert_eq!(render("{{ 24 | modulo: 7 }}", json!({})), "3");
    assert_eq!(render("{{ 183.357 | modulo: 12 }}", json!({})), "3.357");
}

/// Filters / newline_to_br.
#[test]
fn filter_newline_to_br() {
    let source = "{% capture string_with_newlines %}
Hello
there
{% endcapture %}{{ string_with_newlines | newline_to_br }}";
    assert_eq!(render(source, json!({})), "<br />\nHello<br />\nthere<br />\n");
}

/// Filters / plus.
#[test]
fn filter_plus() {
    assert_eq!(render("{{ 4 | plus: 2 }}", json!({})), "6");
    assert_eq!(render("{{ 16 | plus: 4 }}", json!({})), "20");
    assert_eq!(render("{{ 183.357 | plus: 12 }}", json!({})), "195.357");
}

/// Filters / prepend.
#[test]
fn filter_prepend() {
    let source = r#"{{ "apples, oranges, and bananas" | prepend: "Some fruit: " }}"#;
    assert_eq!(render(source, json!({})), "Some fruit: apples, oranges, and bananas");
    let source = r#"{% assign url = "example.com" %}{{ "/index.html" | prepend: url }}"#;
    assert_eq!(render(source, json!({})), "example.com/index.html");
}

/// Filters / reject.
#[test]
fn filter_reject() {
    let source = "{% assign polina_products = collection.products | reject: 'vendor', \"Polina's Potent Potions\" %}{% for product in polina_products %}- {{ product.title }}\n{% endfor %}";
    let expected = "- Charcoal\n- Dandelion milk\n- Dried chamomile\n- Forest mushroom\n";
    assert_eq!(render(source, potions()), expected);
    let source = "{{ array | reject: 'ok' | map: 'handle' | join: ' ' }}";
    let globals = json!({
        "array": [
            {"handle": "alpha", "ok": true},
            {"handle": "beta", "ok": false},
            {"handle": "gamma", "ok": false},
            {"handle": "delta", "ok": true}
        ]
    });
    assert_eq!(render(source, globals), "beta gamma");
}

/// Filters / remove.
#[test]
fn filter_remove() {
    let source = r#"{{ "I strained to see the train through the rain" | remove: "rain" }}"#;
    assert_eq!(render(source, json!({})), "I sted to see the t through the ");
}

/// Filters / remove_first.
#[test]
fn filter_remove_first() {
    let source = r#"{{ "I strained to see the train through the rain" | remove_first: "rain" }}"#;
    assert_eq!(render(source, json!({})), "I sted to see the train through the rain");
}

/// Filters / remove_last.
#[test]
fn filter_remove_last() {
    let source = r#"{{ "I strained to see the train through the rain" | remove_last: "rain" }}"#;
    assert_eq!(render(source, json!({})), "I strained to see the train through the ");
}

/// Filters / replace.
#[test]
fn filter_replace() {
    let source = r#"{{ "Take my protein pills and put my helmet on" | replace: "my", "your" }}"#;
    assert_eq!(render(source, json!({})), "Take your protein pills and put your helmet on");
}

/// Filters / replace_first.
#[test]
fn filter_replace_first() {
    let source = r#"{{ "Take my protein pills and put my helmet on" | replace_first: "my", "your" }}"#;
    assert_eq!(render(source, json!({})), "Take your protein pills and put my helmet on");
}

/// Filters / replace_last.
#[test]
fn filter_replace_last() {
    let source = r#"{{ "Take my protein pills and put my helmet on" | replace_last: "my", "your" }}"#;
    assert_eq!(render(source, json!({})), "Take my protein pills and put your helmet on");
}

/// Filters / reverse.
#[test]
fn filter_reverse() {
    let source = r#"{% assign my_array = "apples, oranges, peaches, plums" | split: ", " %}{{ my_array | reverse | join: ", " }}"#;
    assert_eq!(render(source, json!({})), "plums, peaches, oranges, apples");
    let source = r#"{{ "Ground control to Major Tom." | split: "" | reverse | join: "" }}"#;
    assert_eq!(render(source, json!({})), ".moT rojaM ot lortnoc dnuorG");
}

/// Filters / round.
#[test]
fn filter_round() {
    assert_eq!(render("{{ 1.2 | round }}", json!({})), "1");
    assert_eq!(render("{{ 2.7 | round }}", json!({})), "3");
    assert_eq!(render("{{ 183.357 | round: 2 }}", json!({})), "183.36");
}

/// Filters / rstrip.
#[test]
fn filter_rstrip() {
    let source = r#"{{ "          So much room for activities          " | rstrip }}!"#;
    assert_eq!(render(source, json!({})), "          So much room for activities!");
}

/// Filters / size.
#[test]
fn filter_size() {
    assert_eq!(render(r#"{{ "Ground control to Major Tom." | size }}"#, json!({})), "28");
    let source =
        r#"{% assign my_array = "apples, oranges, peaches, plums" | split: ", " %}{{ my_array.size }}"#;
    assert_eq!(render(source, json!({})), "4");
    let source = "{% if site.pages.size > 10 %}This is a big website!{% else %}small{% endif %}";
    assert_eq!(render(source, site_pages()), "small");
    assert_eq!(render("{{ site.pages | size }}", site_pages()), "7");
}

/// Filters / slice.
#[test]
fn filter_slice() {
    assert_eq!(render(r#"{{ "Liquid" | slice: 0 }}"#, json!({})), "L");
    assert_eq!(render(r#"{{ "Liquid" | slice: 2 }}"#, json!({})), "q");
    assert_eq!(render(r#"{{ "Liquid" | slice: 2, 5 }}"#, json!({})), "quid");
    let source =
        r#"{% assign beatles = "John, Paul, George, Ringo" | split: ", " %}{{ beatles | slice: 1, 2 }}"#;
    assert_eq!(render(source, json!({})), "PaulGeorge");
    let source = r#"{% assign beatles = "John, Paul, George, Ringo" | split: ", " %}{{ beatles | slice: 1, 2 | join: ", " }}"#;
    assert_eq!(render(source, json!({})), "Paul, George");
    assert_eq!(render(r#"{{ "Liquid" | slice: -3, 2 }}"#, json!({})), "ui");
}

/// Filters / sort.
#[test]
fn filter_sort() {
    let source = r#"{% assign my_array = "zebra, octopus, giraffe, Sally Snake" | split: ", " %}{{ my_array | sort | join: ", " }}"#;
    assert_eq!(render(source, json!({})), "Sally Snake, giraffe, octopus, zebra");
    let source = r#"{% assign products_by_price = collection.products | sort: "price" %}{% for product in products_by_price %}<h4>{{ product.title }}</h4>{% endfor %}"#;
    let globals = priced_products();
    let expected = "<h4>Spatula</h4><h4>Garlic press</h4><h4>Vacuum</h4><h4>Television</h4>";
    assert_eq!(render(source, globals), expected);
}

/// Filters / sort_natural.
#[test]
fn filter_sort_natural() {
    let source = r#"{% assign my_array = "zebra, octopus, giraffe, Sally Snake" | split: ", " %}{{ my_array | sort_natural | join: ", " }}"#;
    assert_eq!(render(source, json!({})), "giraffe, octopus, Sally Snake, zebra");
    let source = r#"{% assign products_by_company = collection.products | sort_natural: "company" %}{% for product in products_by_company %}<h4>{{ product.title }}</h4>{% endfor %}"#;
    let globals = priced_products();
    let expected = "<h4>Spatula</h4><h4>Garlic press</h4><h4>Vacuum</h4><h4>Television</h4>";
    assert_eq!(render(source, globals), expected);
}

/// Filters / split.
#[test]
fn filter_split() {
    let source = "{% assign beatles = \"John, Paul, George, Ringo\" | split: \", \" %}{% for member in beatles %}{{ member }}\n{% endfor %}";
    assert_eq!(render(source, json!({})), "John\nPaul\nGeorge\nRingo\n");
    let source = r#"{% assign beatles = "John, Paul, George, Ringo" | split: ", " %}

{% for member in beatles %}
  {{ member }}
{% endfor %}"#;
    assert_eq!(render(source, json!({})), "\n\n\n  John\n\n  Paul\n\n  George\n\n  Ringo\n");
}

/// Filters / strip.
#[test]
fn filter_strip() {
    let source = r#"{{ "          So much room for activities          " | strip }}!"#;
    assert_eq!(render(source, json!({})), "So much room for activities!");
}

/// Filters / strip_html.
#[test]
fn filter_strip_html() {
    let source = r#"{{ "Have <em>you</em> read <strong>Ulysses</strong>?" | strip_html }}"#;
    assert_eq!(render(source, json!({})), "Have you read Ulysses?");
}

/// Filters / strip_newlines.
#[test]
fn filter_strip_newlines() {
    let source = "{% capture string_with_newlines %}
Hello
there
{% endcapture %}{{ string_with_newlines | strip_newlines }}";
    assert_eq!(render(source, json!({})), "Hellothere");
}

/// Filters / sum.
#[test]
fn filter_sum() {
    let source = r#"{% assign total_quantity = collection.products | sum: "quantity" %}{{ total_quantity }}"#;
    let globals = json!({"collection": {"products": [{"quantity": 1}, {"quantity": 3}, {"quantity": 2}]}});
    assert_eq!(render(source, globals), "6");
    let source = "{% assign total_rating = article.ratings | sum %}{{ total_rating }}";
    assert_eq!(render(source, json!({"article": {"ratings": [1, 2, 3]}})), "6");
}

/// Filters / times.
#[test]
fn filter_times() {
    assert_eq!(render("{{ 3 | times: 2 }}", json!({})), "6");
    assert_eq!(render("{{ 24 | times: 7 }}", json!({})), "168");
    assert_eq!(render("{{ 183.357 | times: 12 }}", json!({})), "2200.284");
}

/// Filters / truncate.
#[test]
fn filter_truncate() {
    let source = r#"{{ "Ground control to Major Tom." | truncate: 20 }}"#;
    assert_eq!(render(source, json!({})), "Ground control to...");
    let source = r#"{{ "Ground control to Major Tom." | truncate: 25, ", and so on" }}"#;
    assert_eq!(render(source, json!({})), "Ground control, and so on");
    let source = r#"{{ "Ground control to Major Tom." | truncate: 20, "" }}"#;
    assert_eq!(render(source, json!({})), "Ground control to Ma");
    let source = r#"{{ "Ground control to Major Tom." | truncate: 50 }}"#;
    assert_eq!(render(source, json!({})), "Ground control to Major Tom.");
}

/// Filters / truncatewords.
#[test]
fn filter_truncatewords() {
    let source = r#"{{ "Ground control to Major Tom." | truncatewords: 3 }}"#;
    assert_eq!(render(source, json!({})), "Ground control to...");
    let source = r#"{{ "Ground control to Major Tom." | truncatewords: 3, "--" }}"#;
    assert_eq!(render(source, json!({})), "Ground control to--");
    let source = r#"{{ "Ground control to Major Tom." | truncatewords: 3, "" }}"#;
    assert_eq!(render(source, json!({})), "Ground control to");
    let source = r#"{{ "Ground control to Major Tom." | truncatewords: 10 }}"#;
    assert_eq!(render(source, json!({})), "Ground control to Major Tom.");
}

/// Filters / uniq.
#[test]
fn filter_uniq() {
    let source = r#"{% assign my_array = "ants, bugs, bees, bugs, ants" | split: ", " %}{{ my_array | uniq | join: ", " }}"#;
    assert_eq!(render(source, json!({})), "ants, bugs, bees");
}

/// Filters / upcase.
#[test]
fn filter_upcase() {
    assert_eq!(render(r#"{{ "Parker Moore" | upcase }}"#, json!({})), "PARKER MOORE");
    assert_eq!(render(r#"{{ "APPLE" | upcase }}"#, json!({})), "APPLE");
}

/// Filters / url_decode.
#[test]
fn filter_url_decode() {
    assert_eq!(render(r#"{{ "%27Stop%21%27+said+Fred" | url_decode }}"#, json!({})), "'Stop!' said Fred");
}

/// Filters / url_encode.
#[test]
fn filter_url_encode() {
    assert_eq!(render(r#"{{ "john@liquid.com" | url_encode }}"#, json!({})), "john%40liquid.com");
    assert_eq!(render(r#"{{ "Tetsuro Takara" | url_encode }}"#, json!({})), "Tetsuro+Takara");
}

/// Filters / where.
#[test]
fn filter_where() {
    let source = r#"All products:
{% for product in products %}- {{ product.title }}
{% endfor %}{% assign kitchen_products = products | where: "type", "kitchen" %}Kitchen products:
{% for product in kitchen_products %}- {{ product.title }}
{% endfor %}"#;
    let globals = json!({
        "products": [
            {"title": "Vacuum", "type": "house"},
            {"title": "Spatula", "type": "kitchen"},
            {"title": "Television", "type": "lounge"},
            {"title": "Garlic press", "type": "kitchen"}
        ]
    });
    let expected = "All products:\n- Vacuum\n- Spatula\n- Television\n- Garlic press\nKitchen products:\n- Spatula\n- Garlic press\n";
    assert_eq!(render(source, globals), expected);
    let source = r#"{% assign available_products = products | where: "available" %}Available products:
{% for product in available_products %}- {{ product.title }}
{% endfor %}"#;
    let globals = json!({
        "products": [
            {"title": "Coffee mug", "available": true},
            {"title": "Limited edition sneakers", "available": false},
            {"title": "Boring sneakers", "available": true}
        ]
    });
    assert_eq!(render(source, globals), "Available products:\n- Coffee mug\n- Boring sneakers\n");
    let source = r#"{% assign new_shirt = products | where: "type", "shirt" | first %}Featured product: {{ new_shirt.title }}"#;
    let globals = json!({
        "products": [
            {"title": "Jeans", "type": "pants"},
            {"title": "Hawaiian print sweater vest", "type": "shirt"},
            {"title": "Plain tee", "type": "shirt"}
        ]
    });
    assert_eq!(render(source, globals), "Featured product: Hawaiian print sweater vest");
}

// ------------------------------ Undefined variables, options, robustness ------------------------------

/// An undefined variable renders as nothing by default (lax mode), also as a filter's input.
#[test]
fn undefined_variable_renders_empty() {
    assert_eq!(render("[{{ nothing }}]", json!({})), "[]");
    assert_eq!(render("[{{ user.nickname }}]", json!({"user": {}})), "[]");
    assert_eq!(render("[{{ missing | upcase }}]", json!({})), "[]");
    assert_eq!(render("[{{ missing.deeper[0].title }}]", json!({})), "[]");
}

/// With `strict(true)` an undefined variable is an error that names it.
#[test]
fn strict_undefined_variable_is_an_error() {
    let strict = Context::default().strict(true);
    let template = Template::parse("{{ user.nickname }}").unwrap_or_else(|e| panic!("parse: {e}"));
    let error = match template.render(&json!({"user": {}}), &strict) {
        Ok(out) => panic!("expected an undefined-variable error, got {out:?}"),
        Err(error) => error,
    };
    assert!(matches!(error.kind, ErrorKind::Undefined), "{error}");
    assert!(error.to_string().contains("user.nickname"), "{error}");
    assert_eq!(render_with("{{ user.name }}", json!({"user": {"name": "Tobi"}}), &strict), "Tobi");
}

/// Baton's `escape_html(true)`: `{{ }}` output is HTML-escaped unless it goes through `raw`.
#[test]
fn escape_html_context() {
    let html = Context::default().escape_html(true);
    let data = json!({"title": "<b>Tom & Jerry</b>"});
    assert_eq!(render_with("{{ title }}", data.clone(), &html), "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;");
    assert_eq!(render_with("{{ title | raw }}", data.clone(), &html), "<b>Tom & Jerry</b>");
    assert_eq!(render_with("<p>{{ 'a < b' }}</p>", json!({}), &html), "<p>a &lt; b</p>");
    assert_eq!(render("{{ title }}", data), "<b>Tom & Jerry</b>");
}

/// Comment bodies that crash liquid-rust: an unbalanced tag inside a comment, and a `raw` block
/// holding `endcomment` inside a comment. Neither may panic (the reference renders "x" and "y").
#[test]
fn comment_bodies_do_not_panic() {
    assert_eq!(render("{% comment %}{% if %}{% endcomment %}x", json!({})), "x");
    let source = "{% comment %}{% raw %}{% endcomment %}{% endraw %}{% endcomment %}y";
    if let Ok(template) = Template::parse(source) {
        let _ = template.render(&json!({}), &Context::default());
    }
}
