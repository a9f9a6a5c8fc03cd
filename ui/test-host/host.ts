// A minimal MCP Apps host for the browser tests, built on the official AppBridge.
//
// The Python test is the rest of the host: it talks to the real MCP server with the official
// Python client, hands this page the card's HTML and the real tool result, and forwards the
// app's tools/call requests (window.lox24ForwardToolCall, exposed by Playwright) to the server.
import { AppBridge, PostMessageTransport, type McpUiHostContext } from "@modelcontextprotocol/ext-apps/app-bridge";

interface ShowOptions {
  html: string;
  csp?: Record<string, string[]>;
  sandboxUrl: string;
  theme: "light" | "dark";
  toolInput: Record<string, unknown>;
  toolResult: Record<string, unknown>;
}

declare global {
  interface Window {
    lox24ForwardToolCall(params: unknown): Promise<Record<string, unknown>>;
    lox24Host: { show(options: ShowOptions): Promise<void> };
    lox24ModelContext: unknown[];
  }
}

const themes: Record<"light" | "dark", Record<string, string>> = {
  light: { "--color-background-primary": "#ffffff", "--color-text-primary": "#18181b" },
  dark: { "--color-background-primary": "#1c1c1e", "--color-text-primary": "#f4f4f5" },
};

window.lox24ModelContext = [];

async function show(options: ShowOptions): Promise<void> {
  document.body.className = options.theme;
  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts allow-same-origin");
  iframe.title = "MCP App";
  const ready = new Promise<void>((resolve) => {
    const listener = (event: MessageEvent) => {
      if (event.source === iframe.contentWindow && event.data?.method === "ui/notifications/sandbox-proxy-ready") {
        window.removeEventListener("message", listener);
        resolve();
      }
    };
    window.addEventListener("message", listener);
  });
  const url = new URL(options.sandboxUrl);
  url.searchParams.set("csp", JSON.stringify(options.csp ?? {}));
  iframe.src = url.href;
  document.getElementById("stage")!.replaceChildren(iframe);
  await ready;

  const bridge = new AppBridge(
    null,
    { name: "lox24-test-host", version: "1.0.0" },
    { serverTools: {}, updateModelContext: { text: {} } },
  );
  const context: McpUiHostContext = {
    theme: options.theme,
    styles: { variables: themes[options.theme] as McpUiHostContext["styles"] extends infer S ? S extends { variables?: infer V } ? V : never : never },
    displayMode: "inline",
    timeZone: "Europe/Berlin",
    locale: "en-GB",
    platform: "web",
  };
  bridge.setHostContext(context);
  bridge.oncalltool = async (params) => (await window.lox24ForwardToolCall(params)) as never;
  bridge.onupdatemodelcontext = async (params) => {
    window.lox24ModelContext.push(params);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) iframe.style.height = `${height}px`;
  };
  const initialized = new Promise<void>((resolve) => {
    bridge.oninitialized = () => resolve();
  });
  await bridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!));
  await bridge.sendSandboxResourceReady({ html: options.html, csp: options.csp });
  await initialized;
  await bridge.sendToolInput({ arguments: options.toolInput });
  await bridge.sendToolResult(options.toolResult as never);
}

window.lox24Host = { show };
