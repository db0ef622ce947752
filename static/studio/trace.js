/* Hector Studio: drawing trace items (LLM calls, thinking, tool calls, statuses) and markdown.
 *
 * An item is a plain object with a `kind` (see apps/studio/trace.py, which builds the same shapes
 * from stored session events). `render(item)` returns an element; `update(element, item)` redraws
 * it in place, keeping a <details> open if the user opened it. Renderers are looked up by kind in
 * `HectorTrace.renderers`, so a new kind (an approval request, a todo list) adds one entry. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function json(value) {
    if (typeof value === "string") return value;
    try {
      return JSON.stringify(value, null, 2);
    } catch (error) {
      return String(value);
    }
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return ms + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function tokens(usage) {
    if (!usage) return "";
    const parts = [];
    if (usage.input_tokens !== undefined) parts.push(usage.input_tokens + " in");
    if (usage.output_tokens !== undefined) parts.push(usage.output_tokens + " out");
    if (usage.thinking_tokens) parts.push(usage.thinking_tokens + " thinking");
    return parts.length ? parts.join(" / ") + " tokens" : "";
  }

  function markdown(target, text) {
    if (window.marked && window.DOMPurify) {
      target.innerHTML = window.DOMPurify.sanitize(window.marked.parse(text || ""));
    } else {
      target.textContent = text || "";
    }
  }

  // A tool call whose arguments and result print longer than this starts collapsed, so one big
  // payload does not push the rest of the trace out of sight (the session page uses the same
  // limits: apps/studio/templatetags/studio.py). Unfinished and failed calls always start open.
  const OPEN_TOOL_CHARS = 600;
  const OPEN_TOOL_LINES = 16;

  function opensByDefault(item) {
    if (!item.done || item.is_error) return true;
    const text = (json(item.arguments || {}) || "") + "\n" + (json(item.result) || "");
    return text.length <= OPEN_TOOL_CHARS && text.split("\n").length <= OPEN_TOOL_LINES;
  }

  function author(item) {
    return item.author ? el("span", { className: "author", text: item.author }) : null;
  }

  function meta(...texts) {
    return el("span", { className: "meta", text: texts.filter(Boolean).join(" · ") });
  }

  const renderers = {
    llm(item) {
      const calls = item.tool_calls ? `${item.tool_calls} tool call${item.tool_calls > 1 ? "s" : ""}` : "answer";
      return el("div", { className: "trace-item llm" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "◆" }),
        el("span", { className: "label", text: "LLM call" }),
        author(item),
        meta(duration(item.duration_ms), tokens(item.usage), calls),
      ]);
    },
    thinking(item) {
      return el("details", { className: "trace-item thinking" }, [
        el("summary", {}, [
          el("span", { className: "icon", "aria-hidden": "true", text: "…" }),
          el("span", { className: "label", text: "Thinking" }),
          author(item),
          meta(`${(item.text || "").length} chars`),
        ]),
        el("pre", { text: item.text || "" }),
      ]);
    },
    text(item) {
      return el("div", { className: "trace-item text" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "¶" }),
        author(item),
        el("span", { className: "quote", text: item.text }),
      ]);
    },
    tool_call(item) {
      // waiting: the call asks for approval; decided: approved or denied, and the task waits for
      // the decisions on other calls of the same round before any of them runs.
      const state = item.waiting
        ? "waiting"
        : !item.done && item.decided
          ? "decided"
          : !item.done
            ? "running"
            : item.is_error
              ? "error"
              : "ok";
      const label = { waiting: "awaiting approval", decided: item.decided, running: "running…" }[state] || state;
      const body = [el("h4", { text: "Arguments" }), el("pre", { className: "args", text: json(item.arguments || {}) })];
      if (item.done) {
        body.push(el("h4", { text: item.is_error ? "Error" : "Result" }));
        body.push(el("pre", { className: item.is_error ? "result error-text" : "result", text: json(item.result) }));
      }
      const open = opensByDefault(item);
      return el("details", { className: `trace-item tool ${state}`, "data-call-id": item.call_id, open }, [
        el("summary", {}, [
          el("span", { className: "icon", "aria-hidden": "true", text: "⚙" }),
          el("span", { className: "label tool-name", text: item.name }),
          author(item),
          el("span", { className: `state ${state}`, text: label }),
          meta(duration(item.duration_ms)),
        ]),
        el("div", { className: "tool-body" }, body),
      ]);
    },
    status(item) {
      const bad = ["failed", "canceled", "rejected"].includes(item.state);
      return el("div", { className: `trace-item status${bad ? " bad" : ""}`, role: bad ? "alert" : null }, [
        el("span", { className: "icon", "aria-hidden": "true", text: bad ? "✕" : "•" }),
        el("span", { className: "label", text: item.state || "status" }),
        author(item),
        el("span", { className: "quote", text: item.message || "" }),
      ]);
    },
    resume(item) {
      // a paused task answered: an approval decided, or the question replied to
      return el("div", { className: "trace-item resume" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "↳" }),
        el("span", { className: "label", text: item.text }),
      ]);
    },
    transfer(item) {
      return el("div", { className: "trace-item transfer" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "→" }),
        author(item),
        el("span", { className: "label", text: `transferred to ${item.to}` }),
      ]);
    },
    escalate(item) {
      return el("div", { className: "trace-item transfer" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "↑" }),
        author(item),
        el("span", { className: "label", text: "escalated" }),
      ]);
    },
    files(item) {
      return el("div", { className: "trace-item files" }, [
        el("span", { className: "icon", "aria-hidden": "true", text: "📎" }),
        el("span", { className: "label", text: (item.names || []).join(", ") }),
      ]);
    },
    data(item) {
      return el("details", { className: "trace-item data" }, [
        el("summary", {}, [
          el("span", { className: "icon", "aria-hidden": "true", text: "{}" }),
          el("span", { className: "label", text: (item.data && item.data.hector_type) || "data" }),
          author(item),
        ]),
        el("pre", { text: json(item.data) }),
      ]);
    },
  };

  function render(item) {
    const renderer = renderers[item.kind] || renderers.data;
    return renderer(item);
  }

  function update(element, item) {
    const fresh = render(item);
    if (element.tagName === "DETAILS" && fresh.tagName === "DETAILS") fresh.open = element.open;
    element.replaceWith(fresh);
    return fresh;
  }

  window.HectorTrace = { el, json, duration, tokens, markdown, render, update, renderers };
})();
