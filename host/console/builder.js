// The segment builder: a condition tree edited from menus, written as the JSON that
// `segment-conditions` reads, counted live by the server as it changes. Our own code, no
// dependencies; the page's CSP allows scripts from this origin only, so nothing here is inline.
'use strict';
(function () {
  const DAY = 86400000;
  const tree = document.getElementById('tree');
  if (!tree) return;
  const countOut = document.getElementById('member-count');
  const note = document.getElementById('count-note');
  const sample = document.getElementById('member-sample');
  const jsonOut = document.getElementById('config-json');
  const field = document.getElementById('config-field');
  const exactly = document.getElementById('count-exactly');
  const number = (n) => n.toLocaleString('en');
  let root = { kind: 'group', mode: 'all', negate: false, children: [] };
  let serial = 0;

  const ATTRIBUTE_OPS = [
    ['eq', 'is'], ['ne', 'is not'], ['gt', 'is more than'], ['gte', 'is at least'],
    ['lt', 'is less than'], ['lte', 'is at most'], ['contains', 'contains'], ['in', 'is one of'],
    ['exists', 'is set'], ['not_exists', 'is not set'],
    ['within_days', 'is within the last (days)'], ['older_than_days', 'is more than (days) ago'],
  ];
  const COUNT_OPS = [['gte', 'at least'], ['eq', 'exactly'], ['lte', 'at most'], ['gt', 'more than'], ['lt', 'fewer than']];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children || []) node.appendChild(child);
    return node;
  }

  function select(label, options, value, onChange) {
    const s = el('select', { 'aria-label': label });
    for (const [v, text] of options) {
      const o = el('option', { value: v, text: text });
      if (v === value) o.selected = true;
      s.appendChild(o);
    }
    s.addEventListener('change', () => onChange(s.value));
    return s;
  }

  function input(label, value, onInput, extra) {
    const i = el('input', Object.assign({ type: 'text', 'aria-label': label }, extra || {}));
    i.value = value == null ? '' : value;
    i.addEventListener('input', () => onInput(i.value));
    return i;
  }

  function button(text, onClick, cls) {
    const b = el('button', { type: 'button', class: cls || 'quiet', text: text });
    b.addEventListener('click', onClick);
    return b;
  }

  // A typed value: numbers and true/false as JSON, everything else as text.
  function typed(text) {
    const t = text.trim();
    if (t !== '' && !isNaN(Number(t))) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    return t;
  }

  function conditionJson(c) {
    let out = null;
    if (c.kind === 'group') {
      const kids = c.children.map(conditionJson).filter((x) => x !== null);
      if (kids.length === 0) return null;
      out = c.mode === 'any' ? { any: kids } : { all: kids };
    } else if (c.kind === 'attribute') {
      if (!c.attribute.trim()) return null;
      const attribute = c.attribute.trim();
      if (c.op === 'exists' || c.op === 'not_exists') out = { attribute: attribute, op: c.op };
      else if (c.op === 'within_days' || c.op === 'older_than_days') {
        const days = Number(c.value);
        if (!(days > 0)) return null;
        out = { attribute: attribute, op: c.op === 'within_days' ? 'within_ms' : 'older_than_ms', value: Math.round(days * DAY) };
      } else if (c.op === 'in') {
        out = { attribute: attribute, op: 'in', value: c.value.split(',').map(typed).filter((v) => v !== '') };
      } else out = { attribute: attribute, op: c.op, value: typed(c.value) };
    } else if (c.kind === 'event') {
      if (!c.event.trim()) return null;
      out = { event: c.event.trim(), count: { op: c.countOp, value: Math.max(0, parseInt(c.count, 10) || 0) } };
      const days = Number(c.withinDays);
      if (days > 0) out.within_ms = Math.round(days * DAY);
    }
    return out && c.negate ? { not: out } : out;
  }

  function newCondition(kind) {
    serial += 1;
    return kind === 'event'
      ? { kind: 'event', id: serial, event: '', countOp: 'gte', count: '1', withinDays: '', negate: false }
      : { kind: 'attribute', id: serial, attribute: '', op: 'eq', value: '', negate: false };
  }

  function negateBox(c, label) {
    const box = el('input', { type: 'checkbox' });
    box.checked = c.negate;
    box.addEventListener('change', () => { c.negate = box.checked; changed(); });
    return el('label', { class: 'check' }, [box, document.createTextNode(' ' + label)]);
  }

  function renderCondition(c, parent, path) {
    const name = 'Condition ' + path;
    const row = el('div', { class: 'condition', role: 'group', 'aria-label': name });
    const remove = button('Remove', () => { parent.children.splice(parent.children.indexOf(c), 1); render(); changed(); });
    remove.setAttribute('aria-label', 'Remove ' + name.toLowerCase());
    if (c.kind === 'attribute') {
      const value = input(name + ' value', c.value, (v) => { c.value = v; changed(); });
      const hideValue = () => { value.hidden = c.op === 'exists' || c.op === 'not_exists'; };
      row.append(
        el('span', { class: 'chip', text: 'Trait' }),
        input(name + ' trait', c.attribute, (v) => { c.attribute = v; changed(); }, { list: 'attribute-names' }),
        select(name + ' comparison', ATTRIBUTE_OPS, c.op, (v) => { c.op = v; hideValue(); changed(); }),
        value);
      hideValue();
    } else {
      row.append(
        el('span', { class: 'chip', text: 'Did' }),
        input(name + ' event', c.event, (v) => { c.event = v; changed(); }, { list: 'event-names' }),
        select(name + ' how often', COUNT_OPS, c.countOp, (v) => { c.countOp = v; changed(); }),
        input(name + ' times', c.count, (v) => { c.count = v; changed(); }, { inputmode: 'numeric', size: '3' }),
        el('span', { text: 'times in the last' }),
        input(name + ' days (empty for ever)', c.withinDays, (v) => { c.withinDays = v; changed(); }, { inputmode: 'numeric', size: '4', placeholder: 'any' }),
        el('span', { text: 'days' }));
    }
    row.append(negateBox(c, 'exclude'), remove);
    return row;
  }

  function renderGroup(g, parent, path) {
    const name = path ? 'Group ' + path : 'Everyone who matches';
    const box = el('fieldset', { class: 'group' });
    const legend = el('legend', {}, [document.createTextNode(path ? name + ': match ' : 'Match ')]);
    legend.appendChild(select((path ? name : 'Top level') + ': match', [['all', 'all of these'], ['any', 'any of these']], g.mode,
      (v) => { g.mode = v; changed(); }));
    box.appendChild(legend);
    g.children.forEach((child, i) => {
      const childPath = (path ? path + '.' : '') + (i + 1);
      box.appendChild(child.kind === 'group' ? renderGroup(child, g, childPath) : renderCondition(child, g, childPath));
    });
    const add = el('div', { class: 'add' }, [
      button('Add trait condition', () => { g.children.push(newCondition('attribute')); render(); changed(); focusLast(box); }),
      button('Add event condition', () => { g.children.push(newCondition('event')); render(); changed(); }),
      button('Add group', () => { g.children.push({ kind: 'group', mode: 'any', negate: false, children: [newCondition('attribute')] }); render(); changed(); }),
    ]);
    box.appendChild(add);
    if (parent) {
      box.appendChild(negateBox(g, 'exclude this group'));
      const remove = button('Remove group', () => { parent.children.splice(parent.children.indexOf(g), 1); render(); changed(); });
      box.appendChild(remove);
    }
    return box;
  }

  function focusLast() {
    const inputs = tree.querySelectorAll('input[list="attribute-names"]');
    if (inputs.length) inputs[inputs.length - 1].focus();
  }

  function render() {
    tree.replaceChildren(renderGroup(root, null, ''));
  }

  let timer = null;
  let asked = 0;
  function changed() {
    const json = conditionJson(root);
    const text = json === null ? '' : JSON.stringify(json);
    jsonOut.textContent = json === null ? '{}' : JSON.stringify(json, null, 2);
    if (field) field.value = text;
    clearTimeout(timer);
    exactly.hidden = true;
    if (json === null) {
      countOut.value = '–';
      countOut.textContent = '–';
      note.textContent = 'Add a condition to count.';
      sample.replaceChildren();
      return;
    }
    note.textContent = 'Counting…';
    timer = setTimeout(() => count(text), 250);
  }

  async function count(text, exact) {
    const mine = ++asked;
    let answer;
    try {
      const url = '/segments/count?config=' + encodeURIComponent(text) + (exact ? '&exact=true' : '');
      const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      answer = await response.json();
      if (response.status === 429) { timer = setTimeout(() => count(text, exact), 1000); return; }
    } catch (e) {
      answer = { error: 'Baton did not answer; check the connection.' };
    }
    if (mine !== asked) return; // a newer tree is being counted
    if (answer.error) {
      note.textContent = answer.error;
      return;
    }
    if (answer.exact) {
      countOut.textContent = number(answer.count);
      note.textContent = 'of ' + number(answer.profiles) + ' profiles';
      exactly.hidden = true;
    } else {
      // Estimated from a random sample: say so, with the interval.
      countOut.textContent = '≈ ' + number(answer.count);
      note.textContent = 'estimated from ' + number(answer.judged) + ' of about ' + number(answer.profiles) +
        ' profiles (95%: ' + number(answer.interval[0]) + ' to ' + number(answer.interval[1]) + ')';
      exactly.hidden = false;
    }
    sample.replaceChildren(...answer.sample.map((m) =>
      el('li', {}, [el('a', { href: '/profiles/' + m.id, text: m.label || m.id })])));
  }

  exactly.addEventListener('click', () => {
    note.textContent = 'Counting every profile…';
    exactly.hidden = true;
    count(field ? field.value : JSON.stringify(conditionJson(root)), true);
  });

  const form = document.getElementById('save-segment');
  if (form) {
    form.addEventListener('submit', (event) => {
      if (!field.value) { event.preventDefault(); note.textContent = 'Add at least one condition before saving.'; }
    });
  }
  root.children.push(newCondition('attribute'));
  render();
  changed();
})();
