/**
 * Deno's built-in `WebSocket` client as a peer, run in its own process so that it
 * can trust the test CA (`DENO_CERT`): opens the URL in `Deno.args[0]`, sends a
 * text and a binary message, checks the echoes, closes with 1000, and prints a
 * JSON report.
 *
 * @module
 */

const url = Deno.args[0];
const ws = new WebSocket(url, ["echo"]);
ws.binaryType = "arraybuffer";
const binary = new Uint8Array(100_000).map((_, i) => i % 251);
const received: unknown[] = [];
const report = await new Promise<Record<string, unknown>>((resolve) => {
  const timer = setTimeout(() => resolve({ error: "timeout" }), 10_000);
  ws.onopen = () => {
    ws.send("hello over h2");
    ws.send(binary);
  };
  ws.onmessage = (e) => {
    received.push(
      typeof e.data === "string"
        ? e.data
        : new Uint8Array(e.data).every((b, i) => b === binary[i]) &&
          e.data.byteLength === binary.length,
    );
    if (received.length === 2) ws.close(1000, "bye");
  };
  ws.onerror = (e) => received.push(`error: ${(e as ErrorEvent).message}`);
  ws.onclose = (e) => {
    clearTimeout(timer);
    resolve({
      protocol: ws.protocol,
      extensions: ws.extensions,
      received,
      code: e.code,
      reason: e.reason,
      wasClean: e.wasClean,
    });
  };
});
console.log(JSON.stringify(report));
