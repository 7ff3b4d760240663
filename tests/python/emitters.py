"""One model call through a real provider SDK and real OpenTelemetry instrumentation(s), exported to
meterd, against a fake provider on 127.0.0.1 that answers with chosen usage.

Usage: emitters.py COMBO TRANSPORT ADDR SERVICE
  COMBO      one of COMBOS below (SDK + instrumentations)
  TRANSPORT  http | grpc | console (console prints the spans as JSON instead of exporting them)
  ADDR       host:port of meterd's OTLP listener for TRANSPORT (ignored for console)
  SERVICE    service.name of the resource, so one meterd can keep runs apart

Run by tests/e2e/emitters_python.rs, which prices the same usage with `meterd price`: the usage the
fake providers answer with is USAGE below, and the test holds a copy of those figures. Exits non-zero
when the call or an export fails.
"""

import json
import uuid
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

# What each fake provider bills for the one call (keep in step with tests/e2e/emitters_python.rs).
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
OPENAI_MODEL = "o4-mini-2025-04-16"
GEMINI_MODEL = "gemini-2.5-flash"

ANTHROPIC_BODY = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "content": [{"type": "text", "text": "Hello."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    # Raw Anthropic usage: input_tokens excludes the cache reads and writes.
    "usage": {
        "input_tokens": 2000,
        "cache_read_input_tokens": 40000,
        "cache_creation_input_tokens": 3000,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 1000,
            "ephemeral_1h_input_tokens": 2000,
        },
        "output_tokens": 700,
        "output_tokens_details": {"thinking_tokens": 300},
        "service_tier": "standard",
    },
}

OPENAI_BODY = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": OPENAI_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    # OpenAI usage is inclusive: prompt_tokens counts the cached ones, completion the reasoning.
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 500,
        "total_tokens": 1700,
        "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 300,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": None,
}

GEMINI_BODY = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Hello."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    # Gemini: promptTokenCount counts the cached content; candidates exclude the thoughts.
    "usageMetadata": {
        "promptTokenCount": 1500,
        "cachedContentTokenCount": 500,
        "candidatesTokenCount": 400,
        "thoughtsTokenCount": 300,
        "totalTokenCount": 2200,
    },
    "modelVersion": GEMINI_MODEL,
    "responseId": "fake-gemini-response-1",
}


class FakeProvider(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        # A real provider gives every call its own id, and meterd prices one call per id: two
        # runs against one meterd (HTTP, then gRPC) are two calls.
        if self.path.startswith("/v1/messages"):
            body = dict(ANTHROPIC_BODY, id=f"msg_{uuid.uuid4().hex}")
        elif self.path.startswith("/v1/chat/completions"):
            body = dict(OPENAI_BODY, id=f"chatcmpl-{uuid.uuid4().hex}")
        elif ":generateContent" in self.path:
            body = dict(GEMINI_BODY, responseId=f"fake-gemini-{uuid.uuid4().hex}")
        else:
            self.send_error(404, f"no fake for {self.path}")
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_fake_1")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Console(SpanExporter):
    """Prints each span's scope, name and attributes: how the emitters were surveyed."""

    def export(self, spans):
        for s in spans:
            print(
                json.dumps(
                    {
                        "scope": s.instrumentation_scope.name,
                        "name": s.name,
                        "kind": str(s.kind),
                        "trace_id": f"{s.context.trace_id:032x}",
                        "attributes": dict(s.attributes or {}),
                    },
                    default=str,
                )
            )
        return SpanExportResult.SUCCESS


class Checking(SpanExporter):
    """Remembers every export's result, so a refused export fails the run. Used behind a
    BatchSpanProcessor, as apps export in production: the SDK's span and an instrumentation's span
    of one call end together and leave in one request (meterd then prices the most complete of the
    two; spans of one call split across requests are merged as README's OTLP section says)."""

    def __init__(self, exporter):
        self.exporter = exporter
        self.results = []

    def export(self, spans):
        result = self.exporter.export(spans)
        self.results.append(result)
        return result

    def shutdown(self):
        self.exporter.shutdown()


def exporter(transport, addr):
    if transport == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=f"http://{addr}/v1/traces")
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=f"http://{addr}", insecure=True)
    if transport == "console":
        return Console()
    raise SystemExit(f"unknown transport {transport}")


def call_anthropic(base):
    import anthropic

    client = anthropic.Anthropic(api_key="sk-ant-fake", base_url=base, max_retries=0)
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=1024,
        messages=[{"role": "user", "content": "Say hello."}],
    )


def call_openai(base):
    import openai

    client = openai.OpenAI(api_key="sk-fake", base_url=f"{base}/v1", max_retries=0)
    client.chat.completions.create(
        model="o4-mini",
        messages=[{"role": "user", "content": "Say hello."}],
    )


def call_gemini(base):
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="fake-key",
        http_options=types.HttpOptions(base_url=base, api_version="v1beta"),
    )
    client.models.generate_content(model=GEMINI_MODEL, contents="Say hello.")


def instrument_otel_anthropic(tp):
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tp)


def instrument_openinference_anthropic(tp):
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tp)


def instrument_openinference_openai(tp):
    from openinference.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tp)


def instrument_otel_openai_v2(tp):
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=tp)


def instrument_otel_google_genai(tp):
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    GoogleGenAiSdkInstrumentor().instrument(tracer_provider=tp)


# The SDK's own spans (Anthropic) need only a global tracer provider; the others add instrumentors.
COMBOS = {
    "anthropic": (call_anthropic, []),
    "anthropic+opentelemetry": (call_anthropic, [instrument_otel_anthropic]),
    "anthropic+openinference": (call_anthropic, [instrument_openinference_anthropic]),
    "openai+openinference": (call_openai, [instrument_openinference_openai]),
    "openai+opentelemetry-v2": (call_openai, [instrument_otel_openai_v2]),
    "google-genai+opentelemetry": (call_gemini, [instrument_otel_google_genai]),
}


def main() -> int:
    combo, transport, addr, service = sys.argv[1:5]
    if combo not in COMBOS:
        print(f"unknown combination {combo}; known: {', '.join(COMBOS)}", file=sys.stderr)
        return 2
    call, instrumentors = COMBOS[combo]

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProvider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    resource = Resource.create({"service.name": service, "service.instance.id": service})
    tp = TracerProvider(resource=resource)
    processor = Checking(exporter(transport, addr))
    tp.add_span_processor(BatchSpanProcessor(processor))
    trace.set_tracer_provider(tp)
    for instrument in instrumentors:
        instrument(tp)

    call(base)
    tp.shutdown()
    server.shutdown()
    failed = [r for r in processor.results if r != SpanExportResult.SUCCESS]
    if failed or not processor.results:
        print(f"exports: {processor.results}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
