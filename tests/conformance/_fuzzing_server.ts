/**
 * The harness as a server speaking the standard fuzzing-testee protocol, so a
 * WebSocket client under test runs unchanged against it:
 * `/getCaseCount` (one text message: the count), `/runCase?case=N&agent=A` (case N;
 * the client echoes every message), `/getCaseInfo?case=N`,
 * `/getCaseStatus?case=N&agent=A` and `/updateReports?agent=A` (ends the run).
 *
 * @module
 */

import type { Case, CaseResult } from "./_case.ts";
import { casesFor } from "./_case.ts";
import { answerOffer, type DeflateParams } from "./_deflate.ts";
import {
  DEFAULT_SETTINGS,
  executeCase,
  result,
  type SuiteSettings,
} from "./_execute.ts";
import { acceptUpgrade, readUpgradeRequest, writeAll } from "./_handshake.ts";
import {
  createServer,
  type Http2Server,
  type ServerHttp2Stream,
} from "node:http2";
import { Http2Gateway } from "./_h2_gateway.ts";
import { joinFrames, Peer } from "./_peer.ts";
import { CLOSE_CODES, enc, Op } from "../_wire.ts";

/** A fuzzing server that tests the WebSocket clients connecting to it. */
export class FuzzingServer {
  /** Results by 1-based case number. */
  readonly results: Map<number, CaseResult> = new Map();
  /** The agent name the client reported. */
  agent = "";
  #cases: Case[];
  #settings: SuiteSettings;
  #listener: Deno.TcpListener | undefined;
  #http2: Http2Server | undefined;
  #tasks = new Set<Promise<void>>();
  #finished = Promise.withResolvers<void>();

  constructor(cases: Case[], settings: SuiteSettings = DEFAULT_SETTINGS) {
    this.#cases = casesFor(cases, "client");
    this.#settings = settings;
  }

  /** The cases served, in order (case N is `cases[N - 1]`). */
  get cases(): Case[] {
    return this.#cases;
  }

  /** Resolves when a client asked for `/updateReports`. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Starts listening; resolves with the bound port. */
  listen(hostname = "127.0.0.1", port = 0): number {
    const listener = Deno.listen({ hostname, port });
    this.#listener = listener;
    this.#track(this.#accept(listener));
    return listener.addr.port;
  }

  /**
   * Listens for cleartext HTTP/2 (h2c) instead: every WebSocket is an extended
   * CONNECT stream (RFC 8441). Resolves with the bound port.
   */
  async listenHttp2(hostname = "127.0.0.1", port = 0): Promise<number> {
    const server = createServer({ settings: { enableConnectProtocol: true } });
    this.#http2 = server;
    server.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      const conn = new Http2Gateway(
        stream as ServerHttp2Stream,
        headers,
      ) as unknown as Deno.TcpConn;
      this.#track(this.#serve(conn).catch(() => conn.close()));
    });
    await new Promise<void>((resolve) =>
      server.listen(port, hostname, resolve)
    );
    return (server.address() as { port: number }).port;
  }

  /** Stops listening and waits for the connections in progress. */
  async close(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
    this.#http2?.close();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** The results in case order; a case the client never ran is FAILED. */
  report(): CaseResult[] {
    return this.#cases.map((c, i) =>
      this.results.get(i + 1) ??
        result(
          c,
          "FAILED",
          "the client runs the case",
          "-",
          "the client never ran this case",
          0,
        )
    );
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        this.#track(
          this.#serve(conn).catch(() => {
            try {
              conn.close();
            } catch { /* already closed */ }
          }),
        );
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const req = await readUpgradeRequest(conn, this.#settings.handshakeMs);
    const q = req.target.searchParams;
    switch (req.target.pathname) {
      case "/getCaseCount":
        return await this.#say(conn, req.key, String(this.#cases.length));
      case "/getCaseInfo": {
        const c = this.#cases[Number(q.get("case")) - 1];
        return await this.#say(
          conn,
          req.key,
          JSON.stringify({ id: c?.id, description: c?.title }),
        );
      }
      case "/getCaseStatus": {
        const r = this.results.get(Number(q.get("case")));
        return await this.#say(
          conn,
          req.key,
          JSON.stringify({ behavior: r?.verdict ?? "UNKNOWN" }),
        );
      }
      case "/updateReports":
        this.agent = q.get("agent") ?? this.agent;
        await this.#say(conn, req.key, undefined);
        this.#finished.resolve();
        return;
      case "/runCase":
        return await this.#runCase(
          conn,
          req,
          Number(q.get("case")),
          q.get("agent") ?? "",
        );
      default:
        await writeAll(
          conn,
          enc("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
        );
        conn.close();
    }
  }

  /** Accepts, optionally sends one text message, and closes normally. */
  async #say(
    conn: Deno.Conn,
    key: string,
    text: string | undefined,
  ): Promise<void> {
    await acceptUpgrade(conn, key, undefined);
    const peer = new Peer(conn, new Uint8Array(0), {
      role: "server",
      maxMessage: 1 << 20,
      writeTimeoutMs: this.#settings.writeTimeoutMs,
    });
    peer.start();
    if (text !== undefined) {
      await peer.send({ opcode: Op.Text, payload: enc(text) });
    }
    await peer.close(CLOSE_CODES.NormalClosure);
    await peer.waitFor(() => peer.ended, this.#settings.closeMs);
    await peer.dispose();
  }

  async #runCase(
    conn: Deno.Conn,
    req: Awaited<ReturnType<typeof readUpgradeRequest>>,
    n: number,
    agent: string,
  ): Promise<void> {
    const c = this.#cases[n - 1];
    if (!c) {
      await writeAll(
        conn,
        enc("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
      );
      conn.close();
      return;
    }
    if (agent) this.agent = agent;
    const t0 = performance.now();
    let header: string | undefined;
    let params: DeflateParams | undefined;
    let skip: string | undefined;
    if (c.deflate?.rawAnswer !== undefined) {
      header = c.deflate.rawAnswer;
    } else if (c.deflate) {
      const answer = answerOffer(req.extensions, c.deflate.wish ?? {});
      if ("skip" in answer) skip = answer.skip;
      else ({ header, params } = answer);
    }
    await acceptUpgrade(
      conn,
      req.key,
      header,
      joinFrames(c.early ?? [], false),
    );
    const peer = new Peer(conn, req.rest, {
      role: "server",
      deflate: params,
      maxMessage: this.#settings.maxMessage,
      writeTimeoutMs: this.#settings.writeTimeoutMs,
    });
    for (const f of c.early ?? []) peer.noteSent(f);
    if (skip !== undefined && c.deflate?.require === "yes") {
      peer.start();
      await peer.close(CLOSE_CODES.NormalClosure);
      await peer.waitFor(() => peer.ended, this.#settings.closeMs);
      await peer.dispose();
      this.#record(
        n,
        result(
          c,
          "SKIPPED",
          "-",
          `offer: ${req.extensions ?? "none"}`,
          skip,
          t0,
        ),
      );
      return;
    }
    this.#record(n, await executeCase(c, peer, this.#settings));
  }

  #record(n: number, r: CaseResult): void {
    this.results.set(n, r);
    this.#settings.onResult?.(r);
  }
}
