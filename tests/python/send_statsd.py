"""Real StatsD clients sending to meterd: Datadog's DogStatsd (the `datadog` package) over UDP, and
the `statsd` package over UDP and TCP. Each sends a fixed set of metrics; tests/e2e/statsd_clients.rs
holds what meterd must expose for them.

Usage: send_statsd.py UDP_ADDR TCP_ADDR   (host:port each)

Sampled calls are made with the clients' own `sample_rate`/`rate`, whose random draw is pinned so that
every sampled call is sent (with its `|@rate`): the test then knows the exact totals. Exits non-zero
when a send fails.
"""

import sys
import time

import datadog.dogstatsd.base as dogstatsd_base
import statsd
import statsd.client.base as statsd_base
from datadog.dogstatsd import DogStatsd


class AlwaysSend:
    """Stands in for `random.random`: 0.0 is below every rate, so no sampled call is skipped."""

    @staticmethod
    def random():
        return 0.0


def dogstatsd(host, port):
    dogstatsd_base.random = AlwaysSend.random
    d = DogStatsd(
        host=host,
        port=port,
        disable_telemetry=True,
        origin_detection_enabled=False,
        container_id="ctr-7f3a",
    )
    tags = ["env:prod", "route:/chat"]
    d.increment("dd.requests", tags=tags)
    d.increment("dd.requests", 4, tags=tags)
    for _ in range(3):
        d.increment("dd.sampled", tags=["env:prod"], sample_rate=0.5)
    d.gauge("dd.queue_depth", 7, tags=["env:prod"])
    d.gauge_with_timestamp("dd.stamped", 3, timestamp=int(time.time()), tags=["env:prod"])
    d.distribution("dd.payload_bytes", 512, tags=["env:prod"])
    d.distribution("dd.payload_bytes", 2048, tags=["env:prod"])
    d.histogram("dd.score", 0.25, tags=["env:prod"], sample_rate=0.25)
    d.timing("dd.render", 120, tags=["env:prod"])
    for user in ["alice", "bob", "alice"]:
        d.set("dd.users", user, tags=["env:prod"])
    # DogStatsD 1.4 cardinality field (`|card:low`), sent after the container id.
    d.increment("dd.cardinality", tags=["env:prod"], cardinality="low")
    d.close_socket()


def statsd_package(udp, tcp):
    statsd_base.random = AlwaysSend
    c = statsd.StatsClient(udp[0], udp[1], prefix="py")
    c.incr("hits")
    c.incr("hits", 2)
    c.incr("sampled", rate=0.5)
    c.gauge("temperature", 20)
    c.gauge("temperature", 5, delta=True)
    c.gauge("temperature", -3, delta=True)
    # A negative absolute gauge: the client sends `0|g` then `-4|g` (a delta) in one packet.
    c.gauge("below_zero", -4)
    c.timing("db_query", 320)
    c.set("visitors", "a")
    c.set("visitors", "b")
    with c.pipeline() as pipe:
        pipe.incr("piped")
        pipe.incr("piped")
        pipe.timing("piped_time", 10)
    t = statsd.TCPStatsClient(tcp[0], tcp[1], prefix="pytcp")
    t.incr("hits", 3)
    t.gauge("level", 9)
    t.timing("latency", 250)
    t.close()


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    udp, tcp = addr(sys.argv[1]), addr(sys.argv[2])
    dogstatsd(*udp)
    statsd_package(udp, tcp)
    # A last line the test waits for: UDP is unordered across meterd's parser threads, so it
    # checks everything else after this one shows up and then polls a little longer.
    statsd.StatsClient(udp[0], udp[1]).incr("py.done")


if __name__ == "__main__":
    main()
