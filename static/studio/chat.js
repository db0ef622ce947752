/* Hector Studio chat: one websocket, A2A stream events in, answer and trace drawn as they arrive.
 *
 * Frames (apps/studio/consumers.py): {type:"a2a", payload:<A2A v0.3 stream event>} while a turn
 * runs, {type:"trace", turns, waiting, todos} when it is over (the stored record: authors, LLM
 * usage; what a paused task asks; the session's todo list), and {type:"error", message}. A
 * reopened session (?session=<id>) is drawn from its stored turns.
 *
 * A task paused in input-required is answered on the same task (SPEC 8): an approval request
 * gets an Approve/Deny widget whose click sends {approval_id, decision, reason?} as a data part;
 * a plain question is answered by the next message. Either way the answer continues the paused
 * turn: a new agent bubble, and the same trace group, where the tool call gets its result. */
(function () {
  "use strict";

  const T = window.HectorTrace;
  const configNode = document.getElementById("chat-config");
  if (!configNode || !T) return;
  const cfg = JSON.parse(configNode.textContent);
  const $ = (id) => document.getElementById(id);
  const conversation = $("conversation");
  const traceBox = $("trace");
  const prompt = $("prompt");
  const sendButton = $("send");
  const stopButton = $("stop");
  const agentSelect = $("agent");
  const connection = $("connection");
  const sessionLabel = $("session-label");
  const notice = $("notice");
  const BAD_STATES = ["failed", "rejected", "canceled"];
  const WAITING_STATES = ["input-required", "auth-required"];

  const todoPanel = $("todos");
  const todoList = $("todo-list");
  const PLACEHOLDER = prompt.placeholder;

  // `waiting`: what the last turn's task asks ({task_id, state, text, requests, turn}), or null.
  const state = { socket: null, contextId: null, taskId: null, turn: null, waiting: null, failures: 0, turns: 0 };

  // --- page pieces -------------------------------------------------------------------------

  function showNotice(html, kind) {
    notice.className = `notice ${kind || ""}`;
    notice.innerHTML = html;
    notice.hidden = !html;
  }

  function setConnection(text, kind) {
    connection.textContent = text;
    connection.className = `badge ${kind || ""}`;
  }

  function setContext(contextId) {
    state.contextId = contextId;
    sessionLabel.textContent = contextId ? `session ${contextId.slice(0, 12)}…` : "new session";
    sessionLabel.title = contextId || "";
    const params = new URLSearchParams({ agent: agentSelect.value });
    if (contextId) params.set("session", contextId);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    stopButton.hidden = !busy;
    agentSelect.disabled = busy;
  }

  function bubble(role, label) {
    const hint = $("empty-hint");
    if (hint) hint.remove();
    const body = T.el("div", { className: "bubble-body" });
    const node = T.el("div", { className: `bubble ${role}` }, [
      T.el("div", { className: "bubble-who", text: label }),
      body,
    ]);
    conversation.append(node);
    conversation.scrollTop = conversation.scrollHeight;
    return { node, body };
  }

  function traceGroup(title, agent) {
    const placeholder = traceBox.querySelector(":scope > p.muted");
    if (placeholder) placeholder.remove();
    state.turns += 1;
    const items = T.el("div", { className: "trace-items" });
    const group = T.el("section", { className: "trace-turn" }, [
      T.el("h3", {}, [
        T.el("span", { className: "turn-number", text: `#${state.turns}` }),
        T.el("span", { className: "turn-title", text: title }),
        T.el("span", { className: "meta", text: agent }),
      ]),
      items,
    ]);
    traceBox.append(group);
    return items;
  }

  function newTurn(text, agent) {
    const user = bubble("user", "You");
    user.body.textContent = text;
    const answer = bubble("agent", agent);
    answer.node.classList.add("streaming");
    return {
      agent,
      answer: "",
      view: answer,
      items: [],
      views: new Map(),
      calls: new Map(),
      base: 0,
      resuming: [],
      thinking: null,
      error: null,
      done: false,
      traceItems: traceGroup(text.length > 60 ? text.slice(0, 57) + "…" : text, agent),
      renderPending: false,
    };
  }

  /* The next turn of a paused task: a new answer bubble, the paused turn's trace group. Items up
   * to `base` are the paused turn's; the stored trace of this turn is merged after them, results
   * of the waiting calls into the calls themselves. */
  function continueTurn(paused, userText, note, resuming) {
    if (userText) bubble("user", "You").body.textContent = userText;
    const answer = bubble("agent", paused.agent);
    answer.node.classList.add("streaming");
    const turn = Object.assign({}, paused, {
      answer: "",
      view: answer,
      thinking: null,
      error: null,
      done: false,
      renderPending: false,
      resuming,
    });
    addItem(turn, { kind: "resume", text: note });
    turn.base = turn.items.length;
    return turn;
  }

  // --- drawing a turn ----------------------------------------------------------------------

  function addItem(turn, item) {
    turn.items.push(item);
    if (item.kind === "tool_call" && item.call_id) turn.calls.set(item.call_id, item);
    const view = T.render(item);
    turn.views.set(item, view);
    turn.traceItems.append(view);
    traceBox.scrollTop = traceBox.scrollHeight;
    return item;
  }

  function redraw(turn, item) {
    const view = turn.views.get(item);
    if (view) turn.views.set(item, T.update(view, item));
  }

  /* Swap the live items after `base` for the stored ones. A stored result whose call is one
   * of the earlier items (a call that waited for approval) completes that item instead. */
  function replaceItems(turn, items) {
    for (const item of turn.items.splice(turn.base)) {
      const view = turn.views.get(item);
      if (view) view.remove();
      turn.views.delete(item);
    }
    turn.calls = new Map();
    for (const item of turn.items) if (item.kind === "tool_call") turn.calls.set(item.call_id, item);
    turn.thinking = null;
    for (const item of items) {
      const earlier = item.kind === "tool_call" && item.done ? turn.calls.get(item.call_id) : null;
      if (earlier) {
        Object.assign(earlier, {
          result: item.result,
          is_error: item.is_error,
          done: true,
          waiting: false,
          duration_ms: item.duration_ms ?? earlier.duration_ms,
        });
        redraw(turn, earlier);
      } else {
        addItem(turn, item);
      }
    }
  }

  function drawAnswer(turn) {
    if (turn.renderPending) return;
    turn.renderPending = true;
    requestAnimationFrame(() => {
      turn.renderPending = false;
      T.markdown(turn.view.body, turn.answer);
      if (turn.error) {
        turn.view.body.append(T.el("p", { className: "error", role: "alert", text: turn.error }));
      }
      conversation.scrollTop = conversation.scrollHeight;
    });
  }

  function fail(turn, message) {
    turn.error = message;
    turn.view.node.classList.add("failed");
    drawAnswer(turn);
  }

  function finish(turn, finalState) {
    if (turn.done) return;
    turn.done = true;
    turn.view.node.classList.remove("streaming");
    if (!turn.answer && !turn.error && !WAITING_STATES.includes(finalState)) {
      turn.answer = "_(no answer)_";
    }
    drawAnswer(turn);
    setBusy(false);
    prompt.focus();
  }

  // --- a paused task: approvals and questions ------------------------------------------------

  function setWaiting(waiting) {
    state.waiting = waiting;
    if (!waiting) prompt.placeholder = PLACEHOLDER;
    else if (waiting.requests.length) {
      prompt.placeholder = "Approve or deny above — or type approve / deny (a reason may follow)";
    } else {
      prompt.placeholder = "Answer the agent — your reply continues the same task";
    }
  }

  /* The task of `turn` waits: mark its unanswered calls, and draw a widget per approval
   * request, or highlight the question the next message answers. */
  function showWaiting(turn, waiting) {
    setWaiting(Object.assign({}, waiting, { turn }));
    if (!waiting.requests.length) {
      turn.answer = waiting.text || `The agent is waiting (${waiting.state}).`;
      turn.view.node.classList.add("question");
      turn.view.node.querySelector(".bubble-who").textContent = `${turn.agent} asks`;
      drawAnswer(turn);
      return;
    }
    for (const request of waiting.requests) {
      const item = callOf(turn, request);
      if (item) {
        Object.assign(item, { waiting: true, decided: null });
        redraw(turn, item);
      }
    }
    turn.view.node.classList.add("waiting");
    const box = T.el("div", { className: "approvals" });
    for (const request of waiting.requests) box.append(approvalWidget(turn, request));
    turn.view.node.append(box);
    conversation.scrollTop = conversation.scrollHeight;
  }

  function stableJson(value) {
    if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
    if (value && typeof value === "object") {
      return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
  }

  /* The trace item of the call an approval request is about. Requests carry no call id, so the
   * unanswered call with the same tool and arguments (key order aside: stored JSON reorders). */
  function callOf(turn, request) {
    const args = stableJson(request.arguments || {});
    return turn.items.find(
      (item) => item.kind === "tool_call" && !item.done && item.name === request.tool_name && stableJson(item.arguments || {}) === args,
    );
  }

  function approvalWidget(turn, request) {
    const reason = T.el("input", {
      type: "text",
      className: "approval-reason",
      placeholder: "Reason (optional)",
      "aria-label": `Reason for the decision on ${request.tool_name}`,
      maxlength: "500",
    });
    const approve = T.el("button", { type: "button", className: "approve", text: "Approve" });
    const deny = T.el("button", { type: "button", className: "deny danger", text: "Deny" });
    const widget = T.el("form", { className: "approval", "data-approval-id": request.approval_id }, [
      T.el("div", { className: "approval-head" }, [
        T.el("span", { className: "badge warn", text: "Approval needed" }),
        T.el("code", { className: "tool-name", text: request.tool_name }),
      ]),
      T.el("p", { className: "approval-prompt", text: request.prompt || "" }),
      T.el("pre", { className: "args", text: T.json(request.arguments || {}) }),
      T.el("div", { className: "approval-actions" }, [reason, approve, deny]),
    ]);
    approve.addEventListener("click", () => decide(turn, request, widget, "approve"));
    deny.addEventListener("click", () => decide(turn, request, widget, "deny"));
    widget.addEventListener("submit", (event) => event.preventDefault()); // Enter in the reason
    return widget;
  }

  function settle(widget, text, kind) {
    const actions = widget.querySelector(".approval-actions");
    if (actions) actions.replaceWith(T.el("p", { className: `approval-outcome ${kind}`, text }));
    widget.querySelector(".badge").textContent = "Approval request";
    widget.classList.add("settled");
  }

  /* The paused turn is answered: its widgets become a record of what was decided. One that
   * this answer did not decide is asked again by the continuation, with a new widget. */
  function settleWaiting(decided) {
    const paused = state.waiting.turn;
    for (const widget of paused.view.node.querySelectorAll(".approval:not(.settled)")) {
      if (decided && widget.dataset.approvalId === decided.id) settle(widget, decided.text, decided.kind);
      else settle(widget, decided ? "Not decided yet" : "Answered by your message", "open");
    }
    paused.view.node.classList.remove("waiting");
    paused.view.node.classList.add("answered");
    setWaiting(null);
    return paused;
  }

  function decide(turn, request, widget, decision) {
    if (state.waiting === null || state.waiting.turn !== turn || !socketOpen()) return;
    const reason = widget.querySelector(".approval-reason").value.trim();
    const data = { approval_id: request.approval_id, decision };
    if (reason) data.reason = reason;
    const verb = decision === "approve" ? "Approved" : "Denied";
    const taskId = state.waiting.task_id;
    settleWaiting({
      id: request.approval_id,
      kind: decision === "approve" ? "approved" : "denied",
      text: `${decision === "approve" ? "✓" : "✕"} ${verb}${reason ? `: ${reason}` : ""}`,
    });
    const call = callOf(turn, request);
    if (call) {
      Object.assign(call, { waiting: false, decided: decision === "approve" ? "approved" : "denied" });
      redraw(turn, call);
    }
    const note = `${verb} ${request.tool_name}${reason ? `: ${reason}` : ""}`;
    // Approved calls run once nothing of their round waits any more: time them from then.
    const approved = turn.items.filter((item) => item.kind === "tool_call" && !item.done && item.decided === "approved");
    state.turn = continueTurn(turn, null, note, approved);
    sendFrame({ agent: turn.agent, data, task_id: taskId });
  }

  // --- A2A events --------------------------------------------------------------------------

  function textOf(parts) {
    return (parts || []).filter((p) => p.kind === "text").map((p) => p.text).join("");
  }

  function onDataPart(turn, data, timestamp) {
    const at = Date.parse(timestamp) || Date.now();
    switch (data.hector_type) {
      case "thinking":
        if (turn.thinking && turn.items[turn.items.length - 1] === turn.thinking) {
          turn.thinking.text += data.text || "";
          redraw(turn, turn.thinking);
        } else {
          turn.thinking = addItem(turn, { kind: "thinking", text: data.text || "" });
        }
        return;
      case "tool_call": {
        const item = addItem(turn, {
          kind: "tool_call",
          call_id: data.call_id,
          name: data.name,
          arguments: data.arguments,
          done: false,
          startedAt: at,
        });
        turn.calls.set(data.call_id, item);
        return;
      }
      case "tool_result": {
        let item = turn.calls.get(data.call_id);
        if (!item) item = addItem(turn, { kind: "tool_call", call_id: data.call_id, name: data.name, arguments: {} });
        Object.assign(item, {
          result: data.content,
          is_error: !!data.is_error,
          done: true,
          waiting: false,
          duration_ms: item.startedAt ? Math.max(0, at - item.startedAt) : null,
        });
        redraw(turn, item);
        if (data.name === "todo_write" && !data.is_error) showTodosOf(data.content);
        return;
      }
      case "approval_request": // drawn as a widget once the turn is over (showWaiting)
        return;
      case "status":
        addItem(turn, { kind: "status", state: data.state || "status", message: data.message || "" });
        return;
      default:
        addItem(turn, { kind: "data", data });
    }
  }

  /* The calls a decision let through run now: they time from the continuation's start, not
   * from when the model asked (the wait for a person is not the tool's). */
  function resumeCalls(turn, timestamp) {
    const at = Date.parse(timestamp) || null;
    for (const item of turn.resuming) {
      Object.assign(item, { waiting: false, startedAt: at });
      redraw(turn, item);
    }
    turn.resuming = [];
  }

  function onStatus(turn, event) {
    const status = event.status || {};
    if (turn.resuming.length) resumeCalls(turn, status.timestamp);
    const parts = (status.message && status.message.parts) || [];
    for (const part of parts) {
      if (part.kind === "data" && part.data && part.data.hector_type) onDataPart(turn, part.data, status.timestamp);
    }
    const text = textOf(parts);
    if (BAD_STATES.includes(status.state)) {
      fail(turn, text ? `Task ${status.state}: ${text}` : `Task ${status.state}.`);
    }
    if (event.final) finish(turn, status.state);
  }

  function onArtifact(turn, event) {
    const text = textOf(event.artifact && event.artifact.parts);
    turn.answer = event.append ? turn.answer + text : text;
    drawAnswer(turn);
  }

  function onA2A(event) {
    const turn = state.turn;
    if (!turn) return;
    switch (event.kind) {
      case "task":
        state.taskId = event.id;
        setContext(event.contextId);
        break;
      case "status-update":
        onStatus(turn, event);
        break;
      case "artifact-update":
        onArtifact(turn, event);
        break;
    }
  }

  function onTrace(frame) {
    const turn = state.turn;
    if (!turn) return;
    const turns = frame.turns || [];
    if (turns.length) {
      replaceItems(turn, turns.flatMap((t) => t.items));
      const last = turns[turns.length - 1];
      if (!turn.answer && last.answer) {
        turn.answer = last.answer;
        drawAnswer(turn);
      }
      if (last.error && !turn.error) fail(turn, last.error);
    }
    showTodos(frame.todos);
    if (frame.waiting) showWaiting(turn, frame.waiting);
    finish(turn, frame.state || "completed");
  }

  function onError(frame) {
    const turn = state.turn;
    if (turn && !turn.done) {
      fail(turn, frame.message);
      finish(turn, "failed");
    } else {
      showNotice(T.el("span", { text: frame.message }).outerHTML, "bad");
    }
  }

  // --- socket ------------------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + cfg.socket);
    state.socket = socket;
    setConnection("connecting…");
    socket.onopen = () => {
      state.failures = 0;
      setConnection("connected", "ok");
      if (notice.classList.contains("connection")) showNotice("");
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "a2a") onA2A(frame.payload);
      else if (frame.type === "trace") onTrace(frame);
      else if (frame.type === "error") onError(frame);
    };
    socket.onclose = () => {
      state.failures += 1;
      setConnection("disconnected", "bad");
      const turn = state.turn;
      if (turn && !turn.done) {
        fail(turn, "Connection lost. The task goes on; its result will be in Sessions.");
        finish(turn, "failed");
      }
      if (state.failures >= 2) {
        showNotice(
          'Cannot reach the chat socket. If the Studio session expired, <a href="/studio/login/?next=/studio/">unlock it again</a>.',
          "bad connection",
        );
      }
      setTimeout(connect, Math.min(10000, 500 * 2 ** state.failures));
    };
  }

  function socketOpen() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) return true;
    showNotice("Not connected yet; try again in a moment.", "bad connection");
    return false;
  }

  /* One turn: {agent, text?, data?, task_id?} on the current session. */
  function sendFrame(fields) {
    showNotice("");
    setBusy(true);
    state.socket.send(JSON.stringify(Object.assign({ type: "send", app: cfg.app, context_id: state.contextId }, fields)));
  }

  function send(text) {
    if (!socketOpen()) return;
    const waiting = state.waiting;
    if (waiting) {
      // The paused task takes this message: an answer to its question, or a typed decision.
      const short = text.length > 40 ? text.slice(0, 37) + "…" : text;
      const paused = settleWaiting(null);
      // A typed "approve" or "deny" decides every waiting call: they all start from here.
      const resuming = paused.items.filter((item) => item.kind === "tool_call" && item.waiting);
      state.turn = continueTurn(paused, text, `Replied: ${short}`, resuming);
      sendFrame({ agent: waiting.turn.agent, text, task_id: waiting.task_id });
      return;
    }
    state.turn = newTurn(text, agentSelect.value);
    sendFrame({ agent: agentSelect.value, text });
  }

  // --- todo list -----------------------------------------------------------------------------

  const TODO_MARKS = { pending: "○", in_progress: "◐", completed: "✓", canceled: "✕" };

  /* The session's todos (state key `todos`, written by the todotool); none hides the panel. */
  function showTodos(todos) {
    const items = Array.isArray(todos) ? todos : [];
    todoPanel.hidden = !items.length;
    const done = items.filter((t) => t.status === "completed").length;
    $("todo-count").textContent = items.length ? `${done} of ${items.length} done` : "";
    todoList.replaceChildren(
      ...items.map((todo) =>
        T.el("li", { className: `todo ${todo.status || "pending"}`, "data-id": todo.id }, [
          T.el("span", { className: "todo-mark", "aria-hidden": "true", text: TODO_MARKS[todo.status] || "○" }),
          T.el("span", { className: "todo-content", text: todo.content }),
          T.el("span", { className: "todo-status", text: (todo.status || "pending").replace("_", " ") }),
        ]),
      ),
    );
  }

  /* A todo_write result while the turn runs: {summary, todos}, possibly as JSON text. */
  function showTodosOf(content) {
    let value = content;
    if (typeof value === "string") {
      try {
        value = JSON.parse(value);
      } catch (error) {
        return;
      }
    }
    if (value && Array.isArray(value.todos)) showTodos(value.todos);
  }

  // --- reopening a session -----------------------------------------------------------------

  async function reopen(sessionId) {
    const response = await fetch(`/studio/sessions/${encodeURIComponent(sessionId)}/turns.json`, {
      headers: { Accept: "application/json" },
    });
    const body = await response.json();
    if (!response.ok) {
      showNotice(T.el("span", { text: body.error || "Session not found" }).outerHTML, "bad");
      setContext(null);
      return;
    }
    const session = body.session;
    if ([...agentSelect.options].some((o) => o.value === session.agent)) agentSelect.value = session.agent;
    const own = session.user_id === cfg.user;
    body.turns.forEach((stored, index) => {
      const turn = newTurn(stored.user || "(no text)", stored.author || session.agent);
      turn.agent = session.agent;
      replaceItems(turn, stored.items);
      turn.answer = stored.answer;
      if (stored.error) fail(turn, stored.error);
      const waiting = own && index === body.turns.length - 1 ? body.waiting : null;
      if (waiting) showWaiting(turn, waiting);
      finish(turn, waiting ? waiting.state : stored.status);
    });
    showTodos(body.todos);
    if (own) {
      setContext(session.id);
    } else {
      showNotice(
        `This session belongs to user <code>${T.el("span", { text: session.user_id }).innerHTML}</code> (an A2A client): ` +
          "it is shown read-only, and a message here starts a new Studio session.",
      );
      setContext(null);
    }
  }

  // --- controls ----------------------------------------------------------------------------

  function reset() {
    state.turn = null;
    state.turns = 0;
    setWaiting(null);
    showTodos(null);
    conversation.replaceChildren();
    traceBox.replaceChildren(T.el("p", { className: "muted", text: "Each turn's trace appears here." }));
    showNotice("");
    setContext(null);
    $("agent-name") && ($("agent-name").textContent = agentSelect.value);
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text || sendButton.disabled) return;
    prompt.value = "";
    send(text);
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  stopButton.addEventListener("click", () => {
    if (state.taskId && state.socket) {
      state.socket.send(JSON.stringify({ type: "cancel", app: cfg.app, task_id: state.taskId }));
    }
  });
  $("new-chat").addEventListener("click", reset);
  agentSelect.addEventListener("change", () => {
    if (state.contextId) reset(); // a session belongs to one agent
    else setContext(null);
  });
  $("trace-toggle").addEventListener("click", (event) => {
    const details = traceBox.querySelectorAll("details");
    const open = event.target.textContent === "Expand all";
    details.forEach((d) => (d.open = open));
    event.target.textContent = open ? "Collapse all" : "Expand all";
  });

  setContext(null);
  connect();
  if (cfg.session) reopen(cfg.session);
  prompt.focus();
})();
