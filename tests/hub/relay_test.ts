/**
 * The relay broker over real sockets: two hubs meet through a relay, each
 * publish reaches the other side once, and a broker reconnects to a relay that
 * came back, subscribing again.
 */

import { assertEquals } from "@std/assert";
import { Hub, RelayBroker, serveRelay } from "../../hub.ts";
import { Collector, HubServer, until } from "./_hub_server.ts";

Deno.test("relay: two hubs share a topic, each message once", async () => {
  const relay = serveRelay();
  const b1 = new RelayBroker(relay.url);
  const b2 = new RelayBroker(relay.url);
  const one = new Hub({ broker: b1 });
  const two = new Hub({ broker: b2 });
  try {
    await using s1 = new HubServer({}, (c) => one.subscribe(c, "room"));
    await using s2 = new HubServer({}, (c) => two.subscribe(c, "room"));
    await using a = await Collector.connect(s1.url);
    await using b = await Collector.connect(s2.url);
    await s1.waitConns(1);
    await s2.waitConns(1);
    await until(() => b1.connected && b2.connected, "the brokers");
    // The subscriptions reach the relay before the first publish does.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 20; i++) {
      (i % 2 === 0 ? one : two).publish("room", `m${i}`);
    }
    await a.waitFor(20);
    await b.waitFor(20);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const evens = (xs: string[]) =>
      xs.filter((x) => Number(x.slice(1)) % 2 === 0);
    assertEquals(a.received.length, 20);
    assertEquals(b.received.length, 20);
    // Each publisher's messages keep their order everywhere.
    assertEquals(evens(b.received), evens(a.received));
  } finally {
    await one.close();
    await two.close();
    await relay.shutdown();
  }
});

Deno.test("relay: a broker reconnects and subscribes again", async () => {
  const first = serveRelay();
  const port = first.addr.port;
  const broker = new RelayBroker(first.url);
  const hub = new Hub({ broker });
  try {
    await using server = new HubServer({}, (c) => hub.subscribe(c, "room"));
    await using a = await Collector.connect(server.url);
    await server.waitConns(1);
    await until(() => broker.connected, "the broker");
    await first.shutdown();
    await until(() => !broker.connected, "the disconnection");
    const second = serveRelay(port);
    try {
      await until(() => broker.connected, "the reconnection", 10_000);
      const other = new RelayBroker(second.url);
      const sender = new Hub({ broker: other });
      await until(() => other.connected, "the sender");
      await new Promise((resolve) => setTimeout(resolve, 50));
      sender.publish("room", "after the restart");
      assertEquals(await a.waitFor(1), ["after the restart"]);
      await sender.close();
    } finally {
      await second.shutdown();
    }
  } finally {
    await hub.close();
  }
});
