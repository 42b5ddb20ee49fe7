/**
 * The broadcast contract on Deno's built-in server (`Deno.serve` and
 * `Deno.upgradeWebSocket`): every message is sent to every open socket in a
 * loop. It has no permessage-deflate. Prints `listening ws://…`.
 *
 * @module
 */

const sockets = new Set<WebSocket>();

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ws://127.0.0.1:${port}/`),
}, (request) => {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => sockets.add(socket);
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => sockets.delete(socket);
  socket.onmessage = (event) => {
    for (const s of sockets) {
      if (s.readyState === WebSocket.OPEN) s.send(event.data);
    }
  };
  return response;
});
