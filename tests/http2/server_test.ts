import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "@std/assert";
import { constants } from "node:http2";
import { CloseError, HandshakeError, OpCode, Rejection } from "../../mod.ts";
import { dial } from "../../mod.ts";
import { dialHttp2, Http2Agent } from "../../http2.ts";
import { CA_CERT } from "../_tls.ts";
import {
  closeCodeOf,
  dec,
  enc,
  encodeFrame,
  Op,
  parseFrames,
} from "../_wire.ts";
import {
  closeLater,
  connectHeaders,
  once,
  rawSession,
  startServer,
} from "./_servers.ts";

Deno.test("h2c: the server advertises extended CONNECT and echoes over a stream", async () => {
  await using s = await startServer();
  const session = await rawSession(s);
  assertEquals(session.remote.enableConnectProtocol, true);
  await closeLater(session);
  const conn = await dialHttp2(`${s.wsUrl}/echo`);
  await conn.writeMessage(OpCode.Text, "over h2");
  const msg = await conn.readMessage();
  assertEquals([msg.opcode, dec(msg.data)], [OpCode.Text, "over h2"]);
  const big = new Uint8Array(300_000).map((_, i) => i * 7);
  await conn.writeMessage(OpCode.Binary, big);
  assertEquals((await conn.readMessage()).data, big);
  await conn.close(1000, "done");
  assertEquals((await conn.closed).code, 1000);
  assertEquals(s.arrivals[0].httpVersion, "2");
  assertEquals(await s.conns[0].closed, { code: 1000, reason: "done" });
});

Deno.test("h2c: permessage-deflate is negotiated and used over a stream", async () => {
  await using s = await startServer({ deflate: true });
  const conn = await dialHttp2(s.wsUrl, { deflate: true });
  assertEquals(conn.extensions, "permessage-deflate");
  const text = "compress me ".repeat(2_000);
  await conn.writeMessage(OpCode.Text, text);
  assertEquals(dec((await conn.readMessage()).data), text);
  await conn.close();
  const plain = await dialHttp2(s.wsUrl);
  assertEquals(plain.extensions, "");
  await plain.close();
});

Deno.test("h2c: subprotocols, onHost and onRequest run as for accept", async () => {
  const seen: string[] = [];
  await using s = await startServer({
    protocols: ["v2", "v1"],
    onHost: (host) => {
      seen.push(`host ${host}`);
    },
    onRequest: (req) => {
      seen.push(`${req.method} ${req.target} ${req.version}`);
      if (req.headers.get("x-token") !== "ok") {
        return new Rejection(403, { body: "no token" });
      }
      return { "x-hello": "there" };
    },
  });
  const err = await assertRejects(
    () => dialHttp2(`${s.wsUrl}/room?x=1`),
    HandshakeError,
  );
  assertEquals(err.status, 403);
  const conn = await dialHttp2(`${s.wsUrl}/room?x=1`, {
    protocols: ["v1", "v2"],
    headers: { "x-token": "ok" },
  });
  assertEquals(conn.protocol, "v1");
  await conn.close();
  assertEquals(seen, [
    `host 127.0.0.1:${s.port}`,
    "CONNECT /room?x=1 HTTP/2",
    `host 127.0.0.1:${s.port}`,
    "CONNECT /room?x=1 HTTP/2",
  ]);
});

Deno.test("h2c: onHeader refuses a field and onBeforeUpgrade adds fields to the 200, as for accept", async () => {
  const fields: string[] = [];
  await using s = await startServer({
    onHeader: (name) => {
      fields.push(name);
      if (name === "x-bad") return new Rejection(401, { body: "bad field" });
    },
    onBeforeUpgrade: ({ request }) => ({
      "x-after": `saw ${request.headers.get("x-hello") ?? "nothing"}`,
    }),
  });
  const session = await rawSession(s);
  const answer = async (extra: Record<string, string>) => {
    const req = session.request({ ...connectHeaders(s.port), ...extra }, {
      endStream: false,
    });
    const head = await once<Record<string, unknown>>(req, "response");
    await closeLater(req);
    return [head[":status"], head["x-after"]];
  };
  assertEquals(await answer({ "x-bad": "1" }), [401, undefined]);
  assertEquals(await answer({ "x-hello": "hi" }), [200, "saw hi"]);
  assert(
    fields.includes("x-hello") && fields.includes("sec-websocket-version"),
  );
  await closeLater(session);
});

Deno.test("h2c: invalid extended CONNECTs are refused with their status", async () => {
  await using s = await startServer();
  const session = await rawSession(s);
  const status = async (headers: Record<string, string>) => {
    const req = session.request(headers, { endStream: false });
    const answer = await once<Record<string, unknown>>(req, "response");
    await closeLater(req);
    return [answer[":status"], answer["sec-websocket-version"]];
  };
  const base = connectHeaders(s.port);
  assertEquals(await status({ ...base, "sec-websocket-version": "8" }), [
    400,
    "13",
  ]);
  assertEquals(
    await status({ ...base, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" }),
    [400, undefined],
  );
  assertEquals(await status({ ...base, ":protocol": "chat" }), [
    400,
    undefined,
  ]);
  assertEquals(
    await status({ ...base, "sec-websocket-protocol": "a b" }),
    [400, undefined],
  );
  // The session survives its refused streams.
  assertEquals(await status(base), [200, undefined]);
  await closeLater(session);
});

Deno.test("h2c: END_STREAM after the closing handshake, RST_STREAM(CANCEL) on abort", async () => {
  let abortNext = false;
  await using s = await startServer({
    websocket: async (conn) => {
      if (abortNext) {
        await conn.writeMessage(OpCode.Text, "bye");
        conn.abort();
        return;
      }
      await conn.close(4000, "server done");
    },
  });
  const session = await rawSession(s);
  // Closing handshake: our echo of the close frame, then both ends END_STREAM.
  const req = session.request(connectHeaders(s.port), { endStream: false });
  const chunks: Uint8Array[] = [];
  req.on("data", (d: Uint8Array) => {
    chunks.push(d);
    const frames = parseFrames(new Uint8Array(chunks.flatMap((c) => [...c])));
    if (frames.some((f) => f.opcode === Op.Close)) {
      req.end(encodeFrame({
        opcode: Op.Close,
        payload: frames.at(-1)!.payload,
        mask: true,
      }));
    }
  });
  const ended = once(req, "end");
  await once(req, "close");
  await ended;
  assertEquals(req.rstCode, constants.NGHTTP2_NO_ERROR);
  const frames = parseFrames(new Uint8Array(chunks.flatMap((c) => [...c])));
  assertEquals(closeCodeOf(frames[0]), 4000);
  assertEquals(await s.conns[0].closed, { code: 4000, reason: "server done" });
  // An abort resets the stream with CANCEL.
  abortNext = true;
  const aborted = session.request(connectHeaders(s.port), { endStream: false });
  aborted.resume();
  await once(aborted, "close");
  assertEquals(aborted.rstCode, constants.NGHTTP2_CANCEL);
  await closeLater(session);
});

Deno.test("h2c: a reset stream is 1006 and leaves the session's other streams alone", async () => {
  await using s = await startServer();
  const agent = new Http2Agent();
  const healthy = await dialHttp2(s.wsUrl, { agent });
  const session = (await agent.session(`http://127.0.0.1:${s.port}`, {
    signal: AbortSignal.timeout(5_000),
  }))!;
  // A raw stream on the same session, reset in the middle of a message.
  const req = session.request(connectHeaders(s.port), { endStream: false });
  await once(req, "response");
  req.write(
    encodeFrame({ opcode: Op.Text, payload: "half", fin: false, mask: true }),
  );
  while (s.conns.length < 2) await new Promise((r) => setTimeout(r, 5));
  await closeLater(req, constants.NGHTTP2_CANCEL);
  assertEquals((await s.conns[1].closed).code, 1006);
  await healthy.writeMessage(OpCode.Text, "still here");
  assertEquals(dec((await healthy.readMessage()).data), "still here");
  await healthy.close();
  agent.close();
});

Deno.test("h2c: a stream's protocol error closes that stream only, with its close code", async () => {
  await using s = await startServer();
  const agent = new Http2Agent();
  const healthy = await dialHttp2(s.wsUrl, { agent });
  const session = (await agent.session(`http://127.0.0.1:${s.port}`, {
    signal: AbortSignal.timeout(5_000),
  }))!;
  const req = session.request(connectHeaders(s.port), { endStream: false });
  const chunks: number[] = [];
  req.on("data", (d: Uint8Array) => chunks.push(...d));
  await once(req, "response");
  req.write(encodeFrame({ opcode: Op.Text, payload: "unmasked" }));
  await once(req, "end");
  assertEquals(closeCodeOf(parseFrames(new Uint8Array(chunks))[0]), 1002);
  await closeLater(req);
  await healthy.writeMessage(OpCode.Text, "fine");
  assertEquals(dec((await healthy.readMessage()).data), "fine");
  await healthy.close();
  agent.close();
});

Deno.test("h2c: ordinary HTTP/2 requests go to the fetch handler", async () => {
  await using s = await startServer({
    fetch: async (req) =>
      new Response(
        `${req.method} ${new URL(req.url).pathname} ${await req.text()}`,
        {
          headers: { "x-from": "fetch", "set-cookie": "a=1" },
        },
      ),
  });
  const session = await rawSession(s);
  const req = session.request({ ":method": "POST", ":path": "/form" });
  req.end("body");
  const head = await once<Record<string, unknown>>(req, "response");
  let body = "";
  req.on("data", (d: Uint8Array) => body += dec(d));
  await once(req, "end");
  assertEquals(head[":status"], 200);
  assertEquals(head["x-from"], "fetch");
  assertEquals(body, "POST /form body");
  await closeLater(session);
});

Deno.test("h2c: HTTP/1.1 requests and upgrades share the port", async () => {
  await using s = await startServer();
  const res = await fetch(`http://127.0.0.1:${s.port}/plain`);
  assertEquals(await res.text(), "page /plain");
  const conn = await dial(`${s.wsUrl}/h1`);
  await conn.writeMessage(OpCode.Text, "over h1");
  assertEquals(dec((await conn.readMessage()).data), "over h1");
  await conn.close();
  assertEquals(s.arrivals.map((a) => a.httpVersion), ["1.1"]);
});

Deno.test("TLS: ALPN h2 and http/1.1 on one port, WebSockets over both", async () => {
  await using s = await startServer({ tls: true, deflate: true });
  const h2 = await dialHttp2(`${s.wsUrl}/a`, {
    caCerts: [CA_CERT],
    deflate: true,
  });
  assertEquals(h2.extensions, "permessage-deflate");
  const h1 = await dial(`${s.wsUrl}/b`, { caCerts: [CA_CERT] });
  for (const conn of [h2, h1]) {
    await conn.writeMessage(OpCode.Text, "tls");
    assertEquals(dec((await conn.readMessage()).data), "tls");
    await conn.close();
  }
  assertEquals(s.arrivals.map((a) => a.httpVersion), ["2", "1.1"]);
  const client = Deno.createHttpClient({ caCerts: [CA_CERT] });
  const res = await fetch(`https://localhost:${s.port}/page`, { client });
  assertEquals(await res.text(), "page /page");
  client.close();
});

Deno.test("h2c: a handler that throws closes with 1011; one that returns, with 1000", async () => {
  await using s = await startServer({
    websocket: (conn) => {
      if (conn.protocol === "boom") throw new Error("handler failed");
    },
    protocols: ["boom", "calm"],
  });
  const boom = await dialHttp2(s.wsUrl, { protocols: ["boom"] });
  const err = await boom.readMessage().catch((e) => e);
  assertInstanceOf(err, CloseError);
  assertEquals(err.code, 1011);
  const calm = await dialHttp2(s.wsUrl, { protocols: ["calm"] });
  assertEquals((await calm.readMessage().catch((e) => e)).code, 1000);
  assert(s.arrivals.every((a) => a.httpVersion === "2"));
});

Deno.test("h2c: a WebSocket over h2 reads and writes frames and control frames", async () => {
  await using s = await startServer({
    websocket: async (conn) => {
      const reading = conn.readMessage().catch(() => {});
      const pong = new Promise<string>((resolve) =>
        conn.onPong = (p) => resolve(dec(p))
      );
      await conn.ping(enc("are you there"));
      await conn.writeMessage(OpCode.Text, await pong);
      await reading;
    },
  });
  const conn = await dialHttp2(s.wsUrl);
  assertEquals(dec((await conn.readMessage()).data), "are you there");
  await conn.close();
});
