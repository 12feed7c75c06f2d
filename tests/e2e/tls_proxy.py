"""A TLS front for a plaintext broker, as a load balancer or a cloud Kafka's edge terminates TLS:
it accepts TLS connections on one port and relays their bytes to the broker's port.

The project's broker, tansu 0.6, cannot serve TLS itself (its `--cert` and `--key` flags belong
to one clap group and exclude each other), so the secured-cluster test puts this in front of it
and has tansu advertise this port (`scripts/test-broker start ... --advertise PORT`): every
client, bootstrap and broker connections alike, then speaks TLS. The certificates come from a
throwaway CA (trustme)."""

import asyncio
import ssl
import threading


class TlsProxy:
    """Listens with TLS on 127.0.0.1:`port` and relays each connection to 127.0.0.1:`target`.
    `certificate` is a trustme `LeafCert` for the address the clients connect to. With
    `client_ca` (a trustme `CA`), a client must present a certificate that CA signed (mutual
    TLS)."""

    def __init__(self, port, target, certificate, client_ca=None):
        self.port, self.target = port, target
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.context)
        if client_ca is not None:
            client_ca.configure_trust(self.context)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server = None
        self.handshakes_failed = 0

    def start(self):
        self.thread.start()
        assert self.ready.wait(10), "the TLS proxy did not start"
        return self

    def stop(self):
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(self._on_error)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._relay, "127.0.0.1", self.port, ssl=self.context, ssl_handshake_timeout=10))
        self.ready.set()
        self.loop.run_forever()

    def _on_error(self, loop, context):
        # A client that does not speak TLS (the plaintext client of the test) fails the
        # handshake: counted, not printed.
        if isinstance(context.get("exception"), (ssl.SSLError, ConnectionError)):
            self.handshakes_failed += 1
            return
        loop.default_exception_handler(context)

    async def _relay(self, client_reader, client_writer):
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_writer.close()
            return

        async def pump(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:  # the other side went first
                    pass

        await asyncio.gather(pump(client_reader, broker_writer), pump(broker_reader, client_writer))
