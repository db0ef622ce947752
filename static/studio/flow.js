/* Hector Studio flow view: the app's agents as a layered graph, drawn in SVG (no library).
 *
 * The model is the graph from apps/studio/flow.py (nodes, edges; each edge names the YAML key it
 * comes from) plus a position per node. `layout` places nodes in ranks (longest path from the
 * roots, then barycentre ordering to reduce crossings); `draw` renders the model; dragging a node
 * only moves it in the model and redraws its edges. Editing goes through the server: "Add edge"
 * posts agent/key/target and the page reloads from the new revision, so the YAML stays the truth. */
(function () {
  "use strict";

  const container = document.getElementById("flow");
  const dataNode = document.getElementById("flow-graph");
  if (!container || !dataNode) return;
  const graph = JSON.parse(dataNode.textContent);
  const panel = document.getElementById("flow-panel");
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_W = 190;
  const NODE_H = 58;
  const GAP_X = 44;
  const GAP_Y = 96;

  const model = {
    nodes: new Map(graph.nodes.map((node, index) => [node.id, { ...node, index, x: 0, y: 0, rank: 0 }])),
    edges: graph.edges.map((edge, index) => ({ ...edge, index })),
  };

  // --- layout ------------------------------------------------------------------------------

  function ranks() {
    const outgoing = new Map([...model.nodes.keys()].map((id) => [id, []]));
    for (const edge of model.edges) outgoing.get(edge.source).push(edge.target);
    const state = new Map();
    const order = [];
    const back = new Set();
    function visit(id) {
      state.set(id, "open");
      for (const next of outgoing.get(id) || []) {
        if (state.get(next) === "open") back.add(`${id}>${next}`);
        else if (!state.has(next)) visit(next);
      }
      state.set(id, "done");
      order.push(id);
    }
    const incoming = new Set(model.edges.map((e) => e.target));
    const roots = [...model.nodes.keys()].filter((id) => !incoming.has(id));
    for (const id of roots.concat([...model.nodes.keys()])) if (!state.has(id)) visit(id);
    for (const id of order.reverse()) {
      const node = model.nodes.get(id);
      for (const next of outgoing.get(id) || []) {
        if (back.has(`${id}>${next}`)) continue;
        const child = model.nodes.get(next);
        child.rank = Math.max(child.rank, node.rank + 1);
      }
    }
  }

  const VIRTUAL_W = 24;
  const widthOf = (node) => (node.virtual ? VIRTUAL_W : NODE_W);

  /* An edge that crosses ranks gets a virtual point on each rank in between (Sugiyama's dummy
   * nodes): ordering places them like small nodes, so long edges bend around real ones. */
  function virtualPoints() {
    const virtuals = [];
    for (const edge of model.edges) {
      const a = model.nodes.get(edge.source);
      const b = model.nodes.get(edge.target);
      edge.points = [];
      for (let rank = a.rank + 1; rank < b.rank; rank++) {
        const point = { id: `${edge.index}@${rank}`, virtual: true, rank, index: a.index, x: 0, y: 0 };
        edge.points.push(point);
        virtuals.push(point);
      }
    }
    return virtuals;
  }

  function layout() {
    ranks();
    const virtuals = virtualPoints();
    const up = new Map();
    const down = new Map();
    const link = (from, to) => {
      (down.get(from) || down.set(from, []).get(from)).push(to);
      (up.get(to) || up.set(to, []).get(to)).push(from);
    };
    for (const edge of model.edges) {
      const chain = [model.nodes.get(edge.source), ...edge.points, model.nodes.get(edge.target)];
      if (chain[chain.length - 1].rank <= chain[0].rank) continue; // a cycle's back edge
      for (let i = 1; i < chain.length; i++) link(chain[i - 1], chain[i]);
    }
    const layers = [];
    for (const node of [...model.nodes.values(), ...virtuals]) (layers[node.rank] = layers[node.rank] || []).push(node);
    for (let rank = 0; rank < layers.length; rank++) layers[rank] = layers[rank] || [];
    layers.forEach((layer) => {
      layer.sort((a, b) => a.index - b.index || (a.virtual ? 1 : 0) - (b.virtual ? 1 : 0));
      layer.forEach((node, i) => (node.order = i));
    });
    for (let sweep = 0; sweep < 6; sweep++) {
      const downwards = sweep % 2 === 0;
      const sequence = downwards ? layers.slice(1) : layers.slice(0, -1).reverse();
      for (const layer of sequence) {
        for (const node of layer) {
          const others = (downwards ? up : down).get(node) || [];
          node.weight = others.length ? others.reduce((sum, n) => sum + n.order, 0) / others.length : node.order;
        }
        layer.sort((a, b) => a.weight - b.weight);
        layer.forEach((node, i) => (node.order = i));
      }
    }
    const spans = layers.map((layer) => layer.reduce((sum, node) => sum + widthOf(node) + GAP_X, 0));
    const width = Math.max(NODE_W + GAP_X, ...spans);
    layers.forEach((layer, rank) => {
      let x = (width - spans[rank]) / 2 + GAP_X / 2;
      for (const node of layer) {
        node.x = x;
        node.y = 24 + rank * (NODE_H + GAP_Y);
        x += widthOf(node) + GAP_X;
      }
    });
  }

  // --- drawing -----------------------------------------------------------------------------

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.append(node);
    return node;
  }

  const root = svg("svg", { class: "flow-svg", role: "img", "aria-label": "Agents and how they connect" }, container);
  const defs = svg("defs", {}, root);
  for (const kind of ["child", "transfer", "agent_tool", "branch", "tool"]) {
    const marker = svg("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow ${kind}` }, marker);
  }
  const viewport = svg("g", { class: "viewport" }, root);
  const edgeLayer = svg("g", { class: "edges" }, viewport);
  const nodeLayer = svg("g", { class: "nodes" }, viewport);
  const view = { x: 0, y: 0, scale: 1 };

  function applyView() {
    viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.scale})`);
  }

  function edgePath(edge) {
    const a = model.nodes.get(edge.source);
    const b = model.nodes.get(edge.target);
    if (b.y > a.y) {
      // Down through each virtual point's rank band, with vertical tangents between bands.
      const stops = [[a.x + NODE_W / 2, a.y + NODE_H]];
      for (const point of edge.points || []) {
        stops.push([point.x + VIRTUAL_W / 2, point.y], [point.x + VIRTUAL_W / 2, point.y + NODE_H]);
      }
      stops.push([b.x + NODE_W / 2, b.y]);
      let d = `M${stops[0][0]},${stops[0][1]}`;
      for (let i = 1; i < stops.length; i++) {
        const [x1, y1] = stops[i - 1];
        const [x2, y2] = stops[i];
        const mid = (y1 + y2) / 2;
        d += i % 2 === 1 ? ` C${x1},${mid} ${x2},${mid} ${x2},${y2}` : ` L${x2},${y2}`;
      }
      const [lx1, ly1] = stops[0];
      const [lx2, ly2] = stops[1];
      return { d, lx: (lx1 + lx2) / 2, ly: (ly1 + ly2) / 2 };
    }
    // Same rank or upwards (a cycle): go out of the right side and around.
    const y1 = a.y + NODE_H / 2;
    const y2 = b.y + NODE_H / 2;
    const right = Math.max(a.x, b.x) + NODE_W + 50;
    return { d: `M${a.x + NODE_W},${y1} C${right},${y1} ${right},${y2} ${b.x + NODE_W},${y2}`, lx: right - 12, ly: (y1 + y2) / 2 };
  }

  function drawEdges() {
    edgeLayer.replaceChildren();
    for (const edge of model.edges) {
      const { d, lx, ly } = edgePath(edge);
      const group = svg("g", { class: `edge ${edge.kind}${selected === edge ? " selected" : ""}`, tabindex: "0" }, edgeLayer);
      svg("path", { d, class: "hit" }, group);
      svg("path", { d, class: "line", "marker-end": `url(#arrow-${edge.kind})` }, group);
      if (edge.label) {
        const text = svg("text", { x: lx, y: ly + 4, class: "edge-label", "text-anchor": "middle" }, group);
        text.textContent = edge.label;
      }
      group.addEventListener("click", (event) => {
        event.stopPropagation();
        select(edge);
      });
    }
  }

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function drawNodes() {
    nodeLayer.replaceChildren();
    for (const node of model.nodes.values()) {
      const classes = ["node", `kind-${node.kind}`, node.detail && node.detail.type ? `type-${node.detail.type}` : ""];
      if (selected === node) classes.push("selected");
      if (pending === node) classes.push("pending");
      const group = svg("g", { class: classes.join(" "), transform: `translate(${node.x},${node.y})`, tabindex: "0", "data-id": node.id }, nodeLayer);
      svg("rect", { width: NODE_W, height: NODE_H, rx: node.kind === "tool" ? 28 : 10 }, group);
      const title = svg("text", { x: 14, y: 24, class: "node-title" }, group);
      title.textContent = clip(node.label, 22);
      const subtitle = svg("text", { x: 14, y: 43, class: "node-subtitle" }, group);
      subtitle.textContent = clip(node.subtitle || node.kind, 28);
      const tip = svg("title", {}, group);
      tip.textContent = `${node.label} — ${node.subtitle || node.kind}`;
      group.addEventListener("pointerdown", (event) => startDrag(event, node, group));
      group.addEventListener("keydown", (event) => {
        if (event.key === "Enter") choose(node);
      });
    }
  }

  function draw() {
    drawEdges();
    drawNodes();
  }

  // --- interaction -------------------------------------------------------------------------

  let selected = null;
  let pending = null; // the source agent while adding an edge
  let connecting = false;
  const connectButton = document.getElementById("flow-connect");

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function panelShow(title, rows, actions) {
    panel.replaceChildren();
    const h = document.createElement("h2");
    h.textContent = title;
    panel.append(h);
    const list = document.createElement("dl");
    for (const [term, value] of rows) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      list.append(dt, dd);
    }
    panel.append(list);
    const row = document.createElement("p");
    row.className = "row";
    for (const action of actions) row.append(action);
    panel.append(row);
  }

  function select(item) {
    selected = item;
    draw();
    if (!item) return;
    if (item.source) {
      const actions = [];
      if (["sub_agents", "agent_tools", "tools"].includes(item.source_key)) {
        const remove = document.createElement("button");
        remove.className = "small danger";
        remove.textContent = "Remove edge";
        remove.addEventListener("click", () => submitEdge(item.source, item.source_key, item.target, true));
        actions.push(remove);
      }
      const source = model.nodes.get(item.source);
      actions.push(link(`/studio/config/#${source.yaml_path}`, "YAML"));
      panelShow(`${source.label} → ${model.nodes.get(item.target).label}`, [["Kind", item.kind], ["Key", `agents.${source.label}.${item.source_key}`], ["Label", item.label]], actions);
      return;
    }
    const detail = item.detail || {};
    const actions = [];
    if (item.yaml_path) actions.push(link(`/studio/config/#${item.yaml_path}`, "Edit YAML"));
    if (item.form_url) actions.push(link(item.form_url, "Edit form"));
    if (item.kind === "agent") actions.push(link(`/studio/?agent=${encodeURIComponent(item.label)}`, "Chat"));
    panelShow(item.label, [["Kind", item.kind], ["Type", detail.type], ["LLM", detail.llm], ["Visibility", detail.visibility], ["Description", detail.description], ["Instruction", detail.instruction], ["Note", item.kind === "missing" ? "Referenced but not defined: the config does not validate until it exists." : ""]], actions);
  }

  function submitEdge(agent, key, target, remove) {
    const form = document.getElementById("edge-form");
    form.elements.agent.value = agent.replace(/^agent:/, "");
    form.elements.key.value = key;
    form.elements.target.value = target.replace(/^(agent|tool):/, "");
    if (remove) {
      const flag = document.createElement("input");
      flag.type = "hidden";
      flag.name = "remove";
      flag.value = "1";
      form.append(flag);
    }
    form.submit();
  }

  function askRelation(source, target) {
    const choices = target.kind === "tool" ? [["tools", "uses tool"]] : [["sub_agents", "sub-agent (workflow step / transfer)"], ["agent_tools", "agent as tool"]];
    const select = document.createElement("select");
    select.id = "edge-key";
    for (const [value, label] of choices) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      select.append(option);
    }
    const save = document.createElement("button");
    save.className = "small";
    save.id = "edge-save";
    save.textContent = "Save edge";
    save.addEventListener("click", () => submitEdge(source.id, select.value, target.id, false));
    const cancel = document.createElement("button");
    cancel.className = "small secondary";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => setConnecting(false));
    panelShow(`${source.label} → ${target.label}`, [["Adds", `${target.label} to agents.${source.label}.<key>`]], [select, save, cancel]);
  }

  function setConnecting(on) {
    connecting = on;
    pending = null;
    connectButton.setAttribute("aria-pressed", String(on));
    connectButton.textContent = on ? "Cancel edge" : "Add edge";
    container.classList.toggle("connecting", on);
    if (on) panelShow("Add edge", [["Step 1", "Click the agent the edge starts from."]], []);
    draw();
  }

  function choose(node) {
    if (!connecting) {
      select(node);
      return;
    }
    if (!pending) {
      if (node.kind !== "agent") return;
      pending = node;
      panelShow("Add edge", [["From", node.label], ["Step 2", "Click the agent or tool it should use."]], []);
      draw();
    } else if (node !== pending && (node.kind === "agent" || node.kind === "tool")) {
      askRelation(pending, node);
    }
  }

  connectButton.addEventListener("click", () => setConnecting(!connecting));

  function startDrag(event, node, group) {
    event.stopPropagation();
    const start = { x: event.clientX, y: event.clientY, nx: node.x, ny: node.y };
    let moved = false;
    group.setPointerCapture(event.pointerId);
    const move = (e) => {
      const dx = (e.clientX - start.x) / view.scale;
      const dy = (e.clientY - start.y) / view.scale;
      if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
      node.x = start.nx + dx;
      node.y = start.ny + dy;
      group.setAttribute("transform", `translate(${node.x},${node.y})`);
      drawEdges();
    };
    const up = () => {
      group.removeEventListener("pointermove", move);
      group.removeEventListener("pointerup", up);
      if (!moved) choose(node);
    };
    group.addEventListener("pointermove", move);
    group.addEventListener("pointerup", up);
  }

  root.addEventListener("pointerdown", (event) => {
    const start = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
    let moved = false;
    const move = (e) => {
      moved = true;
      view.x = start.vx + e.clientX - start.x;
      view.y = start.vy + e.clientY - start.y;
      applyView();
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      if (!moved && !connecting) select(null);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  });

  function zoom(factor, cx, cy) {
    const scale = Math.min(2.5, Math.max(0.3, view.scale * factor));
    const ratio = scale / view.scale;
    view.x = cx - (cx - view.x) * ratio;
    view.y = cy - (cy - view.y) * ratio;
    view.scale = scale;
    applyView();
  }

  root.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const box = root.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - box.left, event.clientY - box.top);
    },
    { passive: false },
  );

  function fit() {
    const nodes = [...model.nodes.values()];
    if (!nodes.length) return;
    const box = root.getBoundingClientRect();
    const minX = Math.min(...nodes.map((n) => n.x)) - 20;
    const maxX = Math.max(...nodes.map((n) => n.x + NODE_W)) + 70;
    const minY = Math.min(...nodes.map((n) => n.y)) - 20;
    const maxY = Math.max(...nodes.map((n) => n.y + NODE_H)) + 20;
    view.scale = Math.min(1.3, Math.max(0.3, Math.min(box.width / (maxX - minX), box.height / (maxY - minY))));
    view.x = (box.width - (maxX - minX) * view.scale) / 2 - minX * view.scale;
    view.y = (box.height - (maxY - minY) * view.scale) / 2 - minY * view.scale;
    applyView();
  }

  document.getElementById("flow-fit").addEventListener("click", fit);
  document.getElementById("flow-zoom-in").addEventListener("click", () => zoom(1.2, root.clientWidth / 2, root.clientHeight / 2));
  document.getElementById("flow-zoom-out").addEventListener("click", () => zoom(1 / 1.2, root.clientWidth / 2, root.clientHeight / 2));
  window.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && connecting) setConnecting(false);
  });

  layout();
  draw();
  fit();
  window.addEventListener("resize", fit);
  window.hectorFlow = { model, layout, draw, fit, choose, setConnecting };
})();
