/**
 * Test fixtures for TLS: a test CA and a server certificate it signed for
 * `localhost`, `127.0.0.1` and `::1` (see `fixtures/README.md`).
 *
 * @module
 */

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

/** The test CA's certificate (PEM): trust it to reach the test server. */
export const CA_CERT: string = fixture("ca.pem");
/** The server certificate (PEM). */
export const SERVER_CERT: string = fixture("server.pem");
/** The server certificate's private key (PEM). */
export const SERVER_KEY: string = fixture("server.key");

/** Listens with TLS on a random loopback port. */
export function listenTls(): Deno.TlsListener {
  return Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: SERVER_CERT,
    key: SERVER_KEY,
  });
}
