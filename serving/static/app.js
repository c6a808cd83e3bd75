// eligo review page: plain JavaScript, no build step, no external assets.
//
// Safety rule for this file: text from a note, a report or a response only ever reaches the
// page through textContent, attributes set with setAttribute, or DOM nodes built with
// createElement. Nothing here hands a string to the browser's HTML parser (none of the
// HTML-setting properties, no document writes), so a note with "<script>" shows as text.
// tests/serving/test_web_page.py checks both the source and the rendered page.
"use strict";

(() => {
  const LABELS = ["condition", "drug", "procedure", "measurement", "adverse_event", "target"];
  const ASSERTIONS = ["negated", "historical", "hypothetical", "family", "uncertain"];
  const VERDICTS = { met: "met", not_met: "not met", unknown: "unknown" };

  // ---------------------------------------------------------------------------------------
  // small DOM helpers

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    return add(node, children);
  }

  /** Append children to `node`: nested arrays flattened, null/undefined/false skipped. */
  function add(node, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  /** A value for display: strings as they are, other JSON compactly; never HTML. */
  function show(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return JSON.stringify(value);
  }

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const asArray = (value) => (Array.isArray(value) ? value : []);
  const cssToken = (value) => String(value).replace(/[^A-Za-z0-9_-]/g, "_");

  // ---------------------------------------------------------------------------------------
  // calling the API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function post(path, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    const key = document.getElementById("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    let response;
    try {
      response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, "network_error", "the service could not be reached (" + err.message + ")");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const error = isObject(data) && isObject(data.error) ? data.error : {};
      let message = show(error.message) || response.statusText || "request failed";
      if (response.status === 404) message = path + " is not available on this service (" + message + ")";
      if (response.status === 429 && response.headers.get("Retry-After")) {
        message += " (retry after " + response.headers.get("Retry-After") + " s)";
      }
      throw new ApiError(response.status, show(error.code) || "http_" + response.status, message);
    }
    if (data === null) throw new ApiError(response.status, "invalid_response", "the response is not JSON");
    return data;
  }

  function renderError(target, err) {
    clear(target);
    const code = err instanceof ApiError ? err.code : "error";
    const status = err instanceof ApiError && err.status ? " (HTTP " + err.status + ")" : "";
    add(target,
      el("div", { class: "error", role: "alert" },
        el("strong", { text: code + status + ": " }), show(err.message)),
    );
  }

  function rawJson(data) {
    return el("details", { class: "raw" }, el("summary", { text: "Response JSON" }),
      el("pre", { text: JSON.stringify(data, null, 2) }));
  }

  // ---------------------------------------------------------------------------------------
  // highlighting spans of a text

  /**
   * Python counts characters (code points); JavaScript strings count UTF-16 units. Returns a
   * function from a code-point offset to a string index (the identity for BMP-only text).
   */
  function offsetMapper(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return (offset) => offset;
    const units = [0];
    let index = 0;
    for (const ch of text) {
      index += ch.length;
      units.push(index);
    }
    return (offset) => (offset >= 0 && offset < units.length ? units[offset] : -1);
  }

  /**
   * The text as DOM nodes with `spans` marked. Each span: {start, end, make(text) -> Node}
   * in code-point offsets. Overlapping spans: the earlier (then longer) one is drawn; the
   * others stay listed in the tables. Invalid offsets are skipped.
   */
  function highlighted(text, spans) {
    const toIndex = offsetMapper(text);
    const usable = [];
    for (const span of spans) {
      if (!Number.isInteger(span.start) || !Number.isInteger(span.end)) continue;
      const start = toIndex(span.start);
      const end = toIndex(span.end);
      if (start < 0 || end <= start || end > text.length) continue;
      usable.push({ ...span, from: start, to: end });
    }
    usable.sort((a, b) => a.from - b.from || b.to - a.to);
    const out = el("div", { class: "text" });
    let cursor = 0;
    for (const span of usable) {
      if (span.from < cursor) continue;
      if (span.from > cursor) out.append(text.slice(cursor, span.from));
      out.append(span.make(text.slice(span.from, span.to)));
      cursor = span.to;
    }
    if (cursor < text.length) out.append(text.slice(cursor));
    return out;
  }

  /** Keyboard and pointer activation for a focusable mark. */
  function activatable(node, onActivate) {
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "button");
    node.addEventListener("click", onActivate);
    node.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onActivate();
      }
    });
    return node;
  }

  function codesText(codes) {
    return asArray(codes)
      .filter(isObject)
      .map((c) => show(c.system) + " " + show(c.code) + (c.display ? " " + show(c.display) : ""))
      .join("\n");
  }

  function assertionsOf(item) {
    return ASSERTIONS.filter((name) => isObject(item) && item[name] === true);
  }

  /** A highlighted mention: label colour, negation struck through, other assertions as badges. */
  function mention(text, label, flags, title, onActivate) {
    const classes = ["ent", "label-" + cssToken(label || "other")];
    for (const flag of flags) classes.push("is-" + flag);
    const described = [text, String(label || "").replace("_", " ")].concat(flags).join(", ");
    const mark = el("mark", { class: classes.join(" "), title: title || null, "aria-label": described,
      "data-label": label || "" }, text);
    if (onActivate) activatable(mark, onActivate);
    const badges = flags.filter((flag) => flag !== "negated")
      .map((flag) => el("span", { class: "badge badge-" + flag, "aria-hidden": "true", text: flag }));
    if (!badges.length) return mark;
    return el("span", { class: "mention" }, mark, badges);
  }

  function legend(labels) {
    const items = labels.map((label) =>
      el("li", {}, el("span", { class: "swatch label-" + cssToken(label), "aria-hidden": "true" }),
        label.replace("_", " ")));
    items.push(el("li", {}, el("span", { class: "ent is-negated sample", text: "struck" }), " negated"));
    for (const flag of ["family", "historical", "hypothetical", "uncertain"]) {
      items.push(el("li", {}, el("span", { class: "badge badge-" + flag, text: flag })));
    }
    return el("ul", { class: "legend", "aria-label": "Legend" }, items);
  }

  function table(caption, headings, rows) {
    return el("table", {},
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
  }

  function codeList(codes) {
    const list = asArray(codes).filter(isObject);
    if (!list.length) return "—";
    return el("ul", { class: "codes" }, list.map((c) =>
      el("li", {}, el("span", { class: "system", text: show(c.system) }), " ",
        el("code", { text: show(c.code) }), c.display ? " " + show(c.display) : "")));
  }

  function valueText(value) {
    if (!isObject(value)) return show(value);
    return show(value.text) || show(value.value);
  }

  // ---------------------------------------------------------------------------------------
  // Note: POST /v1/extract

  function renderEntities(target, text, data) {
    clear(target);
    const entities = asArray(data.entities).filter(isObject);
    const detail = el("div", { class: "detail", "aria-live": "polite" },
      el("p", { class: "hint", text: "Select a highlighted concept to see its codes." }));
    const showDetail = (entity) => {
      clear(detail);
      const flags = assertionsOf(entity);
      detail.append(
        el("h3", { text: show(entity.text) }),
        el("p", {}, show(entity.label).replace("_", " "),
          flags.length ? " — " + flags.join(", ") : " — affirmed",
          entity.section ? " — section: " + show(entity.section) : ""),
        codeList(entity.codes));
    };
    const spans = entities.map((entity) => ({
      start: entity.start,
      end: entity.end,
      make: (slice) => mention(slice, show(entity.label), assertionsOf(entity),
        codesText(entity.codes) || "no codes", () => showDetail(entity)),
    }));
    const labels = LABELS.filter((label) => entities.some((e) => e.label === label));
    const rows = entities.map((entity) => el("tr", {},
      el("td", { text: show(entity.text) }),
      el("td", { text: show(entity.label).replace("_", " ") }),
      el("td", { text: assertionsOf(entity).join(", ") || "affirmed" }),
      el("td", {}, codeList(entity.codes)),
      el("td", { text: show(entity.section) }),
      el("td", { text: valueText(entity.value) })));
    add(target,
      el("h2", { text: entities.length + (entities.length === 1 ? " concept" : " concepts") }),
      legend(labels.length ? labels : LABELS),
      el("div", { class: "columns" }, highlighted(text, spans), detail),
      entities.length
        ? table("Concepts in text order", ["Text", "Label", "Assertion", "Codes", "Section", "Value"], rows)
        : el("p", { text: "No concepts found." }),
      rawJson(data));
  }

  // ---------------------------------------------------------------------------------------
  // AE report: POST /v1/ae/code

  function renderAe(target, text, data) {
    clear(target);
    const events = asArray(data.events).filter(isObject);
    const drugs = asArray(data.drugs).filter(isObject);
    const spans = events.map((event) => ({
      start: event.start, end: event.end,
      make: (slice) => mention(slice, "adverse_event", assertionsOf(event),
        [show(event.ctcae_term), show(event.meddra_code)].filter(Boolean).join(" ") || "not coded"),
    })).concat(drugs.map((drug) => ({
      start: drug.start, end: drug.end,
      make: (slice) => mention(slice, "drug", [], [show(drug.role), codesText(drug.codes)].filter(Boolean).join("\n")),
    })));
    const eventRows = events.map((event) => {
      const candidates = asArray(event.candidates).filter(isObject).slice(0, 3)
        .map((c) => show(c.term) + (typeof c.score === "number" ? " (" + c.score.toFixed(2) + ")" : ""));
      const status = [event.coded === true ? "coded" : "not coded"].concat(assertionsOf(event));
      return el("tr", { class: event.coded === true ? "" : "uncoded" },
        el("td", { text: show(event.text) }),
        el("td", { text: show(event.ctcae_term) || "—" }),
        el("td", {}, event.meddra_code ? el("code", { text: show(event.meddra_code) }) : "—"),
        el("td", { text: show(event.soc) }),
        el("td", { text: show(event.grade) }),
        el("td", { text: show(event.severity) }),
        el("td", { text: status.join(", ") }),
        el("td", { text: candidates.join("; ") }));
    });
    const summary = el("dl", { class: "summary" },
      ["serious", "outcome", "action_taken", "onset", "relatedness"].map((name) => [
        el("dt", { text: name.replace("_", " ") }),
        el("dd", { text: data[name] === undefined || data[name] === null ? "—" : show(data[name]) }),
      ]));
    const seriousness = asArray(data.seriousness).filter(isObject);
    add(target,
      el("h2", { text: events.length + (events.length === 1 ? " event" : " events") }),
      legend(["adverse_event", "drug"]),
      highlighted(text, spans),
      summary,
      events.length
        ? table("Coded adverse events", ["Text", "CTCAE term", "MedDRA", "SOC", "Grade", "Severity", "Status", "Candidates"], eventRows)
        : el("p", { text: "No adverse events found." }),
      seriousness.length
        ? table("Seriousness (ICH E2A)", ["Criterion", "Evidence"], seriousness.map((s) =>
          el("tr", {}, el("td", { text: show(s.criterion) }), el("td", { text: show(s.evidence) }))))
        : null,
      drugs.length
        ? table("Drugs", ["Text", "Role", "Codes"], drugs.map((d) =>
          el("tr", {}, el("td", { text: show(d.text) }), el("td", { text: show(d.role) }), el("td", {}, codeList(d.codes)))))
        : null,
      rawJson(data));
  }

  // ---------------------------------------------------------------------------------------
  // Criteria: POST /v1/criteria/parse

  function constraintText(constraint) {
    if (!isObject(constraint)) return "";
    if (constraint.text) return show(constraint.text);
    if (constraint.comparator === "between") {
      return show(constraint.low) + "–" + show(constraint.high) + " " + show(constraint.unit || constraint.reference || "");
    }
    return [show(constraint.comparator), show(constraint.value), show(constraint.unit || constraint.reference)]
      .filter(Boolean).join(" ");
  }

  function windowText(window) {
    if (!isObject(window)) return "";
    return window.text ? " (" + show(window.text) + ")" : "";
  }

  /** One rule node as a list item; AND/OR/NOT nest, unknown node types show their JSON. */
  function ruleNode(node, depth) {
    if (!isObject(node)) return el("li", { class: "node node-unknown", text: show(node) });
    if (depth > 50) return el("li", { class: "node", text: "…" });
    const type = show(node.type);
    if (type === "and" || type === "or") {
      return el("li", { class: "node node-" + type },
        el("span", { class: "op", text: type.toUpperCase() }),
        el("ul", {}, asArray(node.children).map((child) => ruleNode(child, depth + 1))));
    }
    if (type === "not") {
      return el("li", { class: "node node-not" }, el("span", { class: "op", text: "NOT" }),
        el("ul", {}, ruleNode(node.child, depth + 1)));
    }
    const item = el("li", { class: "node node-" + cssToken(type || "unknown"), title: codesText(node.codes) || null });
    item.append(el("span", { class: "kind", text: type || "node" }), " ");
    if (type === "concept" || type === "medication") {
      item.append(el("span", { class: "term", text: show(node.text) }));
      if (node.domain) item.append(" ", el("span", { class: "domain", text: show(node.domain) }));
      if (node.present === false) item.append(" ", el("span", { class: "badge badge-absent", text: "absent" }));
      if (node.timing) item.append(" ", el("span", { class: "badge", text: show(node.timing) }));
      item.append(windowText(node.window));
    } else if (type === "measurement") {
      item.append(el("span", { class: "term", text: show(node.text) }), " ", constraintText(node.constraint),
        windowText(node.window));
    } else if (type === "demographic") {
      const what = node.attribute === "sex" ? show(node.sex)
        : node.attribute === "age" ? constraintText(node.constraint)
          : node.present === false ? "not" : "";
      item.append(el("span", { class: "term", text: show(node.attribute) }), " ", what);
    } else if (type === "unstructured") {
      item.classList.add("unstructured");
      item.append(el("span", { class: "badge badge-unstructured", text: "unstructured" }), " ",
        el("span", { class: "term", text: show(node.text) }));
      if (node.reason) item.append(el("span", { class: "reason", text: " — " + show(node.reason) }));
    } else {
      item.append(el("code", { text: JSON.stringify(node) }));
    }
    const codes = asArray(node.codes);
    if (codes.length) item.append(" ", el("span", { class: "codes-inline", text: codes.length + " codes" }));
    return item;
  }

  function renderCriteria(target, text, data) {
    clear(target);
    const criteria = asArray(data.criteria).filter(isObject);
    const demographics = isObject(data.demographics) ? data.demographics : {};
    const section = (kind, title) => {
      const items = criteria.filter((c) => c.kind === kind);
      if (!items.length) return null;
      return el("section", { class: "criteria-" + kind }, el("h3", { text: title + " (" + items.length + ")" }),
        el("ol", { class: "criteria" }, items.map((criterion) => el("li", { class: "criterion" },
          el("p", { class: "criterion-text", text: show(criterion.text) }),
          el("ul", { class: "tree", "aria-label": "Rule for: " + show(criterion.text).slice(0, 80) },
            ruleNode(criterion.rule, 0))))));
    };
    const other = criteria.filter((c) => c.kind !== "inclusion" && c.kind !== "exclusion");
    add(target,
      el("h2", { text: criteria.length + (criteria.length === 1 ? " criterion" : " criteria") }),
      el("dl", { class: "summary" }, Object.entries(demographics).map(([name, value]) => [
        el("dt", { text: name.replace(/_/g, " ") }), el("dd", { text: value === null ? "—" : show(value) })])),
      section("inclusion", "Inclusion"),
      section("exclusion", "Exclusion"),
      other.length ? el("section", {}, el("h3", { text: "Other" }),
        el("ol", {}, other.map((c) => el("li", {}, show(c.text), el("ul", { class: "tree" }, ruleNode(c.rule, 0))))))
        : null,
      criteria.length ? null : el("p", { text: "No criteria found." }),
      rawJson(data));
  }

  // ---------------------------------------------------------------------------------------
  // Prescreen: POST /v1/prescreen

  function screeningsOf(data) {
    if (Array.isArray(data)) return data.filter(isObject);
    if (isObject(data)) {
      for (const key of ["screenings", "results"]) {
        if (Array.isArray(data[key])) return data[key].filter(isObject);
      }
      if (data.status !== undefined || data.criteria !== undefined) return [data];
    }
    return [];
  }

  function renderScreening(screening, notes, index) {
    const criteria = asArray(screening.criteria).filter(isObject);
    const noteIndex = new Map(notes.map((note, n) => [note.id, n]));
    // one mark per evidence span of a note, however many criteria point at it
    const marks = new Map();
    const rows = criteria.map((criterion) => {
      const verdict = show(criterion.verdict) || "unknown";
      const evidence = asArray(criterion.evidence).filter(isObject).map((item) => {
        const source = isObject(item.source) ? item.source : {};
        const where = [show(source.kind), show(source.id)].filter(Boolean).join(" ");
        const n = noteIndex.get(show(source.id));
        const inNote = n !== undefined && Number.isInteger(source.start) && Number.isInteger(source.end);
        const markId = inNote ? "ev-" + index + "-" + n + "-" + source.start + "-" + source.end : null;
        if (inNote) {
          if (!marks.has(markId)) marks.set(markId, { note: n, start: source.start, end: source.end, verdict, titles: [] });
          marks.get(markId).titles.push(show(criterion.kind) + ": " + show(criterion.text) + " — " + (VERDICTS[verdict] || verdict));
        }
        const label = [show(item.text), item.note ? "(" + show(item.note) + ")" : "", where ? "— " + where : "",
          item.date ? show(item.date) : ""].filter(Boolean).join(" ");
        if (!inNote) return el("li", { text: label });
        const link = el("button", { type: "button", class: "link", text: label });
        link.addEventListener("click", () => {
          const mark = document.getElementById(markId);
          if (mark) {
            mark.scrollIntoView({ block: "center" });
            mark.focus();
          }
        });
        return el("li", {}, link);
      });
      return el("tr", { class: "verdict-row verdict-" + cssToken(verdict) },
        el("td", { text: show(criterion.kind) }),
        el("td", { text: show(criterion.text) }),
        el("td", {}, el("span", { class: "verdict verdict-" + cssToken(verdict), text: VERDICTS[verdict] || verdict })),
        el("td", { text: show(criterion.reason) }),
        el("td", {}, evidence.length ? el("ul", { class: "evidence-list" }, evidence) : "—"));
    });
    const score = typeof screening.score === "number" ? screening.score.toFixed(2) : show(screening.score);
    const status = show(screening.status) || "unknown";
    return el("article", { class: "screening" },
      el("h3", {}, "Patient " + show(screening.id) + ": ",
        el("span", { class: "status status-" + cssToken(status), text: status.replace("_", " ") })),
      el("dl", { class: "summary" },
        el("dt", { text: "score" }), el("dd", { text: score || "—" }),
        el("dt", { text: "trial" }), el("dd", { text: show(screening.trial) || "—" }),
        el("dt", { text: "index date" }), el("dd", { text: show(screening.index_date) || "—" })),
      criteria.length
        ? table("Verdict per criterion", ["Kind", "Criterion", "Verdict", "Reason", "Evidence"], rows)
        : el("p", { text: "No criteria were evaluated." }),
      notes.map((note, n) => el("section", { class: "note-view" },
        el("h4", { text: "Note " + note.id + (note.date ? " (" + note.date + ")" : "") }),
        highlighted(note.text, Array.from(marks.entries()).filter(([, m]) => m.note === n).map(([id, m]) => ({
          start: m.start, end: m.end,
          make: (slice) => el("mark", { class: "evidence verdict-" + cssToken(m.verdict), id, tabindex: "-1",
            title: m.titles.join("\n") }, slice),
        }))))));
  }

  function renderPrescreen(target, notes, data) {
    clear(target);
    const screenings = screeningsOf(data);
    const legendItems = Object.entries(VERDICTS).map(([verdict, label]) =>
      el("li", {}, el("mark", { class: "evidence sample verdict-" + verdict, text: label })));
    add(target,
      el("h2", { text: screenings.length === 1 ? "Screening" : screenings.length + " screenings" }),
      el("ul", { class: "legend", "aria-label": "Evidence legend" }, legendItems),
      screenings.map((s, i) => renderScreening(s, notes, i)),
      screenings.length ? null : el("p", { text: "The response holds no screening." }),
      rawJson(data));
  }

  // ---------------------------------------------------------------------------------------
  // forms

  function textOf(id) {
    return document.getElementById(id).value;
  }

  function busy(form, on) {
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function bindForm(formId, resultId, submit) {
    const form = document.getElementById(formId);
    const target = document.getElementById(resultId);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(form, true);
      clear(target);
      add(target, el("p", { class: "hint", text: "Working…" }));
      try {
        await submit(target);
      } catch (err) {
        renderError(target, err);
      } finally {
        busy(form, false);
      }
    });
    form.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  function required(text, what) {
    if (!text.trim()) throw new ApiError(0, "empty_text", what + " is empty: paste or load some text first");
    return text;
  }

  function noteEntries() {
    return Array.from(document.querySelectorAll("#prescreen-notes .note-entry"));
  }

  function addNote(text, id) {
    const container = document.getElementById("prescreen-notes");
    const entry = document.getElementById("note-entry").content.firstElementChild.cloneNode(true);
    const n = noteEntries().length + 1;
    entry.querySelector(".note-id").value = id || "note-" + n;
    entry.querySelector(".note-text").value = text || "";
    entry.querySelector(".remove-note").addEventListener("click", () => {
      if (noteEntries().length > 1) entry.remove();
    });
    container.append(entry);
    return entry;
  }

  function setup() {
    bindForm("form-note", "result-note", async (target) => {
      const text = required(textOf("note-text"), "The note");
      renderEntities(target, text, await post("/v1/extract", { text }));
    });
    bindForm("form-ae", "result-ae", async (target) => {
      const text = required(textOf("ae-text"), "The report");
      renderAe(target, text, await post("/v1/ae/code", { text }));
    });
    bindForm("form-criteria", "result-criteria", async (target) => {
      const text = required(textOf("criteria-text"), "The criteria");
      renderCriteria(target, text, await post("/v1/criteria/parse", { text }));
    });
    bindForm("form-prescreen", "result-prescreen", async (target) => {
      const trial = required(textOf("prescreen-trial"), "The trial's criteria");
      const notes = [];
      const seen = new Set();
      noteEntries().forEach((entry, i) => {
        const text = entry.querySelector(".note-text").value;
        if (!text.trim()) return;
        // every note gets an id, so evidence can point back into it
        let id = entry.querySelector(".note-id").value.trim() || "note-" + (i + 1);
        while (seen.has(id)) id += "'";
        seen.add(id);
        const date = entry.querySelector(".note-date").value;
        notes.push(date ? { id, date, text } : { id, text });
      });
      if (!notes.length) throw new ApiError(0, "empty_text", "add at least one note with text");
      const patient = { id: textOf("prescreen-patient-id").trim() || "patient-1", notes };
      if (textOf("prescreen-birth-date")) patient.birth_date = textOf("prescreen-birth-date");
      if (textOf("prescreen-sex")) patient.sex = textOf("prescreen-sex");
      const body = { trial: { text: trial }, patients: [patient] };
      if (textOf("prescreen-index-date")) body.index_date = textOf("prescreen-index-date");
      renderPrescreen(target, notes, await post("/v1/prescreen", body));
    });

    for (const input of document.querySelectorAll("input[type=file][data-target]")) {
      input.addEventListener("change", async () => {
        const file = input.files && input.files[0];
        if (file) document.getElementById(input.dataset.target).value = await file.text();
      });
    }
    const notesFile = document.getElementById("prescreen-notes-file");
    notesFile.addEventListener("change", async () => {
      for (const file of Array.from(notesFile.files || [])) {
        const empty = noteEntries().find((entry) => !entry.querySelector(".note-text").value.trim());
        const text = await file.text();
        const id = file.name.replace(/\.[^.]*$/, "");
        if (empty) {
          empty.querySelector(".note-text").value = text;
          empty.querySelector(".note-id").value = id;
        } else {
          addNote(text, id);
        }
      }
    });
    document.getElementById("prescreen-add-note").addEventListener("click", () => {
      addNote("").querySelector(".note-text").focus();
    });
    addNote("");
    setupTabs();
    checkService();
  }

  // WAI-ARIA tabs: arrows, Home and End move between tabs; only the selected one is tabbable.
  function setupTabs() {
    const tabs = Array.from(document.querySelectorAll("[role=tab]"));
    const select = (tab) => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
        document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
      }
      tab.focus();
    };
    tabs.forEach((tab, i) => {
      tab.addEventListener("click", () => select(tab));
      tab.addEventListener("keydown", (event) => {
        const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
        if (!(event.key in moves)) return;
        event.preventDefault();
        select(tabs[(moves[event.key] + tabs.length) % tabs.length]);
      });
    });
  }

  async function checkService() {
    const status = document.getElementById("service-status");
    for (let attempt = 0; attempt < 120; attempt += 1) {
      try {
        const response = await fetch("/ready", { headers: { Accept: "application/json" } });
        const data = await response.json();
        if (response.ok) {
          const pipeline = asArray(data.pipeline);
          status.textContent = "Ready: " + (pipeline.includes("eligo_ner") ? "lexicons and NER model" : "lexicons only")
            + (data.meddra ? ", MedDRA release loaded" : "");
          status.className = "service-status ok";
          return;
        }
        status.textContent = "The service is not ready: " + show(isObject(data.error) ? data.error.message : response.statusText);
        if (isObject(data.error) && data.error.code === "load_failed") return;
      } catch (err) {
        status.textContent = "The service cannot be reached.";
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
