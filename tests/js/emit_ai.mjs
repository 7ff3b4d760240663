// Real Vercel AI SDK (`ai`) emitter for tests/e2e/emitters_js.rs: one generateText call with
// experimental_telemetry against a fake OpenAI on 127.0.0.1, spans exported over OTLP to meterd.
// Usage: node emit_ai.mjs <chat|responses> <http|grpc|console> <host:port> <service.name>
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { generateText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { NodeTracerProvider, SimpleSpanProcessor, ConsoleSpanExporter } from '@opentelemetry/sdk-trace-node';
import { OTLPTraceExporter as HttpExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';

const [api, transport, addr, service] = process.argv.slice(2);
const MODEL = 'o4-mini-2025-04-16';

// OpenAI usage is inclusive: 1200 input of which 200 cached, 500 output of which 300 reasoning
// (the same answer as tests/python/emitters.py, so the expected price is the same).
function chatBody() {
  return {
    id: `chatcmpl-${randomUUID()}`, object: 'chat.completion', created: 1741569952, model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.', refusal: null },
      logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 500, total_tokens: 1700,
      prompt_tokens_details: { cached_tokens: 200, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 300, audio_tokens: 0,
        accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
    service_tier: 'default', system_fingerprint: null,
  };
}
function responsesBody() {
  return {
    id: `resp_${randomUUID().replaceAll('-', '')}`, object: 'response', created_at: 1741569952,
    status: 'completed', model: MODEL, error: null, incomplete_details: null,
    output: [{ type: 'message', id: 'msg_fake_1', status: 'completed', role: 'assistant',
      content: [{ type: 'output_text', text: 'Hello.', annotations: [] }] }],
    usage: { input_tokens: 1200, input_tokens_details: { cached_tokens: 200 },
      output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 }, total_tokens: 1700 },
  };
}

const provider = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = req.url.startsWith('/v1/chat/completions') ? chatBody()
      : req.url.startsWith('/v1/responses') ? responsesBody() : null;
    if (!body) { res.writeHead(404); res.end(`no fake for ${req.url}`); return; }
    const data = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  });
});
await new Promise((ok) => provider.listen(0, '127.0.0.1', ok));
const port = provider.address().port;

const exporter = transport === 'http' ? new HttpExporter({ url: `http://${addr}/v1/traces` })
  : transport === 'grpc' ? new GrpcExporter({ url: `http://${addr}` })
  : new ConsoleSpanExporter();
const tracerProvider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
tracerProvider.register();

const openai = createOpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-fake' });
const model = api === 'chat' ? openai.chat(MODEL) : openai.responses(MODEL);
const result = await generateText({
  model, prompt: 'Say hello.',
  experimental_telemetry: { isEnabled: true, functionId: 'hello' },
});
if (result.text !== 'Hello.') throw new Error(`unexpected answer: ${result.text}`);
// forceFlush reports an export failure (meterd down, refused) as a rejected promise.
await tracerProvider.forceFlush();
await tracerProvider.shutdown();
provider.close();
