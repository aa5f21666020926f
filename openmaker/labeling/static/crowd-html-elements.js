/*
 * crowd-html-elements.js: an offline implementation of the "crowd HTML elements" that
 * SageMaker Ground Truth task templates use (crowd-form, crowd-checkbox, crowd-card, ...),
 * as plain custom elements. No build step, no dependencies, no network access of its own
 * (beyond the crowd-form's POST to the portal), no eval and no inline handlers, so it runs
 * under a Content-Security-Policy of `script-src 'self'`.
 *
 * Elements render into the light DOM: the real <input>/<button> controls are ordinary
 * children, reachable by labels, assistive technology and test locators.
 *
 * Submit contract (crowd-form):
 *   The answer is ONE object merging the output of every named crowd element inside the
 *   form with the author's plain named <input>/<select>/<textarea> fields.
 *   - document.body.dataset.submitUrl set: POST JSON {"answer": <object>, "submission":
 *     document.body.dataset.submission || null} with Content-Type: application/json and
 *     X-CSRF-Token: document.body.dataset.csrf || "" (same origin, cookies sent). 2xx JSON
 *     {"next": url} navigates there; an error shows the server's "error" (or the status
 *     text) in the form's role="alert" element; a network failure offers a retry.
 *   - no submitUrl (preview): the answer JSON goes into <pre id="crowd-output"> at the end of
 *     the body and a bubbling "crowd-form-submit" CustomEvent carries it as `detail`.
 *   A listener that cancels the form's "submit" event (as AWS templates do for their own
 *   validation) stops the submission.
 */
(function () {
  "use strict";

  if (!window.customElements || window.customElements.get("crowd-form")) return; // loaded twice

  // -- styles -------------------------------------------------------------------------------

  const CSS = `
/* Element selectors sit in :where() (no specificity), so the template's own CSS wins over them. */
:where(crowd-form, crowd-card, crowd-classifier, crowd-image-classifier, crowd-instructions,
  crowd-input, crowd-text-area, crowd-radio-group, crowd-slider, crowd-alert) { display: block; }
:where(crowd-checkbox, crowd-button, crowd-radio-button, crowd-toggle-button) { display: inline-block; }
:where(crowd-classifier > full-instructions, crowd-image-classifier > full-instructions,
  crowd-instructions > detailed-instructions, crowd-instructions > positive-example,
  crowd-instructions > negative-example) { display: none; }
:where([class^="crowd-"], [class*=" crowd-"], [data-crowd-ready])[hidden] { display: none !important; }

.crowd-form, .crowd-card, .crowd-task, .crowd-dialog, .crowd-input, .crowd-alert {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #16191f; line-height: 1.45;
}
.crowd-form__footer { display: flex; flex-wrap: wrap; align-items: center; justify-content: flex-end;
  gap: .75rem; margin-top: 1.25rem; padding-top: 1rem; border-top: 1px solid #e9ebed; }
.crowd-form__message { flex: 1 1 100%; box-sizing: border-box; padding: .65rem .9rem; border-radius: 6px;
  border: 1px solid #d91515; background: #fff7f7; color: #8c0d0d; }
.crowd-form__message .crowd-button { margin-left: .75rem; }
.crowd-form__status { color: #037f0c; }
.crowd-form__status:empty { display: none; }
#crowd-output { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem;
  background: #f4f4f4; border: 1px solid #d5dbdb; border-radius: 6px; padding: .75rem 1rem; white-space: pre-wrap; }

.crowd-button { font: inherit; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  font-weight: 600; font-size: .95rem; line-height: 1.2; display: inline-flex; align-items: center; gap: .4rem;
  padding: .5rem 1.1rem; border-radius: 999px; border: 2px solid #0972d3; background: #fff; color: #0972d3;
  cursor: pointer; }
.crowd-button:hover { background: #f2f8fd; }
.crowd-button--primary { background: #0972d3; color: #fff; }
.crowd-button--primary:hover { background: #065299; border-color: #065299; }
.crowd-button--link { border-color: transparent; background: transparent; padding-left: .4rem; padding-right: .4rem; }
.crowd-button--icon { border-color: transparent; background: transparent; padding: .35rem; border-radius: 50%; }
.crowd-button:disabled { cursor: default; opacity: .55; }
.crowd-button:focus-visible, .crowd-link:focus-visible, .crowd-checkbox__box:focus-visible,
.crowd-choice input:focus-visible, .crowd-input__field:focus-visible, .crowd-toggle__box:focus-visible {
  outline: 2px solid #0972d3; outline-offset: 2px; }
.crowd-spinner { width: .9em; height: .9em; border-radius: 50%; border: 2px solid currentColor;
  border-right-color: transparent; animation: crowd-spin .8s linear infinite; }
@keyframes crowd-spin { to { transform: rotate(360deg); } }

.crowd-checkbox, .crowd-toggle, .crowd-choice { display: inline-flex; align-items: center; gap: .45rem;
  cursor: pointer; vertical-align: middle; }
.crowd-checkbox__box, .crowd-choice input { width: 1.15rem; height: 1.15rem; margin: 0; accent-color: #0972d3; cursor: pointer; }
.crowd-checkbox__label:empty { display: none; }
.crowd-invalid .crowd-checkbox__box, .crowd-invalid .crowd-input__field { outline: 2px solid #d91515; outline-offset: 1px; }
.crowd-disabled { cursor: default; color: #7d8998; }

.crowd-card { border: 1px solid #d5dbdb; border-radius: 10px; background: #fff; overflow: hidden;
  box-shadow: 0 1px 3px rgba(0, 28, 36, .12); margin: .5rem; }
.crowd-card__heading { font-weight: 700; font-size: 1.05rem; padding: .7rem 1rem .2rem; }
.crowd-card__image { display: block; max-width: 100%; height: auto; margin: 0 auto; }
.crowd-card__content { padding: .6rem 1rem .8rem; }

.crowd-task { display: grid; grid-template-columns: minmax(11rem, 16rem) minmax(0, 1fr) minmax(10rem, 15rem);
  gap: 1.25rem; align-items: start; }
.crowd-task--bare { grid-template-columns: minmax(0, 1fr) minmax(10rem, 15rem); }
@media (max-width: 760px) { .crowd-task, .crowd-task--bare { grid-template-columns: minmax(0, 1fr); } }
.crowd-task__instructions { background: #f8f8f8; border: 1px solid #e9ebed; border-radius: 8px; padding: .75rem 1rem; }
.crowd-task__instructions h2, .crowd-task__choices legend { font-size: 1rem; font-weight: 700; margin: 0 0 .5rem; padding: 0; }
.crowd-task__header { font-size: 1.2rem; margin: 0 0 .75rem; }
.crowd-task__target img { display: block; max-width: 100%; height: auto; border-radius: 6px; }
.crowd-task__choices { border: 1px solid #e9ebed; border-radius: 8px; margin: 0; padding: .75rem 1rem;
  display: flex; flex-direction: column; gap: .55rem; }
.crowd-invalid .crowd-task__choices, .crowd-invalid.crowd-radio-group__group { border-color: #d91515; }
.crowd-link { color: #0972d3; font: inherit; background: none; border: 0; padding: 0; cursor: pointer; text-decoration: underline; }

.crowd-dialog { border: 0; border-radius: 10px; padding: 0; width: min(46rem, 92vw); max-height: 85vh;
  box-shadow: 0 8px 30px rgba(0, 0, 0, .3); }
.crowd-dialog::backdrop { background: rgba(0, 16, 24, .45); }
.crowd-dialog__header { display: flex; align-items: center; justify-content: space-between; gap: 1rem;
  padding: .8rem 1.2rem; border-bottom: 1px solid #e9ebed; }
.crowd-dialog__header h2 { font-size: 1.1rem; margin: 0; }
.crowd-dialog__body { padding: 1rem 1.2rem 1.2rem; overflow: auto; }
.crowd-dialog__body h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.crowd-instructions__summary { margin-bottom: .4rem; }

.crowd-input { margin: .35rem 0 .75rem; }
.crowd-input__label { display: block; font-weight: 600; margin-bottom: .25rem; }
.crowd-input__field { box-sizing: border-box; width: 100%; max-width: 40rem; font: inherit; padding: .45rem .6rem;
  border: 1px solid #8c8c94; border-radius: 6px; background: #fff; color: inherit; }
textarea.crowd-input__field { resize: vertical; }
.crowd-input__field:disabled { background: #f4f4f4; color: #7d8998; }
.crowd-input__error { color: #d91515; font-size: .9rem; margin-top: .2rem; }
.crowd-input__counter { color: #5f6b7a; font-size: .85rem; margin-top: .2rem; }

.crowd-radio-group__group { display: flex; flex-direction: column; gap: .45rem; border: 1px solid transparent;
  border-radius: 6px; padding: .25rem; }
.crowd-toggle__box { appearance: none; -webkit-appearance: none; width: 2.3rem; height: 1.3rem; border-radius: 999px;
  background: #8c8c94; position: relative; margin: 0; cursor: pointer; transition: background .15s; }
.crowd-toggle__box::after { content: ""; position: absolute; top: .15rem; left: .15rem; width: 1rem; height: 1rem;
  border-radius: 50%; background: #fff; transition: transform .15s; }
.crowd-toggle__box:checked { background: #0972d3; }
.crowd-toggle__box:checked::after { transform: translateX(1rem); }
.crowd-toggle__box:disabled { opacity: .5; cursor: default; }
.crowd-slider { display: flex; align-items: center; gap: .75rem; }
.crowd-slider input[type=range] { flex: 1 1 auto; accent-color: #0972d3; }
.crowd-slider__pin { min-width: 2.5rem; font-variant-numeric: tabular-nums; font-weight: 600; }
.crowd-slider input[type=number] { width: 6rem; }

.crowd-alert { display: flex; gap: .75rem; align-items: flex-start; border: 1px solid #0972d3; border-left-width: 6px;
  border-radius: 6px; padding: .6rem .9rem; background: #f2f8fd; margin: .5rem 0; }
.crowd-alert--success { border-color: #037f0c; background: #f2fcf3; }
.crowd-alert--warning { border-color: #8d6605; background: #fffce9; }
.crowd-alert--error { border-color: #d91515; background: #fff7f7; }
.crowd-alert__content { flex: 1 1 auto; }
`;

  function injectStyles() {
    // A constructed stylesheet is not an inline <style>, so a strict style-src CSP allows it.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = [sheet].concat(Array.from(document.adoptedStyleSheets || []));
      return;
    } catch (err) {
      /* older engines: fall back to a <style> element */
    }
    const style = document.createElement("style");
    style.id = "crowd-html-elements-style";
    style.textContent = CSS;
    (document.head || document.documentElement).prepend(style);
  }

  // -- helpers ------------------------------------------------------------------------------

  let counter = 0;
  const nextId = (prefix) => `crowd-${prefix}-${++counter}`;

  /** Create an element: props are attributes (true = present, null/false = absent), plus `class` and `text`. */
  function h(tag, props, children) {
    const el = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const value = props[key];
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = value;
        else el.setAttribute(key, value === true ? "" : String(value));
      }
    }
    if (children !== undefined && children !== null) {
      el.append(...[].concat(children).filter((c) => c !== null && c !== undefined && c !== false));
    }
    return el;
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  /** Merge one element's output into the answer: objects under the same name merge one level deep. */
  function merge(target, fragment) {
    for (const key of Object.keys(fragment)) {
      const value = fragment[key];
      if (isPlainObject(target[key]) && isPlainObject(value)) Object.assign(target[key], value);
      else target[key] = value;
    }
  }

  /** Parse a `categories` attribute: a JSON array, or a Python/JS-style list with single quotes. */
  function parseList(text) {
    if (text === null || text === undefined) return [];
    const source = String(text).trim();
    if (!source) return [];
    const label = (v) => (isPlainObject(v) ? String(v.label !== undefined ? v.label : v.name !== undefined ? v.name : JSON.stringify(v)) : String(v));
    try {
      const value = JSON.parse(source);
      if (Array.isArray(value)) return value.map(label);
      if (typeof value === "string") return [value];
    } catch (err) {
      /* not JSON: parse leniently below */
    }
    let body = source;
    if (body.startsWith("[") && body.endsWith("]")) body = body.slice(1, -1);
    const out = [];
    let i = 0;
    const n = body.length;
    const skipSpace = () => {
      while (i < n && /\s/.test(body[i])) i++;
    };
    while (i < n) {
      skipSpace();
      if (i >= n) break;
      const quote = body[i];
      if (quote === "'" || quote === '"') {
        let j = i + 1;
        let word = "";
        while (j < n && body[j] !== quote) {
          if (body[j] === "\\" && j + 1 < n) {
            word += body[j + 1];
            j += 2;
          } else {
            word += body[j++];
          }
        }
        out.push(word);
        i = j + 1;
        skipSpace();
        if (body[i] === ",") i++;
      } else {
        let j = body.indexOf(",", i);
        if (j < 0) j = n;
        const word = body.slice(i, j).trim();
        if (word) out.push(word);
        i = j + 1;
      }
    }
    return out;
  }

  const PHRASING = new Set([
    "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "dfn", "em", "font", "i", "img", "kbd", "mark",
    "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr", "svg",
  ]);
  const INTERACTIVE = new Set([
    "a", "audio", "button", "details", "embed", "iframe", "input", "label", "object", "select", "textarea", "video",
  ]);
  const isCrowdTag = (el) => el.localName.startsWith("crowd-");

  /** Whether a child node can be part of a checkbox/button label (text and inline, non-interactive markup). */
  function isLabelContent(node) {
    if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.COMMENT_NODE) return true;
    if (node.nodeType !== Node.ELEMENT_NODE) return false;
    if (!PHRASING.has(node.localName)) return false;
    for (const d of node.querySelectorAll("*")) {
      if (isCrowdTag(d) || INTERACTIVE.has(d.localName)) return false;
    }
    return true;
  }

  /**
   * Undo the parse of a "self-closing" custom element. HTML parsers ignore the slash in
   * `<crowd-checkbox ... />`, so the following siblings end up as its children. From the first
   * child that `keep` refuses, that child and every later one move back out, right after `el`.
   */
  function hoistFrom(el, keep) {
    const kids = Array.from(el.childNodes);
    const first = kids.findIndex((node) => !keep(node));
    if (first < 0 || !el.parentNode) return;
    el.after(...kids.slice(first));
  }

  /** Move out every child that `keep` refuses, keeping their order. */
  function hoistEach(el, keep) {
    const out = Array.from(el.childNodes).filter((node) => !keep(node));
    if (out.length && el.parentNode) el.after(...out);
  }

  const isBlank = (node) => node.nodeType === Node.COMMENT_NODE || (node.nodeType === Node.TEXT_NODE && !node.textContent.trim());

  function safeUrl(url) {
    try {
      const parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  function navigate(href, target) {
    const url = safeUrl(href);
    if (!url) return;
    if (target && target !== "_self") window.open(url, target, "noopener");
    else window.location.assign(url);
  }

  /** A modal dialog holding `content`, with a title and a Close button. */
  function makeDialog(title, content) {
    const titleId = nextId("dialog-title");
    const close = h("button", { type: "button", class: "crowd-button crowd-button--link", "data-crowd-internal": true }, "Close");
    const dialog = h("dialog", { class: "crowd-dialog", "aria-labelledby": titleId }, [
      h("div", { class: "crowd-dialog__header" }, [h("h2", { id: titleId, text: title }), close]),
      h("div", { class: "crowd-dialog__body" }, content),
    ]);
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // a click on the backdrop
    });
    return dialog;
  }

  function openDialog(dialog) {
    if (dialog.open) return;
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }

  // -- building: after the parser has given an element its children -----------------------

  const pending = [];
  let waiting = false;

  function flushPending() {
    while (pending.length) {
      const el = pending.shift();
      el._crowdQueued = false;
      if (el.isConnected) el._crowdBuild();
    }
  }

  /** Build now, or, while the document is still being parsed, at DOMContentLoaded in document order. */
  function schedule(el) {
    if (document.readyState !== "loading") {
      el._crowdBuild();
      return;
    }
    if (!el._crowdQueued) {
      el._crowdQueued = true;
      pending.push(el);
    }
    if (!waiting) {
      waiting = true;
      document.addEventListener("DOMContentLoaded", flushPending, { once: true });
    }
  }

  class CrowdElement extends HTMLElement {
    connectedCallback() {
      if (!this._crowdBuilt) schedule(this);
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (this._crowdBuilt && oldValue !== newValue) this._update(name);
    }

    _crowdBuild() {
      if (this._crowdBuilt) return;
      this._crowdBuilt = true;
      this._build();
      this.setAttribute("data-crowd-ready", "");
    }

    _build() {}

    _update() {}

    get name() {
      return this.getAttribute("name") || "";
    }

    set name(value) {
      this.setAttribute("name", value);
    }

    get disabled() {
      return this.hasAttribute("disabled");
    }

    set disabled(value) {
      this.toggleAttribute("disabled", Boolean(value));
    }

    get required() {
      return this.hasAttribute("required");
    }

    set required(value) {
      this.toggleAttribute("required", Boolean(value));
    }

    /** How a validation message names this element. */
    get crowdLabel() {
      const text = (this.getAttribute("label") || this.getAttribute("header") || "").trim();
      if (text) return text;
      const label = this.querySelector(".crowd-checkbox__label, .crowd-toggle__label, .crowd-choice__label");
      const own = label ? label.textContent.trim() : "";
      return own || this.name || this.localName;
    }

    /** The element's part of the answer ({name: value}), or null. */
    crowdOutput() {
      return null;
    }

    /** null when valid, else "missing" or "invalid". */
    crowdValidate() {
      return null;
    }

    _markInvalid(invalid) {
      this.classList.toggle("crowd-invalid", Boolean(invalid));
      for (const control of this.querySelectorAll("[data-crowd-control]")) {
        if (invalid) control.setAttribute("aria-invalid", "true");
        else control.removeAttribute("aria-invalid");
      }
    }
  }

  // -- crowd-checkbox -----------------------------------------------------------------------

  /** A checkbox-like element (crowd-checkbox, crowd-toggle-button, crowd-radio-button). */
  class CrowdBox extends CrowdElement {
    static get observedAttributes() {
      return ["checked", "disabled"];
    }

    get _inputType() {
      return "checkbox";
    }

    get _prefix() {
      return "crowd-checkbox";
    }

    get value() {
      return this.hasAttribute("value") ? this.getAttribute("value") : "on";
    }

    set value(value) {
      this.setAttribute("value", value);
    }

    get checked() {
      return this._input ? this._input.checked : this.hasAttribute("checked");
    }

    set checked(value) {
      if (this._input) this._input.checked = Boolean(value);
      else this.toggleAttribute("checked", Boolean(value));
    }

    _build() {
      hoistFrom(this, isLabelContent);
      const kids = Array.from(this.childNodes);
      const labelNodes = kids.every(isBlank) ? [] : kids;
      kids.forEach((node) => labelNodes.includes(node) || node.remove());
      const p = this._prefix;
      const input = h("input", {
        type: this._inputType,
        class: `${p}__box`,
        "data-crowd-internal": true,
        "data-crowd-control": true,
        "aria-required": this.required ? "true" : null,
      });
      this._configure(input);
      input.value = this.value;
      input.checked = this.hasAttribute("checked");
      input.disabled = this.disabled;
      const text = h("span", { class: `${p}__label` }, labelNodes);
      if (!text.textContent.trim() && !text.querySelector("img, svg")) {
        const named = this.getAttribute("aria-label") || (this.value !== "on" ? this.value : "") || this.name;
        if (named) input.setAttribute("aria-label", named);
      }
      this._input = input;
      this._label = h("label", { class: `${p}${this.disabled ? " crowd-disabled" : ""}` }, [input, text]);
      this.append(this._label);
      input.addEventListener("change", () => this._markInvalid(false));
    }

    _configure() {}

    _update(name) {
      if (name === "checked") this._input.checked = this.hasAttribute("checked");
      if (name === "disabled") {
        this._input.disabled = this.disabled;
        this._label.classList.toggle("crowd-disabled", this.disabled);
      }
    }

    crowdOutput() {
      if (!this.name) return null;
      return { [this.name]: { [this.value]: Boolean(this.checked) } };
    }

    crowdValidate() {
      return this.required && !this.checked ? "missing" : null;
    }
  }

  class CrowdCheckbox extends CrowdBox {}

  class CrowdToggleButton extends CrowdBox {
    get _prefix() {
      return "crowd-toggle";
    }

    _configure(input) {
      input.setAttribute("role", "switch");
    }

    _build() {
      super._build();
      if (this.hasAttribute("invalid")) this._markInvalid(true);
    }
  }

  const radioGroups = new WeakMap();

  class CrowdRadioButton extends CrowdBox {
    get _inputType() {
      return "radio";
    }

    get _prefix() {
      return "crowd-choice";
    }

    _configure(input) {
      const group = this.closest("crowd-radio-group") || this;
      if (!radioGroups.has(group)) radioGroups.set(group, nextId("radio"));
      input.name = radioGroups.get(group);
    }

    crowdValidate() {
      return null; // a crowd-radio-group checks that one of its buttons is chosen
    }
  }

  class CrowdRadioGroup extends CrowdElement {
    _build() {
      const group = h("div", { class: "crowd-radio-group__group", role: "radiogroup", "data-crowd-control": true }, Array.from(this.childNodes));
      const label = this.getAttribute("label") || this.getAttribute("aria-label");
      if (label) group.setAttribute("aria-label", label);
      this._group = group;
      this.append(group);
      group.addEventListener("change", () => this._markInvalid(false));
    }

    _markInvalid(invalid) {
      super._markInvalid(invalid);
      if (this._group) this._group.classList.toggle("crowd-invalid", Boolean(invalid));
    }

    crowdValidate() {
      if (!this.required) return null;
      const buttons = Array.from(this.querySelectorAll("crowd-radio-button"));
      return buttons.some((b) => b.checked) ? null : "missing";
    }
  }

  // -- crowd-card ---------------------------------------------------------------------------

  class CrowdCard extends CrowdElement {
    static get observedAttributes() {
      return ["heading", "image"];
    }

    _build() {
      this._heading = h("div", { class: "crowd-card__heading", role: "heading", "aria-level": "3" });
      this._image = h("img", { class: "crowd-card__image", loading: "eager" });
      this._content = h("div", { class: "crowd-card__content" }, Array.from(this.childNodes));
      this.append(h("div", { class: "crowd-card" }, [this._heading, this._image, this._content]));
      this._update();
    }

    _update() {
      const heading = this.getAttribute("heading") || "";
      const image = this.getAttribute("image") || "";
      this._heading.textContent = heading;
      this._heading.hidden = !heading;
      this._image.alt = heading || "image";
      if (image) this._image.setAttribute("src", image);
      else this._image.removeAttribute("src");
      this._image.hidden = !image;
    }
  }

  // -- crowd-button -------------------------------------------------------------------------

  const ICONS = {
    add: "+", check: "\u2713", clear: "\u2715", close: "\u2715", "chevron-left": "\u2039", "chevron-right": "\u203a",
    "arrow-back": "\u2190", "arrow-forward": "\u2192", delete: "\u232b", help: "?", info: "i", search: "\u2315",
    "zoom-in": "+", "zoom-out": "\u2212", undo: "\u21b6", redo: "\u21b7", refresh: "\u21bb", warning: "!",
  };

  class CrowdButton extends CrowdElement {
    static get observedAttributes() {
      return ["disabled", "loading", "variant", "form-action", "icon"];
    }

    _build() {
      hoistFrom(this, isLabelContent);
      const kids = Array.from(this.childNodes);
      this._spinner = h("span", { class: "crowd-spinner", "aria-hidden": "true", hidden: true });
      this._icon = h("span", { class: "crowd-button__icon", "aria-hidden": "true", hidden: true });
      this._text = h("span", { class: "crowd-button__label" }, kids.every(isBlank) ? [] : kids);
      this._button = h("button", { type: "button", "data-crowd-internal": true }, [this._spinner, this._icon, this._text]);
      this.append(this._button);
      this._button.addEventListener("click", (event) => this._onClick(event));
      this._update();
    }

    _update() {
      const button = this._button;
      const variant = (this.getAttribute("variant") || "normal").toLowerCase();
      const submit = (this.getAttribute("form-action") || "").toLowerCase() === "submit";
      const loading = this.hasAttribute("loading") || Boolean(this._busy);
      button.type = submit ? "submit" : "button";
      button.className = `crowd-button crowd-button--${variant}`;
      button.disabled = this.disabled || loading;
      if (loading) button.setAttribute("aria-busy", "true");
      else button.removeAttribute("aria-busy");
      this._spinner.hidden = !loading;
      const icon = this.getAttribute("icon");
      this._icon.textContent = icon ? ICONS[icon] || "\u2022" : "";
      this._icon.hidden = !icon;
      if (icon && !this._text.textContent.trim()) button.setAttribute("aria-label", this.getAttribute("aria-label") || icon);
      else button.removeAttribute("aria-label");
    }

    /** Disabled with a spinner while the enclosing crowd-form is sending. */
    _setBusy(busy) {
      this._busy = busy;
      if (this._crowdBuilt) this._update();
    }

    _onClick(event) {
      if (this.disabled || this.hasAttribute("loading") || this._busy) {
        event.preventDefault();
        return;
      }
      if ((this.getAttribute("form-action") || "").toLowerCase() === "submit") {
        if (this._button.form) return; // a real submit button of the crowd-form's <form>
        event.preventDefault();
        const crowdForm = this.closest("crowd-form") || document.querySelector("crowd-form");
        if (crowdForm && typeof crowdForm.submit === "function") crowdForm.submit();
        return;
      }
      const href = this.getAttribute("href");
      if (href) navigate(href, this.getAttribute("target"));
    }
  }

  // -- instructions (shared by the classifiers and crowd-instructions) --------------------

  function childrenNamed(el, tag) {
    return Array.from(el.children).filter((c) => c.localName === tag);
  }

  // -- crowd-classifier / crowd-image-classifier ----------------------------------------

  const CLASSIFIER_CHILDREN = new Set(["classification-target", "full-instructions", "short-instructions"]);

  class ClassifierBase extends CrowdElement {
    get categories() {
      return parseList(this.getAttribute("categories"));
    }

    get _accepted() {
      return CLASSIFIER_CHILDREN;
    }

    _target() {
      return null;
    }

    _build() {
      hoistEach(this, (node) => isBlank(node) || (node.nodeType === Node.ELEMENT_NODE && this._accepted.has(node.localName)));
      const shorts = childrenNamed(this, "short-instructions");
      const fulls = childrenNamed(this, "full-instructions");
      const target = this._target();
      Array.from(this.childNodes).forEach((node) => node.remove());

      const columns = [];
      if (shorts.length || fulls.length) {
        const aside = h("aside", { class: "crowd-task__instructions", "aria-label": "Instructions" }, [h("h2", { text: "Instructions" })].concat(shorts));
        if (fulls.length) {
          const title = fulls[0].getAttribute("header") || "Full instructions";
          const dialog = makeDialog(title, fulls);
          const open = h("button", { type: "button", class: "crowd-link", "data-crowd-internal": true, "aria-haspopup": "dialog" }, "View full instructions");
          open.addEventListener("click", () => openDialog(dialog));
          aside.append(h("p", null, open), dialog);
        }
        columns.push(aside);
      }

      const header = this.getAttribute("header");
      const headerId = nextId("header");
      columns.push(h("section", { class: "crowd-task__main" }, [
        header ? h("h2", { class: "crowd-task__header", id: headerId, text: header }) : null,
        h("div", { class: "crowd-task__target" }, target),
      ]));

      const group = nextId("choice");
      this._radios = [];
      const choices = this.categories.map((category) => {
        const radio = h("input", { type: "radio", name: group, "data-crowd-internal": true, "data-crowd-control": true });
        radio.value = category;
        radio.disabled = this.disabled;
        this._radios.push(radio);
        return h("label", { class: "crowd-choice" }, [radio, h("span", { class: "crowd-choice__label", text: category })]);
      });
      const legend = h("legend", { text: "Categories" });
      const fieldset = h("fieldset", { class: "crowd-task__choices", "aria-describedby": header ? headerId : null }, [legend].concat(choices));
      fieldset.addEventListener("change", () => this._markInvalid(false));
      if (this.required) fieldset.setAttribute("aria-required", "true");
      columns.push(fieldset);

      this.append(h("div", { class: `crowd-task${columns.length < 3 ? " crowd-task--bare" : ""}` }, columns));
    }

    get value() {
      const chosen = (this._radios || []).find((r) => r.checked);
      return chosen ? chosen.value : null;
    }

    set value(category) {
      for (const radio of this._radios || []) radio.checked = radio.value === category;
    }

    crowdOutput() {
      if (!this.name) return null;
      const label = this.value;
      return label === null ? null : { [this.name]: { label } };
    }

    crowdValidate() {
      return this.required && this.value === null ? "missing" : null;
    }
  }

  class CrowdClassifier extends ClassifierBase {
    _target() {
      return childrenNamed(this, "classification-target");
    }
  }

  const IMAGE_CLASSIFIER_CHILDREN = new Set(["full-instructions", "short-instructions"]);

  class CrowdImageClassifier extends ClassifierBase {
    get _accepted() {
      return IMAGE_CLASSIFIER_CHILDREN;
    }

    _target() {
      const src = this.getAttribute("src");
      if (!src) return null;
      return h("img", { src, alt: this.getAttribute("header") || "image to classify", loading: "eager" });
    }
  }

  // -- crowd-instructions -----------------------------------------------------------------

  class CrowdInstructions extends CrowdElement {
    _build() {
      const sections = [
        ["detailed-instructions", null],
        ["positive-example", "Good example"],
        ["negative-example", "Bad example"],
      ];
      const body = [];
      for (const [tag, title] of sections) {
        const parts = childrenNamed(this, tag);
        if (!parts.length) continue;
        if (title) body.push(h("h3", { text: parts.length > 1 ? `${title}s` : title }));
        body.push(...parts);
      }
      const summary = h("div", { class: "crowd-instructions__summary" }, Array.from(this.childNodes).filter((n) => !body.includes(n)));
      const dialog = makeDialog("Instructions", body);
      const text = this.getAttribute("link-text") || "View instructions";
      const asButton = (this.getAttribute("link-type") || "link").toLowerCase() === "button";
      const trigger = asButton
        ? h("button", { type: "button", class: "crowd-button crowd-button--normal", "data-crowd-internal": true, "aria-haspopup": "dialog" }, text)
        : h("a", { href: "#", class: "crowd-link", "aria-haspopup": "dialog" }, text);
      trigger.addEventListener("click", (event) => {
        event.preventDefault();
        openDialog(dialog);
      });
      this._dialog = dialog;
      this.append(h("div", { class: "crowd-instructions" }, [summary, h("div", null, trigger), dialog]));
    }

    open() {
      if (this._dialog) openDialog(this._dialog);
    }

    close() {
      if (this._dialog && this._dialog.open) this._dialog.close();
    }
  }

  // -- crowd-input / crowd-text-area ------------------------------------------------------

  class CrowdField extends CrowdElement {
    static get observedAttributes() {
      return ["disabled", "value", "label", "placeholder", "error-message"];
    }

    get _multiline() {
      return false;
    }

    get value() {
      if (this._field) return this._field.value;
      return this.getAttribute("value") || "";
    }

    set value(value) {
      if (this._field) this._field.value = value === null || value === undefined ? "" : String(value);
      else this.setAttribute("value", value);
    }

    _build() {
      hoistFrom(this, () => false); // no content of their own: children came from `<crowd-input ... />`
      const id = nextId("field");
      const errorId = `${id}-error`;
      const field = this._multiline
        ? h("textarea", { rows: this.getAttribute("rows") || "3" })
        : h("input", { type: (this.getAttribute("type") || "text").toLowerCase() });
      field.id = id;
      field.className = "crowd-input__field";
      field.setAttribute("data-crowd-internal", "");
      field.setAttribute("data-crowd-control", "");
      field.setAttribute("aria-describedby", errorId);
      for (const [from, to] of [["max-length", "maxlength"], ["min-length", "minlength"], ["min", "min"], ["max", "max"], ["step", "step"], ["autocomplete", "autocomplete"]]) {
        if (this.hasAttribute(from)) field.setAttribute(to, this.getAttribute(from));
      }
      if (field.type === "number" && !field.hasAttribute("step")) field.setAttribute("step", "any");
      if (this.required) field.setAttribute("aria-required", "true");
      field.value = this.getAttribute("value") || "";
      this._field = field;
      this._labelEl = h("label", { class: "crowd-input__label", for: id });
      this._error = h("div", { class: "crowd-input__error", id: errorId, hidden: true });
      const parts = [this._labelEl, field, this._error];
      if (this._multiline && this.hasAttribute("char-counter")) {
        this._counter = h("div", { class: "crowd-input__counter", "aria-live": "polite" });
        parts.push(this._counter);
      }
      this.append(h("div", { class: "crowd-input" }, parts));
      this._update();

      field.addEventListener("input", () => this._onInput());
      field.addEventListener("blur", () => {
        if (this.hasAttribute("auto-validate")) this._showValidity();
      });
      if (this.hasAttribute("auto-focus")) field.focus();
    }

    _update() {
      const field = this._field;
      const label = this.getAttribute("label") || "";
      this._labelEl.textContent = label;
      this._labelEl.hidden = !label;
      if (label) field.removeAttribute("aria-label");
      else field.setAttribute("aria-label", this.getAttribute("aria-label") || this.getAttribute("placeholder") || this.name || "text");
      const placeholder = this.getAttribute("placeholder");
      if (placeholder) field.placeholder = placeholder;
      else field.removeAttribute("placeholder");
      field.disabled = this.disabled;
      this._updateCounter();
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (name === "value" && this._crowdBuilt && oldValue !== newValue) this._field.value = newValue || "";
      else super.attributeChangedCallback(name, oldValue, newValue);
    }

    _updateCounter() {
      if (!this._counter) return;
      const max = this.getAttribute("max-length");
      this._counter.textContent = max ? `${this._field.value.length}/${max}` : String(this._field.value.length);
    }

    _onInput() {
      const pattern = this.getAttribute("allowed-pattern");
      if (pattern) {
        let allowed = null;
        try {
          allowed = new RegExp(pattern);
        } catch (err) {
          allowed = null;
        }
        const field = this._field;
        if (allowed && field.type !== "number") {
          const chars = Array.from(field.value);
          const kept = chars.filter((ch) => allowed.test(ch)).join("");
          if (kept !== field.value) {
            let caret = null;
            try {
              caret = field.selectionStart;
            } catch (err) {
              caret = null;
            }
            const removedBefore = caret === null ? 0 : Array.from(field.value.slice(0, caret)).filter((ch) => !allowed.test(ch)).length;
            field.value = kept;
            if (caret !== null) {
              try {
                field.setSelectionRange(caret - removedBefore, caret - removedBefore);
              } catch (err) {
                /* inputs without a selection API */
              }
            }
          }
        }
      }
      this._updateCounter();
      if (this.hasAttribute("auto-validate")) this._showValidity();
      else this._markInvalid(false);
    }

    _problem() {
      const value = this._field ? this._field.value : this.value;
      if (!value.trim()) return this.required ? "missing" : null;
      const min = parseInt(this.getAttribute("min-length"), 10);
      if (!Number.isNaN(min) && value.length < min) return "invalid";
      if (this._field && this._field.validity && !this._field.validity.valid) return "invalid";
      return null;
    }

    _showValidity() {
      const problem = this._problem();
      this._markInvalid(problem);
      if (problem) {
        this._error.textContent = this.getAttribute("error-message") || (problem === "missing" ? "This field is required." : this._field.validationMessage || "This value is not valid.");
      }
      this._error.hidden = !problem;
      return problem;
    }

    crowdOutput() {
      if (!this.name) return null;
      const value = this.value;
      if (!this._multiline && (this.getAttribute("type") || "").toLowerCase() === "number") {
        if (value === "") return { [this.name]: null };
        const number = Number(value);
        return { [this.name]: Number.isNaN(number) ? value : number };
      }
      return { [this.name]: value };
    }

    crowdValidate() {
      return this._crowdBuilt ? this._showValidity() : this._problem();
    }
  }

  class CrowdInput extends CrowdField {}

  class CrowdTextArea extends CrowdField {
    get _multiline() {
      return true;
    }
  }

  // -- crowd-slider ------------------------------------------------------------------------

  class CrowdSlider extends CrowdElement {
    static get observedAttributes() {
      return ["disabled", "value"];
    }

    get value() {
      if (this._range) return Number(this._range.value);
      const v = Number(this.getAttribute("value"));
      return Number.isNaN(v) ? Number(this.getAttribute("min") || 0) : v;
    }

    set value(value) {
      if (this._range) {
        this._range.value = String(value);
        this._sync(this._range);
      } else {
        this.setAttribute("value", value);
      }
    }

    _build() {
      hoistFrom(this, () => false);
      const min = this.getAttribute("min") || "0";
      const max = this.getAttribute("max") || "100";
      const step = this.getAttribute("step") || "1";
      const range = h("input", { type: "range", min, max, step, "data-crowd-internal": true, "data-crowd-control": true });
      range.value = this.getAttribute("value") || min;
      range.setAttribute("aria-label", this.getAttribute("label") || this.getAttribute("aria-label") || this.name || "slider");
      this._range = range;
      const parts = [range];
      if (this.hasAttribute("pin")) {
        this._pin = h("output", { class: "crowd-slider__pin", "aria-hidden": "true" });
        parts.push(this._pin);
      }
      if (this.hasAttribute("editable")) {
        this._number = h("input", { type: "number", min, max, step, "data-crowd-internal": true, "aria-label": `${range.getAttribute("aria-label")} value` });
        this._number.addEventListener("change", () => {
          if (this._number.value !== "") range.value = this._number.value;
          this._sync(range);
        });
        parts.push(this._number);
      }
      const label = this.getAttribute("label");
      this.append(h("div", { class: "crowd-slider" }, label ? [h("span", { text: label })].concat(parts) : parts));
      range.addEventListener("input", () => this._sync(range));
      this._update();
    }

    _sync(source) {
      if (this._pin) this._pin.textContent = this._range.value;
      if (this._number && source !== this._number) this._number.value = this._range.value;
    }

    _update(name) {
      if (name === "value") this._range.value = this.getAttribute("value") || this._range.min;
      this._range.disabled = this.disabled;
      if (this._number) this._number.disabled = this.disabled;
      this._sync(this._range);
    }

    crowdOutput() {
      return this.name ? { [this.name]: this.value } : null;
    }
  }

  // -- crowd-alert -------------------------------------------------------------------------

  class CrowdAlert extends CrowdElement {
    _build() {
      const type = (this.getAttribute("type") || "info").toLowerCase();
      const content = h("div", { class: "crowd-alert__content" }, Array.from(this.childNodes));
      const box = h("div", { class: `crowd-alert crowd-alert--${type}`, role: type === "error" || type === "warning" ? "alert" : "status" }, content);
      if (this.hasAttribute("dismissible")) {
        const close = h("button", { type: "button", class: "crowd-button crowd-button--icon", "aria-label": "Dismiss", "data-crowd-internal": true }, "\u2715");
        close.addEventListener("click", () => {
          this.hidden = true;
          this.dispatchEvent(new CustomEvent("crowd-alert-dismissed", { bubbles: true }));
        });
        box.append(close);
      }
      this.append(box);
    }
  }

  // -- crowd-form --------------------------------------------------------------------------

  const SUBMIT_SELECTOR = 'crowd-button[form-action="submit" i], button[type="submit" i], input[type="submit" i]';

  /** The value of an author's plain form field, or undefined when it does not take part. */
  function fieldValue(el) {
    if (el.disabled) return undefined;
    if (el.localName === "select") {
      const chosen = Array.from(el.selectedOptions).map((o) => o.value);
      return el.multiple ? chosen : chosen.length ? chosen[0] : undefined;
    }
    if (el.localName === "textarea") return el.value;
    const type = (el.type || "text").toLowerCase();
    if (["submit", "button", "reset", "image", "file"].includes(type)) return undefined;
    if (type === "checkbox" || type === "radio") return el.checked ? el.value : undefined;
    return el.value;
  }

  class CrowdForm extends CrowdElement {
    _build() {
      // A real <form> so that Enter and author submit buttons work. Its method is "dialog": the
      // browser's own submission then does nothing (the form is in no dialog), so nothing ever
      // navigates, and an author's listener can still cancel the "submit" event.
      const form = h("form", { class: "crowd-form", method: "dialog", novalidate: true }, Array.from(this.childNodes));
      form._crowdForm = this;
      this._form = form;
      // Untyped author buttons would submit the form; in Ground Truth they do not.
      for (const button of form.querySelectorAll("button:not([type])")) button.type = "button";

      this._message = h("div", { class: "crowd-form__message", role: "alert", hidden: true });
      this._status = h("div", { class: "crowd-form__status", role: "status" });
      const footer = h("div", { class: "crowd-form__footer" }, [this._message, this._status]);
      if (!form.querySelector(SUBMIT_SELECTOR)) {
        const button = h("crowd-button", { "form-action": "submit", variant: "primary" }, "Submit");
        footer.append(button);
      }
      form.append(footer);
      this._state = "idle";
      this._disabledControls = new Set();
      form.addEventListener("submit", (event) => this._onSubmit(event));
      this.append(form);
    }

    /** Submit the task as its submit button would (an author's "submit" listener may cancel it). */
    submit() {
      this._crowdBuild();
      if (typeof this._form.requestSubmit === "function") this._form.requestSubmit();
      else this._form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    }

    /** The answer: every named crowd element's output and the plain named fields, as one object. */
    collect() {
      const answer = {};
      const plain = new Set();
      const root = this._form || this;
      for (const el of root.querySelectorAll("*")) {
        if (isCrowdTag(el) && !(el instanceof CrowdElement) && window.customElements.get(el.localName)) {
          window.customElements.upgrade(el);
        }
        if (el instanceof CrowdElement) {
          const out = el.crowdOutput();
          if (out) merge(answer, out);
          continue;
        }
        if (!["input", "select", "textarea"].includes(el.localName)) continue;
        if (el.hasAttribute("data-crowd-internal") || !el.name) continue;
        const value = fieldValue(el);
        if (value === undefined) continue;
        if (plain.has(el.name) && el.name in answer) {
          const prior = answer[el.name];
          answer[el.name] = (Array.isArray(prior) ? prior : [prior]).concat(value);
        } else {
          answer[el.name] = value;
          plain.add(el.name);
        }
      }
      return answer;
    }

    /** Elements whose value blocks the submit, as [element, "missing" | "invalid"] pairs. */
    _problems() {
      const problems = [];
      for (const el of (this._form || this).querySelectorAll("*")) {
        if (el instanceof CrowdElement) {
          const problem = el.crowdValidate();
          el._markInvalid(problem);
          if (problem) problems.push([el, problem]);
        } else if (["input", "select", "textarea"].includes(el.localName) && !el.hasAttribute("data-crowd-internal")) {
          if (el.willValidate && !el.checkValidity()) problems.push([el, el.validity.valueMissing ? "missing" : "invalid"]);
        }
      }
      return problems;
    }

    _describe(el) {
      if (el instanceof CrowdElement) return el.crowdLabel;
      const labels = el.labels && el.labels.length ? el.labels[0].textContent.trim() : "";
      return labels || el.getAttribute("aria-label") || el.name || el.localName;
    }

    _onSubmit(event) {
      if (this._state !== "idle" && this._state !== "failed") return; // one submission at a time
      const previous = this._state;
      this._state = "pending";
      this._setBusy(true);
      // Decide once the event has reached every listener: a canceled event means "do not submit".
      window.setTimeout(() => {
        if (event.defaultPrevented) {
          this._state = previous;
          this._setBusy(false);
          return;
        }
        this._send().catch((err) => {
          this._fail(`Your answer may not have been recorded: ${err && err.message ? err.message : err}`, true);
        });
      }, 0);
    }

    async _send() {
      this._showMessage(null);
      this._status.textContent = "";
      const problems = this._problems();
      if (problems.length) {
        const missing = problems.filter(([, p]) => p === "missing").map(([el]) => this._describe(el));
        const invalid = problems.filter(([, p]) => p === "invalid").map(([el]) => this._describe(el));
        const parts = [];
        if (missing.length) parts.push(`Please complete the required fields: ${missing.join(", ")}.`);
        if (invalid.length) parts.push(`Please correct: ${invalid.join(", ")}.`);
        this._state = "idle";
        this._setBusy(false);
        this._showMessage(parts.join(" "));
        const first = problems[0][0];
        const control = first instanceof CrowdElement ? first.querySelector("[data-crowd-control]") : first;
        if (control && typeof control.focus === "function") control.focus();
        return;
      }

      const answer = this.collect();
      const data = (document.body && document.body.dataset) || {};
      if (!data.submitUrl) {
        let pre = document.getElementById("crowd-output");
        if (!pre) {
          pre = h("pre", { id: "crowd-output" });
          document.body.append(pre);
        }
        pre.textContent = JSON.stringify(answer, null, 2);
        this._state = "idle";
        this._setBusy(false);
        this.dispatchEvent(new CustomEvent("crowd-form-submit", { bubbles: true, composed: true, detail: answer }));
        return;
      }

      this._state = "sending";
      let response;
      try {
        response = await window.fetch(data.submitUrl, {
          method: "POST",
          mode: "same-origin",
          credentials: "same-origin",
          cache: "no-store",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRF-Token": data.csrf || "",
          },
          body: JSON.stringify({ answer, submission: data.submission || null }),
        });
      } catch (err) {
        this._fail("Your answer may not have been recorded: the server could not be reached. Check your connection and try again.", true);
        return;
      }
      let text = "";
      try {
        text = await response.text();
      } catch (err) {
        text = "";
      }
      let body = null;
      let unreadable = false;
      try {
        body = text ? JSON.parse(text) : null;
      } catch (err) {
        unreadable = true;
      }

      if (!response.ok) {
        const message = (isPlainObject(body) && typeof body.error === "string" && body.error) || response.statusText || `The server answered ${response.status}.`;
        this._fail(message, false);
        return;
      }
      if (unreadable) {
        this._fail("The server sent an unexpected answer: your answer may not have been recorded.", true);
        return;
      }
      this._state = "done";
      this.dispatchEvent(new CustomEvent("crowd-form-submitted", { bubbles: true, detail: { answer, response: body } }));
      const next = isPlainObject(body) && typeof body.next === "string" ? safeUrl(body.next) : null;
      if (next) {
        this._status.textContent = "Submitted. Loading the next task\u2026";
        window.location.assign(next);
        return;
      }
      this._status.textContent = "Your answer was submitted.";
    }

    _fail(message, retry) {
      this._state = "failed";
      this._setBusy(false);
      this._showMessage(message, retry);
    }

    _showMessage(message, retry) {
      const box = this._message;
      box.textContent = "";
      if (!message) {
        box.hidden = true;
        return;
      }
      box.append(h("span", { class: "crowd-form__message-text", text: message }));
      if (retry) {
        const again = h("button", { type: "button", class: "crowd-button crowd-button--normal", "data-crowd-internal": true }, "Try again");
        again.addEventListener("click", () => this.submit());
        box.append(again);
      }
      box.hidden = false;
      if (typeof box.scrollIntoView === "function") box.scrollIntoView({ block: "nearest" });
    }

    _setBusy(busy) {
      const form = this._form;
      if (!form) return;
      for (const control of form.querySelectorAll(SUBMIT_SELECTOR)) {
        if (control.localName === "crowd-button") {
          if (typeof control._setBusy === "function") control._setBusy(busy);
        } else if (!control.closest("crowd-button")) {
          if (busy && !control.disabled) {
            control.disabled = true;
            this._disabledControls.add(control);
          } else if (!busy && this._disabledControls.has(control)) {
            control.disabled = false;
            this._disabledControls.delete(control);
          }
        }
      }
      form.setAttribute("aria-busy", busy ? "true" : "false");
    }
  }

  // -- registration ------------------------------------------------------------------------

  injectStyles();
  const elements = [
    ["crowd-form", CrowdForm],
    ["crowd-checkbox", CrowdCheckbox],
    ["crowd-card", CrowdCard],
    ["crowd-button", CrowdButton],
    ["crowd-classifier", CrowdClassifier],
    ["crowd-image-classifier", CrowdImageClassifier],
    ["crowd-instructions", CrowdInstructions],
    ["crowd-input", CrowdInput],
    ["crowd-text-area", CrowdTextArea],
    ["crowd-radio-group", CrowdRadioGroup],
    ["crowd-radio-button", CrowdRadioButton],
    ["crowd-toggle-button", CrowdToggleButton],
    ["crowd-slider", CrowdSlider],
    ["crowd-alert", CrowdAlert],
  ];
  for (const [tag, cls] of elements) {
    if (!window.customElements.get(tag)) window.customElements.define(tag, cls);
  }
})();
