/**
 * The `BroadcastChannel` broker: two hubs on channels of one name (as two
 * workers would have) share a topic over real sockets, each message once.
 */

import { assertEquals } from "@std/assert";
import { BroadcastChannelBroker, Hub } from "../../hub.ts";
import { Collector, HubServer } from "./_hub_server.ts";

Deno.test("BroadcastChannel broker: two hubs, one topic, each message once", async () => {
  const one = new Hub({ broker: new BroadcastChannelBroker("wsx-test") });
  const two = new Hub({ broker: new BroadcastChannelBroker("wsx-test") });
  try {
    await using s1 = new HubServer({}, (c) => one.subscribe(c, "room"));
    await using s2 = new HubServer({}, (c) => two.subscribe(c, "room"));
    await using a = await Collector.connect(s1.url);
    await using b = await Collector.connect(s2.url);
    await s1.waitConns(1);
    await s2.waitConns(1);
    one.publish("room", "from one");
    two.publish("room", "from two");
    two.publish("elsewhere", "nobody");
    await a.waitFor(2);
    await b.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(a.received.sort(), ["from one", "from two"]);
    assertEquals(b.received.sort(), ["from one", "from two"]);
  } finally {
    await one.close();
    await two.close();
  }
});
