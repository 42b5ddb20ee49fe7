/**
 * Deno's built-in WebSocket server (`Deno.serve` + `Deno.upgradeWebSocket`) as an
 * echo server, so that the README's comparison runs it through the same suite.
 *
 * Usage: `deno run -A tests/conformance/peers/deno_echo_server.ts [--port N]`
 *
 * @module
 */

const portAt = Deno.args.indexOf("--port");
const port = portAt >= 0 ? Number(Deno.args[portAt + 1]) : 9001;
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => console.log(`Deno echo server on ws://127.0.0.1:${port}/`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (e) => socket.send(e.data);
  socket.onerror = () => {};
  return response;
});
