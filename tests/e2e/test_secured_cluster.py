"""A secured cluster, as managed Kafka services run them: every client must speak TLS, present
a client certificate (mutual TLS) and log in with SASL/SCRAM-SHA-512. The broker is tansu
requiring SCRAM logins (`scripts/test-broker start ... --sasl USER:PASSWORD`) behind a TLS
front (tls_proxy.py, certificates from a throwaway CA) that tansu advertises, so Weir, its CLI
and the independent client all connect with `security.protocol=SASL_SSL` and a client
certificate.

A runtime configured with the `[kafka]` table and `WEIR_KAFKA_SASL_PASSWORD` runs the word count
exactly; `weir produce` and `weir consume` reach the cluster with `-X`; and each way of getting
the security wrong fails: a wrong password, an untrusted certificate or a property Weir owns
with a message that says which, plaintext with where to look, and a missing client certificate
(which librdkafka only sees as a closed connection) at least without writing anything."""

import json
import os
import subprocess

import pytest
import trustme
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import ROOT, free_port
from control import Runtime, job_spec, job_status, upload, wait_for, word_count_bytes
from pool import Stream, create_topic, expect_exact, unique
from tls_proxy import TlsProxy

USER, PASSWORD = "weir-runtime", "correct-horse-battery-staple"
WRONG = "not-the-password-42"


class SecuredCluster:
    """The broker behind its TLS front, and the settings clients need for it."""

    def __init__(self, workdir):
        self.dir = workdir
        ca = trustme.CA()
        self.ca_path = workdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        # Mutual TLS: the front asks every client for a certificate the same CA signed.
        client = ca.issue_cert("weir-client")
        self.client_cert, self.client_key = workdir / "client.pem", workdir / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        client.private_key_pem.write_to_path(str(self.client_key))
        self.broker_port, self.tls_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.tls_port}"
        subprocess.run([ROOT / "scripts" / "test-broker", "start", workdir / "tansu", str(self.broker_port),
                        "sqlite", "--advertise", str(self.tls_port), "--sasl", f"{USER}:{PASSWORD}"],
                       check=True)
        self.proxy = TlsProxy(self.tls_port, self.broker_port, ca.issue_cert("127.0.0.1"),
                              client_ca=ca).start()
        # The properties every client of this cluster needs but the password.
        self.properties = {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": USER,
            "ssl.ca.location": str(self.ca_path),
            "ssl.certificate.location": str(self.client_cert),
            "ssl.key.location": str(self.client_key),
        }
        # The independent client's settings (confluent-kafka), password included.
        self.client = {"bootstrap.servers": self.bootstrap, **self.properties, "sasl.password": PASSWORD}

    def stop(self):
        self.proxy.stop()
        subprocess.run([ROOT / "scripts" / "test-broker", "stop", self.dir / "tansu"], check=True)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    cluster = SecuredCluster(tmp_path_factory.mktemp("secured"))
    yield cluster
    cluster.stop()


def weir_cli(weir, *args, env=None, input=None, timeout=90):
    """Runs `weir ARGS` with only `env`'s WEIR_KAFKA_* variables (none of the caller's)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    return subprocess.run([weir, *map(str, args)], capture_output=True, text=True,
                          env={**base, **(env or {})}, input=input, timeout=timeout)


def flags(properties):
    return [arg for key, value in properties.items() for arg in ("-X", f"{key}={value}")]


def test_a_runtime_with_sasl_ssl_properties_counts_exactly_and_the_cli_reaches_the_cluster(
        weir, secured, tmp_path):
    # The independent client cannot reach it without the security settings: the cluster is secured.
    with pytest.raises(Exception):
        AdminClient({"bootstrap.servers": secured.bootstrap}).list_topics(timeout=5)

    source, output = unique("secured-in"), unique("secured-out")
    create_topic(secured.client, source, 2)

    # The runtime: security properties in its config file, the password from the environment
    # (as a Kubernetes Secret gives it), its registry and status topics on the secured cluster.
    config = tmp_path / "weir.toml"
    config.write_text(
        "[kafka]\n" + "".join(f'{key} = "{value}"\n' for key, value in secured.properties.items()))
    rt = Runtime(weir, secured.bootstrap, tmp_path, "secured", extra=["--config", config],
                 env_extra={"WEIR_KAFKA_SASL_PASSWORD": PASSWORD}).wait_ready(deadline=90)
    try:
        reply = upload(rt, word_count_bytes(), unique("wc"))
        assert reply.status == 201, reply
        job = unique("secured-job")
        assert rt.api("POST", "/v1/jobs", job_spec(job, reply.json["id"], [source], output)).status == 201
        wait_for("the job to run", lambda: job_status(rt, job)["state"] == "running", deadline=90)

        stream = Stream(partitions=2, lines=400, seconds=30)
        # Half the input through `weir produce -X ...` (password from WEIR_KAFKA_SASL_PASSWORD),
        # half through the independent client; the closing records through the latter, one per
        # partition.
        half = len(stream.records) // 2
        lines = "".join(json.dumps({"key": f"k{i}", "value": line, "timestamp": ts}) + "\n"
                        for i, (_, ts, line) in enumerate(stream.records[:half]))
        produced = weir_cli(weir, "produce", "--brokers", secured.bootstrap, "--topic", source, "--json",
                            *flags(secured.properties), env={"WEIR_KAFKA_SASL_PASSWORD": PASSWORD},
                            input=lines)
        assert produced.returncode == 0, produced.stderr
        stream.publish(secured.client, source, stream.records[half:])
        stream.close_windows(secured.client, source)
        got, _ = expect_exact(secured.client, output, stream.reference(), rt.logs)

        # `weir consume` reads the results back with the password as a flag.
        consumed = weir_cli(weir, "consume", "--brokers", secured.bootstrap, "--topic", output,
                            "-n", len(got), "--idle-timeout", "20s",
                            *flags({**secured.properties, "sasl.password": PASSWORD}))
        assert consumed.returncode == 0, consumed.stderr
        records = [json.loads(line) for line in consumed.stdout.splitlines() if line.strip()]
        assert len(records) == len(got), (len(records), len(got), consumed.stderr[-2000:])
    finally:
        rt.stop()


def test_each_security_mistake_is_named_instead_of_a_timeout(weir, secured, tmp_path):
    topic = unique("secured-mistakes")
    create_topic(secured.client, topic, 1)
    produce = ["produce", "--brokers", secured.bootstrap, "--topic", topic]

    # A wrong password: the SCRAM login's refusal, in the error.
    done = weir_cli(weir, *produce, *flags(secured.properties),
                    env={"WEIR_KAFKA_SASL_PASSWORD": WRONG}, input="never sent\n")
    assert WRONG not in done.stderr, "the password was printed"
    assert done.returncode != 0
    assert "refused the connection" in done.stderr and "SASL authentication" in done.stderr, done.stderr

    # A CA that did not sign the broker's certificate.
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    done = weir_cli(weir, *produce, *flags({**secured.properties, "ssl.ca.location": other}),
                    env={"WEIR_KAFKA_SASL_PASSWORD": PASSWORD}, input="never sent\n")
    assert done.returncode != 0
    assert "refused the connection" in done.stderr and "certificate verify failed" in done.stderr, done.stderr

    # Mutual TLS without a client certificate: refused. librdkafka only sees the TLS connection
    # closed before the broker answers ("SSL connection closed by peer"), so the error cannot
    # name the reason (docs/kafka.md says so); what matters here is that nothing gets through.
    without_certificate = {k: v for k, v in secured.properties.items()
                           if k not in ("ssl.certificate.location", "ssl.key.location")}
    done = weir_cli(weir, *produce, *flags(without_certificate),
                    env={"WEIR_KAFKA_SASL_PASSWORD": PASSWORD}, input="never sent\n")
    assert done.returncode != 0 and "cannot reach the Kafka brokers" in done.stderr, done.stderr

    # No security properties at all: plaintext to a TLS listener, which only closes the
    # connection, as a restarting broker does; the error points to the security properties.
    done = weir_cli(weir, *produce, input="never sent\n")
    assert done.returncode != 0
    assert "if the cluster asks for TLS or a login" in done.stderr and "security.protocol" in done.stderr, done.stderr

    # A property Weir owns, and a misspelt one: refused before any connection.
    done = weir_cli(weir, *produce, "-X", "enable.idempotence=false", input="never sent\n")
    assert done.returncode != 0
    assert "`enable.idempotence` is not one Weir passes on" in done.stderr, done.stderr
    done = weir_cli(weir, *produce, "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.usrname=x",
                    input="never sent\n")
    assert done.returncode != 0
    assert "`sasl.usrname`" in done.stderr and "No such configuration property" in done.stderr, done.stderr

    # A runtime with a wrong password keeps running and says why it cannot read its registry.
    rt = Runtime(weir, secured.bootstrap, tmp_path, "wrong-password",
                 extra=flags(secured.properties),
                 env_extra={"WEIR_KAFKA_SASL_PASSWORD": WRONG})
    try:
        wait_for("the runtime to log the refusal",
                 lambda: "the Kafka cluster refused a connection" in rt.log_path.read_text()
                 and "SASL authentication" in rt.log_path.read_text(), deadline=60)
        assert rt.proc.poll() is None, rt.logs()
        assert WRONG not in rt.log_path.read_text(), "the password was logged"
    finally:
        rt.stop()

    # The secured cluster is unharmed: nothing was written by the refused clients.
    consumer = Consumer({**secured.client, "group.id": unique("check")})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        assert high - low == 0, f"{high - low} records were written by clients that were refused"
    finally:
        consumer.close()
