"""Sends metrics and one GenAI span to meterd with the OpenTelemetry Python SDK, as an app would.

Usage: send_otlp.py HTTP_ADDR GRPC_ADDR   (host:port each; run by tests/e2e/otlp_python.rs)
Metrics go over OTLP/HTTP (protobuf), the span over OTLP/gRPC. Exits non-zero if an export fails.
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode


def main() -> int:
    http_addr, grpc_addr = sys.argv[1], sys.argv[2]
    resource = Resource.create(
        {
            "service.name": "pybot",
            "service.instance.id": "py-1",
            "deployment.environment.name": "staging",
        }
    )

    # Metrics: collect in memory, then export once and check the result, so a refusal fails.
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("py.app", "0.1.0")
    jobs = meter.create_counter("jobs.done", unit="{job}", description="Jobs finished.")
    size = meter.create_histogram("payload.size", unit="By")
    jobs.add(3, {"queue": "fast"})
    size.record(100)
    size.record(3000)
    exporter = OTLPMetricExporter(endpoint=f"http://{http_addr}/v1/metrics")
    data = reader.get_metrics_data()
    if exporter.export(data) != MetricExportResult.SUCCESS:
        print("metric export failed", file=sys.stderr)
        return 1

    # One chat call as GenAI instrumentations record it.
    span_exporter = OTLPSpanExporter(endpoint=f"http://{grpc_addr}", insecure=True)
    results = []

    class Checking(SimpleSpanProcessor):
        def on_end(self, span):
            results.append(span_exporter.export([span]))

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(Checking(span_exporter))
    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    start = time.time_ns()
    span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, start_time=start)
    span.set_attribute("gen_ai.operation.name", "chat")
    span.set_attribute("gen_ai.system", "openai")
    span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
    span.set_attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
    span.set_attribute("gen_ai.usage.input_tokens", 321)
    span.set_attribute("gen_ai.usage.output_tokens", 45)
    span.set_status(Status(StatusCode.OK))
    span.end(end_time=start + 1_500_000_000)
    if results != [SpanExportResult.SUCCESS]:
        print(f"span export failed: {results}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
