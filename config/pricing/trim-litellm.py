#!/usr/bin/env python3
"""Trims LiteLLM's model_prices_and_context_window.json to the providers meterd ships prices for.

Usage: python3 config/pricing/trim-litellm.py FULL.json > config/pricing/litellm.json
(FULL.json: `pip download --no-deps litellm`, unzip, litellm/model_prices_and_context_window_backup.json)
"""
import json, re, sys

DIRECT = {'anthropic', 'gemini', 'vertex_ai-anthropic_models', 'mistral', 'xai', 'deepseek', 'groq'}
BEDROCK = re.compile(r'^([a-z-]+\.)?(anthropic\.claude|meta\.llama3-3-70b|amazon\.nova-(micro|lite|pro))')


def wanted(key, spec):
    p = spec.get('litellm_provider')
    if p in ('openai', 'text-completion-openai'):
        return '/' not in key and not key.startswith('ft:')
    if p in DIRECT:
        return True
    if p in ('bedrock', 'bedrock_converse'):
        return '/' not in key and BEDROCK.match(key) is not None
    if p == 'together_ai':
        return 'llama-3.3-70b' in key.lower()
    return False


full = json.load(open(sys.argv[1]))
json.dump({k: v for k, v in full.items() if isinstance(v, dict) and wanted(k, v)}, sys.stdout, indent=1)
sys.stdout.write('\n')
