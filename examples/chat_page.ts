/**
 * The chat page served by `chat_server.ts` at `GET /`: plain HTML, CSS and
 * JavaScript. It is a module rather than an `.html` file so that
 * `deno compile` embeds it without `--include`.
 *
 * The page joins with a name, sends `{"text": "..."}` and shows what the server
 * broadcasts: `{"name", "text", "at"}` for messages and `{"system"}` for notices.
 *
 * @module
 */

/**
 * The page's HTML.
 *
 * @example
 * ```ts
 * import { CHAT_PAGE } from "./chat_page.ts";
 * console.assert(CHAT_PAGE.startsWith("<!doctype html>"));
 * ```
 */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsx chat</title>
<style>
  :root { font: 15px/1.45 system-ui, sans-serif; color: #1d2433; background: #eef1f6; }
  body { margin: 0; display: flex; justify-content: center; }
  main { width: min(40rem, 100vw); min-height: 100vh; display: flex; flex-direction: column;
    background: #fff; box-shadow: 0 0 1.5rem #0001; }
  header { padding: .8rem 1.2rem; background: #2b59c3; color: #fff; display: flex;
    align-items: baseline; gap: 1rem; }
  header h1 { font-size: 1.15rem; margin: 0; }
  #status { font-size: .85rem; opacity: .85; }
  #log { flex: 1; list-style: none; margin: 0; padding: 1rem 1.2rem; overflow-y: auto; }
  #log li { margin: .3rem 0; overflow-wrap: anywhere; }
  #log .who { font-weight: 600; color: #2b59c3; margin-right: .4rem; }
  #log .mine .who { color: #1a8754; }
  #log time { color: #8a93a6; font-size: .75rem; margin-left: .5rem; }
  #log .system { color: #8a93a6; font-style: italic; }
  form { display: flex; gap: .5rem; padding: .8rem 1.2rem; border-top: 1px solid #dde2ec; }
  input { flex: 1; font: inherit; padding: .45rem .6rem; border: 1px solid #c3cad8;
    border-radius: .35rem; }
  button { font: inherit; padding: .45rem 1rem; border: 0; border-radius: .35rem;
    background: #2b59c3; color: #fff; cursor: pointer; }
  button:disabled { background: #a9b6d6; cursor: default; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
  <header><h1>wsx chat</h1><span id="status">not connected</span></header>
  <ul id="log" aria-live="polite"></ul>
  <form id="join">
    <input id="name" maxlength="32" placeholder="Your name" required autofocus>
    <button>Join</button>
  </form>
  <form id="say" hidden>
    <input id="text" maxlength="500" placeholder="Message" autocomplete="off" required>
    <button id="send">Send</button>
  </form>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null;
let me = "";

function show(msg) {
  const li = document.createElement("li");
  if (msg.system) {
    li.className = "system";
    li.textContent = msg.system;
  } else {
    if (msg.name === me) li.className = "mine";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = msg.name;
    const at = document.createElement("time");
    at.textContent = new Date(msg.at).toLocaleTimeString();
    li.append(who, msg.text, at);
  }
  $("log").append(li);
  li.scrollIntoView({ block: "end" });
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  me = $("name").value.trim();
  if (!me) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = scheme + "//" + location.host + "/ws?name=" + encodeURIComponent(me);
  socket = new WebSocket(url);
  $("status").textContent = "connecting…";
  socket.onopen = () => {
    $("status").textContent = "connected as " + me;
    $("join").hidden = true;
    $("say").hidden = false;
    $("text").focus();
  };
  socket.onmessage = (event) => show(JSON.parse(event.data));
  socket.onclose = (event) => {
    $("status").textContent = "disconnected (" + event.code + ")";
    $("send").disabled = true;
  };
});

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text || socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ text }));
  $("text").value = "";
});
</script>
</body>
</html>
`;
