// The confirmation card of cancel_pending_sms, an MCP App (io.modelcontextprotocol/ui).
//
// The host renders it with the result of cancel_pending_sms. When the result asks for a
// confirmation, its `_meta` carries a secret (never `content` or `structuredContent`, which reach
// the model); the "Cancel N SMS" button sends that secret to the app-only tool named next to it.
// Everything else is display: the count, the summary, the sample, and the outcome after the click.
import { App, applyDocumentTheme, applyHostStyleVariables, type McpUiHostContext } from "@modelcontextprotocol/ext-apps";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

interface ToolResultLike {
  content?: { type: string; text?: string }[];
  structuredContent?: Obj;
  isError?: boolean;
  _meta?: Obj;
}

/** Where the server puts the card's secret in a result's `_meta` (must match lox24_mcp/mcp/card.py). */
const META_KEY = "lox24/confirm";

const app = new App({ name: "lox24-confirm-cancel", version: "1" }, {}, { autoResize: true });

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const title = $("title");
const subtitle = $("subtitle");
const details = $("details");
const actions = $("actions");
const confirmButton = $("confirm") as HTMLButtonElement;
const keepButton = $("keep") as HTMLButtonElement;
const outcome = $("outcome");

let hostContext: McpUiHostContext | undefined;
let pending: { tool: string; secret: string; matched: number } | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function isObj(value: Json | undefined): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: Json | undefined): string | undefined {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

function num(value: Json | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function humanise(key: string): string {
  const words = key.replace(/^by_/, "by ").replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A unix time as the user's local time (the host's zone when it says one); 0 means "at once". */
function localTime(seconds: number | undefined): string {
  if (seconds === undefined) return "";
  if (seconds === 0) return "at once";
  const options: Intl.DateTimeFormatOptions = {
    weekday: "short",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  };
  if (hostContext?.timeZone) options.timeZone = hostContext.timeZone;
  try {
    return new Intl.DateTimeFormat(hostContext?.locale || undefined, options).format(new Date(seconds * 1000));
  } catch {
    return new Date(seconds * 1000).toISOString();
  }
}

/** The result's data: structuredContent, or the JSON text some hosts pass instead. */
function dataOf(result: ToolResultLike): Obj | undefined {
  if (isObj(result.structuredContent)) return result.structuredContent;
  for (const block of result.content ?? []) {
    if (block.type !== "text" || !block.text) continue;
    try {
      const parsed = JSON.parse(block.text) as Json;
      if (isObj(parsed)) return parsed;
    } catch {
      // plain text, not JSON
    }
  }
  return undefined;
}

function textOf(result: ToolResultLike): string {
  return (result.content ?? [])
    .filter((block) => block.type === "text" && block.text)
    .map((block) => block.text)
    .join("\n");
}

/** One summary entry as (label, count) rows, whatever shape the server chose. */
function summaryRows(value: Json): [string, string][] {
  if (Array.isArray(value)) {
    return value.slice(0, 8).map((item): [string, string] => {
      if (!isObj(item)) return [str(item) ?? JSON.stringify(item), ""];
      const entries = Object.entries(item);
      const label = entries.find(([, v]) => typeof v === "string");
      const count = entries.find(([k, v]) => typeof v === "number" && /count|n$|sms|total/i.test(k)) ??
        entries.find(([, v]) => typeof v === "number");
      return [str(label?.[1]) ?? JSON.stringify(item), count ? String(count[1]) : ""];
    });
  }
  if (isObj(value)) {
    return Object.entries(value)
      .slice(0, 8)
      .map(([k, v]): [string, string] => [k, str(v) ?? JSON.stringify(v)]);
  }
  return [[str(value) ?? JSON.stringify(value), ""]];
}

/** The server's summary shape: {counted, partial, span, by: {day: {label: n}, country: {...}, ...}}. */
function renderCounts(summary: Obj, by: Obj): HTMLElement {
  const box = el("section");
  box.append(el("h2", "Summary of everything that matched"));
  const counted = typeof summary.counted === "number" ? `${summary.counted} counted` : "";
  const partial = summary.partial === true ? " (partial: more matched than were counted)" : "";
  const span = str(summary.span) ?? "";
  box.append(el("p", [counted + partial, span].filter(Boolean).join(" · ")));
  const grid = el("div", undefined, "summary");
  for (const [key, value] of Object.entries(by)) {
    if (!isObj(value) || Object.keys(value).length === 0) continue;
    const part = el("div");
    part.append(el("h2", humanise(key)));
    const list = el("ul");
    for (const [label, count] of Object.entries(value).slice(0, 5)) {
      const item = el("li");
      item.append(el("span", label), el("span", String(count)));
      list.append(item);
    }
    part.append(list);
    grid.append(part);
  }
  box.append(grid);
  return box;
}

function renderSummary(summary: Json | undefined): HTMLElement | undefined {
  if (summary === undefined || summary === null) return undefined;
  if (isObj(summary) && isObj(summary.by)) return renderCounts(summary, summary.by);
  const box = el("section");
  box.append(el("h2", "Summary of everything that matched"));
  if (!isObj(summary)) {
    box.append(el("p", str(summary) ?? JSON.stringify(summary)));
    return box;
  }
  const grid = el("div", undefined, "summary");
  for (const [key, value] of Object.entries(summary)) {
    if (value === null) continue;
    const part = el("div");
    part.append(el("h2", humanise(key)));
    if (typeof value !== "object") {
      part.append(el("p", String(value)));
    } else {
      const list = el("ul");
      for (const [label, count] of summaryRows(value)) {
        const item = el("li");
        item.append(el("span", label), el("span", count));
        list.append(item);
      }
      part.append(list);
    }
    grid.append(part);
  }
  box.append(grid);
  return box;
}

function renderSample(sample: Json | undefined, matched: number | undefined): HTMLElement | undefined {
  if (!Array.isArray(sample) || sample.length === 0) return undefined;
  const box = el("section");
  const shown = matched !== undefined && matched > sample.length ? `${sample.length} of ${matched} shown` : "";
  box.append(el("h2", shown ? `Sample (${shown})` : "Sample"));
  const table = el("table");
  const head = el("tr");
  for (const name of ["To", "When", "Text"]) head.append(el("th", name));
  table.append(head);
  for (const item of sample) {
    if (!isObj(item)) continue;
    const row = el("tr");
    const when = str(item.delivery_local) ?? localTime(num(item.delivery_at));
    row.append(el("td", str(item.phone) ?? "", "phone"), el("td", when), el("td", str(item.text) ?? ""));
    table.append(row);
  }
  box.append(table);
  return box;
}

function setOutcome(text: string, kind: "ok" | "bad" | "" = ""): void {
  outcome.textContent = text;
  outcome.className = `outcome ${kind}`.trim();
}

function render(result: ToolResultLike): void {
  const data = dataOf(result);
  const secretMeta = result._meta?.[META_KEY];
  details.replaceChildren();
  actions.classList.add("hidden");
  pending = undefined;
  if (result.isError || !data) {
    title.textContent = result.isError ? "Nothing was cancelled" : "LOX24";
    subtitle.textContent = "";
    setOutcome(textOf(result), result.isError ? "bad" : "");
    return;
  }
  const matched = num(data.matched);
  const status = str(data.status);
  const sandboxBadge = data.sandbox === true ? el("span", "sandbox", "sandbox") : undefined;
  const filters = str(data.filters);
  subtitle.textContent = filters ? `Filters: ${filters}` : "";
  const summary = renderSummary(data.summary);
  const sample = renderSample(data.sample, matched);
  if (summary) details.append(summary);
  if (sample) details.append(sample);

  if (status === "confirmation_required" && isObj(secretMeta) && str(secretMeta.secret) && str(secretMeta.tool)) {
    const n = matched ?? 0;
    title.textContent = `Cancel ${n} scheduled SMS?`;
    if (sandboxBadge) title.append(sandboxBadge);
    pending = { tool: str(secretMeta.tool) as string, secret: str(secretMeta.secret) as string, matched: n };
    confirmButton.textContent = `Cancel ${n} SMS`;
    confirmButton.disabled = false;
    keepButton.disabled = false;
    actions.classList.remove("hidden");
    const until = num(data.expires_at);
    setOutcome(
      `They will not be sent. This cannot be undone. Nothing happens until you click${until ? ` (this card is valid until ${localTime(until)})` : ""}.`,
    );
    return;
  }
  const headline: Record<string, string> = {
    cancelled: `Cancelled ${num(data.cancelled) ?? 0} SMS`,
    declined: "Nothing was cancelled",
    nothing_to_cancel: "Nothing to cancel",
    confirmation_required: `${matched ?? 0} scheduled SMS match`,
  };
  title.textContent = (status && headline[status]) || "LOX24";
  if (sandboxBadge) title.append(sandboxBadge);
  setOutcome(str(data.message) ?? textOf(result), status === "cancelled" ? "ok" : "");
}

async function decide(decision: "cancel" | "keep"): Promise<void> {
  if (!pending) return;
  const { tool, secret } = pending;
  confirmButton.disabled = true;
  keepButton.disabled = true;
  setOutcome(decision === "cancel" ? "Cancelling…" : "Keeping them…");
  let result: ToolResultLike;
  try {
    result = (await app.callServerTool({ name: tool, arguments: { confirmation: secret, decision } })) as ToolResultLike;
  } catch (error) {
    setOutcome(`The host could not reach the server (${String(error)}). Nothing was confirmed; ask again.`, "bad");
    confirmButton.disabled = false;
    keepButton.disabled = false;
    return;
  }
  pending = undefined;
  actions.classList.add("hidden");
  const data = dataOf(result);
  const message = (data && str(data.message)) || textOf(result);
  if (result.isError || !data) {
    title.textContent = "Nothing was cancelled";
    setOutcome(message, "bad");
  } else if (str(data.status) === "cancelled") {
    title.textContent = `Cancelled ${num(data.cancelled) ?? 0} SMS`;
    setOutcome(message, "ok");
  } else {
    title.textContent = "Kept: nothing was cancelled";
    setOutcome(message);
  }
  // Tell the model what the user decided (a courtesy: the server already acted, and search_sms shows it).
  if (app.getHostCapabilities()?.updateModelContext) {
    app.updateModelContext({ content: [{ type: "text", text: `Confirmation card: ${message}` }] }).catch(() => {});
  }
}

function applyContext(context: McpUiHostContext | undefined): void {
  if (!context) return;
  hostContext = { ...hostContext, ...context };
  if (context.theme) applyDocumentTheme(context.theme);
  if (context.styles?.variables) applyHostStyleVariables(context.styles.variables);
}

confirmButton.addEventListener("click", () => void decide("cancel"));
keepButton.addEventListener("click", () => void decide("keep"));

// Handlers before connect(): the host may send the result right after the handshake.
app.ontoolresult = (result) => render(result as ToolResultLike);
app.ontoolcancelled = (params) => {
  actions.classList.add("hidden");
  title.textContent = "Nothing was cancelled";
  setOutcome(`The tool call was cancelled${params.reason ? `: ${params.reason}` : ""}.`, "bad");
};
app.onhostcontextchanged = (context) => applyContext(context);

app.connect().then(
  () => applyContext(app.getHostContext()),
  (error: unknown) => setOutcome(`Could not connect to the host: ${String(error)}`, "bad"),
);
