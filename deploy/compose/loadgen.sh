#!/bin/sh
# Plays an AI app: every second, a few model calls reported with the StatsD convention (README),
# plus quality scores, user outcomes, ratings, pipeline stages, cache lookups and app events.
# gpt-4o-mystery is deliberately missing from the pricing table (it shows as unpriced usage).
set -u
send() { printf '%s\n' "$1" | nc -u -w0 127.0.0.1 8125; }
i=0
while :; do
  i=$((i + 1))
  for team in search support; do
    model=gpt-4o; [ $((i % 3)) -eq 0 ] && model=gpt-4o-mini
    tags="provider:openai,model:$model,team:$team,service:chat,env:demo"
    send "llm.tokens:$((800 + i % 400))|c|#$tags,token_type:input
llm.tokens:$((200 + i % 150))|c|#$tags,token_type:output
llm.tokens:300|c|#$tags,token_type:cached_input
llm.requests:1|c|#$tags,status:ok,operation:chat
llm.request.duration:$((400 + (i * 37) % 3000))|ms|#$tags,status:ok,operation:chat
llm.time_to_first_token:$((120 + (i * 13) % 600))|ms|#$tags,operation:chat"
  done
  [ $((i % 7)) -eq 0 ] && send "llm.requests:1|c|#provider:openai,model:gpt-4o,team:search,service:chat,status:error,operation:chat"
  [ $((i % 11)) -eq 0 ] && send "llm.tokens:500|c|#provider:openai,model:gpt-4o-mystery,team:search,service:chat,token_type:input
llm.requests:1|c|#provider:openai,model:gpt-4o-mystery,team:search,service:chat,status:ok"
  send "llm.quality.score:$((40 + (i * 7) % 61))|h|#provider:openai,model:gpt-4o,service:chat,evaluation:relevance
llm.outcome:1|c|#provider:openai,model:gpt-4o,service:chat,outcome:$(set -- accepted accepted accepted edited regenerated abandoned; shift $((i % 6)); echo $1)
llm.rating:$((1 + i % 5))|g|#provider:openai,model:gpt-4o,service:chat
llm.stage.duration:$((50 + i % 200))|ms|#service:chat,stage:retrieval
llm.stage.duration:$((300 + i % 900))|ms|#service:chat,stage:synthesis
llm.cache:1|c|#service:chat,cache:semantic,result:$([ $((i % 3)) -eq 0 ] && echo miss || echo hit)
llm.event:1|c|#service:chat,event:$([ $((i % 5)) -eq 0 ] && echo retry_attempted || echo generation_completed)"
  sleep 1
done
