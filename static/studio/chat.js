/* Hector Studio chat: one websocket, A2A stream events in, answer and trace drawn as they arrive.
 *
 * Frames (apps/studio/consumers.py): {type:"a2a", payload:<A2A v0.3 stream event>} while a turn
 * runs, {type:"trace", turns:[...]} when it is over (the stored record: authors, LLM usage), and
 * {type:"error", message}. A reopened session (?session=<id>) is drawn from its stored turns. */
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

  const state = { socket: null, contextId: null, taskId: null, turn: null, failures: 0, turns: 0 };

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
      answer: "",
      view: answer,
      items: [],
      views: new Map(),
      calls: new Map(),
      thinking: null,
      error: null,
      done: false,
      traceItems: traceGroup(text.length > 60 ? text.slice(0, 57) + "…" : text, agent),
      renderPending: false,
    };
  }

  // --- drawing a turn ----------------------------------------------------------------------

  function addItem(turn, item) {
    turn.items.push(item);
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

  function replaceItems(turn, items) {
    turn.traceItems.replaceChildren();
    turn.items = [];
    turn.views = new Map();
    turn.calls = new Map();
    turn.thinking = null;
    for (const item of items) addItem(turn, item);
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
          duration_ms: item.startedAt ? Math.max(0, at - item.startedAt) : null,
        });
        redraw(turn, item);
        return;
      }
      case "status":
        addItem(turn, { kind: "status", state: data.state || "status", message: data.message || "" });
        return;
      default:
        addItem(turn, { kind: "data", data });
    }
  }

  function onStatus(turn, event) {
    const status = event.status || {};
    const parts = (status.message && status.message.parts) || [];
    for (const part of parts) {
      if (part.kind === "data" && part.data && part.data.hector_type) onDataPart(turn, part.data, status.timestamp);
    }
    const text = textOf(parts);
    if (BAD_STATES.includes(status.state)) {
      fail(turn, text ? `Task ${status.state}: ${text}` : `Task ${status.state}.`);
    } else if (WAITING_STATES.includes(status.state)) {
      turn.answer = text || `The agent is waiting (${status.state}).`;
      drawAnswer(turn);
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
    finish(turn, "completed");
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

  function send(text) {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showNotice("Not connected yet; try again in a moment.", "bad connection");
      return;
    }
    showNotice("");
    state.turn = newTurn(text, agentSelect.value);
    setBusy(true);
    socket.send(
      JSON.stringify({ type: "send", app: cfg.app, agent: agentSelect.value, text, context_id: state.contextId }),
    );
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
    for (const stored of body.turns) {
      const turn = newTurn(stored.user || "(no text)", stored.author || session.agent);
      replaceItems(turn, stored.items);
      turn.answer = stored.answer;
      if (stored.error) fail(turn, stored.error);
      finish(turn, stored.status);
    }
    if (session.user_id === cfg.user) {
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
