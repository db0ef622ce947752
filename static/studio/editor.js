/* Hector Studio config editor: CodeMirror 5 over the form's textarea, errors drawn at their line.
 *
 * The server validates (POST /studio/config/validate/ as you type, and on save); each issue with
 * a line gets a red line, a gutter mark and the message under the line. `#agents.triage` in the
 * URL scrolls to that key (the flow view links here). */
(function () {
  "use strict";

  const textarea = document.getElementById("config-text");
  if (!textarea || !window.CodeMirror) return;
  const configNode = document.getElementById("editor-config");
  const cfg = (configNode && JSON.parse(configNode.textContent)) || { anchors: {}, issues: [], validate: false };
  const readOnly = textarea.hasAttribute("readonly");
  const badge = document.getElementById("validity");

  const editor = window.CodeMirror.fromTextArea(textarea, {
    mode: "yaml",
    lineNumbers: true,
    readOnly: readOnly,
    indentUnit: 2,
    tabSize: 2,
    lineWrapping: false,
    gutters: ["CodeMirror-linenumbers", "issue-gutter"],
    extraKeys: {
      Tab: (cm) => cm.replaceSelection("  "),
      "Ctrl-S": () => submit(),
      "Cmd-S": () => submit(),
    },
    viewportMargin: 50,
  });
  editor.getWrapperElement().classList.add("config-editor");
  window.hectorEditor = editor; // for tests and the console

  let anchors = cfg.anchors || {};
  let marks = [];

  function submit() {
    const form = document.getElementById("config-form");
    if (form) {
      editor.save();
      form.requestSubmit();
    }
  }

  function clearIssues() {
    for (const mark of marks) mark();
    marks = [];
    editor.clearGutter("issue-gutter");
  }

  function showIssues(issues) {
    clearIssues();
    for (const issue of issues || []) {
      if (!issue.line) continue;
      const line = Math.min(issue.line - 1, editor.lineCount() - 1);
      const handle = editor.addLineClass(line, "background", "cm-issue-line");
      const dot = document.createElement("span");
      dot.className = "issue-dot";
      dot.title = issue.message;
      dot.textContent = "●";
      editor.setGutterMarker(line, "issue-gutter", dot);
      const note = document.createElement("div");
      note.className = "cm-issue-note";
      note.setAttribute("role", "alert");
      note.textContent = `${issue.path ? issue.path + ": " : ""}${issue.message}`;
      const widget = editor.addLineWidget(line, note, { coverGutter: false, noHScroll: true });
      marks.push(() => {
        editor.removeLineClass(handle, "background", "cm-issue-line");
        widget.clear();
      });
    }
  }

  function setBadge(issues) {
    if (!badge) return;
    if (!issues.length) {
      badge.textContent = "valid";
      badge.className = "badge ok";
    } else {
      badge.textContent = `${issues.length} problem${issues.length > 1 ? "s" : ""}`;
      badge.className = "badge bad";
    }
  }

  function jump(line, column) {
    editor.focus();
    editor.setCursor({ line: line - 1, ch: Math.max(0, (column || 1) - 1) });
    editor.scrollIntoView({ line: line - 1, ch: 0 }, 120);
  }

  function jumpToHash() {
    const key = decodeURIComponent(location.hash.slice(1));
    const line = anchors[key];
    if (!line) return;
    jump(line, 1);
    const handle = editor.addLineClass(line - 1, "background", "cm-anchor-line");
    setTimeout(() => editor.removeLineClass(handle, "background", "cm-anchor-line"), 2500);
  }

  document.querySelectorAll("[data-line]").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      jump(Number(link.dataset.line), Number(link.dataset.column));
    });
  });

  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  let timer = null;
  let sequence = 0;

  async function validate() {
    const mine = ++sequence;
    const response = await fetch("/studio/config/validate/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "", Accept: "application/json" },
      body: JSON.stringify({ config: editor.getValue() }),
    });
    if (mine !== sequence || !response.ok) return;
    const body = await response.json();
    if (body.anchors) anchors = body.anchors;
    showIssues(body.errors);
    setBadge(body.errors || []);
  }

  if (!readOnly && cfg.validate) {
    editor.on("change", () => {
      clearTimeout(timer);
      if (badge) {
        badge.textContent = "checking…";
        badge.className = "badge";
      }
      timer = setTimeout(validate, 600);
    });
  }

  showIssues(cfg.issues);
  if (cfg.validate) setBadge(cfg.issues || []);
  const first = (cfg.issues || []).find((issue) => issue.line);
  if (first) jump(first.line, first.column);
  else jumpToHash();
  window.addEventListener("hashchange", jumpToHash);
})();
